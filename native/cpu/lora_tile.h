// One tile of the batched LoRA op: up to kLoraTileTokens tokens of the same adapter slot, shrunk and
// expanded together so that the adapter's A and B rows are loaded once for all of them (SGMV's order).
#pragma once
#include <cstdint>

#include "paged.h"

namespace pg::cpu {

constexpr int kLoraTileTokens = 4;
constexpr int kLoraTileMaxRank = 256;  // larger max_rank takes the portable path

// tokens: count (1..kLoraTileTokens) token indices whose slot is `slot` (scales[slot] != 0), whose
// adapter has `rank` rows (1..max_rank; f32 or bf16 per weight_dtype). Writes their workspace rows
// (h = x A^T) and adds scale * h B^T to their out rows. Each token's result is a
// fixed sequence of fp32 operations that does not depend on the other tokens of the tile.
void lora_tile_avx512(const pg_lora_args* a, const int32_t* tokens, int count, int32_t slot, int64_t rank);

}  // namespace pg::cpu
