// The per-row work of the fused sample op, free of any backend context: the CPU backend runs it on its
// threads, and the cuda/simt backends call validate_sample for their host-side checks (the same
// messages); native/cuda/sample.cu runs the same passes on the device.
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
