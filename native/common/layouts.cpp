#include "layouts.h"

#include <cstddef>

#include "status.h"

namespace pg {

namespace {

#define PG_FIELD(S, F) {#S, #F, uint32_t(offsetof(S, F)), uint32_t(sizeof(S::F))}
#define PG_STRUCT(S) {#S, nullptr, 0u, uint32_t(sizeof(S))}

// Field entries in declaration order, then one NULL-field entry giving the struct's size.
// pg_api is described too (its slots are the op list every other place is checked against:
// docs/adding-an-op.md); the static_assert below makes this table follow paged.h.
constexpr pg_field_layout kLayouts[] = {
    PG_FIELD(pg_api, abi_version),
    PG_FIELD(pg_api, struct_size),
    PG_FIELD(pg_api, backend_name),
    PG_FIELD(pg_api, last_error),
    PG_FIELD(pg_api, describe_layouts),
    PG_FIELD(pg_api, context_create),
    PG_FIELD(pg_api, context_destroy),
    PG_FIELD(pg_api, synchronize),
    PG_FIELD(pg_api, device_name),
    PG_FIELD(pg_api, alloc),
    PG_FIELD(pg_api, free),
    PG_FIELD(pg_api, memcpy),
    PG_FIELD(pg_api, memset),
    PG_FIELD(pg_api, embedding),
    PG_FIELD(pg_api, rmsnorm),
    PG_FIELD(pg_api, matmul),
    PG_FIELD(pg_api, rope),
    PG_FIELD(pg_api, silu_mul),
    PG_FIELD(pg_api, cache_write),
    PG_FIELD(pg_api, attention_decode),
    PG_FIELD(pg_api, attention_prefill),
    PG_FIELD(pg_api, block_copy),
    PG_FIELD(pg_api, argmax),
    PG_FIELD(pg_api, sample),
    PG_FIELD(pg_api, alloc_host),
    PG_FIELD(pg_api, free_host),
    PG_FIELD(pg_api, block_swap),
    PG_FIELD(pg_api, head_rmsnorm),
    PG_FIELD(pg_api, get_counters),
    PG_FIELD(pg_api, rope_cache_write),
    PG_FIELD(pg_api, lora),
    PG_FIELD(pg_api, begin_capture),
    PG_FIELD(pg_api, end_capture),
    PG_FIELD(pg_api, graph_launch),
    PG_FIELD(pg_api, graph_destroy),
    PG_STRUCT(pg_api),

    PG_FIELD(pg_context_options, num_threads),
    PG_FIELD(pg_context_options, device_index),
    PG_STRUCT(pg_context_options),

    PG_FIELD(pg_embedding_args, out),
    PG_FIELD(pg_embedding_args, table),
    PG_FIELD(pg_embedding_args, token_ids),
    PG_FIELD(pg_embedding_args, num_tokens),
    PG_FIELD(pg_embedding_args, vocab_size),
    PG_FIELD(pg_embedding_args, dim),
    PG_FIELD(pg_embedding_args, dtype),
    PG_FIELD(pg_embedding_args, out_dtype),
    PG_STRUCT(pg_embedding_args),

    PG_FIELD(pg_rmsnorm_args, out),
    PG_FIELD(pg_rmsnorm_args, x),
    PG_FIELD(pg_rmsnorm_args, residual),
    PG_FIELD(pg_rmsnorm_args, weight),
    PG_FIELD(pg_rmsnorm_args, num_tokens),
    PG_FIELD(pg_rmsnorm_args, dim),
    PG_FIELD(pg_rmsnorm_args, eps),
    PG_FIELD(pg_rmsnorm_args, dtype),
    PG_STRUCT(pg_rmsnorm_args),

    PG_FIELD(pg_matmul_args, out),
    PG_FIELD(pg_matmul_args, x),
    PG_FIELD(pg_matmul_args, w),
    PG_FIELD(pg_matmul_args, m),
    PG_FIELD(pg_matmul_args, n),
    PG_FIELD(pg_matmul_args, k),
    PG_FIELD(pg_matmul_args, ldx),
    PG_FIELD(pg_matmul_args, ldo),
    PG_FIELD(pg_matmul_args, accumulate),
    PG_FIELD(pg_matmul_args, x_dtype),
    PG_FIELD(pg_matmul_args, w_dtype),
    PG_FIELD(pg_matmul_args, out_dtype),
    PG_FIELD(pg_matmul_args, bias),
    PG_FIELD(pg_matmul_args, batch_invariant),
    PG_STRUCT(pg_matmul_args),

    PG_FIELD(pg_rope_args, q),
    PG_FIELD(pg_rope_args, k),
    PG_FIELD(pg_rope_args, positions),
    PG_FIELD(pg_rope_args, num_tokens),
    PG_FIELD(pg_rope_args, num_heads),
    PG_FIELD(pg_rope_args, num_kv_heads),
    PG_FIELD(pg_rope_args, head_size),
    PG_FIELD(pg_rope_args, rotary_dim),
    PG_FIELD(pg_rope_args, q_stride),
    PG_FIELD(pg_rope_args, k_stride),
    PG_FIELD(pg_rope_args, style),
    PG_FIELD(pg_rope_args, theta),
    PG_FIELD(pg_rope_args, dtype),
    PG_FIELD(pg_rope_args, inv_freq),
    PG_STRUCT(pg_rope_args),

    PG_FIELD(pg_head_rmsnorm_args, x),
    PG_FIELD(pg_head_rmsnorm_args, weight),
    PG_FIELD(pg_head_rmsnorm_args, num_tokens),
    PG_FIELD(pg_head_rmsnorm_args, num_heads),
    PG_FIELD(pg_head_rmsnorm_args, head_size),
    PG_FIELD(pg_head_rmsnorm_args, token_stride),
    PG_FIELD(pg_head_rmsnorm_args, eps),
    PG_FIELD(pg_head_rmsnorm_args, dtype),
    PG_STRUCT(pg_head_rmsnorm_args),

    PG_FIELD(pg_lora_args, out),
    PG_FIELD(pg_lora_args, x),
    PG_FIELD(pg_lora_args, a),
    PG_FIELD(pg_lora_args, b),
    PG_FIELD(pg_lora_args, scales),
    PG_FIELD(pg_lora_args, token_slots),
    PG_FIELD(pg_lora_args, workspace),
    PG_FIELD(pg_lora_args, num_tokens),
    PG_FIELD(pg_lora_args, n),
    PG_FIELD(pg_lora_args, k),
    PG_FIELD(pg_lora_args, max_rank),
    PG_FIELD(pg_lora_args, num_slots),
    PG_FIELD(pg_lora_args, ldx),
    PG_FIELD(pg_lora_args, ldo),
    PG_FIELD(pg_lora_args, dtype),
    PG_FIELD(pg_lora_args, weight_dtype),
    PG_FIELD(pg_lora_args, slot_ranks),
    PG_STRUCT(pg_lora_args),

    PG_FIELD(pg_silu_mul_args, out),
    PG_FIELD(pg_silu_mul_args, x),
    PG_FIELD(pg_silu_mul_args, num_tokens),
    PG_FIELD(pg_silu_mul_args, hidden),
    PG_FIELD(pg_silu_mul_args, dtype),
    PG_STRUCT(pg_silu_mul_args),

    PG_FIELD(pg_kv_cache_desc, data),
    PG_FIELD(pg_kv_cache_desc, num_blocks),
    PG_FIELD(pg_kv_cache_desc, num_layers),
    PG_FIELD(pg_kv_cache_desc, num_kv_heads),
    PG_FIELD(pg_kv_cache_desc, block_size),
    PG_FIELD(pg_kv_cache_desc, head_size),
    PG_FIELD(pg_kv_cache_desc, dtype),
    PG_STRUCT(pg_kv_cache_desc),

    PG_FIELD(pg_cache_write_args, cache),
    PG_FIELD(pg_cache_write_args, key),
    PG_FIELD(pg_cache_write_args, value),
    PG_FIELD(pg_cache_write_args, slot_mapping),
    PG_FIELD(pg_cache_write_args, num_tokens),
    PG_FIELD(pg_cache_write_args, layer),
    PG_FIELD(pg_cache_write_args, key_stride),
    PG_FIELD(pg_cache_write_args, value_stride),
    PG_FIELD(pg_cache_write_args, dtype),
    PG_STRUCT(pg_cache_write_args),

    PG_FIELD(pg_attention_args, out),
    PG_FIELD(pg_attention_args, query),
    PG_FIELD(pg_attention_args, cache),
    PG_FIELD(pg_attention_args, block_tables),
    PG_FIELD(pg_attention_args, seq_lens),
    PG_FIELD(pg_attention_args, query_start),
    PG_FIELD(pg_attention_args, num_seqs),
    PG_FIELD(pg_attention_args, num_tokens),
    PG_FIELD(pg_attention_args, num_heads),
    PG_FIELD(pg_attention_args, max_blocks_per_seq),
    PG_FIELD(pg_attention_args, layer),
    PG_FIELD(pg_attention_args, q_stride),
    PG_FIELD(pg_attention_args, scale),
    PG_FIELD(pg_attention_args, max_seq_len),
    PG_FIELD(pg_attention_args, sliding_window),
    PG_FIELD(pg_attention_args, dtype),
    PG_STRUCT(pg_attention_args),
    PG_FIELD(pg_rope_cache_write_args, rope),
    PG_FIELD(pg_rope_cache_write_args, cache_write),
    PG_STRUCT(pg_rope_cache_write_args),

    PG_FIELD(pg_block_copy_args, cache),
    PG_FIELD(pg_block_copy_args, pairs),
    PG_FIELD(pg_block_copy_args, num_pairs),
    PG_STRUCT(pg_block_copy_args),
    PG_FIELD(pg_block_swap_args, cache),
    PG_FIELD(pg_block_swap_args, host),
    PG_FIELD(pg_block_swap_args, pairs),
    PG_FIELD(pg_block_swap_args, num_host_blocks),
    PG_FIELD(pg_block_swap_args, num_pairs),
    PG_FIELD(pg_block_swap_args, direction),
    PG_STRUCT(pg_block_swap_args),

    PG_FIELD(pg_argmax_args, out),
    PG_FIELD(pg_argmax_args, logits),
    PG_FIELD(pg_argmax_args, num_rows),
    PG_FIELD(pg_argmax_args, vocab_size),
    PG_FIELD(pg_argmax_args, row_stride),
    PG_FIELD(pg_argmax_args, dtype),
    PG_STRUCT(pg_argmax_args),

    PG_FIELD(pg_sample_args, out_tokens),
    PG_FIELD(pg_sample_args, out_logprobs),
    PG_FIELD(pg_sample_args, out_top_ids),
    PG_FIELD(pg_sample_args, out_top_logprobs),
    PG_FIELD(pg_sample_args, out_status),
    PG_FIELD(pg_sample_args, logits),
    PG_FIELD(pg_sample_args, temperature),
    PG_FIELD(pg_sample_args, top_k),
    PG_FIELD(pg_sample_args, top_p),
    PG_FIELD(pg_sample_args, min_p),
    PG_FIELD(pg_sample_args, repetition_penalty),
    PG_FIELD(pg_sample_args, frequency_penalty),
    PG_FIELD(pg_sample_args, presence_penalty),
    PG_FIELD(pg_sample_args, min_tokens),
    PG_FIELD(pg_sample_args, seeds),
    PG_FIELD(pg_sample_args, steps),
    PG_FIELD(pg_sample_args, flags),
    PG_FIELD(pg_sample_args, num_logprobs),
    PG_FIELD(pg_sample_args, prompt_tokens),
    PG_FIELD(pg_sample_args, prompt_offsets),
    PG_FIELD(pg_sample_args, output_tokens),
    PG_FIELD(pg_sample_args, output_offsets),
    PG_FIELD(pg_sample_args, stop_ids),
    PG_FIELD(pg_sample_args, stop_offsets),
    PG_FIELD(pg_sample_args, bias_ids),
    PG_FIELD(pg_sample_args, bias_values),
    PG_FIELD(pg_sample_args, bias_offsets),
    PG_FIELD(pg_sample_args, workspace),
    PG_FIELD(pg_sample_args, workspace_bytes),
    PG_FIELD(pg_sample_args, num_rows),
    PG_FIELD(pg_sample_args, vocab_size),
    PG_FIELD(pg_sample_args, row_stride),
    PG_FIELD(pg_sample_args, dtype),
    PG_FIELD(pg_sample_args, out_ranks),
    PG_STRUCT(pg_sample_args),

    PG_FIELD(pg_counters, host_syncs),
    PG_FIELD(pg_counters, launches),
    PG_FIELD(pg_counters, h2d_copies),
    PG_FIELD(pg_counters, d2h_copies),
    PG_FIELD(pg_counters, graph_replays),
    PG_STRUCT(pg_counters),
};

#undef PG_FIELD
#undef PG_STRUCT

constexpr uint32_t natural_alignment(uint32_t size) { return size < 8 ? size : 8; }

// Index of the first entry that breaks "each struct's fields in declaration order, each starting
// where the previous one ends up to alignment padding, the struct's size entry last"; -1 if none.
// A gap as large as the next field's alignment (or a tail of 8 bytes) is a field this table lacks:
// for pg_api, whose slots are all 8 bytes, every slot of paged.h must be listed, in order.
constexpr int first_undescribed_gap() {
    const int n = int(sizeof kLayouts / sizeof kLayouts[0]);
    uint32_t end = 0;  // end of the previous field of the current struct
    for (int i = 0; i < n; ++i) {
        const pg_field_layout& e = kLayouts[i];
        if (e.field_name == nullptr) {
            if (e.size < end || e.size - end >= 8) return i;
            end = 0;
            continue;
        }
        if (e.offset < end || e.offset - end >= natural_alignment(e.size)) return i;
        end = e.offset + e.size;
    }
    return end == 0 ? -1 : n;  // the last struct lacks its size entry
}

template <int BadEntry>
struct LayoutsCheck {
    static_assert(BadEntry < 0,
                  "kLayouts[BadEntry] (see the instantiation) is out of order or follows a gap: a field or pg_api "
                  "slot of paged.h is missing from native/common/layouts.cpp");
    static constexpr bool ok = true;
};
static_assert(LayoutsCheck<first_undescribed_gap()>::ok, "native/common/layouts.cpp follows paged.h");

}  // namespace

pg_status describe_layouts(const pg_field_layout** entries, int32_t* count) {
    if (entries == nullptr || count == nullptr)
        return fail(PG_ERR_INVALID_ARGUMENT, "describe_layouts: %s must not be NULL",
                    entries == nullptr ? "entries" : "count");
    *entries = kLayouts;
    *count = int32_t(sizeof kLayouts / sizeof kLayouts[0]);
    return PG_OK;
}

}  // namespace pg
