// Runtime seam of libpaged_cuda.so: the CUDA runtime (one non-blocking stream per context) and
// cuBLAS for GEMM. No device (or no driver) makes context_create return PG_ERR_UNSUPPORTED.
#include <cublas_v2.h>

#include <cstdio>

#include "backend.h"
#include "status.h"

namespace pg::cuda {

namespace {
pg_status cuda_fail(const char* what, cudaError_t e) {
    return fail(e == cudaErrorMemoryAllocation ? PG_ERR_OUT_OF_MEMORY : PG_ERR_INTERNAL, "cuda: %s: %s",
                what, cudaGetErrorString(e));
}
#define PG_CUDA(call, what)                          \
    do {                                             \
        const cudaError_t pg_e_ = (call);            \
        if (pg_e_ != cudaSuccess) return cuda_fail(what, pg_e_); \
    } while (0)
}  // namespace

pg_status rt_context_init(pg_context* ctx, int device_index) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        return fail(PG_ERR_UNSUPPORTED, "context_create: no CUDA device is available (%s)",
                    e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices");
    if (device_index >= count)
        return fail(PG_ERR_UNSUPPORTED, "context_create: device_index %d but only %d CUDA device(s)",
                    device_index, count);
    PG_CUDA(cudaSetDevice(device_index), "cudaSetDevice");
    cudaDeviceProp prop{};
    PG_CUDA(cudaGetDeviceProperties(&prop, device_index), "cudaGetDeviceProperties");
    if (prop.major < 8)
        return fail(PG_ERR_UNSUPPORTED, "context_create: %s is sm_%d%d; the kernels need sm_80 or newer",
                    prop.name, prop.major, prop.minor);
    ctx->device = device_index;
    PG_CUDA(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    cublasHandle_t handle = nullptr;
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
        cudaStreamDestroy(ctx->stream);
        return fail(PG_ERR_INTERNAL, "context_create: cublasCreate failed");
    }
    cublasSetStream(handle, ctx->stream);
    ctx->blas = handle;
    // prop.name holds up to 256 bytes: bounded to 100 so the text provably fits the 192-byte name
    // (gcc 13's -Wformat-truncation, fatal under -Werror, otherwise rejects the call).
    std::snprintf(ctx->name, sizeof ctx->name, "cuda:%d %.100s (sm_%d%d, %zu MiB)", device_index, prop.name,
                  prop.major, prop.minor, size_t(prop.totalGlobalMem >> 20));
    return PG_OK;
}

void rt_context_release(pg_context* ctx) {
    if (ctx->blas != nullptr) cublasDestroy(static_cast<cublasHandle_t>(ctx->blas));
    if (ctx->stream != nullptr) {
        cudaStreamSynchronize(ctx->stream);
        cudaStreamDestroy(ctx->stream);
    }
}

pg_status rt_malloc(void** p, size_t bytes) {
    const cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        *p = nullptr;
        return fail(PG_ERR_OUT_OF_MEMORY, "alloc: cannot allocate %zu bytes: %s", bytes, cudaGetErrorString(e));
    }
    return PG_OK;
}

pg_status rt_free(void* p) {
    PG_CUDA(cudaFree(p), "cudaFree");
    return PG_OK;
}

pg_status rt_malloc_host(void** p, size_t bytes) {
    const cudaError_t e = cudaHostAlloc(p, bytes, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        *p = nullptr;
        return fail(PG_ERR_OUT_OF_MEMORY, "alloc_host: cannot allocate %zu pinned bytes: %s", bytes, cudaGetErrorString(e));
    }
    return PG_OK;
}

pg_status rt_free_host(void* p) {
    PG_CUDA(cudaFreeHost(p), "cudaFreeHost");
    return PG_OK;
}

pg_status rt_memcpy_async(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind) {
    const cudaMemcpyKind k = kind == PG_MEMCPY_HOST_TO_DEVICE   ? cudaMemcpyHostToDevice
                             : kind == PG_MEMCPY_DEVICE_TO_HOST ? cudaMemcpyDeviceToHost
                                                                : cudaMemcpyDeviceToDevice;
    PG_CUDA(cudaMemcpyAsync(dst, src, bytes, k, ctx->stream), "cudaMemcpyAsync");
    return PG_OK;
}

pg_status rt_peek(pg_context* ctx, const char*, const char*, void* dst, const void* src, size_t bytes) {
    PG_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx->stream), "cudaMemcpyAsync");
    ++ctx->counters.host_syncs;
    PG_CUDA(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
    return PG_OK;
}

pg_status rt_memset(pg_context* ctx, void* dst, int32_t value, size_t bytes) {
    PG_CUDA(cudaMemsetAsync(dst, value, bytes, ctx->stream), "cudaMemsetAsync");
    return PG_OK;
}

pg_status rt_synchronize(pg_context* ctx) {
    PG_CUDA(cudaStreamSynchronize(ctx->stream), "cudaStreamSynchronize");
    return PG_OK;
}

pg_status rt_gemm(pg_context* ctx, const pg_matmul_args* a, int32_t dtype) {
    // Row-major out[M, N] is column-major out^T[N, M] = w[N, K] x^T: w is column-major [K, N]
    // (transposed), x is column-major [K, M] with leading dimension ldx.
    const float alpha = 1.0f, beta = a->accumulate != 0 ? 1.0f : 0.0f;
    auto* handle = static_cast<cublasHandle_t>(ctx->blas);
    cublasStatus_t st;
    if (dtype == PG_DTYPE_F32) {
        st = cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, a->n, a->m, a->k, &alpha, static_cast<const float*>(a->w),
                         a->k, static_cast<const float*>(a->x), a->ldx, &beta, static_cast<float*>(a->out), a->ldo);
    } else {
        const cudaDataType_t t = dtype == PG_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
        st = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, a->n, a->m, a->k, &alpha, a->w, t, a->k, a->x, t, a->ldx,
                          &beta, a->out, t, a->ldo, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    }
    if (st != CUBLAS_STATUS_SUCCESS) return fail(PG_ERR_INTERNAL, "matmul: cuBLAS GEMM failed (status %d)", int(st));
    count_launch();
    return PG_OK;
}

pg_status rt_gemm_half_w(pg_context* ctx, const pg_matmul_args* a) {
    void* xh = nullptr;
    PG_TRY(round_x_to_w_dtype(ctx, a, &xh));
    const float alpha = 1.0f, beta = a->accumulate != 0 ? 1.0f : 0.0f;
    const cudaDataType_t t = a->w_dtype == PG_DTYPE_F16 ? CUDA_R_16F : CUDA_R_16BF;
    const cublasStatus_t st =
        cublasGemmEx(static_cast<cublasHandle_t>(ctx->blas), CUBLAS_OP_T, CUBLAS_OP_N, a->n, a->m, a->k, &alpha, a->w, t,
                     a->k, xh, t, a->k, &beta, a->out, CUDA_R_32F, a->ldo, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) return fail(PG_ERR_INTERNAL, "matmul: cuBLAS GemmEx failed (status %d)", int(st));
    count_launch();
    return PG_OK;
}

}  // namespace pg::cuda
