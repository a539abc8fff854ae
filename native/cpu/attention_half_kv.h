// Widening a bf16 / f16 KV cache for the fp32 attention code (attention_half_kv.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "paged.h"

struct pg_context;

namespace pg::cpu {

// Reused between calls (per calling thread) so a step allocates nothing once warm.
struct HalfKvScratch {
    std::vector<int32_t> index;   // cache block id -> scratch block, -1 if not taken
    std::vector<int32_t> blocks;  // scratch block -> cache block id
    std::vector<int32_t> tables;  // the block tables in scratch ids
    std::vector<float> data;      // [scratch blocks][1 layer][2][kv heads][block_size][head_size]
    pg_attention_args args;
};

// Validated args with a half cache -> args over an fp32 scratch cache holding the blocks they read.
const pg_attention_args* widen_half_kv(pg_context* ctx, const pg_attention_args& a, HalfKvScratch& s);

}  // namespace pg::cpu
