// SwiGLU gate: out[t, i] = silu(x[t, i]) * x[t, hidden + i]. Grid-stride over elements, fp32 math.
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

template <class T>
__global__ void __launch_bounds__(256) silu_mul_kernel(T* __restrict__ out, const T* __restrict__ x,
                                                       int hidden) {
    const int t = int(blockIdx.y);
    const T* g = x + int64_t(t) * 2 * hidden;
    const T* u = g + hidden;
    T* o = out + int64_t(t) * hidden;
    for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < hidden; i += int(gridDim.x * blockDim.x)) {
        const float gv = to_f(PG_LDG(g + i));
        o[i] = from_f<T>(gv / (1.0f + expf(-gv)) * to_f(PG_LDG(u + i)));
    }
}

pg_status silu_mul(pg_context* ctx, const pg_silu_mul_args* a) {
    PG_TRY(check_ctx("silu_mul", ctx));
    PG_TRY(check_silu_mul_shape(a, kAllDtypes));
    if (a->num_tokens == 0) return PG_OK;
    const unsigned blocks_x = unsigned((a->hidden + 1023) / 1024);
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        return launch("silu_mul", silu_mul_kernel<T>, dim3(blocks_x, unsigned(a->num_tokens)), dim3(256),
                      0, ctx->stream, static_cast<T*>(a->out), static_cast<const T*>(a->x), a->hidden);
    });
}

}  // namespace pg::cuda
