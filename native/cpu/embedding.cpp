// out[t, :] = table[token_ids[t], :] -- a row gather.
#include <cstring>

#include "checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

pg_status embedding(pg_context* ctx, const pg_embedding_args* a) {
    const char* op = "embedding";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "table", a->table));
    PG_TRY(check_ptr(op, "token_ids", a->token_ids));
    PG_TRY(check_non_negative(op, "num_tokens", a->num_tokens));
    PG_TRY(check_positive(op, "vocab_size", a->vocab_size));
    PG_TRY(check_positive(op, "dim", a->dim));
    PG_TRY(check_dtype(op, "dtype", a->dtype, kF32Only));
    for (int32_t t = 0; t < a->num_tokens; ++t) {
        const int32_t id = a->token_ids[t];
        if (id < 0 || id >= a->vocab_size)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: token_ids[%d] = %d is outside [0, %d)", op, t, id,
                        a->vocab_size);
    }
    const size_t row = size_t(a->dim);
    auto* out = static_cast<float*>(a->out);
    const auto* table = static_cast<const float*>(a->table);
    parallel_rows(ctx, a->num_tokens, int64_t(row) * 8, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t)
            std::memcpy(out + t * row, table + size_t(a->token_ids[t]) * row, row * sizeof(float));
    });
    return PG_OK;
}

}  // namespace pg::cpu
