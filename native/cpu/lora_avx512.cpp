// AVX-512 LoRA tile (lora_tile.h), built only for run-time dispatch (target attribute).
//   shrink: a register block of 4 adapter rows x T tokens, one 16-lane accumulator per (token, row) over
//           k in steps of 16 (masked tail), reduced with _mm512_reduce_add_ps; each A chunk is loaded
//           once for the T tokens.
//   expand: per 16 output columns, the T tokens' out chunks are held in registers while the adapter's
//           rows of B stream past once: out += (scale h[r]) B[r] for r in order, skipping rows whose
//           coefficient is 0 (as the portable path does), then stored once.
// Adapter rows are f32 or bf16 (W = uint16_t: 16 values loaded as 256 bits and widened exactly to fp32
// in registers), and only the slot's own rank rows are read.
// A token's accumulators see the same operations in the same order whatever T is, so its result does
// not depend on the tile it fell in (batch invariance).
#if defined(__x86_64__)
#include "avx512_target.h"
#include "lora_tile.h"

namespace pg::cpu {

namespace {

constexpr int kRows = 4;  // adapter rows per shrink register block

PG_AVX512 inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u);
}

// 16 adapter values (lanes outside m read nothing and are 0) as fp32.
PG_AVX512 inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
PG_AVX512 inline __m512 load16(const uint16_t* p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <int T, class W>
PG_AVX512 void shrink(const float* const* x, const W* as, int64_t k, int64_t rank, float* const* h) {
    for (int64_t r0 = 0; r0 < rank; r0 += kRows) {
        __m512 acc[T][kRows];
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < kRows; ++i) acc[t][i] = _mm512_setzero_ps();
        for (int64_t kk = 0; kk < k; kk += 16) {
            const __mmask16 m = tail_mask(k - kk);
            __m512 w[kRows];
            for (int i = 0; i < kRows; ++i)  // rows past the rank read nothing (mask 0) and are dropped
                w[i] = load16(as + (r0 + i) * k + kk, r0 + i < rank ? m : __mmask16(0));
            for (int t = 0; t < T; ++t) {
                const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + kk);
                for (int i = 0; i < kRows; ++i) acc[t][i] = _mm512_fmadd_ps(xv, w[i], acc[t][i]);
            }
        }
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < kRows && r0 + i < rank; ++i) h[t][r0 + i] = _mm512_reduce_add_ps(acc[t][i]);
    }
}

template <int T, class W>
PG_AVX512 void expand(float* const* out, const float* const* h, float scale, const W* bs, int64_t n,
                      int64_t rank) {
    // Rows used by no token of the tile are skipped wholesale; within a used row, a token whose
    // coefficient is 0 is skipped on its own (so its result never depends on its neighbours).
    constexpr int kMaxRank = kLoraTileMaxRank;
    float c[T][kMaxRank];
    bool used[kMaxRank];
    int64_t rows[kMaxRank], num_rows = 0;
    for (int64_t r = 0; r < rank; ++r) {
        used[r] = false;
        for (int t = 0; t < T; ++t) {
            c[t][r] = scale * h[t][r];
            used[r] = used[r] || c[t][r] != 0.0f;
        }
        if (used[r]) rows[num_rows++] = r;
    }
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = tail_mask(n - j);
        __m512 acc[T];
        for (int t = 0; t < T; ++t) acc[t] = _mm512_maskz_loadu_ps(m, out[t] + j);
        for (int64_t q = 0; q < num_rows; ++q) {
            const int64_t r = rows[q];
            const __m512 b = load16(bs + r * n + j, m);
            for (int t = 0; t < T; ++t)
                if (c[t][r] != 0.0f) acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(c[t][r]), b, acc[t]);
        }
        for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(out[t] + j, m, acc[t]);
    }
}

template <int T, class W>
PG_AVX512 void tile(const pg_lora_args* a, const int32_t* tokens, int32_t slot, int64_t rank) {
    const int64_t k = a->k, n = a->n, max_rank = a->max_rank;
    const float* x[T];
    float* out[T];
    float* h[T];
    for (int t = 0; t < T; ++t) {
        const int64_t tok = tokens[t];
        x[t] = static_cast<const float*>(a->x) + tok * a->ldx;
        out[t] = static_cast<float*>(a->out) + tok * a->ldo;
        h[t] = a->workspace + tok * max_rank;
    }
    shrink<T>(x, static_cast<const W*>(a->a) + int64_t(slot) * max_rank * k, k, rank, h);
    expand<T>(out, h, a->scales[slot], static_cast<const W*>(a->b) + int64_t(slot) * max_rank * n, n, rank);
}

template <class W>
void tile_of(const pg_lora_args* a, const int32_t* tokens, int count, int32_t slot, int64_t rank) {
    switch (count) {
        case 1: tile<1, W>(a, tokens, slot, rank); break;
        case 2: tile<2, W>(a, tokens, slot, rank); break;
        case 3: tile<3, W>(a, tokens, slot, rank); break;
        default: tile<4, W>(a, tokens, slot, rank); break;
    }
}

}  // namespace

void lora_tile_avx512(const pg_lora_args* a, const int32_t* tokens, int count, int32_t slot, int64_t rank) {
    if (a->weight_dtype == PG_DTYPE_BF16)
        tile_of<uint16_t>(a, tokens, count, slot, rank);
    else
        tile_of<float>(a, tokens, count, slot, rank);
}

}  // namespace pg::cpu
#endif
