#include "context.h"

#include <cstdio>
#include <new>
#include <thread>

#include "checks.h"
#include "cpu_features.h"

namespace pg::cpu {

pg_status check_ctx(const char* op, const pg_context* ctx) { return check_ptr(op, "ctx", ctx); }

pg_status context_create(const pg_context_options* options, pg_context** out) {
    PG_TRY(check_ptr("context_create", "out", out));
    *out = nullptr;
    int threads = options != nullptr ? options->num_threads : 0;
    if (threads < 0)
        return fail(PG_ERR_INVALID_ARGUMENT,
                    "context_create: options.num_threads must be >= 0 (got %d)", threads);
    if (threads == 0) threads = int(std::thread::hardware_concurrency());
    if (threads <= 0) threads = 1;
    try {
        *out = new pg_context(threads, use_avx2());
        (*out)->avx512 = use_avx512();
    } catch (const std::bad_alloc&) {
        return fail(PG_ERR_OUT_OF_MEMORY, "context_create: out of memory");
    } catch (const std::exception& e) {
        return fail(PG_ERR_INTERNAL, "context_create: cannot start %d threads: %s", threads,
                    e.what());
    }
    return PG_OK;
}

pg_status context_destroy(pg_context* ctx) {
    PG_TRY(check_ctx("context_destroy", ctx));
    delete ctx;
    return PG_OK;
}

// Every op runs to completion before returning, so there is nothing to wait for.
pg_status synchronize(pg_context* ctx) { return check_ctx("synchronize", ctx); }

pg_status device_name(pg_context* ctx, char* buffer, int32_t buffer_size) {
    PG_TRY(check_ctx("device_name", ctx));
    PG_TRY(check_ptr("device_name", "buffer", buffer));
    PG_TRY(check_positive("device_name", "buffer_size", buffer_size));
    // snprintf truncates to buffer_size - 1 characters and always NUL-terminates.
    std::snprintf(buffer, size_t(buffer_size), "cpu (%s, %d threads)",
                  ctx->avx512 ? "avx512+avx2+fma" : ctx->avx2 ? "avx2+fma" : "generic", ctx->pool.num_threads());
    return PG_OK;
}

}  // namespace pg::cpu
