// Runtime seam of libpaged_simt.so: device memory is host memory (poisoned with NaN bytes when
// allocated), the stream is the calling thread (every launch runs to completion), GEMM is the CPU
// backend's kernel.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../cpu/cpu_features.h"
#include "../cpu/gemm.h"
#include "../cuda/backend.h"
#include "status.h"

namespace pg::cuda {

pg_status rt_context_init(pg_context* ctx, int device_index) {
    if (device_index != 0)
        return fail(PG_ERR_UNSUPPORTED, "context_create: the simt emulator has one device (0), not %d",
                    device_index);
    ctx->device = 0;
    const char* v = std::getenv("PAGED_SIMT_HOST_VALIDATION");
    ctx->validate_on_host = v == nullptr || std::strcmp(v, "0") != 0;
    ctx->avx2 = pg::cpu::use_avx2();
    std::snprintf(ctx->name, sizeof ctx->name,
                  "simt (CUDA kernels on the SIMT emulator, CPU GEMM %s)", ctx->avx2 ? "avx2+fma" : "generic");
    return PG_OK;
}

void rt_context_release(pg_context*) {}

pg_status rt_malloc(void** p, size_t bytes) {
    *p = pg_simt::device_alloc(bytes);
    if (*p == nullptr) return fail(PG_ERR_OUT_OF_MEMORY, "alloc: cannot allocate %zu bytes", bytes);
    return PG_OK;
}

pg_status rt_free(void* p) {
    pg_simt::device_free(p);
    return PG_OK;
}

pg_status rt_malloc_host(void** p, size_t bytes) {
    *p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (*p == nullptr) return fail(PG_ERR_OUT_OF_MEMORY, "alloc_host: cannot allocate %zu bytes", bytes);
    return PG_OK;
}

pg_status rt_free_host(void* p) {
    std::free(p);
    return PG_OK;
}

namespace {
// As CUDA would: each side of a copy must lie in the address space its kind names.
pg_status check_side(const char* what, const char* side, const void* p, size_t bytes, bool device) {
    if (pg_simt::is_device(p, bytes) == device) return PG_OK;
    return fail(PG_ERR_INVALID_ARGUMENT,
                device ? "%s: %s %p (%zu bytes) is not device memory (not inside a live allocation from alloc): "
                         "CUDA reports an invalid argument"
                       : "%s: %s %p (%zu bytes) is device memory where host memory is expected: "
                         "CUDA reports an invalid argument",
                what, side, p, bytes);
}
}  // namespace

pg_status rt_memcpy_async(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind) {
    const char* what = kind == PG_MEMCPY_HOST_TO_DEVICE   ? "memcpy host-to-device"
                       : kind == PG_MEMCPY_DEVICE_TO_HOST ? "memcpy device-to-host"
                                                          : "memcpy device-to-device";
    PG_TRY(check_side(what, "dst", dst, bytes, kind != PG_MEMCPY_DEVICE_TO_HOST));
    PG_TRY(check_side(what, "src", src, bytes, kind != PG_MEMCPY_HOST_TO_DEVICE));
    if (ctx->capturing)  // only device-to-device reaches here while capturing (graph.cu refuses the others)
        return pg_simt::record_step(ctx->capture, [=] {
            PG_TRY(check_side(what, "dst", dst, bytes, true));
            PG_TRY(check_side(what, "src", src, bytes, true));
            std::memmove(dst, src, bytes);
            return PG_OK;
        });
    std::memmove(dst, src, bytes);
    return PG_OK;
}

pg_status rt_peek(pg_context*, const char* op, const char* name, void* dst, const void* src, size_t bytes) {
    if (!pg_simt::is_device(src, bytes))
        return fail(PG_ERR_INVALID_ARGUMENT,
                    "%s: %s %p (%zu bytes) is not device memory (not inside a live allocation from alloc); "
                    "a GPU would fault on it",
                    op, name, src, bytes);
    std::memcpy(dst, src, bytes);
    return PG_OK;
}

pg_status rt_memset(pg_context* ctx, void* dst, int32_t value, size_t bytes) {
    PG_TRY(check_side("memset", "dst", dst, bytes, true));
    if (ctx->capturing)
        return pg_simt::record_step(ctx->capture, [=] {
            PG_TRY(check_side("memset", "dst", dst, bytes, true));
            std::memset(dst, value, bytes);
            return PG_OK;
        });
    std::memset(dst, value, bytes);
    return PG_OK;
}

pg_status rt_synchronize(pg_context*) { return PG_OK; }

namespace {

float widen(int32_t dtype, const void* base, int64_t i) {
    const uint16_t h = static_cast<const uint16_t*>(base)[i];
    return dtype == PG_DTYPE_F16 ? __half2float(__half{h}) : __bfloat162float(__nv_bfloat16{h});
}

// Rows x cols of a row-major matrix with leading dimension ld, widened to a dense float matrix.
std::vector<float> widen_matrix(int32_t dtype, const void* p, int64_t rows, int64_t cols, int64_t ld) {
    std::vector<float> out(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) out[size_t(r * cols + c)] = widen(dtype, p, r * ld + c);
    return out;
}

pg_status check_gemm(const pg_matmul_args* a) {
    PG_TRY(check_side("matmul", "x", a->x, 1, true));
    PG_TRY(check_side("matmul", "w", a->w, 1, true));
    return check_side("matmul", "out", a->out, 1, true);
}

pg_status run_gemm(const pg_context* ctx, const pg_matmul_args* a, int32_t dtype) {
    auto run = [&](const float* x, int64_t ldx, const float* w, float* out, int64_t ldo) {
        // The bias is not the seam's business: matmul.cu adds it with its own kernel first.
        const pg::cpu::GemmArgs g{x, ldx, w, out, ldo, a->m, a->k, a->accumulate != 0, nullptr, PG_DTYPE_F32};
        if (ctx->avx2) pg::cpu::gemm_columns_avx2(g, 0, a->n);
        else pg::cpu::gemm_columns_generic(g, 0, a->n);
    };
    if (dtype == PG_DTYPE_F32) {
        run(static_cast<const float*>(a->x), a->ldx, static_cast<const float*>(a->w), static_cast<float*>(a->out), a->ldo);
        return PG_OK;
    }
    // fp16 / bf16: widen, multiply in fp32, round the result once (as cuBLAS with fp32 compute).
    const auto x = widen_matrix(dtype, a->x, a->m, a->k, a->ldx);
    const auto w = widen_matrix(dtype, a->w, a->n, a->k, a->k);
    auto out = a->accumulate != 0 ? widen_matrix(dtype, a->out, a->m, a->n, a->ldo)
                                   : std::vector<float>(size_t(int64_t(a->m) * a->n));
    run(x.data(), a->k, w.data(), out.data(), a->n);
    auto* o = static_cast<uint16_t*>(a->out);
    for (int64_t r = 0; r < a->m; ++r)
        for (int64_t c = 0; c < a->n; ++c) {
            const float v = out[size_t(r * a->n + c)];
            o[r * a->ldo + c] = dtype == PG_DTYPE_F16 ? __float2half(v).x : __float2bfloat16(v).x;
        }
    return PG_OK;
}

pg_status run_gemm_half_w(const pg_context* ctx, const pg_matmul_args* a) {
    const pg::cpu::GemmArgs g{static_cast<const float*>(a->x), a->ldx, a->w, static_cast<float*>(a->out), a->ldo,
                              a->m, a->k, a->accumulate != 0, nullptr, a->w_dtype};
    if (ctx->avx2) pg::cpu::gemm_columns_avx2(g, 0, a->n);
    else pg::cpu::gemm_columns_generic(g, 0, a->n);
    return PG_OK;
}

}  // namespace

pg_status rt_gemm(pg_context* ctx, const pg_matmul_args* a, int32_t dtype) {
    PG_TRY(check_gemm(a));
    if (ctx->capturing)  // a graph step, as cuBLAS's kernels are nodes of a CUDA graph
        return pg_simt::record_step(ctx->capture, [ctx, args = *a, dtype] {
            PG_TRY(check_gemm(&args));  // the buffers may have been freed since the capture
            return run_gemm(ctx, &args, dtype);
        });
    count_launch();
    return run_gemm(ctx, a, dtype);
}

// The CPU GEMM reads f16/bf16 w in place (widened in registers, fp32 sums): what cuBLAS's GemmEx computes,
// except that it does not round x to w's type first (round_x_to_w_dtype is checked by the kernel grid).
pg_status rt_gemm_half_w(pg_context* ctx, const pg_matmul_args* a) {
    PG_TRY(check_gemm(a));
    if (ctx->capturing)
        return pg_simt::record_step(ctx->capture, [ctx, args = *a] {
            PG_TRY(check_gemm(&args));
            return run_gemm_half_w(ctx, &args);
        });
    count_launch();
    return run_gemm_half_w(ctx, a);
}

}  // namespace pg::cuda
