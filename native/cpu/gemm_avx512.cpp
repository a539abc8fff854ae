// AVX-512 GEMM built only for run-time dispatch (target attribute; the library itself is generic).
// Same structure as the AVX2 kernel (register tile of MB rows of x by R rows of w, one 16-lane
// accumulator per output, reduced at the end; no packing, w used in its [N, K] layout), with half
// the instructions per weight:
//   - bf16 weights: 16 per 32-byte load, widened with vpmovzxwd + a shift (in k order, so a bf16 row sums in
//     exactly the order of the same row widened to f32: the two give the same bits);
//   - f16 weights: vcvtph2ps, 16 per load;
//   - q8_0 weights (GGUF blocks of 32 int8 with one f16 scale): sign-extended and converted in
//     registers, the block's dot product scaled by d.
// Products and sums are fp32. Every tile shape updates each output's accumulator with the same
// sequence of operations over K and reduces it with the same function, so a row's result does not
// depend on M, on the tile it fell in, or on the thread that computed it.
#if defined(__x86_64__)
#include "avx512_target.h"

#include <cstdint>
#include <type_traits>

#include "gemm.h"

namespace pg::cpu {

namespace {

// K elements per step of the inner loop, per weight type.
template <class W>
constexpr int kStep = 16;
template <>
constexpr int kStep<Q8Block> = 32;

// Accumulates one K step of one weight row into acc (x and w already offset to the step; `mask`
// selects the valid k of a tail step, all ones otherwise; masked-off weights and x read as +0).
PG_AVX512 inline __m512 step(const float* x, const float* w, __m512 acc, __mmask32 mask) {
    const __mmask16 m = __mmask16(mask);
    return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x), _mm512_maskz_loadu_ps(m, w), acc);
}
PG_AVX512 inline __m512 step(const float* x, const F16* w, __m512 acc, __mmask32 mask) {
    const __mmask16 m = __mmask16(mask);
    const __m512 wv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w));
    return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x), wv, acc);
}
PG_AVX512 inline __m512 step(const float* x, const Bf16* w, __m512 acc, __mmask32 mask) {
    const __mmask16 m = __mmask16(mask);
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, w));
    return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x), _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)), acc);
}
PG_AVX512 inline __m512 step(const float* x, const Q8Block* w, __m512 acc, __mmask32) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w->qs));
    const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
    const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
    const __m512 block = _mm512_fmadd_ps(_mm512_loadu_ps(x + 16), hi, _mm512_mul_ps(_mm512_loadu_ps(x), lo));
    const __m512 d = _mm512_cvtph_ps(_mm256_set1_epi16(int16_t(w->d)));
    return _mm512_fmadd_ps(block, d, acc);
}

// 16 weights widened to fp32 (masked-off ones read as +0), as step() widens them.
PG_AVX512 inline __m512 widen(const float* w, __mmask16 m) { return _mm512_maskz_loadu_ps(m, w); }
PG_AVX512 inline __m512 widen(const F16* w, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w)); }
PG_AVX512 inline __m512 widen(const Bf16* w, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, w)), 16));
}

// Lane sum by halving (8+8, 4+4, 2+2, 1+1): the one reduction of every tile shape. Written out rather
// than _mm512_reduce_add_ps, with which GCC 12 kept the accumulators in memory (a store per FMA).
PG_AVX512 inline float reduce16(__m512 v) {
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

// Where step s of row r starts (q8_0 rows are K / 32 blocks).
template <class W>
inline const W* at(const W* w, int64_t row_elems, int64_t kk) { return w + row_elems + kk; }
inline const Q8Block* at(const Q8Block* w, int64_t row_elems, int64_t kk) { return w + (row_elems + kk) / 32; }

// out[0..MB) x [0..R) tile; x, w, out (and bias) already offset to the tile's corner.
template <int MB, int R, class W>
PG_AVX512 void tile(const float* x, int64_t ldx, const W* w, int64_t k, float* out, int64_t ldo,
                    bool accumulate, const float* bias) {
    constexpr int S = kStep<W>;
    __m512 acc[MB][R];
    #pragma GCC unroll 16
    for (int i = 0; i < MB; ++i)
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[i][r] = _mm512_setzero_ps();
    for (int64_t kk = 0; kk < k; kk += S) {
        const __mmask32 mask = k - kk >= S ? ~__mmask32(0) : __mmask32((1u << (k - kk)) - 1u);
        if constexpr (std::is_same_v<W, Q8Block>) {
            #pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
                #pragma GCC unroll 16
                for (int i = 0; i < MB; ++i) acc[i][r] = step(x + i * ldx + kk, at(w, r * k, kk), acc[i][r], mask);
        } else {
            // Each weight vector is loaded (and widened) once and each x vector once per step: MB + R
            // loads for MB * R FMAs. The FMAs are those of step(), in the same order per accumulator, so
            // the bits do not change with the tile shape.
            const __mmask16 m = __mmask16(mask);
            __m512 wv[R];
            #pragma GCC unroll 16
            for (int r = 0; r < R; ++r) wv[r] = widen(at(w, r * k, kk), m);
            #pragma GCC unroll 16
            for (int i = 0; i < MB; ++i) {
                const __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + kk);
                #pragma GCC unroll 16
                for (int r = 0; r < R; ++r) acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
            }
        }
    }
    #pragma GCC unroll 16
    for (int i = 0; i < MB; ++i)
        #pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const float s = reduce16(acc[i][r]);
            const float v = bias != nullptr ? s + bias[r] : s;
            float* o = out + i * ldo + r;
            *o = accumulate ? *o + v : v;
        }
}

template <int MB, int R, class W>
PG_AVX512 void row_block(const GemmArgs& a, const float* x, float* out, int64_t n0, int64_t n1) {
    const W* w = static_cast<const W*>(a.w);
    const float* bias = a.bias;
    int64_t n = n0;
    for (; n + R <= n1; n += R)
        tile<MB, R>(x, a.ldx, at(w, n * a.k, 0), a.k, out + n, a.ldo, a.accumulate, bias ? bias + n : nullptr);
    for (; n < n1; ++n)
        tile<MB, 1>(x, a.ldx, at(w, n * a.k, 0), a.k, out + n, a.ldo, a.accumulate, bias ? bias + n : nullptr);
}

// M = 1 with f32 weight rows that start off a 64-byte boundary (a llama2c .bin's tensors sit at 28 mod 64
// behind its header; safetensors data is only 8-byte aligned): there every unaligned 64-byte load
// straddles two cache lines. This loads the aligned vectors covering the row instead and recombines
// neighbours with one lane permute, so the FMAs see exactly the values an unaligned load gives (the same
// bits as tile<1, 1>, which it replaces): ~6% faster streaming on Zen 4 (standalone GEMV over the 110M
// rows at 28 mod 64: 15.9-16.4 vs 17.0-17.3 ms, the same as aligned rows). The first and last aligned
// vectors reach up to 60 bytes outside the row, never outside the cache lines holding it (so never
// into an unmapped page). Needs k % 16 == 0 (every row then has the same offset) and 4-byte aligned w.
PG_AVX512 void row_f32_realigned(const GemmArgs& a, int64_t n0, int64_t n1) {
    const float* w = static_cast<const float*>(a.w);
    const int shift = int((reinterpret_cast<uintptr_t>(w) & 63) / sizeof(float));
    const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(shift));
    for (int64_t n = n0; n < n1; ++n) {
        const float* base = w + n * a.k - shift;  // 64-byte aligned
        __m512 acc = _mm512_setzero_ps();
        __m512 lo = _mm512_load_ps(base);
        for (int64_t kk = 0; kk < a.k; kk += 16) {
            const __m512 hi = _mm512_load_ps(base + kk + 16);
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(a.x + kk), _mm512_permutex2var_ps(lo, idx, hi), acc);
            lo = hi;
        }
        const float s = reduce16(acc);
        const float v = a.bias != nullptr ? s + a.bias[n] : s;
        a.out[n] = a.accumulate ? a.out[n] + v : v;
    }
}

// Whether row_f32_realigned applies (see there).
inline bool realign_rows(const GemmArgs& a) {
    const auto addr = reinterpret_cast<uintptr_t>(a.w);
    return a.w_dtype == PG_DTYPE_F32 && a.k % 16 == 0 && addr % sizeof(float) == 0 && addr % 64 != 0;
}

template <class W>
PG_AVX512 void columns(const GemmArgs& a, int64_t n0, int64_t n1) {
    int64_t m = 0;
    for (; m + 4 <= a.m; m += 4) row_block<4, 4, W>(a, a.x + m * a.ldx, a.out + m * a.ldo, n0, n1);
    const float* x = a.x + m * a.ldx;
    float* out = a.out + m * a.ldo;
    switch (a.m - m) {
        case 3: row_block<3, 4, W>(a, x, out, n0, n1); break;
        case 2: row_block<2, 6, W>(a, x, out, n0, n1); break;
        // One weight row at a time: a single linear stream, which the hardware prefetchers follow best
        // (8 interleaved rows ran bf16 decode at half the memory bandwidth on Zen 4).
        case 1:
            if (std::is_same_v<W, float> && realign_rows(a)) {
                GemmArgs last = a;
                last.x = x;
                last.out = out;
                row_f32_realigned(last, n0, n1);
            } else {
                row_block<1, 1, W>(a, x, out, n0, n1);
            }
            break;
        default: break;
    }
}

}  // namespace

PG_AVX512 void gemm_columns_avx512(const GemmArgs& a, int64_t n0, int64_t n1) {
    switch (a.w_dtype) {
        case PG_DTYPE_BF16: columns<Bf16>(a, n0, n1); break;
        case PG_DTYPE_F16: columns<F16>(a, n0, n1); break;
        case PG_DTYPE_Q8_0: columns<Q8Block>(a, n0, n1); break;
        default: columns<float>(a, n0, n1); break;
    }
}

}  // namespace pg::cpu

#else
#include "gemm.h"
namespace pg::cpu {
void gemm_columns_avx512(const GemmArgs& a, int64_t n0, int64_t n1) { gemm_columns_generic(a, n0, n1); }
}  // namespace pg::cpu
#endif
