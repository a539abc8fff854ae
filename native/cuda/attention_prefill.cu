// Paged prefill attention for chunked prefill. One thread block per (KV head, tile of query tokens of
// one sequence): the tile's query rows (tokens x the GQA group's heads) attend causally to the
// cached prefix and to the chunk itself through the block table, 32 keys at a time. K/V tiles are
// loaded once per block with coalesced 16-byte loads into shared memory; each warp owns query rows
// and runs the online softmax (running max, running sum, fp32 accumulators in shared memory).
// Portable SIMT code: a tensor-core (mma.sync / wgmma) path is future work; the emulator checks
// exactly this code. With a sliding window the key tiles start at the multiple of 32 at or below the
// window of the tile's first query token (keys before that window are never read: they load as zeros,
// and every row masks keys at or before pos - window), so a row's tiles are the same absolute 32-key
// spans however the prefill was chunked (batch invariance: the online softmax sees the same blocks).
#include "attention_common.h"
#include "common.cuh"

namespace pg::cuda {

namespace {
constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kKeys = 32;  // keys per tile (one per lane in the score step)
}  // namespace

// T: the cache's element; Q: the query's and output's (T, or float over a half cache).
template <class T, int D, class Q>
__global__ void __launch_bounds__(kThreads) prefill_attention_kernel(
    Q* __restrict__ out, const Q* __restrict__ query, const T* __restrict__ cache,
    const int32_t* __restrict__ tables, const int32_t* __restrict__ seq_lens,
    const int32_t* __restrict__ query_start, const int32_t* __restrict__ tiles, int tile_tokens,
    int num_layers, int num_kv_heads, int block_size, int layer, int q_stride, int max_blocks,
    int num_heads, float scale, int sliding_window, int num_blocks, DeviceError* __restrict__ err) {
    constexpr int kV = Vec<T>::kN;
    constexpr int kC = D / kV;
    PG_SHARED(int, bad, [1]);
    const int kvh = int(blockIdx.x);
    const int s = tiles[2 * blockIdx.y], t0 = tiles[2 * blockIdx.y + 1];
    if (s < 0) return;  // past the last tile (the grid is an upper bound), or the arrays were rejected
    const int G = num_heads / num_kv_heads;
    const int q_begin = query_start[s], q_end = query_start[s + 1];
    const int q_count = imin(tile_tokens, q_end - t0);
    const int rows = q_count * G;
    const int len = seq_lens[s];
    const int pos_first = len - (q_end - q_begin) + (t0 - q_begin);
    const int pos_last = pos_first + q_count - 1;
    const int tid = int(threadIdx.x), warp = tid >> 5, lane = tid & 31;

    PG_DYNAMIC_SHARED(float, smem);
    const int max_rows = tile_tokens * G;
    float* q_s = smem;                        // [max_rows][D], pre-scaled
    float* acc_s = q_s + max_rows * D;        // [max_rows][D]
    float* m_s = acc_s + max_rows * D;        // [max_rows]
    float* l_s = m_s + max_rows;              // [max_rows]
    float* k_s = l_s + max_rows;              // [kKeys][D + 1] (padded: lanes read different rows)
    float* v_s = k_s + kKeys * (D + 1);       // [kKeys][D]
    float* p_s = v_s + kKeys * D;             // [kWarps][kKeys]

    for (int i = tid; i < rows * D; i += kThreads) {
        const int row = i / D, d = i % D;
        const int qi = row / G, hh = row % G;
        q_s[i] = to_f(query[int64_t(t0 + qi) * q_stride + int64_t(kvh * G + hh) * D + d]) * scale;
        acc_s[i] = 0.0f;
    }
    for (int row = tid; row < rows; row += kThreads) {
        m_s[row] = -INFINITY;
        l_s[row] = 0.0f;
    }

    const int64_t block_elems = int64_t(num_layers) * 2 * num_kv_heads * block_size * D;
    const int64_t k_off = (int64_t(layer * 2 + 0) * num_kv_heads + kvh) * block_size * D;
    const int64_t v_off = (int64_t(layer * 2 + 1) * num_kv_heads + kvh) * block_size * D;
    const int32_t* table = tables + int64_t(s) * max_blocks;
    // Only the blocks the tile reads: with a sliding window, those before it may have been freed (-1).
    if (!check_table_range(table, window_start(sliding_window, pos_first) / block_size, pos_last / block_size,
                           num_blocks, kOpPrefill, s, err, bad))
        return;

    const int w0 = window_start(sliding_window, pos_first);
    for (int kt0 = w0 / kKeys * kKeys; kt0 <= pos_last; kt0 += kKeys) {
        __syncthreads();  // the previous tile is consumed (and q_s / acc_s initialised)
        for (int idx = tid; idx < kKeys * kC; idx += kThreads) {
            const int kj = idx / kC, c = idx % kC;
            const int j = kt0 + kj;
            float kv[kV], vv[kV];
            if (j >= w0 && j <= pos_last) {
                const int64_t row = int64_t(table[j / block_size]) * block_elems + int64_t(j % block_size) * D;
                load_vec(cache + row + k_off + c * kV, kv);
                load_vec(cache + row + v_off + c * kV, vv);
            } else {  // before the tile's window or beyond its last position: never read (freed, or NaN)
#pragma unroll
                for (int e = 0; e < kV; ++e) kv[e] = vv[e] = 0.0f;
            }
#pragma unroll
            for (int e = 0; e < kV; ++e) {
                k_s[kj * (D + 1) + c * kV + e] = kv[e];
                v_s[kj * D + c * kV + e] = vv[e];
            }
        }
        __syncthreads();
        for (int row = warp; row < rows; row += kWarps) {
            const int pos = pos_first + row / G;
            const int lo = window_start(sliding_window, pos);
            if (kt0 > pos || kt0 + kKeys <= lo) continue;  // no key of the tile in range: uniform over the warp
            const int j = kt0 + lane;
            const bool valid = j <= pos && j >= lo;
            float score = -INFINITY;
            if (valid) {
                float dot = 0.0f;
                const float* q = q_s + row * D;
                const float* k = k_s + lane * (D + 1);
#pragma unroll 8
                for (int d = 0; d < D; ++d) dot += q[d] * k[d];
                score = dot;
            }
            const float m_old = m_s[row];
            const float m_new = fmaxf(m_old, warp_max(score));
            const float p = valid ? expf(score - m_new) : 0.0f;
            const float alpha = expf(m_old - m_new);  // 0 on the first tile (m_old = -inf)
            const float psum = warp_sum(p);
            p_s[warp * kKeys + lane] = p;
            __syncwarp();
            const int kmax = imin(kKeys, pos - kt0 + 1);
            for (int d = lane; d < D; d += 32) {
                float a = acc_s[row * D + d] * alpha;
                for (int kj = 0; kj < kmax; ++kj) a += p_s[warp * kKeys + kj] * v_s[kj * D + d];
                acc_s[row * D + d] = a;
            }
            if (lane == 0) {
                m_s[row] = m_new;
                l_s[row] = l_s[row] * alpha + psum;
            }
            __syncwarp();
        }
    }
    __syncthreads();
    for (int i = tid; i < rows * D; i += kThreads) {
        const int row = i / D, d = i % D;
        const int qi = row / G, hh = row % G;
        out[(int64_t(t0 + qi) * num_heads + kvh * G + hh) * D + d] = from_f<Q>(__fdividef(acc_s[i], l_s[row]));
    }
}

// One thread builds the tile list (sequence, first token) from query_start on the device, so the
// host never reads it, and checks query_start and seq_lens on the way: on a bad entry it records the
// error and ends the list there. Unused entries get -1 (the attention grid is an upper bound).
__global__ void __launch_bounds__(32) prefill_tiles_kernel(const int32_t* __restrict__ query_start,
                                                            const int32_t* __restrict__ seq_lens, int num_seqs,
                                                            int num_tokens, int tile_tokens, int capacity,
                                                            int max_tiles, int32_t* __restrict__ tiles,
                                                            DeviceError* __restrict__ err) {
    if (threadIdx.x != 0) return;
    int n = 0;
    bool ok = query_start[0] == 0;
    if (!ok) report_error(err, kDevErrQueryStart, kOpPrefill, 0, 0, query_start[0], num_tokens);
    for (int s = 0; s < num_seqs && ok; ++s) {
        const int b = query_start[s], e = query_start[s + 1], len = seq_lens[s];
        if (e <= b || e > num_tokens || (s == num_seqs - 1 && e != num_tokens)) {
            report_error(err, kDevErrQueryStart, kOpPrefill, s + 1, 0, e, num_tokens);
            ok = false;
        } else if (len < e - b || len > capacity) {
            report_error(err, kDevErrSeqLen, kOpPrefill, s, e - b, len, capacity);
            ok = false;
        } else {
            for (int t = b; t < e && n < max_tiles; t += tile_tokens, ++n) {
                tiles[2 * n] = s;
                tiles[2 * n + 1] = t;
            }
        }
    }
    if (!ok) n = 0;
    for (; n < max_tiles; ++n) tiles[2 * n] = tiles[2 * n + 1] = -1;
}

namespace {
template <int D>
size_t prefill_smem_bytes(int max_rows) {
    return sizeof(float) * (2 * size_t(max_rows) * D + 2 * size_t(max_rows) + size_t(kKeys) * (D + 1) +
                            size_t(kKeys) * D + size_t(kWarps) * kKeys);
}
}  // namespace

pg_status attention_prefill(pg_context* ctx, const pg_attention_args* a) {
    const char* op = "attention_prefill";
    PG_TRY(validate_attention(ctx, op, a, false));
    if (a->num_tokens == 0) return PG_OK;
    const pg_kv_cache_desc& c = a->cache;
    const int G = a->num_heads / c.num_kv_heads;
    return dispatch_kv_dtypes(a->dtype, c.dtype, [&](auto qtag, auto tag) {
        using Q = typename decltype(qtag)::type;
        using T = typename decltype(tag)::type;
        return dispatch_head_size(op, c.head_size, [&](auto dconst) -> pg_status {
            constexpr int D = decltype(dconst)::value;
            // Query rows per block (tokens x heads of the group): 64 (32 for D = 256).
            const int row_target = D >= 256 ? 32 : 64;
            const int tile_tokens = G >= row_target ? 1 : row_target / G;
            const size_t smem = prefill_smem_bytes<D>(tile_tokens * G);
            if (smem > 200 * 1024)
                return fail(PG_ERR_UNSUPPORTED, "%s: %d query heads per KV head need %zu bytes of shared memory",
                            op, G, smem);
            // Each sequence has ceil(q_len / tile_tokens) <= q_len / tile_tokens + 1 tiles.
            const int max_tiles = a->num_seqs + a->num_tokens / tile_tokens;
            void* p = nullptr;
            PG_TRY(scratch(ctx, size_t(max_tiles) * 2 * sizeof(int32_t), &p));
            const int capacity = a->max_blocks_per_seq * c.block_size < a->max_seq_len
                                     ? a->max_blocks_per_seq * c.block_size : a->max_seq_len;
            PG_TRY(launch("prefill_tiles", prefill_tiles_kernel, dim3(1), dim3(32), 0, ctx->stream, a->query_start,
                          a->seq_lens, a->num_seqs, a->num_tokens, tile_tokens, capacity, max_tiles,
                          static_cast<int32_t*>(p), ctx->dev_error));
            const dim3 grid(unsigned(c.num_kv_heads), unsigned(max_tiles));
            return launch("prefill_attention", prefill_attention_kernel<T, D, Q>, grid, dim3(kThreads), smem,
                          ctx->stream, static_cast<Q*>(a->out), static_cast<const Q*>(a->query),
                          static_cast<const T*>(c.data), a->block_tables, a->seq_lens, a->query_start,
                          static_cast<const int32_t*>(p), tile_tokens, c.num_layers, c.num_kv_heads,
                          c.block_size, a->layer, a->q_stride, a->max_blocks_per_seq, a->num_heads, a->scale,
                          a->sliding_window, c.num_blocks, ctx->dev_error);
        });
    });
}

}  // namespace pg::cuda
