// matmul: validation, then the N range split into fixed 48-column chunks run on the pool.
#include <cinttypes>

#include "checks.h"
#include "context.h"
#include "gemm.h"
#include "ops.h"

namespace pg::cpu {

namespace {

// 48 columns = 16 tiles of 3 (the 4x3 kernel); a chunk of w (48 x K floats) stays in L2.
constexpr int64_t kChunkColumns = 48;

bool overlaps(const void* a, int64_t a_elems, const void* b, int64_t b_elems) {
    const auto a0 = reinterpret_cast<uintptr_t>(a), b0 = reinterpret_cast<uintptr_t>(b);
    const uintptr_t a1 = a0 + uintptr_t(a_elems) * sizeof(float);
    const uintptr_t b1 = b0 + uintptr_t(b_elems) * sizeof(float);
    return a0 < b1 && b0 < a1;
}

}  // namespace

pg_status matmul(pg_context* ctx, const pg_matmul_args* a) {
    const char* op = "matmul";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_ptr(op, "out", a->out));
    PG_TRY(check_ptr(op, "x", a->x));
    PG_TRY(check_ptr(op, "w", a->w));
    PG_TRY(check_non_negative(op, "m", a->m));  // m is the token count: 0 is an empty batch
    PG_TRY(check_positive(op, "n", a->n));
    PG_TRY(check_positive(op, "k", a->k));
    PG_TRY(check_stride(op, "ldx", a->ldx, a->k));
    PG_TRY(check_stride(op, "ldo", a->ldo, a->n));
    PG_TRY(check_dtype(op, "x_dtype", a->x_dtype, kF32Only));
    PG_TRY(check_dtype(op, "w_dtype", a->w_dtype, kF32Only));
    PG_TRY(check_dtype(op, "out_dtype", a->out_dtype, kF32Only));
    if (a->accumulate != 0 && a->accumulate != 1)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: accumulate must be 0 or 1 (got %d)", op,
                    a->accumulate);
    if (a->m == 0) return PG_OK;
    const int64_t out_elems = int64_t(a->m - 1) * a->ldo + a->n;
    const int64_t x_elems = int64_t(a->m - 1) * a->ldx + a->k;
    if (overlaps(a->out, out_elems, a->x, x_elems))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: out overlaps x (in-place matmul is not supported)",
                    op);
    if (overlaps(a->out, out_elems, a->w, int64_t(a->n) * a->k))
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: out overlaps w", op);

    const GemmArgs g{static_cast<const float*>(a->x), a->ldx, static_cast<const float*>(a->w),
                     static_cast<float*>(a->out), a->ldo, a->m, a->k, a->accumulate != 0};
    auto kernel = ctx->avx2 ? gemm_columns_avx2 : gemm_columns_generic;
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
