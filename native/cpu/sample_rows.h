// The per-row work of the fused sample op, free of any backend context so that other backends can
// run it on host memory (the emulator build uses it until its kernel exists).
#pragma once
#include <cstdint>

#include "paged.h"

namespace pg::cpu {

// Checks every argument of the op (the same messages on every backend).
pg_status validate_sample(const pg_sample_args* a);

// Samples rows [begin, end) of a validated call; avx2 chooses the AVX2/FMA or the portable kernels
// (both give bit-identical tokens).
void sample_rows(const pg_sample_args& a, int64_t begin, int64_t end, bool avx2);

}  // namespace pg::cpu
