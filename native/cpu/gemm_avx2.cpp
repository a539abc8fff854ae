// AVX2/FMA GEMM built only for run-time dispatch (target attribute; the library itself is generic).
// Register tile of MB rows of x by R rows of w, each output accumulated as an 8-lane vector along K
// and reduced at the end. Loads per tile step: MB + R vectors for MB * R FMAs (4x3: 7 loads per
// 12 FMAs), so the kernel runs at FMA throughput with x rows in L1 and the w chunk in L2; for M = 1
// it streams 8 w rows at once (memory bound). No packing: w is used in its [N, K] layout. Half
// weights (bf16: a shift; f16: vcvtph2ps) are widened to fp32 in registers as they are loaded, so a
// bf16 model streams half the bytes of an fp32 one; products and sums stay fp32. q8_0 weights (GGUF
// blocks of 32 int8 and an f16 scale) are sign-extended and converted 8 at a time, each block's dot
// product scaled by its d, as the AVX-512 kernel does (smaller tiles: a block takes 4 registers).
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "gemm.h"

#define PG_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace pg::cpu {

namespace {

// 8 consecutive weights widened to fp32.
PG_AVX2 inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
PG_AVX2 inline __m256 load8(const Bf16* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
PG_AVX2 inline __m256 load8(const F16* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

alignas(32) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// Lane sums of 4 accumulators at once: result[i] = ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)) of a[i].
// Every tile shape reduces with this one function, so an output's value never depends on the tile
// (or chunk, or thread) it was computed in.
PG_AVX2 inline __m128 reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    const __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

// The last n < 8 weights of a row, zero-padded; never reads past the row.
PG_AVX2 inline __m256 load_tail(const float* p, __m256i mask, int64_t) { return _mm256_maskload_ps(p, mask); }
template <class W>
PG_AVX2 inline __m256 load_tail(const W* p, __m256i, int64_t n) {
    W tmp[8] = {};
    std::memcpy(tmp, p, size_t(n) * sizeof(W));
    return load8(tmp);
}

// Reduces a tile's accumulators and stores them: out = sum (+ bias) (+ out). Every tile shape and weight
// type ends with this one function.
template <int MB, int R>
PG_AVX2 inline void store_tile(const __m256 (&acc)[MB][R], float* out, int64_t ldo, bool accumulate, const float* bias) {
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < MB; ++i)
        for (int r = 0; r < R; r += 4) {
            const __m128 sums = reduce4(acc[i][r], r + 1 < R ? acc[i][r + 1] : zero,
                                        r + 2 < R ? acc[i][r + 2] : zero,
                                        r + 3 < R ? acc[i][r + 3] : zero);
            float* o = out + i * ldo + r;
            if (r + 4 <= R) {
                const __m128 v = bias != nullptr ? _mm_add_ps(sums, _mm_loadu_ps(bias + r)) : sums;
                _mm_storeu_ps(o, accumulate ? _mm_add_ps(_mm_loadu_ps(o), v) : v);
            } else {
                alignas(16) float d[4];
                _mm_store_ps(d, sums);
                for (int j = 0; j < R - r; ++j) {
                    const float v = bias != nullptr ? d[j] + bias[r + j] : d[j];
                    o[j] = accumulate ? o[j] + v : v;
                }
            }
        }
}

// q8_0 steps of a tile: per block and weight row, the 32 int8 widened once (4 vectors) and the scale
// broadcast; per row of x, block = x . q over the 32 (a mul and 3 FMAs), then acc += block * d. The same
// operations per output in every tile shape, so a row's result does not depend on M. k % 32 == 0
// (checked by matmul); w is the tile's first row, rows k / 32 blocks apart.
template <int MB, int R>
PG_AVX2 inline void q8_steps(const float* x, int64_t ldx, const Q8Block* w, int64_t k, __m256 (&acc)[MB][R]) {
    const int64_t blocks = k / 32;
    for (int64_t b = 0; b < blocks; ++b)
        for (int r = 0; r < R; ++r) {
            const Q8Block* blk = w + r * blocks + b;
            __m256 q[4];
            for (int j = 0; j < 4; ++j)
                q[j] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk->qs + 8 * j))));
            const __m256 d = _mm256_cvtph_ps(_mm_set1_epi16(int16_t(blk->d)));
            for (int i = 0; i < MB; ++i) {
                const float* xb = x + i * ldx + 32 * b;
                __m256 dot = _mm256_mul_ps(_mm256_loadu_ps(xb), q[0]);
                for (int j = 1; j < 4; ++j) dot = _mm256_fmadd_ps(_mm256_loadu_ps(xb + 8 * j), q[j], dot);
                acc[i][r] = _mm256_fmadd_ps(dot, d, acc[i][r]);
            }
        }
}

// out[0..MB) x [0..R) tile; x, w, out (and bias, when given) already offset to the tile's corner.
template <int MB, int R, class W>
PG_AVX2 void tile(const float* x, int64_t ldx, const W* w, int64_t k, float* out, int64_t ldo,
                  bool accumulate, const float* bias) {
    __m256 acc[MB][R];
    for (int i = 0; i < MB; ++i)
        for (int r = 0; r < R; ++r) acc[i][r] = _mm256_setzero_ps();
    if constexpr (std::is_same_v<W, Q8Block>) {
        q8_steps<MB, R>(x, ldx, w, k, acc);
    } else {
        int64_t kk = 0;
        for (; kk + 8 <= k; kk += 8) {
            __m256 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = load8(w + r * k + kk);
            for (int i = 0; i < MB; ++i) {
                const __m256 xv = _mm256_loadu_ps(x + i * ldx + kk);
                for (int r = 0; r < R; ++r) acc[i][r] = _mm256_fmadd_ps(xv, wv[r], acc[i][r]);
            }
        }
        if (kk < k) {  // masked tail: never reads past the end of a row
            const __m256i mask =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - (k - kk)));
            __m256 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = load_tail(w + r * k + kk, mask, k - kk);
            for (int i = 0; i < MB; ++i) {
                const __m256 xv = _mm256_maskload_ps(x + i * ldx + kk, mask);
                for (int r = 0; r < R; ++r) acc[i][r] = _mm256_fmadd_ps(xv, wv[r], acc[i][r]);
            }
        }
    }
    store_tile<MB, R>(acc, out, ldo, accumulate, bias);
}

// Where weight row n starts (q8_0 rows are k / 32 blocks).
template <class W>
inline const W* row_at(const W* w, int64_t n, int64_t k) { return w + n * k; }
inline const Q8Block* row_at(const Q8Block* w, int64_t n, int64_t k) { return w + n * (k / 32); }

// All columns [n0, n1) for MB rows of x: R-wide tiles, then single columns.
template <int MB, int R, class W>
PG_AVX2 void row_block(const GemmArgs& a, const float* x, float* out, int64_t n0, int64_t n1) {
    int64_t n = n0;
    const float* bias = a.bias;
    const W* w = static_cast<const W*>(a.w);
    for (; n + R <= n1; n += R)
        tile<MB, R>(x, a.ldx, row_at(w, n, a.k), a.k, out + n, a.ldo, a.accumulate, bias ? bias + n : nullptr);
    for (; n < n1; ++n)
        tile<MB, 1>(x, a.ldx, row_at(w, n, a.k), a.k, out + n, a.ldo, a.accumulate, bias ? bias + n : nullptr);
}

// Tile widths (weight rows per tile) for 4, 3 and 2 rows of x: what fits the 16 registers with the
// weight vectors of one step (q8_0: 4 per row of w, plus its scale and the block sum).
template <class W>
struct Widths {
    static constexpr int r4 = 3, r3 = 4, r2 = 4;
};
template <>
struct Widths<Q8Block> {
    static constexpr int r4 = 2, r3 = 2, r2 = 3;
};

template <class W>
PG_AVX2 void columns(const GemmArgs& a, int64_t n0, int64_t n1) {
    int64_t m = 0;
    for (; m + 4 <= a.m; m += 4) row_block<4, Widths<W>::r4, W>(a, a.x + m * a.ldx, a.out + m * a.ldo, n0, n1);
    const float* x = a.x + m * a.ldx;
    float* out = a.out + m * a.ldo;
    switch (a.m - m) {
        case 3: row_block<3, Widths<W>::r3, W>(a, x, out, n0, n1); break;
        case 2: row_block<2, Widths<W>::r2, W>(a, x, out, n0, n1); break;
        case 1: row_block<1, 1, W>(a, x, out, n0, n1); break;  // one linear stream (see gemm_avx512.cpp)
        default: break;
    }
}

}  // namespace

PG_AVX2 void gemm_columns_avx2(const GemmArgs& a, int64_t n0, int64_t n1) {
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
void gemm_columns_avx2(const GemmArgs& a, int64_t n0, int64_t n1) { gemm_columns_generic(a, n0, n1); }
}  // namespace pg::cpu
#endif
