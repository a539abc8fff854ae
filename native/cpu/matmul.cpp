// matmul: validation, then the N range split into fixed 48-column chunks run on the pool. Weights
// may be f32, f16 or bf16 (converted as they are loaded); x, out and the bias are f32.
#include <cinttypes>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "gemm.h"
#include "ops.h"

namespace pg::cpu {

namespace {

// 48 columns = 16 tiles of 3 (the 4x3 kernel); a chunk of w (48 x K floats) stays in L2.
constexpr int64_t kChunkColumns = 48;

}  // namespace

pg_status matmul(pg_context* ctx, const pg_matmul_args* a) {
    const char* op = "matmul";
    PG_TRY(check_ctx(op, ctx));
    constexpr uint32_t kWeightDtypes =
        (1u << PG_DTYPE_F32) | (1u << PG_DTYPE_F16) | (1u << PG_DTYPE_BF16) | (1u << PG_DTYPE_Q8_0);
    PG_TRY(check_matmul_shape(a, kWeightDtypes));
    if (a->w_dtype == PG_DTYPE_Q8_0 && a->k % 32 != 0)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: k = %d must be a multiple of 32 for q8_0 weights (blocks of 32)", op, a->k);
    // Half-precision weights are read in place (single-sequence decode is bound by weight bytes);
    // activations stay fp32.
    if (a->x_dtype != PG_DTYPE_F32 || a->out_dtype != PG_DTYPE_F32)
        return fail(PG_ERR_DTYPE, "%s: x_dtype = %s, out_dtype = %s: this backend takes f32 x and out (w may be f32, f16, bf16 or q8_0)",
                    op, dtype_name(a->x_dtype), dtype_name(a->out_dtype));
    if (a->m == 0) return PG_OK;

    const GemmArgs g{static_cast<const float*>(a->x), a->ldx, a->w, static_cast<float*>(a->out), a->ldo,
                     a->m, a->k, a->accumulate != 0, a->bias, a->w_dtype};
    auto kernel = ctx->avx512 ? gemm_columns_avx512 : ctx->avx2 ? gemm_columns_avx2 : gemm_columns_generic;
    const int64_t n = a->n;
    const int64_t flops = 2 * int64_t(a->m) * n * a->k;
    const int64_t chunks = (n + kChunkColumns - 1) / kChunkColumns;
    // Same chunks inline or in parallel: a chunk of w stays in L2 while every row of x passes it.
    auto run_chunk = [&](int64_t c) {
        const int64_t n0 = c * kChunkColumns;
        kernel(g, n0, n0 + kChunkColumns < n ? n0 + kChunkColumns : n);
    };
    if (flops < kParallelThreshold || chunks == 1 || ctx->pool.num_threads() == 1) {
        for (int64_t c = 0; c < chunks; ++c) run_chunk(c);
    } else {
        ctx->pool.parallel_for(chunks, run_chunk);
    }
    return PG_OK;
}

}  // namespace pg::cpu
