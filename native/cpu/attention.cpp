// Paged attention (decode and prefill share this code). One task per (query token, kv head): it
// handles every query head of that GQA group, reading K/V rows straight from their cache blocks and
// never touching slots past the token's own position. Softmax follows llama2.c (max-subtract,
// exp, float sum), out = sum_j p_j * V[j] in order j = lo..pos, divided by the sum (lo = 0, or the
// first position of a sliding window; nothing before lo is read, not even its block-table entry).
// AVX2 path (head_size % 8 == 0): per 8-row K chunk of a block, the scores of all the group's heads
// (head sizes 8 and 16: the chunk is transposed once and each head is 8/16 broadcast FMAs; larger:
// 8 dot-product accumulators reduced with a hadd tree), masked to -inf past the valid rows; softmax
// with a vectorized exp; then PV with broadcast FMAs into register accumulators (several heads of
// the group share each V row load; head sizes > 64 in passes of 64 columns). K/V rows past the
// token's position are never read. Other head sizes, and the portable path, go position by
// position through VecOps.
#include <cmath>
#include <vector>

#include "attention_half_kv.h"
#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"
#include "vec.h"
#include "vexp.h"

namespace pg::cpu {

namespace {

pg_status validate(const char* op, const pg_context* ctx, const pg_attention_args* a, bool decode,
                   int64_t* work) {
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_attention_shape(op, a, kF32Only));
    return check_attention_indices(op, a, decode, a->query_start, a->seq_lens, a->block_tables, work);
}

// Sequence owning query token t: the last s with query_start[s] <= t (query_start is sorted).
int32_t find_seq(const int32_t* query_start, int32_t num_seqs, int32_t t) {
    int32_t lo = 0, hi = num_seqs - 1;
    while (lo < hi) {
        const int32_t mid = (lo + hi + 1) / 2;
        if (query_start[mid] <= t) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

struct Task {
    const pg_attention_args* a;
    const VecOps* ops;
    int32_t group;  // query heads per kv head
};

// Where task `index` = (query token t, kv head g) sits: its sequence, position and block table.
struct Where {
    int32_t t, g, pos, lo, n;  // attends to positions [lo, n), n = pos + 1
    const int32_t* table;
};

Where locate(const pg_attention_args& a, int64_t index) {
    const pg_kv_cache_desc& c = a.cache;
    Where w;
    w.t = int32_t(index / c.num_kv_heads);
    w.g = int32_t(index % c.num_kv_heads);
    const int32_t s = find_seq(a.query_start, a.num_seqs, w.t);
    const int32_t q_len = a.query_start[s + 1] - a.query_start[s];
    w.pos = a.seq_lens[s] - q_len + (w.t - a.query_start[s]);
    w.n = w.pos + 1;
    w.lo = window_start(a.sliding_window, w.pos);
    w.table = a.block_tables + int64_t(s) * a.max_blocks_per_seq;
    return w;
}

// Calls f(cache block id, first position of the block, first row, end row) for every block holding
// positions [lo, n), in order; rows are offsets inside the block.
template <class F>
__attribute__((always_inline)) inline void for_each_block(const pg_kv_cache_desc& c, const int32_t* table, int32_t lo, int32_t n, F&& f) {
    for (int32_t b = lo / c.block_size; b * c.block_size < n; ++b) {
        const int32_t j0 = b * c.block_size;
        f(table[b], j0, j0 < lo ? lo - j0 : 0, n - j0 < c.block_size ? n - j0 : c.block_size);
    }
}

// Portable path (and the AVX2 path for head sizes that are not a multiple of 8): per position
// dot / axpy through the VecOps table.
void run_task(const Task& task, int64_t index) {
    const pg_attention_args& a = *task.a;
    const pg_kv_cache_desc& c = a.cache;
    const Where w = locate(a, index);
    const int32_t t = w.t, g = w.g, lo = w.lo, n = w.n;
    const int32_t hs = c.head_size;
    const auto* cache = static_cast<const float*>(c.data);

    thread_local std::vector<float> scores;
    if (scores.size() < size_t(n - lo)) scores.resize(size_t(a.max_seq_len));
    float* sc = scores.data() - lo;  // indexed by position

    for (int32_t h = g * task.group; h < (g + 1) * task.group; ++h) {
        const float* q = static_cast<const float*>(a.query) + int64_t(t) * a.q_stride +
                         int64_t(h) * hs;
        float max_score = -INFINITY;
        for_each_block(c, w.table, lo, n, [&](int32_t block, int32_t j0, int32_t o0, int32_t o1) {
            const float* k = cache + cache_offset(c, block, a.layer, 0, g, 0);
            for (int32_t o = o0; o < o1; ++o) {
                const float v = task.ops->dot(q, k + int64_t(o) * hs, hs) * a.scale;
                sc[j0 + o] = v;
                max_score = v > max_score ? v : max_score;
            }
        });
        float sum = 0.0f;
        for (int32_t j = lo; j < n; ++j) {
            sc[j] = expf(sc[j] - max_score);
            sum += sc[j];
        }
        for (int32_t j = lo; j < n; ++j) sc[j] /= sum;
        float* out = static_cast<float*>(a.out) + (int64_t(t) * a.num_heads + h) * hs;
        for (int32_t d = 0; d < hs; ++d) out[d] = 0.0f;
        for_each_block(c, w.table, lo, n, [&](int32_t block, int32_t j0, int32_t o0, int32_t o1) {
            const float* v = cache + cache_offset(c, block, a.layer, 1, g, 0);
            for (int32_t o = o0; o < o1; ++o) task.ops->axpy(sc[j0 + o], v + int64_t(o) * hs, out, hs);
        });
    }
}

#ifdef PG_HAVE_VEXP
#define PG_AVX2 __attribute__((target("avx2,fma")))

// Horizontal sums of 8 vectors: lane i of the result = sum of the 8 lanes of a[i].
PG_AVX2 inline __m256 reduce8(const __m256* a) {
    const __m256 t0 = _mm256_hadd_ps(a[0], a[1]);
    const __m256 t1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 t2 = _mm256_hadd_ps(a[4], a[5]);
    const __m256 t3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1);  // [s0..s3 low halves | s0..s3 high halves]
    const __m256 u1 = _mm256_hadd_ps(t2, t3);  // same for s4..s7
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Columns e0..e0+7 of 8 rows: col[d] lane i = r[i][e0 + d].
PG_AVX2 inline void transpose8(const float* const* r, int e0, __m256* col) {
    for (int half = 0; half < 2; ++half) {
        const int e = e0 + 4 * half;
        __m256 x[4];
        for (int i = 0; i < 4; ++i)
            x[i] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r[i] + e)),
                                        _mm_loadu_ps(r[i + 4] + e), 1);  // [row i | row i+4]
        const __m256 u0 = _mm256_unpacklo_ps(x[0], x[1]);
        const __m256 u1 = _mm256_unpackhi_ps(x[0], x[1]);
        const __m256 u2 = _mm256_unpacklo_ps(x[2], x[3]);
        const __m256 u3 = _mm256_unpackhi_ps(x[2], x[3]);
        col[4 * half + 0] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
        col[4 * half + 1] = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
        col[4 * half + 2] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
        col[4 * half + 3] = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
    }
}

PG_AVX2 inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

PG_AVX2 inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Asks for `floats` floats from p on into the cache (one prefetch per 64-byte line). A block's K and
// V rows are 4 KB-sized islands scattered over the cache, which the hardware prefetchers do not
// cross: the score pass fetches the next block's K rows and the current block's V rows (for the PV
// pass) ahead of use, which decode at the 110M shape spent most of its attention time waiting for.
// Prefetches change no arithmetic: results are bit for bit the same.
PG_AVX2 inline void prefetch_rows(const float* p, int64_t floats) {
    for (int64_t i = 0; i < floats; i += 16) _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T0);
}

// The same into L2 only, for data needed a task or two later: the next kv heads' K and V rows, which a
// single thread reads next (tasks run in order). Fetched a chunk at a time alongside this head's score
// pass, they arrive while this head computes instead of each 4 KB island stalling a later task: at the
// 110M shape this took a decode token's attention from ~1.05 to ~0.75 ms (one head ahead) and ~0.65 ms
// (two; three gained nothing more) on one thread (paged_cpu_attention_bench). With several threads the
// next heads may run elsewhere; the L3 still keeps the lines.
constexpr int32_t kHeadsAhead = 2;
PG_AVX2 inline void prefetch_rows_l2(const float* p, int64_t floats) {
    for (int64_t i = 0; i < floats; i += 16) _mm_prefetch(reinterpret_cast<const char*>(p + i), _MM_HINT_T1);
}

// Everything one (token, kv head) task needs, resolved once.
struct Job {
    const float* cache;
    const pg_kv_cache_desc* c;
    const int32_t* table;
    int32_t layer, g, lo, n, nc;  // positions [lo, n); nc = head_size / 8
    int32_t group;
    int64_t stride;  // floats per head in the score buffer (multiple of 8, >= n + 8)
    const float* q;  // first query head of the group; heads are head_size apart
    float* out;      // same for the output
    float* p;        // score / probability buffer, group x stride, entry j - lo for position j
    const float* sum;  // softmax denominators, one per head
};

// Scores of all heads of the group: p[h][j - lo] = scale * q_h . k_j for lo <= j < n; lanes of an
// 8-wide chunk past the block's valid rows are -inf (their K rows are never read: a valid row stands
// in); a chunk's lanes past its block are overwritten by the next block's first chunk.
template <int NC>
PG_AVX2 void scores_avx2(const Job& jb, float scale) {
    const int nc = NC > 0 ? NC : jb.nc;
    const int64_t hs = int64_t(nc) * 8;
    const pg_kv_cache_desc& c = *jb.c;
    const __m256 iota = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 vscale = _mm256_set1_ps(scale);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    // Locals, so the stores to p do not force reloads of the job's fields.
    float* const p = jb.p;
    const float* const qb = jb.q;
    const int64_t stride = jb.stride;
    const int32_t group = jb.group;
    for_each_block(c, jb.table, jb.lo, jb.n, [&](int32_t block, int32_t j0, int32_t o0, int32_t rows) PG_AVX2 {
        const float* K = jb.cache + cache_offset(c, block, jb.layer, 0, jb.g, 0);
        const float* V = jb.cache + cache_offset(c, block, jb.layer, 1, jb.g, 0);
        const int32_t heads_ahead = c.num_kv_heads - 1 - jb.g < kHeadsAhead ? c.num_kv_heads - 1 - jb.g : kHeadsAhead;
        const bool has_next = j0 + c.block_size < jb.n;
        const float* K_next = has_next ? jb.cache + cache_offset(c, jb.table[j0 / c.block_size + 1], jb.layer, 0, jb.g, 0)
                                       : nullptr;
        for (int32_t r0 = o0; r0 < rows; r0 += 8) {
            const int32_t cnt = rows - r0 < 8 ? rows - r0 : 8;
            prefetch_rows(V + r0 * hs, cnt * hs);
            if (has_next) prefetch_rows(K_next + r0 * hs, (c.block_size - r0 < 8 ? c.block_size - r0 : 8) * hs);
            for (int32_t ah = 1; ah <= heads_ahead; ++ah) {
                prefetch_rows_l2(jb.cache + cache_offset(c, block, jb.layer, 0, jb.g + ah, r0), cnt * hs);
                prefetch_rows_l2(jb.cache + cache_offset(c, block, jb.layer, 1, jb.g + ah, r0), cnt * hs);
            }
            const int64_t pj = j0 + r0 - jb.lo;
            const float* kr[8];
            for (int i = 0; i < 8; ++i) kr[i] = K + (r0 + (i < cnt ? i : 0)) * hs;
            const __m256 valid = _mm256_cmp_ps(iota, _mm256_set1_ps(float(cnt)), _CMP_LT_OQ);
            if constexpr (NC >= 1 && NC <= 2) {
                // Small heads: transpose the 8 x head_size K chunk into columns once (8 rows per
                // column vector), then each head's 8 scores are sum_d q[d] * col[d].
                __m256 col[8 * NC];
                for (int d = 0; d < NC; ++d) transpose8(kr, 8 * d, col + 8 * d);
                for (int32_t h = 0; h < group; ++h) {
                    const float* q = qb + h * hs;
                    __m256 s0 = _mm256_mul_ps(_mm256_broadcast_ss(q), col[0]);
                    __m256 s1 = _mm256_mul_ps(_mm256_broadcast_ss(q + 1), col[1]);
                    for (int e = 2; e < 8 * NC; e += 2) {
                        s0 = _mm256_fmadd_ps(_mm256_broadcast_ss(q + e), col[e], s0);
                        s1 = _mm256_fmadd_ps(_mm256_broadcast_ss(q + e + 1), col[e + 1], s1);
                    }
                    const __m256 sc = _mm256_mul_ps(_mm256_add_ps(s0, s1), vscale);
                    _mm256_storeu_ps(p + h * stride + pj, _mm256_blendv_ps(ninf, sc, valid));
                }
            } else {
                for (int32_t h = 0; h < group; ++h) {
                    const float* q = qb + h * hs;
                    __m256 acc[8];
                    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
                    for (int d = 0; d < nc; ++d) {
                        const __m256 qv = _mm256_loadu_ps(q + 8 * d);
                        for (int i = 0; i < 8; ++i)
                            acc[i] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(kr[i] + 8 * d), acc[i]);
                    }
                    const __m256 sc = _mm256_mul_ps(reduce8(acc), vscale);
                    _mm256_storeu_ps(p + h * stride + pj, _mm256_blendv_ps(ninf, sc, valid));
                }
            }
        }
    });
}

// In place: p[j] = exp(p[j] - max) for j < n8 (entries past the span are -inf -> 0); returns the sum.
PG_AVX2 float softmax_avx2(float* p, int32_t n8) {
    __m256 m = _mm256_set1_ps(-INFINITY);
    for (int32_t j = 0; j < n8; j += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(p + j));
    const __m256 vmax = _mm256_set1_ps(hmax(m));
    __m256 s = _mm256_setzero_ps();
    for (int32_t j = 0; j < n8; j += 8) {
        const __m256 e = exp256_ps(_mm256_sub_ps(_mm256_loadu_ps(p + j), vmax));
        _mm256_storeu_ps(p + j, e);
        s = _mm256_add_ps(s, e);
    }
    return hsum(s);
}

// out_h = (sum_j p[h][j - lo] V_j) / sum_h for HB heads starting at h0, in order j = lo..n-1.
// Output columns [8 d0, 8 (d0 + NC)) of the heads (head sizes above 64 take several passes, so
// the accumulators always fit in registers).
template <int NC, int HB>
PG_AVX2 void pv_fixed(const Job& jb, int32_t h0, int32_t d0) {
    // U interleaved accumulator sets (position o of a block goes to set o % U) so the FMA chains
    // overlap when there are few accumulators; they are summed in a fixed order at the end.
    constexpr int U = HB * NC >= 8 ? 1 : HB * NC >= 4 ? 2 : 4;
    const int64_t hs = int64_t(jb.nc) * 8;
    const pg_kv_cache_desc& c = *jb.c;
    __m256 acc[U][HB][NC];
    for (int u = 0; u < U; ++u)
        for (int hh = 0; hh < HB; ++hh)
            for (int d = 0; d < NC; ++d) acc[u][hh][d] = _mm256_setzero_ps();
    const float* p = jb.p + h0 * jb.stride - jb.lo;  // indexed by position
    for_each_block(c, jb.table, jb.lo, jb.n, [&](int32_t block, int32_t j0, int32_t o0, int32_t rows) PG_AVX2 {
        const float* V = jb.cache + cache_offset(c, block, jb.layer, 1, jb.g, 0) + 8 * d0;
        auto step = [&](int u, int32_t o) PG_AVX2 __attribute__((always_inline)) {
            const float* vr = V + o * hs;
            __m256 v[NC];
            for (int d = 0; d < NC; ++d) v[d] = _mm256_loadu_ps(vr + 8 * d);
            for (int hh = 0; hh < HB; ++hh) {
                const __m256 pj = _mm256_broadcast_ss(p + hh * jb.stride + j0 + o);
                for (int d = 0; d < NC; ++d) acc[u][hh][d] = _mm256_fmadd_ps(pj, v[d], acc[u][hh][d]);
            }
        };
        int32_t o = o0;
        for (; o + U <= rows; o += U)
            for (int u = 0; u < U; ++u) step(u, o + u);
        for (; o < rows; ++o) step(0, o);  // tail: compile-time set index keeps acc in registers
    });
    for (int hh = 0; hh < HB; ++hh) {
        const __m256 sum = _mm256_set1_ps(jb.sum[h0 + hh]);
        float* out = jb.out + (h0 + hh) * hs + 8 * d0;
        for (int d = 0; d < NC; ++d) {
            __m256 r = acc[0][hh][d];
            if constexpr (U == 2) r = _mm256_add_ps(r, acc[1][hh][d]);
            if constexpr (U == 4)
                r = _mm256_add_ps(_mm256_add_ps(r, acc[1][hh][d]),
                                  _mm256_add_ps(acc[2][hh][d], acc[3][hh][d]));
            _mm256_storeu_ps(out + 8 * d, _mm256_div_ps(r, sum));
        }
    }
}

// Same for any head size that is a multiple of 8, one head at a time, accumulating in out.
PG_AVX2 void pv_any(const Job& jb, int32_t h) {
    const int64_t hs = int64_t(jb.nc) * 8;
    const pg_kv_cache_desc& c = *jb.c;
    float* out = jb.out + h * hs;
    for (int64_t d = 0; d < hs; d += 8) _mm256_storeu_ps(out + d, _mm256_setzero_ps());
    const float* p = jb.p + h * jb.stride - jb.lo;  // indexed by position
    for_each_block(c, jb.table, jb.lo, jb.n, [&](int32_t block, int32_t j0, int32_t o0, int32_t rows) PG_AVX2 {
        const float* V = jb.cache + cache_offset(c, block, jb.layer, 1, jb.g, 0);
        for (int32_t o = o0; o < rows; ++o) {
            const __m256 pj = _mm256_broadcast_ss(p + j0 + o);
            const float* vr = V + o * hs;
            for (int64_t d = 0; d < hs; d += 8)
                _mm256_storeu_ps(out + d, _mm256_fmadd_ps(pj, _mm256_loadu_ps(vr + d),
                                                          _mm256_loadu_ps(out + d)));
        }
    });
    const __m256 sum = _mm256_set1_ps(jb.sum[h]);
    for (int64_t d = 0; d < hs; d += 8) _mm256_storeu_ps(out + d, _mm256_div_ps(_mm256_loadu_ps(out + d), sum));
}

// Heads of the group in bundles of at most MaxHB (so the accumulators stay in registers).
template <int NC, int MaxHB>
PG_AVX2 void pv_heads(const Job& jb, int32_t d0) {
    int32_t h = 0;
    if constexpr (MaxHB >= 8)
        for (; jb.group - h >= 8; h += 8) pv_fixed<NC, 8>(jb, h, d0);
    if constexpr (MaxHB >= 4)
        for (; jb.group - h >= 4; h += 4) pv_fixed<NC, 4>(jb, h, d0);
    if constexpr (MaxHB >= 2)
        for (; jb.group - h >= 2; h += 2) pv_fixed<NC, 2>(jb, h, d0);
    for (; h < jb.group; ++h) pv_fixed<NC, 1>(jb, h, d0);
}

// All heads, all columns: passes of at most 8 column chunks (64 floats).
template <int NC>
PG_AVX2 void pv_all(const Job& jb) {
    if constexpr (NC <= 8) {
        pv_heads<NC, (NC == 1 ? 8 : NC == 2 ? 4 : NC <= 4 ? 2 : 1)>(jb, 0);
    } else {
        int32_t d0 = 0;
        for (; d0 + 8 <= NC; d0 += 8) pv_heads<8, 1>(jb, d0);
        if constexpr (NC % 8 != 0) pv_heads<NC % 8, (NC % 8 <= 2 ? 4 : NC % 8 <= 4 ? 2 : 1)>(jb, d0);
    }
}

template <int NC>
PG_AVX2 void attend_avx2(Job& jb, float scale) {
    scores_avx2<NC>(jb, scale);
    const int32_t span = jb.n - jb.lo;
    const int32_t n8 = (span + 7) & ~7;
    float* sums = jb.p + jb.group * jb.stride;  // scratch after the score rows
    for (int32_t h = 0; h < jb.group; ++h) {
        float* p = jb.p + h * jb.stride;
        for (int32_t j = span; j < n8; ++j) p[j] = -INFINITY;
        sums[h] = softmax_avx2(p, n8);
    }
    jb.sum = sums;
    if constexpr (NC == 0) {
        for (int32_t h = 0; h < jb.group; ++h) pv_any(jb, h);
    } else {
        pv_all<NC>(jb);
    }
}

void run_task_avx2(const Task& task, int64_t index) {
    const pg_attention_args& a = *task.a;
    const pg_kv_cache_desc& c = a.cache;
    const Where w = locate(a, index);
    Job jb;
    jb.cache = static_cast<const float*>(c.data);
    jb.c = &c;
    jb.table = w.table;
    jb.layer = a.layer;
    jb.g = w.g;
    jb.lo = w.lo;
    jb.n = w.n;
    jb.nc = c.head_size / 8;
    jb.group = task.group;
    jb.stride = ((int64_t(a.max_seq_len) + 7) & ~int64_t(7)) + 8;
    const int64_t h0 = int64_t(w.g) * task.group;
    jb.q = static_cast<const float*>(a.query) + int64_t(w.t) * a.q_stride + h0 * c.head_size;
    jb.out = static_cast<float*>(a.out) + (int64_t(w.t) * a.num_heads + h0) * c.head_size;
    thread_local std::vector<float> scratch;
    const size_t need = size_t(jb.stride) * size_t(task.group) + size_t(task.group);
    if (scratch.size() < need) scratch.resize(need);
    jb.p = scratch.data();
    jb.sum = nullptr;
    switch (jb.nc) {
        case 1: attend_avx2<1>(jb, a.scale); break;
        case 2: attend_avx2<2>(jb, a.scale); break;
        case 4: attend_avx2<4>(jb, a.scale); break;
        case 8: attend_avx2<8>(jb, a.scale); break;
        case 10: attend_avx2<10>(jb, a.scale); break;
        case 12: attend_avx2<12>(jb, a.scale); break;
        case 16: attend_avx2<16>(jb, a.scale); break;
        case 32: attend_avx2<32>(jb, a.scale); break;
        default: attend_avx2<0>(jb, a.scale); break;
    }
}
#endif

pg_status attention(pg_context* ctx, const pg_attention_args* a, bool decode) {
    const char* op = decode ? "attention_decode" : "attention_prefill";
    int64_t work = 0;
    PG_TRY(validate(op, ctx, a, decode, &work));
    if (a->num_tokens == 0) return PG_OK;
    thread_local HalfKvScratch half_kv;
    if (a->cache.dtype != PG_DTYPE_F32) a = widen_half_kv(ctx, *a, half_kv);
    const Task task{a, &vec_ops(ctx->avx2), a->num_heads / a->cache.num_kv_heads};
    const int64_t tasks = int64_t(a->num_tokens) * a->cache.num_kv_heads;
    void (*fn)(const Task&, int64_t) = run_task;
#ifdef PG_HAVE_VEXP
    if (ctx->avx2 && a->cache.head_size % 8 == 0) fn = run_task_avx2;
#endif
    if (work < kParallelThreshold) {
        for (int64_t i = 0; i < tasks; ++i) fn(task, i);
    } else {
        ctx->pool.parallel_for(tasks, [&](int64_t i) { fn(task, i); });
    }
    return PG_OK;
}

}  // namespace

pg_status attention_decode(pg_context* ctx, const pg_attention_args* a) {
    return attention(ctx, a, true);
}

pg_status attention_prefill(pg_context* ctx, const pg_attention_args* a) {
    return attention(ctx, a, false);
}

}  // namespace pg::cpu
