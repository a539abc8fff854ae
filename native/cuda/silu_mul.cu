// SwiGLU gate: out[t, i] = silu(x[t, i]) * x[t, hidden + i]. Grid-stride over a token's elements,
// fp32 math; kVec: 16-byte vectors (hidden a whole number of vectors, pointers 16-byte aligned).
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

template <class T, bool kVec>
__global__ void __launch_bounds__(256) silu_mul_kernel(T* __restrict__ out, const T* __restrict__ x,
                                                       int hidden) {
    constexpr int kN = kVec ? Vec<T>::kN : 1;
    const int t = int(blockIdx.y);
    const T* g = x + int64_t(t) * 2 * hidden;
    const T* u = g + hidden;
    T* o = out + int64_t(t) * hidden;
    for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < hidden / kN; i += int(gridDim.x * blockDim.x)) {
        float gv[kN], uv[kN];
        if constexpr (kVec) {
            load_vec(g + i * kN, gv);
            load_vec(u + i * kN, uv);
        } else {
            gv[0] = to_f(PG_LDG(g + i));
            uv[0] = to_f(PG_LDG(u + i));
        }
#pragma unroll
        for (int e = 0; e < kN; ++e) gv[e] = gv[e] / (1.0f + expf(-gv[e])) * uv[e];
        if constexpr (kVec) store_vec(o + i * kN, gv);
        else o[i] = from_f<T>(gv[0]);
    }
}

pg_status silu_mul(pg_context* ctx, const pg_silu_mul_args* a) {
    PG_TRY(check_ctx("silu_mul", ctx));
    PG_TRY(check_silu_mul_shape(a, kAllDtypes));
    if (a->num_tokens == 0) return PG_OK;
    const bool vec_ok = aligned16(a->out, a->x);
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const bool vec = vec_ok && a->hidden % Vec<T>::kN == 0;
        const int per_thread = vec ? Vec<T>::kN : 1;
        const unsigned blocks_x = unsigned((a->hidden / per_thread + 255) / 256);
        const dim3 grid(blocks_x, unsigned(a->num_tokens));
        auto* out = static_cast<T*>(a->out);
        const auto* x = static_cast<const T*>(a->x);
        if (vec) return launch("silu_mul", silu_mul_kernel<T, true>, grid, dim3(256), 0, ctx->stream, out, x, a->hidden);
        return launch("silu_mul", silu_mul_kernel<T, false>, grid, dim3(256), 0, ctx->stream, out, x, a->hidden);
    });
}

}  // namespace pg::cuda
