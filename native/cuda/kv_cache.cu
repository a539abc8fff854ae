// Paged KV cache: cache_write (one layer's K/V of a batch of tokens into their slots; negative slot =
// padding, skipped) and block_copy (copy-on-write: one launch copies whole blocks, every layer, K
// and V, for a list of (src, dst) pairs). Layout [block][layer][K,V][kv_head][offset][head_size].
#include <type_traits>

#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

// One block per token; threads sweep (head, element) so each K/V row is written coalesced.
// T: the cache's element, S: the keys' and values' (S = float with a half cache: rounded to nearest
// even on the way in). kVec: 16-byte vectors of T (head_size and both strides whole numbers of
// them, pointers aligned); S = float then reads two 16-byte vectors per stored one.
template <class T, class S, bool kVec>
__global__ void __launch_bounds__(128) cache_write_kernel(T* __restrict__ cache, const S* __restrict__ key,
                                                          const S* __restrict__ value,
                                                          const int64_t* __restrict__ slots, int num_layers,
                                                          int num_kv_heads, int block_size, int head_size,
                                                          int layer, int key_stride, int value_stride,
                                                          int64_t num_slots, DeviceError* err) {
    constexpr int kN = kVec ? Vec<T>::kN : 1;
    const int t = int(blockIdx.x);
    const int64_t slot = slots[t];
    if (slot < 0) return;  // padding token
    if (slot >= num_slots) {
        if (threadIdx.x == 0) report_error(err, kDevErrCacheSlot, kOpCacheWrite, t, 0, slot, num_slots);
        return;
    }
    const int64_t block = slot / block_size;
    const int off = int(slot % block_size);
    const int width = num_kv_heads * head_size;
    for (int i = int(threadIdx.x) * kN; i < width; i += int(blockDim.x) * kN) {
        const int h = i / head_size, d = i % head_size;
        const int64_t kdst =
            ((((block * num_layers + layer) * 2 + 0) * num_kv_heads + h) * block_size + off) * head_size + d;
        const int64_t vdst = kdst + int64_t(num_kv_heads) * block_size * head_size;
        const S* ks = key + int64_t(t) * key_stride + i;
        const S* vs = value + int64_t(t) * value_stride + i;
        if constexpr (kVec && std::is_same<T, S>::value) {
            *reinterpret_cast<uint4*>(cache + kdst) = PG_LDG(reinterpret_cast<const uint4*>(ks));
            *reinterpret_cast<uint4*>(cache + vdst) = PG_LDG(reinterpret_cast<const uint4*>(vs));
        } else if constexpr (kVec) {
            constexpr int kS = Vec<S>::kN;
            float kf[kN], vf[kN];
#pragma unroll
            for (int v = 0; v < kN / kS; ++v) {
                load_vec(ks + v * kS, kf + v * kS);
                load_vec(vs + v * kS, vf + v * kS);
            }
            store_vec(cache + kdst, kf);
            store_vec(cache + vdst, vf);
        } else {
            cache[kdst] = from_f<T>(to_f(PG_LDG(ks)));
            cache[vdst] = from_f<T>(to_f(PG_LDG(vs)));
        }
    }
}

pg_status cache_write(pg_context* ctx, const pg_cache_write_args* a) {
    PG_TRY(check_ctx("cache_write", ctx));
    PG_TRY(check_cache_write_shape(a, kAllDtypes));
    if (ctx->validate_on_host) {
        std::vector<int64_t> slots;
        PG_TRY(to_host(ctx, "cache_write", "slot_mapping", a->slot_mapping, size_t(a->num_tokens), slots));
        PG_TRY(check_cache_write_slots(a, slots.data()));
    }
    if (a->num_tokens == 0) return PG_OK;
    const pg_kv_cache_desc& c = a->cache;
    const bool aligned = aligned16(c.data, a->key, a->value);
    return dispatch_kv_dtypes(a->dtype, c.dtype, [&](auto stag, auto tag) {
        using S = typename decltype(stag)::type;
        using T = typename decltype(tag)::type;
        constexpr int kN = Vec<T>::kN;
        const bool vec = aligned && c.head_size % kN == 0 && a->key_stride % kN == 0 && a->value_stride % kN == 0;
        auto kernel = vec ? cache_write_kernel<T, S, true> : cache_write_kernel<T, S, false>;
        return launch("cache_write", kernel, dim3(unsigned(a->num_tokens)), dim3(128), 0, ctx->stream,
                      static_cast<T*>(c.data), static_cast<const S*>(a->key), static_cast<const S*>(a->value),
                      a->slot_mapping, c.num_layers, c.num_kv_heads, c.block_size, c.head_size, a->layer,
                      a->key_stride, a->value_stride, int64_t(c.num_blocks) * c.block_size, ctx->dev_error);
    });
}

// grid (chunks): each thread owns fixed offsets of a cache block and walks the pairs in order, so a
// pair that reads a block an earlier pair wrote sees the copy (same offsets, same thread: program
// order) without the host looking at the list. A pair naming a block outside [0, num_blocks) is
// recorded in the error word and skipped. kVec: 16-byte vectors (the block is a whole number of them).
template <class V>
__global__ void __launch_bounds__(256) block_copy_kernel(V* __restrict__ data, const int32_t* __restrict__ pairs,
                                                         int num_pairs, int num_blocks, int64_t per_block,
                                                         DeviceError* err) {
    const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int p = 0; p < num_pairs; ++p) {
        const int src = pairs[2 * p], dst = pairs[2 * p + 1];
        const bool bad_src = src < 0 || src >= num_blocks, bad_dst = dst < 0 || dst >= num_blocks;
        if (bad_src || bad_dst) {
            if (first == 0)
                report_error(err, kDevErrCopyPair, kOpBlockCopy, p, bad_src ? 0 : 1, bad_src ? src : dst, num_blocks);
            continue;
        }
        if (src == dst) continue;
        const V* s = data + int64_t(src) * per_block;
        V* d = data + int64_t(dst) * per_block;
        for (int64_t i = first; i < per_block; i += stride) d[i] = PG_LDG(s + i);
    }
}

pg_status block_copy(pg_context* ctx, const pg_block_copy_args* a) {
    PG_TRY(check_ctx("block_copy", ctx));
    PG_TRY(check_block_copy_shape(a, kAllDtypes));
    if (a->num_pairs == 0) return PG_OK;
    if (ctx->validate_on_host) {
        std::vector<int32_t> pairs;
        PG_TRY(to_host(ctx, "block_copy", "pairs", a->pairs, size_t(2 * a->num_pairs), pairs));
        PG_TRY(check_block_copy_pairs(a, pairs.data()));
    }
    const pg_kv_cache_desc& c = a->cache;
    const int64_t bytes = cache_block_elems(c) * int64_t(dtype_size(c.dtype));
    const bool vec = bytes % 16 == 0 && aligned16(c.data);
    const int64_t per_block = vec ? bytes / 16 : bytes;
    const int64_t want = (per_block + 255) / 256;
    const unsigned chunks = unsigned(want < 1024 ? want : 1024);
    if (vec)
        return launch("block_copy", block_copy_kernel<uint4>, dim3(chunks), dim3(256), 0, ctx->stream,
                      static_cast<uint4*>(c.data), a->pairs, a->num_pairs, c.num_blocks, per_block, ctx->dev_error);
    return launch("block_copy", block_copy_kernel<unsigned char>, dim3(chunks), dim3(256), 0, ctx->stream,
                  static_cast<unsigned char*>(c.data), a->pairs, a->num_pairs, c.num_blocks, per_block,
                  ctx->dev_error);
}

// Swap: one contiguous block-sized copy per pair between the cache and the page-locked host pool,
// enqueued on the context's stream without waiting (the host reads the pool only after a later wait;
// later swaps and ops are ordered after these copies). The pair list is host memory.
pg_status block_swap(pg_context* ctx, const pg_block_swap_args* a) {
    PG_TRY(check_ctx("block_swap", ctx));
    PG_TRY(no_capture(ctx, "block_swap"));
#ifndef __CUDACC__
    // The host reads the pair list: device memory there would fault on a GPU.
    if (a != nullptr && a->num_pairs > 0 && a->pairs != nullptr && pg_simt::is_device(a->pairs, 0))
        return fail(PG_ERR_INVALID_ARGUMENT, "block_swap: pairs %p is device memory; the swap list is host memory",
                    static_cast<const void*>(a->pairs));
#endif
    PG_TRY(check_block_swap(a, kAllDtypes));
    const size_t bytes = size_t(cache_block_elems(a->cache)) * dtype_size(a->cache.dtype);
    auto* device = static_cast<unsigned char*>(a->cache.data);
    auto* host = static_cast<unsigned char*>(a->host);
    const bool out = a->direction == PG_SWAP_OUT;
    for (int32_t i = 0; i < a->num_pairs; ++i) {
        const size_t src = size_t(a->pairs[2 * i]) * bytes, dst = size_t(a->pairs[2 * i + 1]) * bytes;
        if (out)
            PG_TRY(rt_memcpy_async(ctx, host + dst, device + src, bytes, PG_MEMCPY_DEVICE_TO_HOST));
        else
            PG_TRY(rt_memcpy_async(ctx, device + dst, host + src, bytes, PG_MEMCPY_HOST_TO_DEVICE));
    }
    return PG_OK;
}

}  // namespace pg::cuda
