// Greedy sampling: out[r] = index of the largest logit; ties go to the lowest index.
// NaN is never "greater" than anything, so NaNs are skipped; a row of only NaN (or only -inf) gives 0.
#include <cmath>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

namespace {

int32_t argmax_row(const float* v, int32_t n) {
    float best = -INFINITY;
    int32_t idx = 0;
    for (int32_t j = 0; j < n; ++j) {
        if (v[j] > best) {  // strict: the first of equal maxima wins; false for NaN
            best = v[j];
            idx = j;
        }
    }
    return idx;
}

}  // namespace

pg_status argmax(pg_context* ctx, const pg_argmax_args* a) {
    const char* op = "argmax";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_argmax_shape(a, kF32Only));
    const auto* logits = static_cast<const float*>(a->logits);
    parallel_rows(ctx, a->num_rows, a->vocab_size, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r)
            a->out[r] = argmax_row(logits + r * int64_t(a->row_stride), a->vocab_size);
    });
    return PG_OK;
}

}  // namespace pg::cpu
