// Entry points of the CPU backend, one per pg_api slot (defined in the per-op files).
#pragma once
#include "paged.h"

namespace pg::cpu {

pg_status alloc(pg_context* ctx, size_t bytes, void** out);
pg_status free(pg_context* ctx, void* ptr);
pg_status memcpy(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind);
pg_status memset(pg_context* ctx, void* dst, int32_t value, size_t bytes);
pg_status alloc_host(pg_context* ctx, size_t bytes, void** out);  // host memory is device memory here
pg_status free_host(pg_context* ctx, void* ptr);

pg_status embedding(pg_context* ctx, const pg_embedding_args* args);
pg_status rmsnorm(pg_context* ctx, const pg_rmsnorm_args* args);
pg_status head_rmsnorm(pg_context* ctx, const pg_head_rmsnorm_args* args);
pg_status rope_cache_write(pg_context* ctx, const pg_rope_cache_write_args* args);
pg_status matmul(pg_context* ctx, const pg_matmul_args* args);
pg_status rope(pg_context* ctx, const pg_rope_args* args);
pg_status silu_mul(pg_context* ctx, const pg_silu_mul_args* args);
pg_status lora(pg_context* ctx, const pg_lora_args* args);
pg_status cache_write(pg_context* ctx, const pg_cache_write_args* args);
pg_status attention_decode(pg_context* ctx, const pg_attention_args* args);
pg_status attention_prefill(pg_context* ctx, const pg_attention_args* args);
pg_status block_copy(pg_context* ctx, const pg_block_copy_args* args);
pg_status argmax(pg_context* ctx, const pg_argmax_args* args);
pg_status sample(pg_context* ctx, const pg_sample_args* args);
pg_status block_swap(pg_context* ctx, const pg_block_swap_args* args);

}  // namespace pg::cpu
