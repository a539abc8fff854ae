// out[t, :] = table[token_ids[t], :] -- a row gather. The table may be f32, f16, bf16 or q8_0 (read in
// place and widened as rows are copied); out is always f32, the CPU backend's activation type.
#include <cstring>

#include "checks.h"
#include "half.h"
#include "op_checks.h"
#include "context.h"
#include "gemm.h"
#include "ops.h"

namespace pg::cpu {

pg_status embedding(pg_context* ctx, const pg_embedding_args* a) {
    const char* op = "embedding";
    PG_TRY(check_ctx(op, ctx));
    constexpr uint32_t kTableDtypes =
        (1u << PG_DTYPE_F32) | (1u << PG_DTYPE_F16) | (1u << PG_DTYPE_BF16) | (1u << PG_DTYPE_Q8_0);
    PG_TRY(check_embedding_shape(a, kTableDtypes));
    if (a->out_dtype != PG_DTYPE_F32)
        return fail(PG_ERR_DTYPE, "%s: out_dtype = %s: the CPU backend writes f32 rows", op, dtype_name(a->out_dtype));
    if (a->dtype == PG_DTYPE_Q8_0 && a->dim % 32 != 0)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: dim = %d must be a multiple of 32 for a q8_0 table (blocks of 32)", op, a->dim);
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
            if (dtype == PG_DTYPE_Q8_0) {
                const Q8Block* blocks = static_cast<const Q8Block*>(a->table) + id * (row / 32);
                for (size_t i = 0; i < row; ++i) o[i] = f16_to_float(blocks[i / 32].d) * float(blocks[i / 32].qs[i % 32]);
                continue;
            }
            const uint16_t* src = static_cast<const uint16_t*>(a->table) + id * row;
            for (size_t i = 0; i < row; ++i) o[i] = dtype == PG_DTYPE_BF16 ? bf16_to_float(src[i]) : f16_to_float(src[i]);
        }
    });
    return PG_OK;
}

}  // namespace pg::cpu
