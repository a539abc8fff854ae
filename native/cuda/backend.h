// Context and runtime seam of the CUDA backend. The same kernels and host code build two libraries:
// libpaged_cuda.so (nvcc: CUDA runtime + cuBLAS) and libpaged_simt.so (C++ against the SIMT
// emulator: host memory + the CPU GEMM). Only runtime_cuda.cu / ../simt/runtime_simt.cpp differ.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "device_error.cuh"
#include "launch.cuh"
#include "paged.h"

struct pg_context {
    int device = 0;
    pg::cuda::Stream stream{};
    void* blas = nullptr;       // cublasHandle_t under nvcc
    void* scratch = nullptr;    // device scratch (split-K partials, tile lists)
    size_t scratch_bytes = 0;
    bool avx2 = false;          // emulator: GEMM flavour
    // Ops validate index arrays on the host before launching (the emulator; PAGED_SIMT_HOST_VALIDATION=0
    // turns it off so the kernels' guards are exercised). Never on a GPU: that would synchronize.
    bool validate_on_host = false;
    pg::cuda::DeviceError* dev_error = nullptr;   // device memory, zero while no kernel reported
    pg::cuda::DeviceError* host_error = nullptr;  // its page-locked host mirror
    // alloc_host ranges (base, bytes): host-to-device copies from them are asynchronous. A short
    // list (a few staging buffers and swap pools); <map> does not compile under nvcc 11.8 + clang 14.
    std::vector<std::pair<uintptr_t, size_t>> pinned;
    pg_counters counters{};
    char name[192] = {};
    // Graph capture (graph.cu): between begin_capture and end_capture; the first refused call's message.
    bool capturing = false;
    char capture_error[512] = {};
    void* capture = nullptr;         // simt: the launch list being recorded (pg_simt::LaunchList)
    void* blas_workspace = nullptr;  // cuda: cuBLAS's fixed workspace (set before the first capture)
    // Graphs name the scratch they were captured with: while any lives, outgrown scratch is kept
    // here (freed when the last graph goes, or with the context) instead of freed.
    int live_graphs = 0;
    std::vector<void*> retired_scratch;
};

namespace pg::cuda {

constexpr uint32_t kAllDtypes = (1u << PG_DTYPE_F32) | (1u << PG_DTYPE_F16) | (1u << PG_DTYPE_BF16);

// ---- runtime seam ----
pg_status rt_context_init(pg_context* ctx, int device_index);  // UNSUPPORTED when no device
void rt_context_release(pg_context* ctx);
pg_status rt_malloc(void** p, size_t bytes);
pg_status rt_free(void* p);
// Host memory for swapped-out blocks: page-locked under nvcc (full-speed, asynchronous copies).
pg_status rt_malloc_host(void** p, size_t bytes);
pg_status rt_free_host(void* p);
// Enqueued on the context's stream; does not wait (host memory involved must stay put until the
// next wait). The emulator checks that each side lies in the address space `kind` names.
pg_status rt_memcpy_async(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind);
pg_status rt_memset(pg_context* ctx, void* dst, int32_t value, size_t bytes);
// Waits for the stream (counted). Does not look at the device error word.
pg_status rt_synchronize(pg_context* ctx);
// Reads device memory for host-side validation (emulator: after checking that [src, src + bytes)
// is device memory, failing with "<op>: <name> ... is not device memory").
pg_status rt_peek(pg_context* ctx, const char* op, const char* name, void* dst, const void* src, size_t bytes);
// out = (accumulate ? out : 0) + x w^T with x, w, out all of dtype `dtype`, fp32 accumulation
// (a->bias is ignored here: matmul adds it before the GEMM).
pg_status rt_gemm(pg_context* ctx, const pg_matmul_args* a, int32_t dtype);
// out (+)= x w^T with f32 x and out and f16/bf16 w (a->w_dtype), fp32 accumulation: cuBLAS GemmEx on x
// rounded to w's type (round_x_to_w_dtype; tensor cores), the CPU GEMM reading w in place in the emulator.
pg_status rt_gemm_half_w(pg_context* ctx, const pg_matmul_args* a);

// ---- helpers on top of the seam ----
// Enqueues the copy and, unless it is device-to-device, waits (counted) so host memory is safe to use.
pg_status rt_memcpy(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind);
// Before freeing what the stream may still use (memory, a graph): waits (counted); refused while capturing.
pg_status wait_to_release(pg_context* ctx, const char* what);
// Waits for the stream, then reports (and clears) an error a kernel recorded in the error word.
pg_status wait_and_check(pg_context* ctx);
// Copies n device elements of index array `name` of `op` to a host vector, for host-side
// validation (only when ctx->validate_on_host).
template <class T>
pg_status to_host(pg_context* ctx, const char* op, const char* name, const T* dev, size_t n, std::vector<T>& out) {
    out.resize(n);
    if (n == 0) return PG_OK;
    return rt_peek(ctx, op, name, out.data(), dev, n * sizeof(T));
}
// Device scratch of at least `bytes`, owned by the context (grown on demand).
pg_status scratch(pg_context* ctx, size_t bytes, void** p);

pg_status check_ctx(const char* op, const pg_context* ctx);

// ---- graph capture (graph.cu; the runtime half in graph_cuda.cu / ../simt/graph_record.cpp) ----
// Fails naming `what` while ctx is capturing (an allocation, wait or host copy cannot be captured)
// and marks the capture invalid, so end_capture fails with the same message.
pg_status no_capture(pg_context* ctx, const char* what);
pg_status rt_begin_capture(pg_context* ctx);
// Stops capturing; keep = false discards what was captured (*out stays NULL).
pg_status rt_end_capture(pg_context* ctx, bool keep, pg_graph** out);
pg_status rt_graph_launch(pg_context* ctx, pg_graph* graph);
void rt_graph_destroy(pg_graph* graph);
void rt_graph_release(pg_context* ctx);  // context teardown: what capture set up (cuBLAS workspace, a list)
void free_retired_scratch(pg_context* ctx);

// ---- the SIMT GEMM family (gemm.cu) ----
// Largest m for which half-weight matmuls take the SIMT kernel without batch_invariant (decode: one
// pass over the weights, a memory-bound GEMV); larger m goes to rt_gemm_half_w (tensor cores).
constexpr int kGemmSmallM = 8;
// Whether matmul sends `a` to gemm_invariant: by mode, w dtype and m only (never by data).
bool gemm_uses_simt_kernel(const pg_matmul_args* a);
// out (+)= x w^T, f32 x and out, f32/f16/bf16 w, one fixed summation order per element (batch-invariant).
pg_status gemm_invariant(pg_context* ctx, const pg_matmul_args* a);
// x rounded to w's half type, dense [m, k], in the context's scratch (one kernel; for cuBLAS GemmEx).
pg_status round_x_to_w_dtype(pg_context* ctx, const pg_matmul_args* a, void** xh);

// ---- ops (one family per .cu file) ----
pg_status embedding(pg_context* ctx, const pg_embedding_args* a);
pg_status rmsnorm(pg_context* ctx, const pg_rmsnorm_args* a);
pg_status head_rmsnorm(pg_context* ctx, const pg_head_rmsnorm_args* a);
pg_status rope_cache_write(pg_context* ctx, const pg_rope_cache_write_args* a);
pg_status matmul(pg_context* ctx, const pg_matmul_args* a);
pg_status rope(pg_context* ctx, const pg_rope_args* a);
pg_status silu_mul(pg_context* ctx, const pg_silu_mul_args* a);
pg_status cache_write(pg_context* ctx, const pg_cache_write_args* a);
pg_status attention_decode(pg_context* ctx, const pg_attention_args* a);
pg_status attention_prefill(pg_context* ctx, const pg_attention_args* a);
pg_status block_copy(pg_context* ctx, const pg_block_copy_args* a);
pg_status argmax(pg_context* ctx, const pg_argmax_args* a);
pg_status sample(pg_context* ctx, const pg_sample_args* a);
pg_status block_swap(pg_context* ctx, const pg_block_swap_args* a);
pg_status lora(pg_context* ctx, const pg_lora_args* a);
pg_status begin_capture(pg_context* ctx);
pg_status end_capture(pg_context* ctx, pg_graph** out);
pg_status graph_launch(pg_context* ctx, pg_graph* graph);
pg_status graph_destroy(pg_context* ctx, pg_graph* graph);

}  // namespace pg::cuda
