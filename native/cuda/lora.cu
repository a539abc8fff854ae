// Batched LoRA (paged.h pg_lora_args; Punica's BGMV in spirit: each token gathers its own adapter's
// matrices by slot). Two launches:
//  - shrink: one block per token, a warp per rank row r (r = warp, warp + 4, ...): lanes stride over k
//    with coalesced loads of x and A_s[r], warp-sum, lane 0 writes workspace[t, r];
//  - expand: grid (column tiles of 256, tokens), a thread per output column j: out[t, j] += scale *
//    sum_r workspace[t, r] * B_s[r, j]; B is stored [max_rank, n] so a warp reads 32 consecutive
//    columns of one row (coalesced), and the workspace row is a broadcast read.
// Adapter rows are f32 or bf16 (W: widened in registers by to_f, sums fp32); only the slot's own rank
// rows are read (slot_ranks; a rank beyond [0, max_rank] is clamped on the device and refused by the
// host check of a validating context: the engine writes the ranks, never a request).
// A slot outside [-1, num_slots) is recorded in the error word by the shrink and skipped by both.
#include "backend.h"
#include "common.cuh"
#include "device_error.cuh"
#include "op_checks.h"

namespace pg::cuda {

namespace {
constexpr int kShrinkThreads = 128;
constexpr int kExpandThreads = 256;
}  // namespace

__device__ __forceinline__ int slot_rank(const int32_t* ranks, int s, int max_rank) {
    return ranks ? imin(imax(ranks[s], 0), max_rank) : max_rank;
}

__device__ __forceinline__ float widen(float v) { return v; }
__device__ __forceinline__ float widen(__nv_bfloat16 v) { return to_f(v); }

template <class W>
__global__ void __launch_bounds__(kShrinkThreads) lora_shrink_kernel(float* __restrict__ ws, const float* __restrict__ x,
                                                                     const W* __restrict__ a,
                                                                     const float* __restrict__ scales,
                                                                     const int32_t* __restrict__ slots,
                                                                     const int32_t* __restrict__ ranks, int k, int ldx,
                                                                     int max_rank, int num_slots, DeviceError* err) {
    const int t = int(blockIdx.x);
    const int s = slots[t];
    if (s < -1 || s >= num_slots) {
        if (threadIdx.x == 0) report_error(err, kDevErrLoraSlot, kOpLora, t, 0, s, num_slots);
        return;
    }
    if (s < 0 || scales[s] == 0.0f) return;
    const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
    const int rank = slot_rank(ranks, s, max_rank);
    const float* xt = x + int64_t(t) * ldx;
    const W* as = a + int64_t(s) * max_rank * k;
    for (int r = warp; r < rank; r += kShrinkThreads / 32) {
        const W* row = as + int64_t(r) * k;
        float acc = 0.0f;
        for (int i = lane; i < k; i += 32) acc += widen(PG_LDG(row + i)) * PG_LDG(xt + i);
        acc = warp_sum(acc);
        if (lane == 0) ws[int64_t(t) * max_rank + r] = acc;
    }
}

template <class W>
__global__ void __launch_bounds__(kExpandThreads) lora_expand_kernel(float* __restrict__ out, const float* __restrict__ ws,
                                                                     const W* __restrict__ b,
                                                                     const float* __restrict__ scales,
                                                                     const int32_t* __restrict__ slots,
                                                                     const int32_t* __restrict__ ranks, int n, int ldo,
                                                                     int max_rank, int num_slots) {
    const int t = int(blockIdx.y);
    const int s = slots[t];
    if (s < 0 || s >= num_slots) return;
    const float scale = scales[s];
    const int j = int(blockIdx.x) * kExpandThreads + int(threadIdx.x);
    if (scale == 0.0f || j >= n) return;
    const int rank = slot_rank(ranks, s, max_rank);
    const float* h = ws + int64_t(t) * max_rank;
    const W* bs = b + int64_t(s) * max_rank * n + j;
    float acc = 0.0f;
    for (int r = 0; r < rank; ++r) acc += h[r] * widen(PG_LDG(bs + int64_t(r) * n));
    out[int64_t(t) * ldo + j] += scale * acc;
}

pg_status lora(pg_context* ctx, const pg_lora_args* a) {
    PG_TRY(check_ctx("lora", ctx));
    PG_TRY(check_lora_shape(a, kF32Only));
    if (ctx->validate_on_host) {
        std::vector<int32_t> slots, ranks;
        PG_TRY(to_host(ctx, "lora", "token_slots", a->token_slots, size_t(a->num_tokens), slots));
        PG_TRY(check_lora_slots(a, slots.data()));
        if (a->slot_ranks) {
            PG_TRY(to_host(ctx, "lora", "slot_ranks", a->slot_ranks, size_t(a->num_slots), ranks));
            PG_TRY(check_lora_ranks(a, ranks.data()));
        }
    }
    if (a->num_tokens == 0) return PG_OK;
    auto run = [&](auto tag) -> pg_status {
        using W = typename decltype(tag)::type;
        const auto* wa = static_cast<const W*>(a->a);
        const auto* wb = static_cast<const W*>(a->b);
        PG_TRY(launch("lora", lora_shrink_kernel<W>, dim3(unsigned(a->num_tokens)), dim3(kShrinkThreads), 0,
                      ctx->stream, a->workspace, static_cast<const float*>(a->x), wa, a->scales, a->token_slots,
                      a->slot_ranks, a->k, a->ldx, a->max_rank, a->num_slots, ctx->dev_error));
        const dim3 grid(unsigned((a->n + kExpandThreads - 1) / kExpandThreads), unsigned(a->num_tokens));
        return launch("lora", lora_expand_kernel<W>, grid, dim3(kExpandThreads), 0, ctx->stream,
                      static_cast<float*>(a->out), static_cast<const float*>(a->workspace), wb, a->scales,
                      a->token_slots, a->slot_ranks, a->n, a->ldo, a->max_rank, a->num_slots);
    };
    if (a->weight_dtype == PG_DTYPE_BF16) return run(TypeTag<__nv_bfloat16>{});
    return run(TypeTag<float>{});
}

}  // namespace pg::cuda
