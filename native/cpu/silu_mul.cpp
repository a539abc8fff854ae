// SwiGLU gate: out[t, i] = silu(gate) * up with x = [gate | up] per token.
#include <cmath>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

pg_status silu_mul(pg_context* ctx, const pg_silu_mul_args* a) {
    const char* op = "silu_mul";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_silu_mul_shape(a, kF32Only));
    const int64_t h = a->hidden;
    auto* out = static_cast<float*>(a->out);
    const auto* x = static_cast<const float*>(a->x);
    // expf is ~20 flops' worth per element.
    parallel_rows(ctx, a->num_tokens, h * 20, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const float* g = x + t * 2 * h;
            const float* u = g + h;
            float* o = out + t * h;
            for (int64_t i = 0; i < h; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
        }
    });
    return PG_OK;
}

}  // namespace pg::cpu
