// Per-head RMSNorm in place (Qwen3 q_norm / k_norm): every (token, head) vector is one norm_row.
#include "checks.h"
#include "context.h"
#include "norm_row.h"
#include "op_checks.h"
#include "ops.h"

namespace pg::cpu {

pg_status head_rmsnorm(pg_context* ctx, const pg_head_rmsnorm_args* a) {
    const char* op = "head_rmsnorm";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_head_rmsnorm_shape(a, kF32Only));
    const int64_t hs = a->head_size;
    auto* x = static_cast<float*>(a->x);
    const auto* w = static_cast<const float*>(a->weight);
    parallel_rows(ctx, a->num_tokens, int64_t(a->num_heads) * hs * 4, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            for (int32_t h = 0; h < a->num_heads; ++h) {
                float* v = x + t * a->token_stride + h * hs;
                norm_row(v, v, w, hs, a->eps);
            }
    });
    return PG_OK;
}

}  // namespace pg::cpu
