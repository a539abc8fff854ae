#include "layouts.h"

#include <cstddef>

#include "status.h"

namespace pg {

namespace {

#define PG_FIELD(S, F) {#S, #F, uint32_t(offsetof(S, F)), uint32_t(sizeof(S::F))}
#define PG_STRUCT(S) {#S, nullptr, 0u, uint32_t(sizeof(S))}

// Field entries in declaration order, then one NULL-field entry giving the struct's size.
const pg_field_layout kLayouts[] = {
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
    PG_STRUCT(pg_attention_args),

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
    PG_STRUCT(pg_sample_args),
};

#undef PG_FIELD
#undef PG_STRUCT

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
