// Greedy sampling: out[r] = argmax of row r; ties go to the lowest index and NaN never wins (a row
// of only NaN / -inf gives 0), exactly like the CPU backend. One block per row.
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

__device__ __forceinline__ void better(float& bv, int& bi, float v, int i) {
    if (v > bv || (v == bv && i < bi)) {
        bv = v;
        bi = i;
    }
}

template <class T>
__global__ void __launch_bounds__(256) argmax_kernel(int32_t* __restrict__ out, const T* __restrict__ logits,
                                                     int vocab, int row_stride) {
    PG_SHARED(float, sv, [32]);
    PG_SHARED(int, si, [32]);
    const T* row = logits + int64_t(blockIdx.x) * row_stride;
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int j = int(threadIdx.x); j < vocab; j += int(blockDim.x)) {
        const float v = to_f(PG_LDG(row + j));
        if (v > bv) {  // strict, and false for NaN: the first of equal maxima in this thread wins
            bv = v;
            bi = j;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        better(bv, bi, ov, oi);
    }
    const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        const int nwarps = int(blockDim.x) >> 5;
        bv = lane < nwarps ? sv[lane] : -INFINITY;
        bi = lane < nwarps ? si[lane] : 0x7fffffff;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            better(bv, bi, ov, oi);
        }
        if (lane == 0) out[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
    }
}

pg_status argmax(pg_context* ctx, const pg_argmax_args* a) {
    PG_TRY(check_ctx("argmax", ctx));
    PG_TRY(check_argmax_shape(a, kAllDtypes));
    if (a->num_rows == 0) return PG_OK;
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        return launch("argmax", argmax_kernel<T>, dim3(unsigned(a->num_rows)), dim3(256), 0, ctx->stream,
                      a->out, static_cast<const T*>(a->logits), a->vocab_size, a->row_stride);
    });
}

}  // namespace pg::cuda
