// GEMM: out[M, N] (+)= x[M, K] w[N, K]^T + bias. Three paths, chosen on the host by the mode, w's dtype
// and M only (gemm_uses_simt_kernel), never by data:
//   - the SIMT GEMM kernel (gemm.cu: f32 x and out, f32/f16/bf16 w, one fixed summation order per
//     element) for every call with batch_invariant, and for half weights with M <= kGemmSmallM (decode);
//   - f32 x and out with f16/bf16 w, larger M: rt_gemm_half_w (cuBLAS GemmEx on x rounded to w's type,
//     fp32 compute, tensor cores; in the emulator the CPU GEMM reading w in place);
//   - one dtype for x, w and out: rt_gemm (cuBLAS SGEMM, or GemmEx with fp32 compute for fp16/bf16; in
//     the emulator the CPU backend's GEMM, fp16/bf16 widened to fp32 first).
// Other mixes report PG_ERR_DTYPE. A bias is broadcast into out first (out = (accumulate ? out : 0) +
// bias, one rounding to the out dtype), then the GEMM accumulates onto it (beta = 1): no epilogue needed.
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

template <class T>
__global__ void __launch_bounds__(256) bias_broadcast_kernel(T* __restrict__ out, const float* __restrict__ bias,
                                                             int n, int ldo, int accumulate) {
    const int64_t row = int64_t(blockIdx.y) * ldo;
    for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += int(gridDim.x * blockDim.x)) {
        const float b = PG_LDG(bias + i);
        out[row + i] = from_f<T>(accumulate != 0 ? to_f(out[row + i]) + b : b);
    }
}

pg_status matmul(pg_context* ctx, const pg_matmul_args* a) {
    PG_TRY(check_ctx("matmul", ctx));
    PG_TRY(check_ptr("matmul", "args", a));
    // Mixed (but valid) dtypes first: the overlap checks below size each operand by its dtype.
    const bool valid = a->x_dtype >= PG_DTYPE_F32 && a->x_dtype <= PG_DTYPE_BF16 && a->w_dtype >= PG_DTYPE_F32 &&
                       a->w_dtype <= PG_DTYPE_BF16 && a->out_dtype >= PG_DTYPE_F32 && a->out_dtype <= PG_DTYPE_BF16;
    const bool one_dtype = a->x_dtype == a->w_dtype && a->x_dtype == a->out_dtype;
    const bool half_w = a->x_dtype == PG_DTYPE_F32 && a->out_dtype == PG_DTYPE_F32;
    if (valid && !one_dtype && !half_w)
        return fail(PG_ERR_DTYPE,
                    "matmul: x_dtype = %s, w_dtype = %s, out_dtype = %s: this backend takes one dtype for all three, "
                    "or f32 x and out with f16/bf16 w",
                    dtype_name(a->x_dtype), dtype_name(a->w_dtype), dtype_name(a->out_dtype));
    PG_TRY(check_matmul_shape(a, kAllDtypes));
    if (a->batch_invariant != 0 && a->batch_invariant != 1)
        return fail(PG_ERR_INVALID_ARGUMENT, "matmul: batch_invariant must be 0 or 1 (got %d)", a->batch_invariant);
    if (a->m == 0) return PG_OK;
    auto gemm = [&](const pg_matmul_args* g) {
        if (gemm_uses_simt_kernel(g)) return gemm_invariant(ctx, g);
        return one_dtype ? rt_gemm(ctx, g, g->x_dtype) : rt_gemm_half_w(ctx, g);
    };
    if (a->bias == nullptr) return gemm(a);
    PG_TRY(dispatch_dtype(a->out_dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const dim3 grid(unsigned((a->n + 255) / 256), unsigned(a->m));
        return launch("matmul_bias", bias_broadcast_kernel<T>, grid, dim3(256), 0, ctx->stream, static_cast<T*>(a->out),
                      a->bias, a->n, a->ldo, a->accumulate);
    }));
    pg_matmul_args onto = *a;
    onto.accumulate = 1;
    return gemm(&onto);
}

}  // namespace pg::cuda
