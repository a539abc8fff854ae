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

namespace {
// The context whose op runs on this thread (a context serves one thread at a time): launches count there.
thread_local pg_context* t_current = nullptr;
}  // namespace

pg_status check_ctx(const char* op, const pg_context* ctx) {
    PG_TRY(check_ptr(op, "ctx", ctx));
    t_current = const_cast<pg_context*>(ctx);
    return PG_OK;
}

void count_launch() {
    if (t_current != nullptr && !t_current->capturing) ++t_current->counters.launches;
}

void* recording() { return t_current != nullptr && t_current->capturing ? t_current->capture : nullptr; }

pg_status rt_memcpy(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind) {
    PG_TRY(rt_memcpy_async(ctx, dst, src, bytes, kind));
    if (kind == PG_MEMCPY_DEVICE_TO_DEVICE) return PG_OK;
    ++ctx->counters.host_syncs;
    return rt_synchronize(ctx);
}

namespace {

const char* const kOpNames[] = {"embedding", "rope", "cache_write", "block_copy", "attention_decode",
                                "attention_prefill", "sample", "lora"};
const char* const kSampleParams[] = {"temperature", "top_k", "top_p", "min_p", "repetition_penalty",
                                     "frequency_penalty/presence_penalty", "min_tokens", "steps",
                                     "num_logprobs", "out_top_ids", "bias_values"};
const char* const kSampleLists[] = {"prompt", "output", "stop", "bias"};

// The message the op's host-side validation gives for the same input (native/common/op_checks.cpp,
// native/cpu/sample_rows.cpp), with where it was found.
pg_status device_error_status(const DeviceError& e) {
    const char* op = e.op >= 0 && e.op <= kOpLora ? kOpNames[e.op] : "?";
    const long long v = static_cast<long long>(e.value), lim = static_cast<long long>(e.limit);
    const char* tail = " (found by the kernel, reported at the next synchronization)";
    switch (e.code) {
        case kDevErrEmbeddingId:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: token_ids[%d] = %lld is outside [0, %lld)%s", op, e.index, v, lim, tail);
        case kDevErrRopePosition:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: positions[%d] = %lld must be >= 0%s", op, e.index, v, tail);
        case kDevErrCacheSlot:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: slot_mapping[%d] = %lld is outside [0, %lld)%s", op, e.index, v, lim, tail);
        case kDevErrCopyPair:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: pairs[%d][%d] = %lld is outside [0, %lld)%s", op, e.index, e.aux, v, lim, tail);
        case kDevErrSeqLen:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: seq_lens[%d] = %lld is outside [%d, %lld]%s", op, e.index, v, e.aux, lim, tail);
        case kDevErrBlockTable:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: block_tables[%d][%d] = %lld is outside [0, %lld)%s", op, e.index, e.aux, v, lim, tail);
        case kDevErrQueryStart:
            return fail(PG_ERR_SHAPE, "%s: query_start[%d] = %lld breaks 0 = query_start[0] < ... < query_start[num_seqs] = %lld%s",
                        op, e.index, v, lim, tail);
        case kDevErrSampleParam:
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: %s[%d] = %g is out of its range (see paged.h)%s", op,
                        e.aux >= 0 && e.aux <= kSpBiasValue ? kSampleParams[e.aux] : "?", e.index, e.fvalue, tail);
        case kDevErrSampleList:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: %s id %lld (entry %d) is outside [0, %lld)%s", op,
                        e.aux >= 0 && e.aux <= 3 ? kSampleLists[e.aux] : "?", v, e.index, lim, tail);
        case kDevErrSampleOffsets:
            return fail(PG_ERR_SHAPE, "%s: %s_offsets must start at 0 and not decrease (row %d)%s", op,
                        e.aux >= 0 && e.aux <= 3 ? kSampleLists[e.aux] : "?", e.index, tail);
        case kDevErrLoraSlot:
            return fail(PG_ERR_OUT_OF_RANGE, "%s: token_slots[%d] = %lld is outside [-1, %lld)%s", op, e.index, v, lim, tail);
        default:
            return fail(PG_ERR_INTERNAL, "device error word holds unknown code %d", int(e.code));
    }
}

}  // namespace

pg_status wait_to_release(pg_context* ctx, const char* what) {
    PG_TRY(no_capture(ctx, what));
    ++ctx->counters.host_syncs;
    return rt_synchronize(ctx);
}

pg_status wait_and_check(pg_context* ctx) {
    PG_TRY(rt_memcpy_async(ctx, ctx->host_error, ctx->dev_error, sizeof(DeviceError), PG_MEMCPY_DEVICE_TO_HOST));
    ++ctx->counters.host_syncs;
    PG_TRY(rt_synchronize(ctx));
    if (ctx->host_error->code == kDevErrNone) return PG_OK;
    const DeviceError e = *ctx->host_error;
    ctx->host_error->code = kDevErrNone;
    PG_TRY(rt_memset(ctx, ctx->dev_error, 0, sizeof(DeviceError)));
    return device_error_status(e);
}

pg_status scratch(pg_context* ctx, size_t bytes, void** p) {
    if (bytes > ctx->scratch_bytes) {
        PG_TRY(no_capture(ctx, "scratch growth (an op needs more scratch than its eager run did)"));
        if (ctx->scratch != nullptr && ctx->live_graphs > 0) {
            ctx->retired_scratch.push_back(ctx->scratch);  // a graph may name it
            ctx->scratch = nullptr;
            ctx->scratch_bytes = 0;
        } else if (ctx->scratch != nullptr) {
            ++ctx->counters.host_syncs;
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
    pg_status st = rt_context_init(ctx, device);
    if (st != PG_OK) {
        delete ctx;
        return st;
    }
    void* dev = nullptr;
    void* host = nullptr;
    st = rt_malloc(&dev, sizeof(DeviceError));
    if (st == PG_OK) st = rt_malloc_host(&host, sizeof(DeviceError));
    if (st == PG_OK) st = rt_memset(ctx, dev, 0, sizeof(DeviceError));
    if (st == PG_OK) st = rt_synchronize(ctx);
    if (st != PG_OK) {
        if (dev != nullptr) rt_free(dev);
        if (host != nullptr) rt_free_host(host);
        rt_context_release(ctx);
        delete ctx;
        return st;
    }
    ctx->dev_error = static_cast<DeviceError*>(dev);
    ctx->host_error = static_cast<DeviceError*>(host);
    *ctx->host_error = DeviceError{};
    *out = ctx;
    return PG_OK;
}

pg_status context_destroy(pg_context* ctx) {
    PG_TRY(check_ctx("context_destroy", ctx));
    if (ctx->capturing) {  // abandoned capture: stop it, keep nothing
        pg_graph* none = nullptr;
        ctx->capturing = false;
        rt_end_capture(ctx, false, &none);
    }
    if (ctx->scratch != nullptr) rt_free(ctx->scratch);
    rt_synchronize(ctx);
    free_retired_scratch(ctx);
    if (ctx->dev_error != nullptr) rt_free(ctx->dev_error);
    if (ctx->host_error != nullptr) rt_free_host(ctx->host_error);
    t_current = nullptr;
    rt_context_release(ctx);
    rt_graph_release(ctx);
    delete ctx;
    return PG_OK;
}

pg_status synchronize(pg_context* ctx) {
    PG_TRY(check_ctx("synchronize", ctx));
    PG_TRY(no_capture(ctx, "synchronize"));
    return wait_and_check(ctx);
}

pg_status get_counters(pg_context* ctx, pg_counters* out) {
    PG_TRY(check_ctx("get_counters", ctx));
    PG_TRY(check_ptr("get_counters", "out", out));
    *out = ctx->counters;
    return PG_OK;
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
    PG_TRY(no_capture(ctx, "alloc"));
    return rt_malloc(out, bytes);
}

pg_status free_(pg_context* ctx, void* ptr) {
    PG_TRY(check_ctx("free", ctx));
    if (ptr == nullptr) return PG_OK;
    PG_TRY(wait_to_release(ctx, "free"));
    return rt_free(ptr);
}

pg_status alloc_host(pg_context* ctx, size_t bytes, void** out) {
    PG_TRY(check_ctx("alloc_host", ctx));
    PG_TRY(check_ptr("alloc_host", "out", out));
    *out = nullptr;
    if (bytes == 0) return fail(PG_ERR_INVALID_ARGUMENT, "alloc_host: bytes must be > 0 (got 0)");
    PG_TRY(no_capture(ctx, "alloc_host"));
    PG_TRY(rt_malloc_host(out, bytes));
    ctx->pinned.emplace_back(reinterpret_cast<uintptr_t>(*out), bytes);
    return PG_OK;
}

// Whether [p, p + bytes) lies in one alloc_host allocation of this context.
bool is_pinned(const pg_context* ctx, const void* p, size_t bytes) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    for (const auto& [base, size] : ctx->pinned)
        if (a >= base && a + bytes <= base + size) return true;
    return false;
}

pg_status free_host(pg_context* ctx, void* ptr) {
    PG_TRY(check_ctx("free_host", ctx));
    if (ptr == nullptr) return PG_OK;
    PG_TRY(wait_to_release(ctx, "free_host"));
    for (size_t i = 0; i < ctx->pinned.size(); ++i)
        if (ctx->pinned[i].first == reinterpret_cast<uintptr_t>(ptr)) {
            ctx->pinned.erase(ctx->pinned.begin() + std::ptrdiff_t(i));
            break;
        }
    return rt_free_host(ptr);
}

pg_status memcpy_(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind) {
    PG_TRY(check_ctx("memcpy", ctx));
    if (kind < PG_MEMCPY_HOST_TO_DEVICE || kind > PG_MEMCPY_DEVICE_TO_DEVICE)
        return fail(PG_ERR_INVALID_ARGUMENT, "memcpy: kind = %d is not a pg_memcpy_kind", kind);
    if (bytes == 0) return PG_OK;
    PG_TRY(check_ptr("memcpy", "dst", dst));
    PG_TRY(check_ptr("memcpy", "src", src));
    switch (kind) {
        case PG_MEMCPY_HOST_TO_DEVICE:
            PG_TRY(no_capture(ctx, "memcpy host-to-device"));
            ++ctx->counters.h2d_copies;
            // From page-locked memory the copy is asynchronous; pageable memory must be waited for.
            if (is_pinned(ctx, src, bytes)) return rt_memcpy_async(ctx, dst, src, bytes, kind);
            return rt_memcpy(ctx, dst, src, bytes, kind);
        case PG_MEMCPY_DEVICE_TO_HOST:
            PG_TRY(no_capture(ctx, "memcpy device-to-host"));
            ++ctx->counters.d2h_copies;
            PG_TRY(rt_memcpy_async(ctx, dst, src, bytes, kind));
            return wait_and_check(ctx);  // the step's one wait: device-side errors surface here
        default:
            return rt_memcpy_async(ctx, dst, src, bytes, kind);
    }
}

pg_status memset_(pg_context* ctx, void* dst, int32_t value, size_t bytes) {
    PG_TRY(check_ctx("memset", ctx));
    if (bytes == 0) return PG_OK;
    PG_TRY(check_ptr("memset", "dst", dst));
    return rt_memset(ctx, dst, value, bytes);
}

// pg_api's slots in paged.h's order: one left out fails the build (-Wmissing-field-initializers),
// two swapped fail ApiTableTests (docs/adding-an-op.md).
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
    get_counters,
    pg::cuda::rope_cache_write,
    pg::cuda::lora,
    pg::cuda::begin_capture,
    pg::cuda::end_capture,
    pg::cuda::graph_launch,
    pg::cuda::graph_destroy,
};

}  // namespace
}  // namespace pg::cuda

extern "C" PG_EXPORT const pg_api* pg_get_api(uint32_t abi_version) {
    return abi_version == PG_ABI_VERSION ? &pg::cuda::kApi : nullptr;
}
