// GEMM: out[M, N] (+)= x[M, K] w[N, K]^T. cuBLAS under nvcc (SGEMM, or GemmEx with fp32 compute for
// fp16/bf16), the CPU backend's GEMM in the emulator (fp16/bf16 widened to fp32 first); both behind
// rt_gemm. x, w and out must share one dtype (mixed dtypes report PG_ERR_DTYPE).
#include "backend.h"
#include "op_checks.h"

namespace pg::cuda {

pg_status matmul(pg_context* ctx, const pg_matmul_args* a) {
    PG_TRY(check_ctx("matmul", ctx));
    PG_TRY(check_ptr("matmul", "args", a));
    // Mixed (but valid) dtypes first: the overlap checks below size each operand by its dtype.
    const bool valid = a->x_dtype >= PG_DTYPE_F32 && a->x_dtype <= PG_DTYPE_BF16 && a->w_dtype >= PG_DTYPE_F32 &&
                       a->w_dtype <= PG_DTYPE_BF16 && a->out_dtype >= PG_DTYPE_F32 && a->out_dtype <= PG_DTYPE_BF16;
    if (valid && (a->x_dtype != a->w_dtype || a->x_dtype != a->out_dtype))
        return fail(PG_ERR_DTYPE, "matmul: x_dtype = %s, w_dtype = %s, out_dtype = %s: mixed dtypes are not supported",
                    dtype_name(a->x_dtype), dtype_name(a->w_dtype), dtype_name(a->out_dtype));
    PG_TRY(check_matmul_shape(a, kAllDtypes));
    if (a->m == 0) return PG_OK;
    return rt_gemm(ctx, a, a->x_dtype);
}

}  // namespace pg::cuda
