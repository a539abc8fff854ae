// Device memory on the CPU backend is host memory, 64-byte aligned (cache line, AVX-512 friendly).
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

namespace {

// alloc and alloc_host (host memory is device memory here) differ only in the name errors give.
pg_status allocate(const char* op, pg_context* ctx, size_t bytes, void** out) {
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_ptr(op, "out", out));
    *out = nullptr;
    if (bytes == 0) return fail(PG_ERR_INVALID_ARGUMENT, "%s: bytes must be > 0 (got 0)", op);
    // Buffers of 2 MB and more (the KV cache above all) are 2 MB aligned and asked to be backed by
    // transparent huge pages (THP is often in "madvise" mode): attention reads each block's K/V rows
    // as 4 KB islands spread over the cache, one TLB miss each with 4 KB pages.
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t align = bytes >= kHuge ? kHuge : 64;
    void* p = nullptr;
    if (posix_memalign(&p, align, bytes) != 0 || p == nullptr)
        return fail(PG_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", op, bytes);
#ifdef MADV_HUGEPAGE
    if (align == kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
    *out = p;
    return PG_OK;
}

pg_status release(const char* op, pg_context* ctx, void* ptr) {
    PG_TRY(check_ctx(op, ctx));
    std::free(ptr);  // free(NULL) is a no-op
    return PG_OK;
}

}  // namespace

pg_status alloc(pg_context* ctx, size_t bytes, void** out) { return allocate("alloc", ctx, bytes, out); }
pg_status free(pg_context* ctx, void* ptr) { return release("free", ctx, ptr); }
pg_status alloc_host(pg_context* ctx, size_t bytes, void** out) { return allocate("alloc_host", ctx, bytes, out); }
pg_status free_host(pg_context* ctx, void* ptr) { return release("free_host", ctx, ptr); }

pg_status memcpy(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind) {
    PG_TRY(check_ctx("memcpy", ctx));
    if (kind < PG_MEMCPY_HOST_TO_DEVICE || kind > PG_MEMCPY_DEVICE_TO_DEVICE)
        return fail(PG_ERR_INVALID_ARGUMENT, "memcpy: kind = %d is not a pg_memcpy_kind", kind);
    if (bytes == 0) return PG_OK;
    PG_TRY(check_ptr("memcpy", "dst", dst));
    PG_TRY(check_ptr("memcpy", "src", src));
    std::memmove(dst, src, bytes);  // memmove: overlapping device-to-device copies stay defined
    return PG_OK;
}

pg_status memset(pg_context* ctx, void* dst, int32_t value, size_t bytes) {
    PG_TRY(check_ctx("memset", ctx));
    if (bytes == 0) return PG_OK;
    PG_TRY(check_ptr("memset", "dst", dst));
    std::memset(dst, value, bytes);
    return PG_OK;
}

}  // namespace pg::cpu
