// The exported table of the cuda / simt backend (PG_BACKEND_NAME), context and memory entry points.
#include <cstdio>
#include <new>

#include "backend.h"
#include "checks.h"
#include "layouts.h"
#include "status.h"

#ifndef PG_BACKEND_NAME
#error "define PG_BACKEND_NAME (\"cuda\" or \"simt\")"
#endif

namespace pg::cuda {

pg_status check_ctx(const char* op, const pg_context* ctx) { return check_ptr(op, "ctx", ctx); }

pg_status scratch(pg_context* ctx, size_t bytes, void** p) {
    if (bytes > ctx->scratch_bytes) {
        if (ctx->scratch != nullptr) {
            PG_TRY(rt_synchronize(ctx));
            PG_TRY(rt_free(ctx->scratch));
            ctx->scratch = nullptr;
            ctx->scratch_bytes = 0;
        }
        const size_t grown = bytes + bytes / 2;
        PG_TRY(rt_malloc(&ctx->scratch, grown));
        ctx->scratch_bytes = grown;
    }
    *p = ctx->scratch;
    return PG_OK;
}

namespace {

pg_status context_create(const pg_context_options* options, pg_context** out) {
    PG_TRY(check_ptr("context_create", "out", out));
    *out = nullptr;
    const int device = options != nullptr ? options->device_index : 0;
    if (device < 0)
        return fail(PG_ERR_INVALID_ARGUMENT,
                    "context_create: options.device_index must be >= 0 (got %d)", device);
    pg_context* ctx = new (std::nothrow) pg_context();
    if (ctx == nullptr) return fail(PG_ERR_OUT_OF_MEMORY, "context_create: out of memory");
    const pg_status st = rt_context_init(ctx, device);
    if (st != PG_OK) {
        delete ctx;
        return st;
    }
    *out = ctx;
    return PG_OK;
}

pg_status context_destroy(pg_context* ctx) {
    PG_TRY(check_ctx("context_destroy", ctx));
    if (ctx->scratch != nullptr) rt_free(ctx->scratch);
    rt_context_release(ctx);
    delete ctx;
    return PG_OK;
}

pg_status synchronize(pg_context* ctx) {
    PG_TRY(check_ctx("synchronize", ctx));
    return rt_synchronize(ctx);
}

pg_status device_name(pg_context* ctx, char* buffer, int32_t buffer_size) {
    PG_TRY(check_ctx("device_name", ctx));
    PG_TRY(check_ptr("device_name", "buffer", buffer));
    PG_TRY(check_positive("device_name", "buffer_size", buffer_size));
    std::snprintf(buffer, size_t(buffer_size), "%s", ctx->name);
    return PG_OK;
}

pg_status alloc(pg_context* ctx, size_t bytes, void** out) {
    PG_TRY(check_ctx("alloc", ctx));
    PG_TRY(check_ptr("alloc", "out", out));
    *out = nullptr;
    if (bytes == 0) return fail(PG_ERR_INVALID_ARGUMENT, "alloc: bytes must be > 0 (got 0)");
    return rt_malloc(out, bytes);
}

pg_status free_(pg_context* ctx, void* ptr) {
    PG_TRY(check_ctx("free", ctx));
    if (ptr == nullptr) return PG_OK;
    PG_TRY(rt_synchronize(ctx));  // the stream may still use it
    return rt_free(ptr);
}

pg_status alloc_host(pg_context* ctx, size_t bytes, void** out) {
    PG_TRY(check_ctx("alloc_host", ctx));
    PG_TRY(check_ptr("alloc_host", "out", out));
    *out = nullptr;
    if (bytes == 0) return fail(PG_ERR_INVALID_ARGUMENT, "alloc_host: bytes must be > 0 (got 0)");
    return rt_malloc_host(out, bytes);
}

pg_status free_host(pg_context* ctx, void* ptr) {
    PG_TRY(check_ctx("free_host", ctx));
    if (ptr == nullptr) return PG_OK;
    PG_TRY(rt_synchronize(ctx));  // a copy on the stream may still read it
    return rt_free_host(ptr);
}

pg_status memcpy_(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind) {
    PG_TRY(check_ctx("memcpy", ctx));
    if (kind < PG_MEMCPY_HOST_TO_DEVICE || kind > PG_MEMCPY_DEVICE_TO_DEVICE)
        return fail(PG_ERR_INVALID_ARGUMENT, "memcpy: kind = %d is not a pg_memcpy_kind", kind);
    if (bytes == 0) return PG_OK;
    PG_TRY(check_ptr("memcpy", "dst", dst));
    PG_TRY(check_ptr("memcpy", "src", src));
    return rt_memcpy(ctx, dst, src, bytes, kind);
}

pg_status memset_(pg_context* ctx, void* dst, int32_t value, size_t bytes) {
    PG_TRY(check_ctx("memset", ctx));
    if (bytes == 0) return PG_OK;
    PG_TRY(check_ptr("memset", "dst", dst));
    return rt_memset(ctx, dst, value, bytes);
}

const pg_api kApi = {
    PG_ABI_VERSION,
    uint32_t(sizeof(pg_api)),
    PG_BACKEND_NAME,
    pg::last_error,
    pg::describe_layouts,
    context_create,
    context_destroy,
    synchronize,
    device_name,
    alloc,
    free_,
    memcpy_,
    memset_,
    pg::cuda::embedding,
    pg::cuda::rmsnorm,
    pg::cuda::matmul,
    pg::cuda::rope,
    pg::cuda::silu_mul,
    pg::cuda::cache_write,
    pg::cuda::attention_decode,
    pg::cuda::attention_prefill,
    pg::cuda::block_copy,
    pg::cuda::argmax,
    pg::cuda::sample,
    alloc_host,
    free_host,
    pg::cuda::block_swap,
    pg::cuda::head_rmsnorm,
};

}  // namespace
}  // namespace pg::cuda

extern "C" PG_EXPORT const pg_api* pg_get_api(uint32_t abi_version) {
    return abi_version == PG_ABI_VERSION ? &pg::cuda::kApi : nullptr;
}
