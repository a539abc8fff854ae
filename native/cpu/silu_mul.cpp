// SwiGLU gate: out[t, i] = silu(gate) * up with x = [gate | up] per token.
#include <cmath>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"
#include "vexp.h"

namespace pg::cpu {

namespace {

void silu_mul_row(const float* g, const float* u, float* o, int64_t h) {
    for (int64_t i = 0; i < h; ++i) o[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

#ifdef PG_HAVE_VEXP
// Same formula 8 at a time with the vectorized exp: g -> -inf makes exp(-g) = +inf and g / inf = -0;
// g -> +inf makes exp(-g) = 0, giving g * u.
__attribute__((target("avx2,fma"))) void silu_mul_row_avx2(const float* g, const float* u, float* o,
                                                           int64_t h) {
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    int64_t i = 0;
    for (; i + 8 <= h; i += 8) {
        const __m256 gv = _mm256_loadu_ps(g + i);
        const __m256 e = exp256_ps(_mm256_xor_ps(gv, sign));
        _mm256_storeu_ps(o + i, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)),
                                              _mm256_loadu_ps(u + i)));
    }
    silu_mul_row(g + i, u + i, o + i, h - i);
}
#endif

}  // namespace

pg_status silu_mul(pg_context* ctx, const pg_silu_mul_args* a) {
    const char* op = "silu_mul";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_silu_mul_shape(a, kF32Only));
    const int64_t h = a->hidden;
    auto* out = static_cast<float*>(a->out);
    const auto* x = static_cast<const float*>(a->x);
    // expf is ~20 flops' worth per element.
    void (*row)(const float*, const float*, float*, int64_t) = silu_mul_row;
#ifdef PG_HAVE_VEXP
    if (ctx->avx2) row = silu_mul_row_avx2;
#endif
    parallel_rows(ctx, a->num_tokens, h * 20, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) row(x + t * 2 * h, x + t * 2 * h + h, out + t * h, h);
    });
    return PG_OK;
}

}  // namespace pg::cpu
