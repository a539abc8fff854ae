// RMSNorm with optional fused residual add: inv = 1 / sqrt(mean(v^2) + eps), out = weight * (inv * v).
// The sum of squares uses 8 float partial sums in a fixed order: vectorizable and deterministic.
#include <cmath>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

namespace {

float sum_squares(const float* v, int64_t n) {
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) part[l] += v[i + l] * v[i + l];
    for (int l = 0; i < n; ++i, ++l) part[l] += v[i] * v[i];
    return ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
}

void norm_row(float* out, const float* v, const float* w, int64_t n, float eps) {
    float ss = sum_squares(v, n) / float(n) + eps;
    const float inv = 1.0f / std::sqrt(ss);
    for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (inv * v[i]);
}

}  // namespace

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
