// RMSNorm with optional fused residual add. One block per token; fp32 sum of squares reduced with
// warp shuffles; residual (when given) is updated in place first (residual += x), then normalised.
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

template <class T>
__global__ void __launch_bounds__(256) rmsnorm_kernel(T* out, const T* x, T* residual,
                                                      const T* __restrict__ weight, int dim, float eps) {
    PG_SHARED(float, red, [33]);
    const int64_t row = int64_t(blockIdx.x) * dim;
    float ss = 0.0f;
    for (int i = int(threadIdx.x); i < dim; i += int(blockDim.x)) {
        float v = to_f(PG_LDG(x + row + i));
        if (residual != nullptr) {
            v += to_f(PG_LDG(residual + row + i));
            residual[row + i] = from_f<T>(v);
            v = to_f(residual[row + i]);  // normalise what was stored (matters for fp16/bf16)
        }
        ss += v * v;
    }
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / float(dim) + eps);
    const T* src = residual != nullptr ? residual : x;
    for (int i = int(threadIdx.x); i < dim; i += int(blockDim.x))
        out[row + i] = from_f<T>(to_f(weight[i]) * (inv * to_f(src[row + i])));
}

pg_status rmsnorm(pg_context* ctx, const pg_rmsnorm_args* a) {
    PG_TRY(check_ctx("rmsnorm", ctx));
    PG_TRY(check_rmsnorm_shape(a, kAllDtypes));
    if (a->num_tokens == 0) return PG_OK;
    const unsigned threads = a->dim >= 1024 ? 256u : a->dim >= 256 ? 128u : 64u;
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        return launch("rmsnorm", rmsnorm_kernel<T>, dim3(unsigned(a->num_tokens)), dim3(threads), 0,
                      ctx->stream, static_cast<T*>(a->out), static_cast<const T*>(a->x),
                      static_cast<T*>(a->residual), static_cast<const T*>(a->weight), a->dim, a->eps);
    });
}

}  // namespace pg::cuda
