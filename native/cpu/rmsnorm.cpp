// RMSNorm with optional fused residual add: inv = 1 / sqrt(mean(v^2) + eps), out = weight * (inv * v)
// (norm_row.h).

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "norm_row.h"
#include "ops.h"

namespace pg::cpu {

pg_status rmsnorm(pg_context* ctx, const pg_rmsnorm_args* a) {
    const char* op = "rmsnorm";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_rmsnorm_shape(a, kF32Only));
    const int64_t n = a->dim;
    auto* out = static_cast<float*>(a->out);
    const auto* x = static_cast<const float*>(a->x);
    auto* res = static_cast<float*>(a->residual);
    const auto* w = static_cast<const float*>(a->weight);
    parallel_rows(ctx, a->num_tokens, n * 4, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const float* xr = x + t * n;
            if (res != nullptr) {
                float* r = res + t * n;
                for (int64_t i = 0; i < n; ++i) r[i] += xr[i];
                norm_row(out + t * n, r, w, n, a->eps);
            } else {
                norm_row(out + t * n, xr, w, n, a->eps);
            }
        }
    });
    return PG_OK;
}

}  // namespace pg::cpu
