// Paged decode attention (PagedAttention style). One thread block per (KV head, sequence, context
// partition): the block loads each K and V row of its partition once, with coalesced 16-byte loads
// straight from the cache blocks named by the block table, and serves every query head of the GQA
// group with it. fp32 scores, softmax and accumulation. Long contexts are split into partitions
// (split-K); a second kernel merges the partial softmax states. PAGED_CUDA_PARTITION_SIZE=N forces
// partitions of N tokens (0 or unset: automatic). With a sliding window the partitions tile the
// window [lo, len) only: nothing before lo is read, not even its block-table entry.
#include <cstdlib>

#include "attention_common.h"
#include "common.cuh"

namespace pg::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

constexpr int pow2_ceil(int v) {
    int p = 1;
    while (p < v) p *= 2;
    return p;
}

template <class T, int D>
struct DecodeShape {
    static constexpr int kV = Vec<T>::kN;       // elements per 16-byte vector
    static constexpr int kC = D / kV;           // vectors per K/V row
    static constexpr int kL = kC >= 32 ? 32 : pow2_ceil(kC);  // lanes per token in the QK phase
    static constexpr int kVpl = (kC + kL - 1) / kL;           // vectors per lane
    static constexpr int kTp = 32 / kL;                       // tokens per warp pass
    static constexpr int kRows = kThreads / kC >= 1 ? kThreads / kC : 1;  // token rows in the PV phase
    static constexpr int kHeadChunk = 32 / kV;  // query heads accumulated at once in the PV phase (32 fp32 registers)
    static_assert(D % kV == 0, "head size must be a whole number of 16-byte vectors");
};

}  // namespace

// (kThreads, 1): with only the thread bound, ptxas capped these at 64 registers and spilled a few
// instantiations (see docs/kernels.md); one block per SM minimum leaves it free to use what it needs.
// T: the cache's element; Q: the query's and output's (T, or float over a half cache).
template <class T, int D, class Q>
__global__ void __launch_bounds__(kThreads, 1) decode_attention_kernel(
    Q* __restrict__ out, const Q* __restrict__ query, const T* __restrict__ cache,
    const int32_t* __restrict__ tables, const int32_t* __restrict__ seq_lens,
    const int32_t* __restrict__ query_start, int num_layers, int num_kv_heads, int block_size, int layer,
    int q_stride, int max_blocks, int num_heads, float scale, int partition_size, int num_partitions,
    int sliding_window, float* __restrict__ part_out, float* __restrict__ part_stats, int num_blocks,
    int max_seq_len, DeviceError* __restrict__ err) {
    using S = DecodeShape<T, D>;
    PG_SHARED(int, bad, [1]);
    const int kvh = int(blockIdx.x), s = int(blockIdx.y), part = int(blockIdx.z);
    const int G = num_heads / num_kv_heads;
    const int len = seq_lens[s];
    const int t = query_start[s];
    const int capacity = imin(max_blocks * block_size, max_seq_len);
    // Guards (uniform over the block): decode has one query token per sequence, so query_start[s] = s.
    if (len < 1 || len > capacity || t != s) {
        if (threadIdx.x == 0 && kvh == 0 && part == 0) {
            if (t != s) report_error(err, kDevErrQueryStart, kOpDecode, s, 0, t, s);
            else report_error(err, kDevErrSeqLen, kOpDecode, s, 1, len, capacity);
        }
        return;
    }
    const int start = window_start(sliding_window, len - 1) + part * partition_size;
    if (start >= len) return;  // uniform over the block
    const int n = imin(len - start, partition_size);
    const int tid = int(threadIdx.x), warp = tid >> 5, lane = tid & 31;
    if (!check_table_range(tables + int64_t(s) * max_blocks, start / block_size, (start + n - 1) / block_size,
                           num_blocks, kOpDecode, s, err, bad))
        return;

    PG_DYNAMIC_SHARED(float, smem);
    float* q_s = smem;                                    // [G][D], pre-scaled
    float* logits = q_s + G * D;                          // [G][partition_size]
    float* red = logits + G * partition_size;             // [kRows][S::kHeadChunk][D]
    float* stats = red + S::kRows * S::kHeadChunk * D;       // [G][2]: max, sum

    for (int i = tid; i < G * D; i += kThreads)
        q_s[i] = to_f(query[int64_t(t) * q_stride + int64_t(kvh * G) * D + i]) * scale;
    __syncthreads();

    const int64_t block_elems = int64_t(num_layers) * 2 * num_kv_heads * block_size * D;
    const int64_t k_off = (int64_t(layer * 2 + 0) * num_kv_heads + kvh) * block_size * D;
    const int64_t v_off = (int64_t(layer * 2 + 1) * num_kv_heads + kvh) * block_size * D;
    const int32_t* table = tables + int64_t(s) * max_blocks;

    // QK^T: a group of kL lanes per token, each lane holding kVpl 16-byte vectors of its K row.
    {
        const int sub = lane / S::kL, li = lane % S::kL;
        for (int base = warp * S::kTp; base < n; base += kWarps * S::kTp) {
            const int i = base + sub;
            const bool valid = i < n;
            float k[S::kVpl][S::kV];
            if (valid) {
                const int j = start + i;
                const T* krow = cache + int64_t(table[j / block_size]) * block_elems + k_off +
                                int64_t(j % block_size) * D;
#pragma unroll
                for (int v = 0; v < S::kVpl; ++v) {
                    const int vi = li + v * S::kL;
                    if (vi < S::kC) {
                        load_vec(krow + vi * S::kV, k[v]);
                    } else {
#pragma unroll
                        for (int e = 0; e < S::kV; ++e) k[v][e] = 0.0f;
                    }
                }
            } else {
#pragma unroll
                for (int v = 0; v < S::kVpl; ++v)
#pragma unroll
                    for (int e = 0; e < S::kV; ++e) k[v][e] = 0.0f;
            }
            for (int h = 0; h < G; ++h) {
                float dot = 0.0f;
#pragma unroll
                for (int v = 0; v < S::kVpl; ++v) {
                    const int vi = li + v * S::kL;
                    if (vi < S::kC) {
#pragma unroll
                        for (int e = 0; e < S::kV; ++e) dot += k[v][e] * q_s[h * D + vi * S::kV + e];
                    }
                }
#pragma unroll
                for (int o = S::kL / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
                if (valid && li == 0) logits[h * partition_size + i] = dot;
            }
        }
    }
    __syncthreads();

    // Softmax statistics of this partition, one warp per query head.
    for (int h = warp; h < G; h += kWarps) {
        float* lg = logits + h * partition_size;
        float m = -INFINITY;
        for (int i = lane; i < n; i += 32) m = fmaxf(m, lg[i]);
        m = warp_max(m);
        float sum = 0.0f;
        for (int i = lane; i < n; i += 32) {
            const float e = expf(lg[i] - m);
            lg[i] = e;
            sum += e;
        }
        sum = warp_sum(sum);
        if (lane == 0) {
            stats[2 * h] = m;
            stats[2 * h + 1] = sum;
        }
    }
    __syncthreads();

    // P V: thread (c, r) owns vector c of the row and tokens r, r + kRows, ...; rows reduced in smem.
    const int c = tid % S::kC, r = tid / S::kC;
    const bool active = r < S::kRows;
    for (int h0 = 0; h0 < G; h0 += S::kHeadChunk) {
        const int hc = imin(S::kHeadChunk, G - h0);
        float acc[S::kHeadChunk][S::kV];
#pragma unroll
        for (int hh = 0; hh < S::kHeadChunk; ++hh)
#pragma unroll
            for (int e = 0; e < S::kV; ++e) acc[hh][e] = 0.0f;
        if (active) {
            for (int i = r; i < n; i += S::kRows) {
                const int j = start + i;
                const T* vrow = cache + int64_t(table[j / block_size]) * block_elems + v_off +
                                int64_t(j % block_size) * D;
                float v[S::kV];
                load_vec(vrow + c * S::kV, v);
#pragma unroll
                for (int hh = 0; hh < S::kHeadChunk; ++hh) {
                    if (hh < hc) {
                        const float p = logits[(h0 + hh) * partition_size + i];
#pragma unroll
                        for (int e = 0; e < S::kV; ++e) acc[hh][e] += p * v[e];
                    }
                }
            }
#pragma unroll
            for (int hh = 0; hh < S::kHeadChunk; ++hh)
                if (hh < hc)
#pragma unroll
                    for (int e = 0; e < S::kV; ++e) red[(r * S::kHeadChunk + hh) * D + c * S::kV + e] = acc[hh][e];
        }
        __syncthreads();
        for (int i = tid; i < hc * D; i += kThreads) {
            const int hh = i / D, d = i % D, h = h0 + hh;
            float sum = 0.0f;
            for (int rr = 0; rr < S::kRows; ++rr) sum += red[(rr * S::kHeadChunk + hh) * D + d];
            const int head = kvh * G + h;
            const float value = __fdividef(sum, stats[2 * h + 1]);  // no IEEE-division slow path (a call)
            if (num_partitions == 1) {
                out[(int64_t(t) * num_heads + head) * D + d] = from_f<Q>(value);
            } else {
                const int64_t ps = (int64_t(s) * num_heads + head) * num_partitions + part;
                part_out[ps * D + d] = value;
                if (d == 0) {
                    part_stats[2 * ps] = stats[2 * h];
                    part_stats[2 * ps + 1] = stats[2 * h + 1];
                }
            }
        }
        __syncthreads();
    }
}

// Merges the partitions of one (sequence, head): rescale each partial softmax state to the global max.
template <class Q, int D>
__global__ void __launch_bounds__(128) decode_attention_merge_kernel(
    Q* __restrict__ out, const float* __restrict__ part_out, const float* __restrict__ part_stats,
    const int32_t* __restrict__ seq_lens, const int32_t* __restrict__ query_start, int num_heads,
    int partition_size, int num_partitions, int sliding_window) {
    const int head = int(blockIdx.x), s = int(blockIdx.y);
    // A length the decode kernel rejected (recorded there) still must not read past the partitions.
    const int span = seq_lens[s] - window_start(sliding_window, seq_lens[s] - 1);
    const int np = imax(1, imin(num_partitions, (span + partition_size - 1) / partition_size));
    const int64_t base = (int64_t(s) * num_heads + head) * num_partitions;
    float m = -INFINITY;
    for (int p = 0; p < np; ++p) m = fmaxf(m, part_stats[2 * (base + p)]);
    float total = 0.0f;
    for (int p = 0; p < np; ++p) total += part_stats[2 * (base + p) + 1] * expf(part_stats[2 * (base + p)] - m);
    const int t = query_start[s];
    if (t != s) return;  // recorded by the decode kernel
    for (int d = int(threadIdx.x); d < D; d += int(blockDim.x)) {
        float acc = 0.0f;
        for (int p = 0; p < np; ++p) {
            const float w = part_stats[2 * (base + p) + 1] * expf(part_stats[2 * (base + p)] - m);
            acc += w * PG_LDG(part_out + (base + p) * D + d);
        }
        out[(int64_t(t) * num_heads + head) * D + d] = from_f<Q>(__fdividef(acc, total));
    }
}

namespace {

template <class T, int D>
size_t decode_smem_bytes(int G, int partition_size) {
    using S = DecodeShape<T, D>;
    return sizeof(float) * (size_t(G) * D + size_t(G) * partition_size +
                            size_t(S::kRows) * S::kHeadChunk * D + 2 * size_t(G));
}

constexpr size_t kMaxSmem = 160 * 1024;

}  // namespace

pg_status attention_decode(pg_context* ctx, const pg_attention_args* a) {
    const char* op = "attention_decode";
    PG_TRY(validate_attention(ctx, op, a, true));
    if (a->num_tokens != a->num_seqs)  // a shape fact, no index array needed (the kernel checks query_start)
        return fail(PG_ERR_SHAPE, "%s: num_tokens = %d but num_seqs = %d; decode needs q_len == 1 for every sequence",
                    op, a->num_tokens, a->num_seqs);
    if (a->num_tokens == 0) return PG_OK;
    const pg_kv_cache_desc& c = a->cache;
    const int G = a->num_heads / c.num_kv_heads;
    // The launch shape comes from the max_seq_len hint (the kernels reject longer sequences);
    // with a sliding window no sequence attends to more than the window.
    const int max_len = a->sliding_window > 0 && a->sliding_window < a->max_seq_len ? a->sliding_window : a->max_seq_len;
    return dispatch_kv_dtypes(a->dtype, c.dtype, [&](auto qtag, auto tag) {
        using Q = typename decltype(qtag)::type;
        using T = typename decltype(tag)::type;
        return dispatch_head_size(op, c.head_size, [&](auto dconst) -> pg_status {
            constexpr int D = decltype(dconst)::value;
            // Partition size: forced by PAGED_CUDA_PARTITION_SIZE, else one partition while the
            // context is short (<= 1024) and its logits fit in shared memory, else 512 tokens.
            int partition = 0;
            if (const char* env = std::getenv("PAGED_CUDA_PARTITION_SIZE")) partition = std::atoi(env);
            if (partition <= 0) {
                partition = max_len;
                if (max_len > 1024 || decode_smem_bytes<T, D>(G, max_len) > kMaxSmem) partition = 512;
            }
            while (partition > 32 && decode_smem_bytes<T, D>(G, partition) > kMaxSmem) partition /= 2;
            const size_t smem = decode_smem_bytes<T, D>(G, partition);
            if (smem > kMaxSmem)
                return fail(PG_ERR_UNSUPPORTED, "%s: %d query heads per KV head need %zu bytes of shared memory",
                            op, G, smem);
            const int np = (max_len + partition - 1) / partition;
            float* part_out = nullptr;
            float* part_stats = nullptr;
            if (np > 1) {
                const size_t states = size_t(a->num_seqs) * a->num_heads * np;
                void* p = nullptr;
                PG_TRY(scratch(ctx, states * (D + 2) * sizeof(float), &p));
                part_out = static_cast<float*>(p);
                part_stats = part_out + states * D;
            }
            const dim3 grid(unsigned(c.num_kv_heads), unsigned(a->num_seqs), unsigned(np));
            PG_TRY(launch("decode_attention", decode_attention_kernel<T, D, Q>, grid, dim3(kThreads), smem,
                          ctx->stream, static_cast<Q*>(a->out), static_cast<const Q*>(a->query),
                          static_cast<const T*>(c.data), a->block_tables, a->seq_lens, a->query_start,
                          c.num_layers, c.num_kv_heads, c.block_size, a->layer, a->q_stride,
                          a->max_blocks_per_seq, a->num_heads, a->scale, partition, np, a->sliding_window,
                          part_out, part_stats, c.num_blocks, a->max_seq_len, ctx->dev_error));
            if (np == 1) return PG_OK;
            return launch("decode_attention_merge", decode_attention_merge_kernel<Q, D>,
                          dim3(unsigned(a->num_heads), unsigned(a->num_seqs)), dim3(128), 0, ctx->stream,
                          static_cast<Q*>(a->out), part_out, part_stats, a->seq_lens, a->query_start,
                          a->num_heads, partition, np, a->sliding_window);
        });
    });
}

}  // namespace pg::cuda
