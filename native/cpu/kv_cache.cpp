// Paged KV cache writes (one layer's K/V of a batch of tokens into their slots) and whole-block
// copies (copy-on-write). Layout: [block][layer][K,V][kv_head][offset in block][head_size].
#include <cinttypes>
#include <cstring>

#include "checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

pg_status cache_write(pg_context* ctx, const pg_cache_write_args* a) {
    const char* op = "cache_write";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_ptr(op, "args", a));
    const pg_kv_cache_desc& c = a->cache;
    PG_TRY(check_cache_desc(op, c, kF32Only));
    PG_TRY(check_ptr(op, "key", a->key));
    PG_TRY(check_ptr(op, "value", a->value));
    PG_TRY(check_ptr(op, "slot_mapping", a->slot_mapping));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_index(op, "layer", a->layer, c.num_layers));
    const int64_t width = int64_t(c.num_kv_heads) * c.head_size;
    PG_TRY(check_stride(op, "key_stride", a->key_stride, width));
    PG_TRY(check_stride(op, "value_stride", a->value_stride, width));
    const int64_t num_slots = int64_t(c.num_blocks) * c.block_size;
    for (int32_t t = 0; t < a->num_tokens; ++t) {
        const int64_t s = a->slot_mapping[t];
        if (s >= num_slots)
            return fail(PG_ERR_OUT_OF_RANGE,
                        "%s: slot_mapping[%d] = %" PRId64 " is outside [0, %" PRId64 ")", op, t, s,
                        num_slots);
    }
    auto* data = static_cast<float*>(c.data);
    const auto* key = static_cast<const float*>(a->key);
    const auto* value = static_cast<const float*>(a->value);
    const size_t row = size_t(c.head_size) * sizeof(float);
    parallel_rows(ctx, a->num_tokens, width * 16, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const int64_t s = a->slot_mapping[t];
            if (s < 0) continue;  // padding token
            const int64_t block = s / c.block_size;
            const int32_t off = int32_t(s % c.block_size);
            for (int32_t h = 0; h < c.num_kv_heads; ++h) {
                const int64_t src = int64_t(h) * c.head_size;
                std::memcpy(data + cache_offset(c, block, a->layer, 0, h, off),
                            key + t * a->key_stride + src, row);
                std::memcpy(data + cache_offset(c, block, a->layer, 1, h, off),
                            value + t * a->value_stride + src, row);
            }
        }
    });
    return PG_OK;
}

pg_status block_copy(pg_context* ctx, const pg_block_copy_args* a) {
    const char* op = "block_copy";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_ptr(op, "args", a));
    const pg_kv_cache_desc& c = a->cache;
    PG_TRY(check_cache_desc(op, c, kF32Only));
    PG_TRY(check_non_negative(op, "num_pairs", a->num_pairs));
    if (a->num_pairs == 0) return PG_OK;
    PG_TRY(check_ptr(op, "pairs", a->pairs));
    for (int32_t i = 0; i < 2 * a->num_pairs; ++i) {
        const int32_t id = a->pairs[i];
        if (id < 0 || id >= c.num_blocks)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: pairs[%d][%d] = %d is outside [0, %d)", op, i / 2,
                        i % 2, id, c.num_blocks);
    }
    // Pairs run in order on one thread: a later pair may read a block an earlier one wrote.
    auto* data = static_cast<float*>(c.data);
    const int64_t elems = cache_block_elems(c);
    for (int32_t i = 0; i < a->num_pairs; ++i) {
        const int32_t src = a->pairs[2 * i], dst = a->pairs[2 * i + 1];
        if (src == dst) continue;
        std::memcpy(data + dst * elems, data + src * elems, size_t(elems) * sizeof(float));
    }
    return PG_OK;
}

}  // namespace pg::cpu
