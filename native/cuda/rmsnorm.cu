// RMSNorm with optional fused residual add. One block per token; fp32 sum of squares reduced with
// warp shuffles; residual (when given) is updated in place first (residual += x), then normalised.
// kVec: 16-byte vector loads/stores (dim a whole number of vectors, every pointer 16-byte aligned).
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

template <class T, bool kVec>
__global__ void __launch_bounds__(256) rmsnorm_kernel(T* out, const T* x, T* residual,
                                                      const T* __restrict__ weight, int dim, float eps) {
    PG_SHARED(float, red, [33]);
    constexpr int kN = kVec ? Vec<T>::kN : 1;
    const int64_t row = int64_t(blockIdx.x) * dim;
    const int n = dim / kN;
    float ss = 0.0f;
    for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) {
        float v[kN];
        if constexpr (kVec) load_vec(x + row + i * kN, v);
        else v[0] = to_f(PG_LDG(x + row + i));
        if (residual != nullptr) {
            float r[kN];
            if constexpr (kVec) load_vec(residual + row + i * kN, r);
            else r[0] = to_f(PG_LDG(residual + row + i));
#pragma unroll
            for (int e = 0; e < kN; ++e) v[e] = to_f(from_f<T>(v[e] + r[e]));  // what is stored
            if constexpr (kVec) store_vec(residual + row + i * kN, v);
            else residual[row + i] = from_f<T>(v[0]);
        }
#pragma unroll
        for (int e = 0; e < kN; ++e) ss += v[e] * v[e];
    }
    ss = block_sum(ss, red);
    const float inv = rsqrtf(ss / float(dim) + eps);
    const T* src = residual != nullptr ? residual : x;
    for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) {
        float v[kN], w[kN];
        if constexpr (kVec) {
            load_vec(src + row + i * kN, v);
            load_vec(weight + i * kN, w);
#pragma unroll
            for (int e = 0; e < kN; ++e) v[e] = w[e] * (inv * v[e]);
            store_vec(out + row + i * kN, v);
        } else {
            out[row + i] = from_f<T>(to_f(weight[i]) * (inv * to_f(src[row + i])));
        }
    }
}

pg_status rmsnorm(pg_context* ctx, const pg_rmsnorm_args* a) {
    PG_TRY(check_ctx("rmsnorm", ctx));
    PG_TRY(check_rmsnorm_shape(a, kAllDtypes));
    if (a->num_tokens == 0) return PG_OK;
    const unsigned threads = a->dim >= 4096 ? 256u : a->dim >= 1024 ? 128u : 64u;
    const bool vec_ok = aligned16(a->out, a->x, a->residual, a->weight);
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        auto* out = static_cast<T*>(a->out);
        const auto* x = static_cast<const T*>(a->x);
        auto* res = static_cast<T*>(a->residual);
        const auto* w = static_cast<const T*>(a->weight);
        const dim3 grid(unsigned(a->num_tokens));
        if (vec_ok && a->dim % Vec<T>::kN == 0)
            return launch("rmsnorm", rmsnorm_kernel<T, true>, grid, dim3(threads), 0, ctx->stream, out, x, res, w,
                          a->dim, a->eps);
        return launch("rmsnorm", rmsnorm_kernel<T, false>, grid, dim3(threads), 0, ctx->stream, out, x, res, w,
                      a->dim, a->eps);
    });
}

}  // namespace pg::cuda
