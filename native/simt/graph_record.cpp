// Graph capture and replay in the emulator (the runtime half of ../cuda/graph.cu): a graph is the
// list of steps recorded while capturing (graph_record.h); replay runs them in order on the calling
// thread, as every emulated launch runs.
#include <memory>
#include <string>

#include "../cuda/backend.h"
#include "graph_record.h"
#include "status.h"

struct pg_graph {
    pg_simt::LaunchList list;
};

namespace pg::cuda {

pg_status rt_begin_capture(pg_context* ctx) {
    ctx->capture = new pg_simt::LaunchList();
    return PG_OK;
}

pg_status rt_end_capture(pg_context* ctx, bool keep, pg_graph** out) {
    std::unique_ptr<pg_simt::LaunchList> list(static_cast<pg_simt::LaunchList*>(ctx->capture));
    ctx->capture = nullptr;
    if (keep) *out = new pg_graph{std::move(*list)};
    return PG_OK;
}

pg_status rt_graph_launch(pg_context*, pg_graph* graph) {
    const size_t n = graph->list.steps.size();
    for (size_t i = 0; i < n; ++i) {
        const pg_status st = graph->list.steps[i]();
        if (st != PG_OK) {
            const std::string why = pg::last_error();
            return fail(st, "graph_launch: step %zu of %zu: %s", i + 1, n, why.c_str());
        }
    }
    return PG_OK;
}

void rt_graph_destroy(pg_graph* graph) { delete graph; }

void rt_graph_release(pg_context* ctx) {
    delete static_cast<pg_simt::LaunchList*>(ctx->capture);
    ctx->capture = nullptr;
}

}  // namespace pg::cuda
