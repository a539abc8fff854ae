// out[t, :] = table[token_ids[t], :] -- a row gather.
#include <cstring>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

pg_status embedding(pg_context* ctx, const pg_embedding_args* a) {
    const char* op = "embedding";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_embedding_shape(a, kF32Only));
    PG_TRY(check_embedding_ids(a, a->token_ids));
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
