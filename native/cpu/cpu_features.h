// Run-time choice between the AVX2/FMA kernels and the portable ones. The library is built without
// -march flags so it loads on any x86-64 (or other) CPU; PAGED_CPU_NO_AVX2=1 forces the portable path;
// PAGED_CPU_NO_AVX512=1 keeps the AVX2 kernels on an AVX-512 CPU.
#pragma once

namespace pg::cpu {
bool cpu_has_avx2_fma();  // hardware support (AVX2, FMA and F16C)
bool use_avx2();          // hardware support and not disabled by PAGED_CPU_NO_AVX2
bool cpu_has_avx512();    // AVX-512 F, BW, VL and DQ (with AVX2/FMA/F16C)
bool use_avx512();        // use_avx2(), hardware support, and not disabled by PAGED_CPU_NO_AVX512
void clear_upper_vector_state();  // vzeroupper when the CPU has AVX; nothing otherwise
}  // namespace pg::cpu
