// Rotary embedding in place on q and k. One block per token; one thread per (head, pair). Angles use
// the CPU backend's formula (freq = inv_freq[j] when the table is given, else
// 1 / powf(theta, 2j / rotary_dim); angle = pos * freq in float).
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"
#include "rope.cuh"

namespace pg::cuda {

template <class T>
__global__ void __launch_bounds__(128) rope_kernel(T* q, T* k, const int32_t* __restrict__ positions,
                                                   int num_heads, int num_kv_heads, int head_size,
                                                   int rotary_dim, int q_stride, int k_stride,
                                                   int style, float theta,
                                                   const float* __restrict__ inv_freq, DeviceError* err) {
    const int t = int(blockIdx.x);
    const int half = rotary_dim / 2;
    const int p = positions[t];
    if (p < 0) {  // recorded; the token is left unrotated
        if (threadIdx.x == 0) report_error(err, kDevErrRopePosition, kOpRope, t, 0, p, 0);
        return;
    }
    const float pos = float(p);
    const int total = (num_heads + num_kv_heads) * half;
    for (int i = int(threadIdx.x); i < total; i += int(blockDim.x)) {
        const int h = i / half, j = i % half;
        float c, s;
        rope_cos_sin(inv_freq, theta, rotary_dim, j, pos, &c, &s);
        T* base = h < num_heads ? q + int64_t(t) * q_stride + int64_t(h) * head_size
                                : k + int64_t(t) * k_stride + int64_t(h - num_heads) * head_size;
        int i0, i1;
        rope_pair(style, j, half, &i0, &i1);
        const float a = to_f(PG_LDG(base + i0)), b = to_f(PG_LDG(base + i1));
        base[i0] = from_f<T>(a * c - b * s);
        base[i1] = from_f<T>(a * s + b * c);
    }
}

pg_status rope(pg_context* ctx, const pg_rope_args* a) {
    PG_TRY(check_ctx("rope", ctx));
    PG_TRY(check_rope_shape(a, kAllDtypes));
    if (ctx->validate_on_host) {
        std::vector<int32_t> positions;
        PG_TRY(to_host(ctx, "rope", "positions", a->positions, size_t(a->num_tokens), positions));
        PG_TRY(check_rope_positions(a, positions.data()));
    }
    if (a->num_tokens == 0) return PG_OK;
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        return launch("rope", rope_kernel<T>, dim3(unsigned(a->num_tokens)), dim3(128), 0, ctx->stream,
                      static_cast<T*>(a->q), static_cast<T*>(a->k), a->positions, a->num_heads,
                      a->num_kv_heads, a->head_size, a->rotary_dim, a->q_stride, a->k_stride, a->style,
                      a->theta, a->inv_freq, ctx->dev_error);
    });
}

}  // namespace pg::cuda
