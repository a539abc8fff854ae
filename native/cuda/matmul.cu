// GEMM: out[M, N] (+)= x[M, K] w[N, K]^T. cuBLAS under nvcc, the CPU backend's GEMM in the emulator
// (both behind rt_gemm_f32). fp32 only for now: fp16/bf16 weights report PG_ERR_DTYPE.
#include "backend.h"
#include "op_checks.h"

namespace pg::cuda {

pg_status matmul(pg_context* ctx, const pg_matmul_args* a) {
    PG_TRY(check_ctx("matmul", ctx));
    PG_TRY(check_matmul_shape(a, kF32Only));
    if (a->m == 0) return PG_OK;
    return rt_gemm_f32(ctx, a);
}

}  // namespace pg::cuda
