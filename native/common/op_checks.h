// Argument validation of every op, shared by the backends so that each reports the same statuses
// and messages. Each op has a "shape" check (the struct fields only) and, where the op takes index
// arrays, an "index" check over a host-readable copy of them (the CPU backend passes the arrays
// themselves; device backends copy them to the host first). The caller checks ctx first.
#pragma once
#include <cstdint>

#include "checks.h"

namespace pg {

pg_status check_embedding_shape(const pg_embedding_args* a, uint32_t dtypes);
pg_status check_embedding_ids(const pg_embedding_args* a, const int32_t* ids);

pg_status check_rmsnorm_shape(const pg_rmsnorm_args* a, uint32_t dtypes);
pg_status check_head_rmsnorm_shape(const pg_head_rmsnorm_args* a, uint32_t dtypes);
pg_status check_silu_mul_shape(const pg_silu_mul_args* a, uint32_t dtypes);
pg_status check_argmax_shape(const pg_argmax_args* a, uint32_t dtypes);
pg_status check_matmul_shape(const pg_matmul_args* a, uint32_t dtypes);

pg_status check_rope_shape(const pg_rope_args* a, uint32_t dtypes);
pg_status check_rope_positions(const pg_rope_args* a, const int32_t* positions);

// Activation dtype (key/value, query/out) in `dtypes`; the cache's dtype equals it, or is any dtype when
// the activations are f32 (a half KV cache under fp32 compute).
pg_status check_kv_dtypes(const char* op, int32_t dtype, const pg_kv_cache_desc& c, uint32_t dtypes);
// dtypes: the activations' (see check_kv_dtypes).
pg_status check_cache_write_shape(const pg_cache_write_args* a, uint32_t dtypes);
pg_status check_cache_write_slots(const pg_cache_write_args* a, const int64_t* slots);

// Both halves (messages "rope_cache_write: rope: ..." / "...: cache_write: ...") and that they agree.
pg_status check_rope_cache_write_shape(const pg_rope_cache_write_args* a, uint32_t dtypes);
// positions and slots (host-readable copies), messages prefixed with "rope_cache_write: ".
pg_status check_rope_cache_write_indices(const pg_rope_cache_write_args* a, const int32_t* positions,
                                         const int64_t* slots);

pg_status check_block_copy_shape(const pg_block_copy_args* a, uint32_t dtypes);
// Everything of a block swap, the host-memory pair list included.
pg_status check_block_swap(const pg_block_swap_args* a, uint32_t dtypes);
pg_status check_block_copy_pairs(const pg_block_copy_args* a, const int32_t* pairs);

pg_status check_lora_shape(const pg_lora_args* a, uint32_t dtypes);
// Every slot rank in [0, max_rank] (slot_ranks: a host copy, or NULL).
pg_status check_lora_ranks(const pg_lora_args* a, const int32_t* slot_ranks);
pg_status check_lora_slots(const pg_lora_args* a, const int32_t* token_slots);

#if defined(__CUDACC__)
#define PG_HOST_DEVICE __host__ __device__
#else
#define PG_HOST_DEVICE
#endif

// First position a query at position pos attends to: pos - window + 1 (clamped to 0) with a sliding
// window, else 0 (paged.h: p - W < k <= p). Host code and kernels share it.
PG_HOST_DEVICE inline int32_t window_start(int32_t window, int32_t pos) {
    return window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
}

// op is "attention_decode" or "attention_prefill"; decode requires q_len == 1 everywhere. dtypes: the
// activations' (see check_kv_dtypes).
pg_status check_attention_shape(const char* op, const pg_attention_args* a, uint32_t dtypes);
// query_start: num_seqs + 1 entries; seq_lens: num_seqs; tables: num_seqs * max_blocks_per_seq.
// *work (optional) receives ~flops of the call.
pg_status check_attention_indices(const char* op, const pg_attention_args* a, bool decode,
                                  const int32_t* query_start, const int32_t* seq_lens,
                                  const int32_t* tables, int64_t* work);

}  // namespace pg
