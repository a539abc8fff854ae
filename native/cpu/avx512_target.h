// What an AVX-512 kernel file (built for run-time dispatch, the library itself generic) includes first:
// the intrinsics, the target attribute its functions carry, and the warnings GCC's intrinsics trip.
#pragma once
#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wuninitialized flags when inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define PG_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#endif
