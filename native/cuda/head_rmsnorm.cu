// Per-head RMSNorm in place (Qwen3 q_norm / k_norm). One warp per (token, head) row of head_size
// elements (16..256 in real models: a block per row would leave most threads idle); fp32 sum of squares
// reduced with warp shuffles, then each lane rescales the elements it read.
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

namespace {
constexpr int kThreads = 128;
constexpr int kRowsPerBlock = kThreads / 32;
}  // namespace

template <class T>
__global__ void __launch_bounds__(kThreads) head_rmsnorm_kernel(T* x, const T* __restrict__ weight, int64_t rows,
                                                               int num_heads, int head_size, int token_stride,
                                                               float eps) {
    const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + (threadIdx.x >> 5);
    if (row >= rows) return;  // uniform over the warp
    const int lane = int(threadIdx.x) & 31;
    T* v = x + (row / num_heads) * token_stride + (row % num_heads) * head_size;
    float ss = 0.0f;
    for (int i = lane; i < head_size; i += 32) {
        const float e = to_f(v[i]);
        ss += e * e;
    }
    ss = warp_sum(ss);
    const float inv = rsqrtf(ss / float(head_size) + eps);
    for (int i = lane; i < head_size; i += 32) v[i] = from_f<T>(to_f(PG_LDG(weight + i)) * (inv * to_f(v[i])));
}

pg_status head_rmsnorm(pg_context* ctx, const pg_head_rmsnorm_args* a) {
    PG_TRY(check_ctx("head_rmsnorm", ctx));
    PG_TRY(check_head_rmsnorm_shape(a, kAllDtypes));
    const int64_t rows = int64_t(a->num_tokens) * a->num_heads;
    if (rows == 0) return PG_OK;
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const dim3 grid(unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock));
        return launch("head_rmsnorm", head_rmsnorm_kernel<T>, grid, dim3(kThreads), 0, ctx->stream,
                      static_cast<T*>(a->x), static_cast<const T*>(a->weight), rows, a->num_heads, a->head_size,
                      a->token_stride, a->eps);
    });
}

}  // namespace pg::cuda
