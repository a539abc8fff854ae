// out[t, :] = table[token_ids[t], :] -- a row gather. The table may be f32, f16 or bf16 (a half table is
// read in place and widened as rows are copied); out is always f32, the CPU backend's activation type.
#include <cstring>

#include "checks.h"
#include "half.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

pg_status embedding(pg_context* ctx, const pg_embedding_args* a) {
    const char* op = "embedding";
    PG_TRY(check_ctx(op, ctx));
    constexpr uint32_t kTableDtypes = (1u << PG_DTYPE_F32) | (1u << PG_DTYPE_F16) | (1u << PG_DTYPE_BF16);
    PG_TRY(check_embedding_shape(a, kTableDtypes));
    PG_TRY(check_embedding_ids(a, a->token_ids));
    const size_t row = size_t(a->dim);
    auto* out = static_cast<float*>(a->out);
    const int32_t dtype = a->dtype;
    parallel_rows(ctx, a->num_tokens, int64_t(row) * 8, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
            const size_t id = size_t(a->token_ids[t]);
            float* o = out + t * row;
            if (dtype == PG_DTYPE_F32) {
                std::memcpy(o, static_cast<const float*>(a->table) + id * row, row * sizeof(float));
                continue;
            }
            const uint16_t* src = static_cast<const uint16_t*>(a->table) + id * row;
            for (size_t i = 0; i < row; ++i) o[i] = dtype == PG_DTYPE_BF16 ? bf16_to_float(src[i]) : f16_to_float(src[i]);
        }
    });
    return PG_OK;
}

}  // namespace pg::cpu
