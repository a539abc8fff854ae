// Batched LoRA (paged.h pg_lora_args): per token, shrink h = A_s x (rank_s dot products of length k,
// into the workspace row) then expand out += scale * h B_s (rank_s row updates of length n: B is
// stored transposed, [max_rank, n], so each update is one contiguous axpy). rank_s is the slot's own
// rank (slot_ranks), so a rank-8 adapter in a rank-16 pool reads 8 rows of each. Adapter rows are f32
// or bf16 (widened in registers; every sum fp32). Tokens are visited grouped by slot (SGMV's order: a
// thread's run of tokens of one adapter reads that adapter's A and B once from memory, then from
// cache) and run in parallel; each touches only its own out and workspace rows.
// With AVX-512, a slot's tokens are cut into tiles of up to kLoraTileTokens that share each load of A
// and B (lora_avx512.cpp); tiles run in parallel.
#include <algorithm>
#include <vector>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "lora_tile.h"
#include "ops.h"
#include "vec.h"

namespace pg::cpu {

namespace {

// One token through the portable path: W = float or uint16_t bf16 bits (vec.h's dot/axpy of that type).
template <class W, class Dot, class Axpy>
void token_portable(const pg_lora_args* a, int64_t t, int64_t rank, Dot dot, Axpy axpy) {
    const int32_t s = a->token_slots[t];
    const int64_t k = a->k, n = a->n, max_rank = a->max_rank;
    const float scale = a->scales[s];
    const float* xt = static_cast<const float*>(a->x) + t * a->ldx;
    const W* as = static_cast<const W*>(a->a) + int64_t(s) * max_rank * k;
    const W* bs = static_cast<const W*>(a->b) + int64_t(s) * max_rank * n;
    float* h = a->workspace + t * max_rank;
    float* ot = static_cast<float*>(a->out) + t * a->ldo;
    for (int64_t r = 0; r < rank; ++r) h[r] = dot(as + r * k, xt, k);
    for (int64_t r = 0; r < rank; ++r)
        if (h[r] != 0.0f) axpy(scale * h[r], bs + r * n, ot, n);
}

}  // namespace

pg_status lora(pg_context* ctx, const pg_lora_args* a) {
    const char* op = "lora";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_lora_shape(a, kF32Only));
    PG_TRY(check_lora_slots(a, a->token_slots));
    PG_TRY(check_lora_ranks(a, a->slot_ranks));
    if (a->num_tokens == 0) return PG_OK;
    const int64_t k = a->k, n = a->n, max_rank = a->max_rank;
    auto rank_of = [a](int32_t s) { return a->slot_ranks ? int64_t(a->slot_ranks[s]) : int64_t(a->max_rank); };
    auto skipped = [&](int32_t s) { return a->scales[s] == 0.0f || rank_of(s) == 0; };
    // Counting sort of the adapter tokens by slot (base-model tokens dropped).
    std::vector<int32_t> start(size_t(a->num_slots) + 1, 0), order;
    for (int32_t t = 0; t < a->num_tokens; ++t)
        if (a->token_slots[t] >= 0) ++start[size_t(a->token_slots[t]) + 1];
    for (int32_t s = 0; s < a->num_slots; ++s) start[size_t(s) + 1] += start[size_t(s)];
    order.resize(size_t(start[size_t(a->num_slots)]));
    for (int32_t t = 0; t < a->num_tokens; ++t)
        if (a->token_slots[t] >= 0) order[size_t(start[size_t(a->token_slots[t])]++)] = t;
#if defined(__x86_64__)
    if (ctx->avx512 && max_rank <= kLoraTileMaxRank) {
        // Tiles: runs of up to kLoraTileTokens tokens of one slot (start[s] is now the end of slot s's run).
        std::vector<int32_t> tile_begin, tile_count;
        for (int32_t s = 0, begin = 0; s < a->num_slots; begin = start[size_t(s)], ++s) {
            if (skipped(s)) continue;
            for (int32_t i = begin; i < start[size_t(s)]; i += kLoraTileTokens) {
                tile_begin.push_back(i);
                tile_count.push_back(std::min(kLoraTileTokens, start[size_t(s)] - i));
            }
        }
        parallel_rows(ctx, int64_t(tile_begin.size()), kLoraTileTokens * max_rank * (k + n), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const int32_t* tokens = order.data() + tile_begin[size_t(i)];
                const int32_t s = a->token_slots[tokens[0]];
                lora_tile_avx512(a, tokens, tile_count[size_t(i)], s, rank_of(s));
            }
        });
        return PG_OK;
    }
#endif
    const VecOps& v = vec_ops(ctx->avx2);
    const bool bf16 = a->weight_dtype == PG_DTYPE_BF16;
    parallel_rows(ctx, int64_t(order.size()), max_rank * (k + n), [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const int64_t t = order[size_t(i)];
            const int32_t s = a->token_slots[t];
            if (skipped(s)) continue;
            if (bf16)
                token_portable<uint16_t>(a, t, rank_of(s), v.dot_bf16, v.axpy_bf16);
            else
                token_portable<float>(a, t, rank_of(s), v.dot, v.axpy);
        }
    });
    return PG_OK;
}

}  // namespace pg::cpu
