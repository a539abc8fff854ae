// Runtime seam of libpaged_simt.so: device memory is host memory (poisoned with NaN bytes when
// allocated), the stream is the calling thread (every launch runs to completion), GEMM is the CPU
// backend's kernel.
#include <cstdio>
#include <cstring>

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

pg_status rt_memcpy(pg_context*, void* dst, const void* src, size_t bytes, int32_t) {
    std::memmove(dst, src, bytes);
    return PG_OK;
}

pg_status rt_memset(pg_context*, void* dst, int32_t value, size_t bytes) {
    std::memset(dst, value, bytes);
    return PG_OK;
}

pg_status rt_synchronize(pg_context*) { return PG_OK; }

pg_status rt_gemm_f32(pg_context* ctx, const pg_matmul_args* a) {
    const pg::cpu::GemmArgs g{static_cast<const float*>(a->x), a->ldx, static_cast<const float*>(a->w),
                              static_cast<float*>(a->out), a->ldo, a->m, a->k, a->accumulate != 0};
    if (ctx->avx2) pg::cpu::gemm_columns_avx2(g, 0, a->n);
    else pg::cpu::gemm_columns_generic(g, 0, a->n);
    return PG_OK;
}

}  // namespace pg::cuda
