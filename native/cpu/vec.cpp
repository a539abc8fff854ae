#include "vec.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PG_HAVE_AVX2_KERNELS 1
#endif

namespace pg::cpu {

namespace {

template <class X>
void axpy_generic(float alpha, const X* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * widen(x[i]);
}

#ifdef PG_HAVE_AVX2_KERNELS
#define PG_AVX2 __attribute__((target("avx2,fma")))

// 8 elements as fp32: floats, or bf16 bits shifted into the high half of each lane.
PG_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
PG_AVX2 inline __m256 load8(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

template <class A>
PG_AVX2 float dot_avx2(const A* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load8(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load8(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    if (i + 8 <= n) {
        acc0 = _mm256_fmadd_ps(load8(a + i), _mm256_loadu_ps(b + i), acc0);
        i += 8;
    }
    __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float r = _mm_cvtss_f32(s);
    for (; i < n; ++i) r += widen(a[i]) * b[i];
    return r;
}

template <class X>
PG_AVX2 void axpy_avx2(float alpha, const X* x, float* y, int64_t n) {
    const __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += alpha * widen(x[i]);
}
#endif

const VecOps kGeneric{dot_portable<float>, axpy_generic<float>, dot_portable<uint16_t>, axpy_generic<uint16_t>};
#ifdef PG_HAVE_AVX2_KERNELS
const VecOps kAvx2{dot_avx2<float>, axpy_avx2<float>, dot_avx2<uint16_t>, axpy_avx2<uint16_t>};
#endif

}  // namespace

const VecOps& vec_ops(bool avx2) {
#ifdef PG_HAVE_AVX2_KERNELS
    if (avx2) return kAvx2;
#endif
    (void)avx2;
    return kGeneric;
}

}  // namespace pg::cpu
