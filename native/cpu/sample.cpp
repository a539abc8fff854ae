// The fused sample op of the CPU backend: validation, then rows in parallel on the context's pool.
// The per-row algorithm (and what a CUDA port must mirror) is in sample_rows.cpp.
#include "checks.h"
#include "context.h"
#include "ops.h"
#include "sample_rows.h"

namespace pg::cpu {

pg_status sample(pg_context* ctx, const pg_sample_args* a) {
    PG_TRY(check_ctx("sample", ctx));
    PG_TRY(validate_sample(a));
    // Roughly 10 passes over the row per sample.
    parallel_rows(ctx, a->num_rows, int64_t(a->vocab_size) * 10,
                  [&](int64_t b, int64_t e) { sample_rows(*a, b, e, ctx->avx2); });
    return PG_OK;
}

}  // namespace pg::cpu
