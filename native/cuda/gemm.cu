// The SIMT GEMM family: out[m, n] (+)= dot(x[m, :], w[n, :]) with f32 x and out and f32, f16 or bf16 w,
// fp32 products and sums, plus the small kernel that rounds x to a half type for cuBLAS's mixed GEMM.
//
// Batch invariance: every output element is summed over K in one fixed order that depends on K and
// w's type only -- never on m, n, the row's place in the batch or the launch shape. Lane l of a warp
// owns the 16-byte chunks c = l, l + 32, l + 64, ... of the weight row (Vec<W>::kN elements each:
// 4 for f32, 8 for f16/bf16) and accumulates chunk after chunk, element after element, with fmaf;
// then the warp's 32 partial sums are reduced by one xor butterfly (commutative at every step, so all
// lanes hold the same bits). Past K a chunk holds zeros on both sides: fmaf(0, 0, s) = s. Vector and
// element-wise loads feed the same arithmetic, so alignment (a function of ldx) changes nothing either.
// A block holds kWarps warps (one weight row each) and kRows rows of x: each 16-byte weight vector is
// loaded once per kRows rows (decode: once per step; memory-bound like a GEMV).
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kRows = 8;

// Elements [k0, k0 + kN) of a row widened to fp32 (zeros past k): one 16-byte load per Vec<T> when kVec
// and the chunk lies inside the row, else element by element.
template <class T, int kN, bool kVec>
__device__ __forceinline__ void load_chunk(const T* __restrict__ row, int k0, int k, float* v) {
    if (kVec && k0 + kN <= k) {
#pragma unroll
        for (int i = 0; i < kN; i += Vec<T>::kN) load_vec(row + k0 + i, v + i);
    } else {
#pragma unroll
        for (int i = 0; i < kN; ++i) v[i] = k0 + i < k ? to_f(PG_LDG(row + k0 + i)) : 0.0f;
    }
}

template <class W, bool kVec>
__global__ void __launch_bounds__(kWarps * 32)
    gemm_invariant_kernel(float* __restrict__ out, const float* __restrict__ x, const W* __restrict__ w, int m, int n,
                          int k, int ldx, int ldo, int accumulate) {
    constexpr int kN = Vec<W>::kN;
    const int lane = int(threadIdx.x) & 31;
    const int col = int(blockIdx.x) * kWarps + (int(threadIdx.x) >> 5);
    if (col >= n) return;  // the whole warp: no barrier below, and the shuffles see full warps
    const int row0 = int(blockIdx.y) * kRows;
    const int rows = imin(kRows, m - row0);
    const W* wr = w + int64_t(col) * k;
    const float* xr = x + int64_t(row0) * ldx;
    float acc[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r] = 0.0f;
    for (int k0 = lane * kN; k0 < k; k0 += 32 * kN) {
        float wv[kN];
        load_chunk<W, kN, kVec>(wr, k0, k, wv);
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            if (r < rows) {
                float xv[kN];
                load_chunk<float, kN, kVec>(xr + int64_t(r) * ldx, k0, k, xv);
#pragma unroll
                for (int i = 0; i < kN; ++i) acc[r] = fmaf(xv[i], wv[i], acc[r]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
        if (r < rows) {  // warp-uniform
            const float s = warp_sum(acc[r]);
            if (lane == r) {
                float* o = out + int64_t(row0 + r) * ldo + col;
                *o = accumulate != 0 ? *o + s : s;
            }
        }
    }
}

// xh[r, :] = x[r, :] rounded to H (nearest even), rows dense (leading dimension k).
template <class H>
__global__ void __launch_bounds__(256) round_rows_kernel(H* __restrict__ xh, const float* __restrict__ x, int k, int ldx) {
    const int64_t r = blockIdx.y;
    for (int i = int(blockIdx.x * blockDim.x + threadIdx.x); i < k; i += int(gridDim.x * blockDim.x))
        xh[r * k + i] = from_f<H>(PG_LDG(x + r * ldx + i));
}

}  // namespace

bool gemm_uses_simt_kernel(const pg_matmul_args* a) {
    const bool half_w = a->x_dtype == PG_DTYPE_F32 && a->out_dtype == PG_DTYPE_F32 && a->w_dtype != PG_DTYPE_F32;
    return a->batch_invariant != 0 || (half_w && a->m <= kGemmSmallM);
}

pg_status gemm_invariant(pg_context* ctx, const pg_matmul_args* a) {
    if (a->x_dtype != PG_DTYPE_F32 || a->out_dtype != PG_DTYPE_F32)
        return fail(PG_ERR_DTYPE, "matmul: batch_invariant takes f32 x and out (got x_dtype = %s, out_dtype = %s)",
                    dtype_name(a->x_dtype), dtype_name(a->out_dtype));
    return dispatch_dtype(a->w_dtype, [&](auto tag) {
        using W = typename decltype(tag)::type;
        // 16-byte loads need every row start aligned: the bases, and whole vectors per row of x and w.
        const bool vec = aligned16(a->x, a->w) && a->ldx % 4 == 0 && a->k % Vec<W>::kN == 0;
        const auto* w = static_cast<const W*>(a->w);
        auto* kernel = vec ? gemm_invariant_kernel<W, true> : gemm_invariant_kernel<W, false>;
        // gridDim.y is at most 65535: very tall x in slices of rows (no effect on any row's sum).
        constexpr int kSliceRows = 65535 / kRows * kRows;
        for (int r0 = 0; r0 < a->m; r0 += kSliceRows) {
            const int m = a->m - r0 < kSliceRows ? a->m - r0 : kSliceRows;
            const dim3 grid(unsigned((a->n + kWarps - 1) / kWarps), unsigned((m + kRows - 1) / kRows));
            PG_TRY(launch("matmul_simt", kernel, grid, dim3(kWarps * 32), 0, ctx->stream,
                          static_cast<float*>(a->out) + int64_t(r0) * a->ldo,
                          static_cast<const float*>(a->x) + int64_t(r0) * a->ldx, w, m, a->n, a->k, a->ldx, a->ldo,
                          a->accumulate));
        }
        return PG_OK;
    });
}

pg_status round_x_to_w_dtype(pg_context* ctx, const pg_matmul_args* a, void** xh) {
    PG_TRY(scratch(ctx, size_t(a->m) * size_t(a->k) * 2, xh));
    return dispatch_dtype(a->w_dtype, [&](auto tag) {
        using H = typename decltype(tag)::type;
        if constexpr (sizeof(H) != 2) {
            return fail(PG_ERR_DTYPE, "matmul: x is rounded to f16 or bf16 weights only");
        } else {
            constexpr int kSliceRows = 65535;  // gridDim.y
            for (int r0 = 0; r0 < a->m; r0 += kSliceRows) {
                const int m = a->m - r0 < kSliceRows ? a->m - r0 : kSliceRows;
                const dim3 grid(unsigned((a->k + 255) / 256), unsigned(m));
                PG_TRY(launch("matmul_round_x", round_rows_kernel<H>, grid, dim3(256), 0, ctx->stream,
                              static_cast<H*>(*xh) + int64_t(r0) * a->k,
                              static_cast<const float*>(a->x) + int64_t(r0) * a->ldx, a->k, a->ldx));
            }
            return PG_OK;
        }
    });
}

}  // namespace pg::cuda
