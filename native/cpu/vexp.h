// Vectorized expf for the AVX2/FMA kernels (attention softmax, silu_mul). Cephes-style: split
// x = n ln2 + r with |r| <= ln2/2, a degree-7 polynomial for e^r (~1-2 ulp), then scale by 2^n.
// Finite input never gives NaN: x > 88.72 -> +inf, results below ~2^-125 (x < ~-86.7) flush to 0
// (no denormals), -inf -> 0, +inf -> +inf. Include only from translation units that define AVX2 kernels with target attributes.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PG_HAVE_VEXP 1

namespace pg::cpu {

__attribute__((target("avx2,fma"), always_inline)) inline __m256 exp256_ps(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.7228317f);   // log(FLT_MAX)
    const __m256 lo = _mm256_set1_ps(-87.3365479f);  // log(FLT_MIN)
    const __m256 xc = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
    const __m256 fx = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    // r = x - n ln2 in two steps (ln2 = 0.693359375 - 2.12194440e-4; the first part is exact).
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // y * 2^n as (2y) * 2^(n-1): n is in [-126, 128], so the biased exponent n-1 + 127 fits in
    // [0, 254] (0 flushes to zero) and n = 128 overflows to +inf only when the true result does.
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(126)), 23);
    __m256 res = _mm256_mul_ps(_mm256_add_ps(y, y), _mm256_castsi256_ps(e));
    res = _mm256_blendv_ps(res, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    res = _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), res);
    return res;
}

}  // namespace pg::cpu
#endif
