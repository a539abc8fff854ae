#include "op_checks.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace pg {

namespace {
pg_status check_eps(const char* op, float eps) {
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: eps must be finite and >= 0 (got %g)", op, double(eps));
    return PG_OK;
}
}  // namespace

pg_status check_embedding_shape(const pg_embedding_args* a, uint32_t dtypes) {
    const char* op = "embedding";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "table", a->table));
    PG_TRY(check_ptr(op, "token_ids", a->token_ids));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "vocab_size", a->vocab_size));
    PG_TRY(check_positive(op, "dim", a->dim));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    return PG_OK;
}

pg_status check_embedding_ids(const pg_embedding_args* a, const int32_t* ids) {
    for (int32_t t = 0; t < a->num_tokens; ++t) {
        const int32_t id = ids[t];
        if (id < 0 || id >= a->vocab_size)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: token_ids[%d] = %d is outside [0, %d)",
                        "embedding", t, id, a->vocab_size);
    }
    return PG_OK;
}

pg_status check_rmsnorm_shape(const pg_rmsnorm_args* a, uint32_t dtypes) {
    const char* op = "rmsnorm";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "x", a->x));
    PG_TRY(check_ptr(op, "weight", a->weight));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "dim", a->dim));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    return check_eps(op, a->eps);
}

pg_status check_lora_shape(const pg_lora_args* a, uint32_t dtypes) {
    const char* op = "lora";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "x", a->x));
    PG_TRY(check_ptr(op, "a", a->a));
    PG_TRY(check_ptr(op, "b", a->b));
    PG_TRY(check_ptr(op, "scales", a->scales));
    PG_TRY(check_ptr(op, "token_slots", a->token_slots));
    PG_TRY(check_ptr(op, "workspace", a->workspace));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "n", a->n));
    PG_TRY(check_positive(op, "k", a->k));
    PG_TRY(check_positive(op, "max_rank", a->max_rank));
    PG_TRY(check_positive(op, "num_slots", a->num_slots));
    PG_TRY(check_stride(op, "ldx", a->ldx, a->k));
    PG_TRY(check_stride(op, "ldo", a->ldo, a->n));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    PG_TRY(check_dtype(op, "weight_dtype", a->weight_dtype, kLoraWeightDtypes));
    return PG_OK;
}

pg_status check_lora_ranks(const pg_lora_args* a, const int32_t* slot_ranks) {
    if (!slot_ranks) return PG_OK;
    for (int32_t s = 0; s < a->num_slots; ++s)
        if (slot_ranks[s] < 0 || slot_ranks[s] > a->max_rank)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: slot_ranks[%d] = %d is outside [0, max_rank = %d]", "lora", s,
                        slot_ranks[s], a->max_rank);
    return PG_OK;
}

pg_status check_lora_slots(const pg_lora_args* a, const int32_t* token_slots) {
    for (int32_t t = 0; t < a->num_tokens; ++t) {
        const int32_t s = token_slots[t];
        if (s < -1 || s >= a->num_slots)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: token_slots[%d] = %d is outside [-1, %d)", "lora", t, s,
                        a->num_slots);
    }
    return PG_OK;
}

pg_status check_silu_mul_shape(const pg_silu_mul_args* a, uint32_t dtypes) {
    const char* op = "silu_mul";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "x", a->x));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "hidden", a->hidden));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    return PG_OK;
}

pg_status check_argmax_shape(const pg_argmax_args* a, uint32_t dtypes) {
    const char* op = "argmax";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "logits", a->logits));
    PG_TRY(check_non_negative(op, "num_rows", a->num_rows));
    PG_TRY(check_positive(op, "vocab_size", a->vocab_size));
    PG_TRY(check_stride(op, "row_stride", a->row_stride, a->vocab_size));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    return PG_OK;
}

namespace {
bool overlaps(const void* a, int64_t a_bytes, const void* b, int64_t b_bytes) {
    const auto a0 = reinterpret_cast<uintptr_t>(a), b0 = reinterpret_cast<uintptr_t>(b);
    const uintptr_t a1 = a0 + uintptr_t(a_bytes);
    const uintptr_t b1 = b0 + uintptr_t(b_bytes);
    return a0 < b1 && b0 < a1;
}

// Bytes of an [n, k] weight matrix (q8_0: 34-byte blocks of 32 weights).
int64_t weight_bytes(int32_t dtype, int64_t n, int64_t k) { return dtype == PG_DTYPE_Q8_0 ? n * (k / 32) * 34 : n * k * dtype_bytes(dtype); }
}  // namespace

pg_status check_matmul_shape(const pg_matmul_args* a, uint32_t dtypes) {
    const char* op = "matmul";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "x", a->x));
    PG_TRY(check_ptr(op, "w", a->w));
    PG_TRY(check_non_negative(op, "m", a->m));  // m is the token count: 0 is an empty batch
    PG_TRY(check_positive(op, "n", a->n));
    PG_TRY(check_positive(op, "k", a->k));
    PG_TRY(check_stride(op, "ldx", a->ldx, a->k));
    PG_TRY(check_stride(op, "ldo", a->ldo, a->n));
    PG_TRY(check_dtype(op, "x_dtype", a->x_dtype, dtypes));
    PG_TRY(check_dtype(op, "w_dtype", a->w_dtype, dtypes));
    PG_TRY(check_dtype(op, "out_dtype", a->out_dtype, dtypes));
    if (a->accumulate != 0 && a->accumulate != 1)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: accumulate must be 0 or 1 (got %d)", op,
                    a->accumulate);
    if (a->m == 0) return PG_OK;
    const int64_t out_elems = int64_t(a->m - 1) * a->ldo + a->n;
    const int64_t x_elems = int64_t(a->m - 1) * a->ldx + a->k;
    const int64_t ob = dtype_bytes(a->out_dtype), xb = dtype_bytes(a->x_dtype);
    if (overlaps(a->out, out_elems * ob, a->x, x_elems * xb))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: out overlaps x (in-place matmul is not supported)",
                    op);
    if (overlaps(a->out, out_elems * ob, a->w, weight_bytes(a->w_dtype, a->n, a->k)))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: out overlaps w", op);
    if (a->bias != nullptr && overlaps(a->out, out_elems * ob, a->bias, int64_t(a->n) * 4))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: out overlaps bias", op);
    return PG_OK;
}

pg_status check_head_rmsnorm_shape(const pg_head_rmsnorm_args* a, uint32_t dtypes) {
    const char* op = "head_rmsnorm";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "x", a->x));
    PG_TRY(check_ptr(op, "weight", a->weight));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "num_heads", a->num_heads));
    PG_TRY(check_positive(op, "head_size", a->head_size));
    PG_TRY(check_stride(op, "token_stride", a->token_stride, int64_t(a->num_heads) * a->head_size));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    PG_TRY(check_eps(op, a->eps));
    if (a->num_tokens == 0) return PG_OK;
    const int64_t b = dtype_bytes(a->dtype);
    const int64_t x_elems = int64_t(a->num_tokens - 1) * a->token_stride + int64_t(a->num_heads) * a->head_size;
    if (overlaps(a->x, x_elems * b, a->weight, int64_t(a->head_size) * b))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: weight overlaps x (x is normalised in place)", op);
    return PG_OK;
}

pg_status check_rope_shape(const pg_rope_args* a, uint32_t dtypes) {
    const char* op = "rope";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "q", a->q));
    PG_TRY(check_ptr(op, "k", a->k));
    PG_TRY(check_ptr(op, "positions", a->positions));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "num_heads", a->num_heads));
    PG_TRY(check_positive(op, "num_kv_heads", a->num_kv_heads));
    PG_TRY(check_positive(op, "head_size", a->head_size));
    PG_TRY(check_positive(op, "rotary_dim", a->rotary_dim));
    PG_TRY(check_dtype(op, "dtype", a->dtype, dtypes));
    if (a->style != PG_ROPE_ADJACENT_PAIRS && a->style != PG_ROPE_ROTATE_HALF)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: style = %d is not a pg_rope_style", op, a->style);
    if (a->inv_freq == nullptr && (!(a->theta > 0.0f) || !std::isfinite(a->theta)))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: theta must be finite and > 0 (got %g)", op,
                    double(a->theta));
    if (a->rotary_dim % 2 != 0 || a->rotary_dim > a->head_size)
        return fail(PG_ERR_SHAPE, "%s: rotary_dim must be even and <= head_size = %d (got %d)", op,
                    a->head_size, a->rotary_dim);
    PG_TRY(check_stride(op, "q_stride", a->q_stride, int64_t(a->num_heads) * a->head_size));
    PG_TRY(check_stride(op, "k_stride", a->k_stride, int64_t(a->num_kv_heads) * a->head_size));
    return PG_OK;
}

pg_status check_rope_positions(const pg_rope_args* a, const int32_t* positions) {
    for (int32_t t = 0; t < a->num_tokens; ++t)
        if (positions[t] < 0)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: positions[%d] = %d must be >= 0", "rope", t,
                        positions[t]);
    return PG_OK;
}

pg_status check_kv_dtypes(const char* op, int32_t dtype, const pg_kv_cache_desc& c, uint32_t dtypes) {
    PG_TRY(check_dtype(op, "dtype", dtype, dtypes));
    PG_TRY(check_cache_desc(op, c, kAnyDtype));
    if (c.dtype != dtype && dtype != PG_DTYPE_F32)
        return fail(PG_ERR_DTYPE, "%s: cache.dtype = %s with dtype = %s; a cache of another type needs f32 activations",
                    op, dtype_name(c.dtype), dtype_name(dtype));
    return PG_OK;
}

pg_status check_cache_write_shape(const pg_cache_write_args* a, uint32_t dtypes) {
    const char* op = "cache_write";
    PG_TRY(check_ptr(op, "args", a));
    const pg_kv_cache_desc& c = a->cache;
    PG_TRY(check_kv_dtypes(op, a->dtype, c, dtypes));
    PG_TRY(check_ptr(op, "key", a->key));
    PG_TRY(check_ptr(op, "value", a->value));
    PG_TRY(check_ptr(op, "slot_mapping", a->slot_mapping));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_index(op, "layer", a->layer, c.num_layers));
    const int64_t width = int64_t(c.num_kv_heads) * c.head_size;
    PG_TRY(check_stride(op, "key_stride", a->key_stride, width));
    PG_TRY(check_stride(op, "value_stride", a->value_stride, width));
    return PG_OK;
}

pg_status check_cache_write_slots(const pg_cache_write_args* a, const int64_t* slots) {
    const pg_kv_cache_desc& c = a->cache;
    const int64_t num_slots = int64_t(c.num_blocks) * c.block_size;
    for (int32_t t = 0; t < a->num_tokens; ++t) {
        const int64_t s = slots[t];
        if (s >= num_slots)
            return fail(PG_ERR_OUT_OF_RANGE,
                        "%s: slot_mapping[%d] = %" PRId64 " is outside [0, %" PRId64 ")",
                        "cache_write", t, s, num_slots);
    }
    return PG_OK;
}

namespace {
// A failed check of one half, re-worded to name the fused op first.
pg_status prefixed(const char* op, pg_status st) {
    if (st == PG_OK) return st;
    char half[512];
    std::snprintf(half, sizeof half, "%s", last_error());
    return fail(st, "%s: %s", op, half);
}
}  // namespace

pg_status check_rope_cache_write_shape(const pg_rope_cache_write_args* a, uint32_t dtypes) {
    const char* op = "rope_cache_write";
    PG_TRY(check_ptr(op, "args", a));
    const pg_rope_args& r = a->rope;
    const pg_cache_write_args& w = a->cache_write;
    PG_TRY(prefixed(op, check_rope_shape(&r, dtypes)));
    PG_TRY(prefixed(op, check_cache_write_shape(&w, dtypes)));
    if (w.key != r.k || w.key_stride != r.k_stride || w.num_tokens != r.num_tokens || w.dtype != r.dtype ||
        r.num_kv_heads != w.cache.num_kv_heads || r.head_size != w.cache.head_size)
        return fail(PG_ERR_SHAPE,
                    "%s: the halves disagree: cache_write.key must be rope.k with the same stride, num_tokens and "
                    "dtype, and rope's num_kv_heads / head_size the cache's (key %p vs k %p, stride %d vs %d, "
                    "tokens %d vs %d, dtype %d vs %d, kv heads %d vs %d, head size %d vs %d)",
                    op, w.key, r.k, w.key_stride, r.k_stride, w.num_tokens, r.num_tokens, w.dtype, r.dtype,
                    w.cache.num_kv_heads, r.num_kv_heads, w.cache.head_size, r.head_size);
    return PG_OK;
}

pg_status check_rope_cache_write_indices(const pg_rope_cache_write_args* a, const int32_t* positions,
                                         const int64_t* slots) {
    PG_TRY(prefixed("rope_cache_write", check_rope_positions(&a->rope, positions)));
    return prefixed("rope_cache_write", check_cache_write_slots(&a->cache_write, slots));
}

pg_status check_block_copy_shape(const pg_block_copy_args* a, uint32_t dtypes) {
    const char* op = "block_copy";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_cache_desc(op, a->cache, dtypes));
    PG_TRY(check_non_negative(op, "num_pairs", a->num_pairs));
    if (a->num_pairs == 0) return PG_OK;
    PG_TRY(check_ptr(op, "pairs", a->pairs));
    return PG_OK;
}

pg_status check_block_copy_pairs(const pg_block_copy_args* a, const int32_t* pairs) {
    for (int32_t i = 0; i < 2 * a->num_pairs; ++i) {
        const int32_t id = pairs[i];
        if (id < 0 || id >= a->cache.num_blocks)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: pairs[%d][%d] = %d is outside [0, %d)",
                        "block_copy", i / 2, i % 2, id, a->cache.num_blocks);
    }
    return PG_OK;
}

pg_status check_block_swap(const pg_block_swap_args* a, uint32_t dtypes) {
    const char* op = "block_swap";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_cache_desc(op, a->cache, dtypes));
    PG_TRY(check_non_negative(op, "num_pairs", a->num_pairs));
    if (a->direction != PG_SWAP_OUT && a->direction != PG_SWAP_IN)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: direction must be 0 (out) or 1 (in) (got %d)", op, a->direction);
    if (a->num_pairs == 0) return PG_OK;
    PG_TRY(check_ptr(op, "host", a->host));
    PG_TRY(check_ptr(op, "pairs", a->pairs));
    PG_TRY(check_positive(op, "num_host_blocks", a->num_host_blocks));
    const bool out = a->direction == PG_SWAP_OUT;
    for (int32_t i = 0; i < 2 * a->num_pairs; ++i) {
        const bool is_device = (i % 2 == 0) == out;
        const int32_t limit = is_device ? a->cache.num_blocks : a->num_host_blocks;
        if (a->pairs[i] < 0 || a->pairs[i] >= limit)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: pairs[%d][%d] = %d is outside [0, %d) (%s)", op, i / 2, i % 2,
                        a->pairs[i], limit, is_device ? "cache blocks" : "host slots");
    }
    return PG_OK;
}

pg_status check_attention_shape(const char* op, const pg_attention_args* a, uint32_t dtypes) {
    PG_TRY(check_ptr(op, "args", a));
    const pg_kv_cache_desc& c = a->cache;
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "query", a->query));
    PG_TRY(check_kv_dtypes(op, a->dtype, c, dtypes));
    PG_TRY(check_ptr(op, "block_tables", a->block_tables));
    PG_TRY(check_ptr(op, "seq_lens", a->seq_lens));
    PG_TRY(check_ptr(op, "query_start", a->query_start));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_non_negative(op, "num_seqs", a->num_seqs));
    if (a->num_tokens > 0) PG_TRY(check_positive(op, "num_seqs", a->num_seqs));
    PG_TRY(check_positive(op, "num_heads", a->num_heads));
    PG_TRY(check_positive(op, "max_blocks_per_seq", a->max_blocks_per_seq));
    PG_TRY(check_positive(op, "max_seq_len", a->max_seq_len));
    PG_TRY(check_index(op, "layer", a->layer, c.num_layers));
    PG_TRY(check_non_negative(op, "sliding_window", a->sliding_window));
    if (!std::isfinite(a->scale))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: scale must be finite (got %g)", op,
                    double(a->scale));
    if (a->num_heads % c.num_kv_heads != 0)
        return fail(PG_ERR_SHAPE, "%s: num_heads = %d is not a multiple of cache.num_kv_heads = %d",
                    op, a->num_heads, c.num_kv_heads);
    PG_TRY(check_stride(op, "q_stride", a->q_stride, int64_t(a->num_heads) * c.head_size));
    return PG_OK;
}

pg_status check_attention_indices(const char* op, const pg_attention_args* a, bool decode,
                                  const int32_t* query_start, const int32_t* seq_lens,
                                  const int32_t* tables, int64_t* work) {
    const pg_kv_cache_desc& c = a->cache;
    if (query_start[0] != 0)
        return fail(PG_ERR_SHAPE, "%s: query_start[0] must be 0 (got %d)", op, query_start[0]);
    if (query_start[a->num_seqs] != a->num_tokens)
        return fail(PG_ERR_SHAPE, "%s: query_start[%d] = %d must equal num_tokens = %d", op,
                    a->num_seqs, query_start[a->num_seqs], a->num_tokens);
    const int64_t capacity = int64_t(a->max_blocks_per_seq) * c.block_size;
    int64_t total = 0;
    for (int32_t s = 0; s < a->num_seqs; ++s) {
        const int32_t q_len = query_start[s + 1] - query_start[s];
        if (q_len < 1)
            return fail(PG_ERR_SHAPE,
                        "%s: sequence %d has q_len = %d (query_start[%d] = %d, query_start[%d] = %d);"
                        " every sequence needs >= 1 query token",
                        op, s, q_len, s, query_start[s], s + 1, query_start[s + 1]);
        if (decode && q_len != 1)
            return fail(PG_ERR_SHAPE, "%s: sequence %d has q_len = %d; decode needs q_len == 1", op,
                        s, q_len);
        const int32_t len = seq_lens[s];
        if (len < q_len || len > capacity)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: seq_lens[%d] = %d is outside [%d, %lld]", op, s,
                        len, q_len, static_cast<long long>(capacity));
        if (len > a->max_seq_len)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: seq_lens[%d] = %d exceeds max_seq_len = %d", op, s,
                        len, a->max_seq_len);
        const int32_t used = (len + c.block_size - 1) / c.block_size;
        const int32_t* table = tables + int64_t(s) * a->max_blocks_per_seq;
        // Blocks wholly before the first query token's window are never read: not checked either.
        const int32_t first = window_start(a->sliding_window, len - q_len) / c.block_size;
        for (int32_t b = first; b < used; ++b)
            if (table[b] < 0 || table[b] >= c.num_blocks)
                return fail(PG_ERR_OUT_OF_RANGE, "%s: block_tables[%d][%d] = %d is outside [0, %d)",
                            op, s, b, table[b], c.num_blocks);
        // ~ q_len tokens attending to ~len (at most the window) positions each.
        const int64_t span = a->sliding_window > 0 && a->sliding_window < len ? a->sliding_window : len;
        total += int64_t(q_len) * span * 4 * c.head_size * a->num_heads;
    }
    if (work != nullptr) *work = total;
    return PG_OK;
}

}  // namespace pg
