// Graph capture and replay entry points of the cuda and simt backends (paged.h, pg_graph): the
// capture state and its rules; the runtime half is graph_cuda.cu (CUDA stream capture + graph
// instantiation) or ../simt/graph_record.cpp (the emulator's recorded launch list).
#include <cstdio>

#include "backend.h"
#include "checks.h"
#include "status.h"

namespace pg::cuda {

pg_status no_capture(pg_context* ctx, const char* what) {
    if (!ctx->capturing) return PG_OK;
    const pg_status st = fail(PG_ERR_INVALID_ARGUMENT,
                              "%s during graph capture (begin_capture .. end_capture): a captured step must not "
                              "allocate, free, wait for the device or copy to or from the host; stage its inputs "
                              "before begin_capture and run it once eagerly first so scratch is sized",
                              what);
    if (ctx->capture_error[0] == '\0') std::snprintf(ctx->capture_error, sizeof ctx->capture_error, "%s", last_error());
    return st;
}

pg_status begin_capture(pg_context* ctx) {
    PG_TRY(check_ctx("begin_capture", ctx));
    if (ctx->capturing) return fail(PG_ERR_INVALID_ARGUMENT, "begin_capture: the context is already capturing");
    PG_TRY(rt_begin_capture(ctx));
    ctx->capturing = true;
    ctx->capture_error[0] = '\0';
    return PG_OK;
}

pg_status end_capture(pg_context* ctx, pg_graph** out) {
    PG_TRY(check_ctx("end_capture", ctx));
    PG_TRY(check_ptr("end_capture", "out", out));
    *out = nullptr;
    if (!ctx->capturing) return fail(PG_ERR_INVALID_ARGUMENT, "end_capture: the context is not capturing (call begin_capture first)");
    ctx->capturing = false;
    const bool valid = ctx->capture_error[0] == '\0';
    PG_TRY(rt_end_capture(ctx, valid, out));
    if (*out != nullptr) ++ctx->live_graphs;
    if (!valid)
        return fail(PG_ERR_INVALID_ARGUMENT, "end_capture: no graph: a call during the capture was refused: %s",
                    ctx->capture_error);
    return PG_OK;
}

pg_status graph_launch(pg_context* ctx, pg_graph* graph) {
    PG_TRY(check_ctx("graph_launch", ctx));
    PG_TRY(check_ptr("graph_launch", "graph", graph));
    if (ctx->capturing) return fail(PG_ERR_INVALID_ARGUMENT, "graph_launch: the context is capturing (end_capture first)");
    ++ctx->counters.launches;  // the whole graph is one launch (pg_counters)
    ++ctx->counters.graph_replays;
    return rt_graph_launch(ctx, graph);
}

pg_status graph_destroy(pg_context* ctx, pg_graph* graph) {
    PG_TRY(check_ctx("graph_destroy", ctx));
    if (graph == nullptr) return PG_OK;
    PG_TRY(wait_to_release(ctx, "graph_destroy"));
    rt_graph_destroy(graph);
    if (--ctx->live_graphs == 0) free_retired_scratch(ctx);  // the stream is idle: nothing reads it
    return PG_OK;
}

void free_retired_scratch(pg_context* ctx) {
    for (void* p : ctx->retired_scratch) rt_free(p);
    ctx->retired_scratch.clear();
}

}  // namespace pg::cuda
