// Batched LoRA (paged.h pg_lora_args): per token, shrink h = A_s x (max_rank dot products of length k,
// into the workspace row) then expand out += scale * h B_s (max_rank row updates of length n: B is
// stored transposed, [max_rank, n], so each update is one contiguous axpy). Tokens run in parallel;
// each touches only its own out and workspace rows.
#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"
#include "vec.h"

namespace pg::cpu {

pg_status lora(pg_context* ctx, const pg_lora_args* a) {
    const char* op = "lora";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_lora_shape(a, kF32Only));
    PG_TRY(check_lora_slots(a, a->token_slots));
    if (a->num_tokens == 0) return PG_OK;
    const VecOps& v = vec_ops(ctx->avx2);
    const int64_t k = a->k, n = a->n, rank = a->max_rank;
    const auto* x = static_cast<const float*>(a->x);
    const auto* wa = static_cast<const float*>(a->a);
    const auto* wb = static_cast<const float*>(a->b);
    auto* out = static_cast<float*>(a->out);
    parallel_rows(ctx, a->num_tokens, rank * (k + n), [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
            const int32_t s = a->token_slots[t];
            if (s < 0) continue;
            const float scale = a->scales[s];
            if (scale == 0.0f) continue;
            const float* xt = x + t * a->ldx;
            const float* as = wa + int64_t(s) * rank * k;
            const float* bs = wb + int64_t(s) * rank * n;
            float* h = a->workspace + t * rank;
            float* ot = out + t * a->ldo;
            for (int64_t r = 0; r < rank; ++r) h[r] = v.dot(as + r * k, xt, k);
            for (int64_t r = 0; r < rank; ++r)
                if (h[r] != 0.0f) v.axpy(scale * h[r], bs + r * n, ot, n);
        }
    });
    return PG_OK;
}

}  // namespace pg::cpu
