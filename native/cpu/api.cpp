// The one exported symbol: a static table of entry points for ABI version 1.
#include "context.h"
#include "cpu_features.h"
#include "layouts.h"
#include "ops.h"
#include "status.h"

namespace {

// The host (the .NET JIT uses AVX-512/AVX2) may call in with dirty upper vector-register state;
// legacy-SSE code in this library (the portable loops, libm calls between them) then pays a
// transition penalty on every instruction. Clearing the state on entry costs one instruction.
template <auto Fn>
struct Entry;

template <typename... A, pg_status (*Fn)(A...)>
struct Entry<Fn> {
    static pg_status call(A... args) {
        pg::cpu::clear_upper_vector_state();
        return Fn(args...);
    }
};

// Ops run to completion on the calling thread: no waits and no launches to count.
pg_status get_counters(pg_context* ctx, pg_counters* out) {
    if (ctx == nullptr || out == nullptr) return pg::fail(PG_ERR_INVALID_ARGUMENT, "get_counters: ctx and out must not be NULL");
    *out = pg_counters{};
    return PG_OK;
}

// Graphs: ops run to completion as they are called, so there is nothing to capture; callers run
// eagerly (paged.h, pg_graph). A NULL ctx is the caller's bug, answered as for every entry.
pg_status unsupported_graph(pg_context* ctx, const char* op) {
    if (ctx == nullptr) return pg::fail(PG_ERR_INVALID_ARGUMENT, "%s: ctx must not be NULL", op);
    return pg::fail(PG_ERR_UNSUPPORTED, "%s: the cpu backend runs ops as they are called and has no graphs (run eagerly)", op);
}
pg_status begin_capture(pg_context* ctx) { return unsupported_graph(ctx, "begin_capture"); }
pg_status end_capture(pg_context* ctx, pg_graph** out) {
    if (out != nullptr) *out = nullptr;
    return unsupported_graph(ctx, "end_capture");
}
pg_status graph_launch(pg_context* ctx, pg_graph*) { return unsupported_graph(ctx, "graph_launch"); }
pg_status graph_destroy(pg_context* ctx, pg_graph*) { return unsupported_graph(ctx, "graph_destroy"); }

// pg_api's slots in paged.h's order: one left out fails the build (-Wmissing-field-initializers),
// two swapped fail ApiTableTests (docs/adding-an-op.md).
const pg_api kApi = {
    PG_ABI_VERSION,
    uint32_t(sizeof(pg_api)),
    "cpu",
    pg::last_error,
    pg::describe_layouts,
    Entry<pg::cpu::context_create>::call,
    Entry<pg::cpu::context_destroy>::call,
    Entry<pg::cpu::synchronize>::call,
    Entry<pg::cpu::device_name>::call,
    Entry<pg::cpu::alloc>::call,
    Entry<pg::cpu::free>::call,
    Entry<pg::cpu::memcpy>::call,
    Entry<pg::cpu::memset>::call,
    Entry<pg::cpu::embedding>::call,
    Entry<pg::cpu::rmsnorm>::call,
    Entry<pg::cpu::matmul>::call,
    Entry<pg::cpu::rope>::call,
    Entry<pg::cpu::silu_mul>::call,
    Entry<pg::cpu::cache_write>::call,
    Entry<pg::cpu::attention_decode>::call,
    Entry<pg::cpu::attention_prefill>::call,
    Entry<pg::cpu::block_copy>::call,
    Entry<pg::cpu::argmax>::call,
    Entry<pg::cpu::sample>::call,
    Entry<pg::cpu::alloc_host>::call,
    Entry<pg::cpu::free_host>::call,
    Entry<pg::cpu::block_swap>::call,
    Entry<pg::cpu::head_rmsnorm>::call,
    get_counters,
    Entry<pg::cpu::rope_cache_write>::call,
    Entry<pg::cpu::lora>::call,
    begin_capture,
    end_capture,
    graph_launch,
    graph_destroy,
};

}  // namespace

extern "C" PG_EXPORT const pg_api* pg_get_api(uint32_t abi_version) {
    return abi_version == PG_ABI_VERSION ? &kApi : nullptr;
}
