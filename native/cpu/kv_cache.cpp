// Paged KV cache writes (one layer's K/V of a batch of tokens into their slots), whole-block
// copies (copy-on-write) and swaps to and from a host pool (preemption by swap). The cache holds f32,
// bf16 or f16 (keys and values are f32, rounded to nearest even on write); copies move bytes.
// Layout: [block][layer][K,V][kv_head][offset in block][head_size].
#include <cinttypes>
#include <cstring>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "kv_dtype.h"
#include "ops.h"

namespace pg::cpu {

pg_status cache_write(pg_context* ctx, const pg_cache_write_args* a) {
    const char* op = "cache_write";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_cache_write_shape(a, kF32Only));  // f32 keys/values; the cache f32, bf16 or f16
    PG_TRY(check_cache_write_slots(a, a->slot_mapping));
    const pg_kv_cache_desc& c = a->cache;
    const int64_t width = int64_t(c.num_kv_heads) * c.head_size;
    const auto* key = static_cast<const float*>(a->key);
    const auto* value = static_cast<const float*>(a->value);
    dispatch_kv(c.dtype, [&](auto kv) {
        using K = decltype(kv);
        auto* data = static_cast<typename K::Elem*>(c.data);
        parallel_rows(ctx, a->num_tokens, width * 16, [&](int64_t b, int64_t e) {
            for (int64_t t = b; t < e; ++t) {
                const int64_t s = a->slot_mapping[t];
                if (s < 0) continue;  // padding token
                const int64_t block = s / c.block_size;
                const int32_t off = int32_t(s % c.block_size);
                for (int32_t h = 0; h < c.num_kv_heads; ++h) {
                    const int64_t src = int64_t(h) * c.head_size;
                    auto* kd = data + cache_offset(c, block, a->layer, 0, h, off);
                    auto* vd = data + cache_offset(c, block, a->layer, 1, h, off);
                    const float* ks = key + t * a->key_stride + src;
                    const float* vs = value + t * a->value_stride + src;
                    for (int32_t d = 0; d < c.head_size; ++d) {
                        kd[d] = K::store(ks[d]);
                        vd[d] = K::store(vs[d]);
                    }
                }
            }
        });
    });
    return PG_OK;
}

pg_status block_copy(pg_context* ctx, const pg_block_copy_args* a) {
    const char* op = "block_copy";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_block_copy_shape(a, kAnyDtype));
    if (a->num_pairs == 0) return PG_OK;
    PG_TRY(check_block_copy_pairs(a, a->pairs));
    const pg_kv_cache_desc& c = a->cache;
    // Pairs run in order on one thread: a later pair may read a block an earlier one wrote.
    auto* data = static_cast<unsigned char*>(c.data);
    const int64_t bytes = cache_block_elems(c) * dtype_bytes(c.dtype);
    for (int32_t i = 0; i < a->num_pairs; ++i) {
        const int32_t src = a->pairs[2 * i], dst = a->pairs[2 * i + 1];
        if (src == dst) continue;
        std::memcpy(data + dst * bytes, data + src * bytes, size_t(bytes));
    }
    return PG_OK;
}

pg_status block_swap(pg_context* ctx, const pg_block_swap_args* a) {
    PG_TRY(check_ctx("block_swap", ctx));
    PG_TRY(check_block_swap(a, kAnyDtype));
    // Host memory is the device's memory here: each pair is one contiguous block-sized copy.
    const size_t bytes = size_t(cache_block_elems(a->cache) * dtype_bytes(a->cache.dtype));
    auto* device = static_cast<unsigned char*>(a->cache.data);
    auto* host = static_cast<unsigned char*>(a->host);
    const bool out = a->direction == PG_SWAP_OUT;
    for (int32_t i = 0; i < a->num_pairs; ++i) {
        const size_t src = size_t(a->pairs[2 * i]) * bytes, dst = size_t(a->pairs[2 * i + 1]) * bytes;
        std::memcpy(out ? host + dst : device + dst, out ? device + src : host + src, bytes);
    }
    return PG_OK;
}

}  // namespace pg::cpu
