// Paged KV cache: cache_write (one layer's K/V of a batch of tokens into their slots; negative slot =
// padding, skipped) and block_copy (copy-on-write: one launch copies whole blocks, every layer, K
// and V, for a list of (src, dst) pairs). Layout [block][layer][K,V][kv_head][offset][head_size].
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

// One block per token; threads sweep (head, element) so each K/V row is written coalesced.
// kVec: 16-byte vectors (head_size and both strides whole numbers of vectors, pointers aligned).
template <class T, bool kVec>
__global__ void __launch_bounds__(128) cache_write_kernel(T* __restrict__ cache, const T* __restrict__ key,
                                                          const T* __restrict__ value,
                                                          const int64_t* __restrict__ slots, int num_layers,
                                                          int num_kv_heads, int block_size, int head_size,
                                                          int layer, int key_stride, int value_stride) {
    constexpr int kN = kVec ? Vec<T>::kN : 1;
    const int t = int(blockIdx.x);
    const int64_t slot = slots[t];
    if (slot < 0) return;  // padding token
    const int64_t block = slot / block_size;
    const int off = int(slot % block_size);
    const int width = num_kv_heads * head_size;
    for (int i = int(threadIdx.x) * kN; i < width; i += int(blockDim.x) * kN) {
        const int h = i / head_size, d = i % head_size;
        const int64_t kdst =
            ((((block * num_layers + layer) * 2 + 0) * num_kv_heads + h) * block_size + off) * head_size + d;
        const int64_t vdst = kdst + int64_t(num_kv_heads) * block_size * head_size;
        if constexpr (kVec) {
            const uint4* ks = reinterpret_cast<const uint4*>(key + int64_t(t) * key_stride + i);
            const uint4* vs = reinterpret_cast<const uint4*>(value + int64_t(t) * value_stride + i);
            *reinterpret_cast<uint4*>(cache + kdst) = PG_LDG(ks);
            *reinterpret_cast<uint4*>(cache + vdst) = PG_LDG(vs);
        } else {
            cache[kdst] = PG_LDG(key + int64_t(t) * key_stride + i);
            cache[vdst] = PG_LDG(value + int64_t(t) * value_stride + i);
        }
    }
}

pg_status cache_write(pg_context* ctx, const pg_cache_write_args* a) {
    PG_TRY(check_ctx("cache_write", ctx));
    PG_TRY(check_cache_write_shape(a, kAllDtypes));
    std::vector<int64_t> slots;
    PG_TRY(to_host(ctx, a->slot_mapping, size_t(a->num_tokens), slots));
    PG_TRY(check_cache_write_slots(a, slots.data()));
    if (a->num_tokens == 0) return PG_OK;
    const pg_kv_cache_desc& c = a->cache;
    const bool aligned = aligned16(c.data, a->key, a->value);
    return dispatch_dtype(c.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        constexpr int kN = Vec<T>::kN;
        const bool vec = aligned && c.head_size % kN == 0 && a->key_stride % kN == 0 && a->value_stride % kN == 0;
        auto kernel = vec ? cache_write_kernel<T, true> : cache_write_kernel<T, false>;
        return launch("cache_write", kernel, dim3(unsigned(a->num_tokens)), dim3(128), 0, ctx->stream,
                      static_cast<T*>(c.data), static_cast<const T*>(a->key), static_cast<const T*>(a->value),
                      a->slot_mapping, c.num_layers, c.num_kv_heads, c.block_size, c.head_size, a->layer,
                      a->key_stride, a->value_stride);
    });
}

// grid (pairs, chunks): each block copies a strided share of one pair's block in 16-byte vectors.
__global__ void __launch_bounds__(256) block_copy_kernel(uint4* __restrict__ data, const int32_t* __restrict__ pairs,
                                                         int64_t vecs_per_block) {
    const int p = int(blockIdx.x);
    const int64_t src = pairs[2 * p], dst = pairs[2 * p + 1];
    if (src == dst) return;
    const uint4* s = data + src * vecs_per_block;
    uint4* d = data + dst * vecs_per_block;
    for (int64_t i = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; i < vecs_per_block;
         i += int64_t(gridDim.y) * blockDim.x)
        d[i] = PG_LDG(s + i);
}

__global__ void __launch_bounds__(256) block_copy_bytes_kernel(unsigned char* __restrict__ data,
                                                               const int32_t* __restrict__ pairs,
                                                               int64_t bytes_per_block) {
    const int p = int(blockIdx.x);
    const int64_t src = pairs[2 * p], dst = pairs[2 * p + 1];
    if (src == dst) return;
    for (int64_t i = int64_t(blockIdx.y) * blockDim.x + threadIdx.x; i < bytes_per_block;
         i += int64_t(gridDim.y) * blockDim.x)
        data[dst * bytes_per_block + i] = data[src * bytes_per_block + i];
}

pg_status block_copy(pg_context* ctx, const pg_block_copy_args* a) {
    PG_TRY(check_ctx("block_copy", ctx));
    PG_TRY(check_block_copy_shape(a, kAllDtypes));
    if (a->num_pairs == 0) return PG_OK;
    std::vector<int32_t> pairs;
    PG_TRY(to_host(ctx, a->pairs, size_t(2 * a->num_pairs), pairs));
    PG_TRY(check_block_copy_pairs(a, pairs.data()));
    const pg_kv_cache_desc& c = a->cache;
    const int64_t bytes = cache_block_elems(c) * int64_t(dtype_size(c.dtype));
    const unsigned chunks = unsigned(bytes / 16 / 256 + 1 < 64 ? bytes / 16 / 256 + 1 : 64);
    // Pairs are applied in order: a pair that reads a block an earlier pair of the launch writes, or
    // writes a block an earlier pair reads or writes, starts a new launch (copy-on-write lists have no
    // such chains in practice: normally one launch).
    // 1 = read by a pair of the current launch, 2 = written by one.
    int32_t begin = 0;
    std::vector<char> written(size_t(c.num_blocks), 0);
    for (int32_t i = 0; i <= a->num_pairs; ++i) {
        const bool flush = i == a->num_pairs || written[size_t(pairs[size_t(2 * i)])] == 2 ||
                           written[size_t(pairs[size_t(2 * i + 1)])] != 0;
        if (flush && i > begin) {
            const int32_t* dev_pairs = a->pairs + 2 * begin;
            if (bytes % 16 == 0)
                PG_TRY(launch("block_copy", block_copy_kernel, dim3(unsigned(i - begin), chunks), dim3(256), 0,
                              ctx->stream, static_cast<uint4*>(c.data), dev_pairs, bytes / 16));
            else
                PG_TRY(launch("block_copy", block_copy_bytes_kernel, dim3(unsigned(i - begin), chunks),
                              dim3(256), 0, ctx->stream, static_cast<unsigned char*>(c.data), dev_pairs,
                              bytes));
            std::fill(written.begin(), written.end(), 0);
            begin = i;
        }
        if (i < a->num_pairs && pairs[size_t(2 * i)] != pairs[size_t(2 * i + 1)]) {
            if (written[size_t(pairs[size_t(2 * i)])] == 0) written[size_t(pairs[size_t(2 * i)])] = 1;
            written[size_t(pairs[size_t(2 * i + 1)])] = 2;
        }
    }
    return PG_OK;
}

// Swap: one contiguous block-sized copy per pair between the cache and the (pinned) host pool, issued
// on the context's stream; the pair list is host memory. rt_memcpy returns once host memory involved
// is safe to use, so the pool can be read or reused when this returns.
pg_status block_swap(pg_context* ctx, const pg_block_swap_args* a) {
    PG_TRY(check_ctx("block_swap", ctx));
    PG_TRY(check_block_swap(a, kAllDtypes));
    const size_t bytes = size_t(cache_block_elems(a->cache)) * dtype_size(a->cache.dtype);
    auto* device = static_cast<unsigned char*>(a->cache.data);
    auto* host = static_cast<unsigned char*>(a->host);
    const bool out = a->direction == PG_SWAP_OUT;
    for (int32_t i = 0; i < a->num_pairs; ++i) {
        const size_t src = size_t(a->pairs[2 * i]) * bytes, dst = size_t(a->pairs[2 * i + 1]) * bytes;
        if (out)
            PG_TRY(rt_memcpy(ctx, host + dst, device + src, bytes, PG_MEMCPY_DEVICE_TO_HOST));
        else
            PG_TRY(rt_memcpy(ctx, device + dst, host + src, bytes, PG_MEMCPY_HOST_TO_DEVICE));
    }
    return PG_OK;
}

}  // namespace pg::cuda
