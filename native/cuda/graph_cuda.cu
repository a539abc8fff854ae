// The runtime half of graph capture on a GPU (graph.cu has the entry points): CUDA stream capture
// into a cudaGraph_t, instantiated once and launched with cudaGraphLaunch. nvcc build only.
#include <cublas_v2.h>

#include "backend.h"
#include "status.h"

struct pg_graph {
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
};

namespace pg::cuda {

namespace {
// cuBLAS must not allocate inside a capture: it gets one fixed workspace before the first capture
// (PyTorch's CUBLAS_WORKSPACE_CONFIG default on Hopper, :4096:8, is 32 MiB as well).
constexpr size_t kBlasWorkspaceBytes = size_t(32) << 20;

pg_status cuda_fail(const char* what, cudaError_t e) {
    return fail(e == cudaErrorMemoryAllocation ? PG_ERR_OUT_OF_MEMORY : PG_ERR_INTERNAL, "cuda: %s: %s", what,
                cudaGetErrorString(e));
}
}  // namespace

pg_status rt_begin_capture(pg_context* ctx) {
    if (ctx->blas_workspace == nullptr) {
        void* ws = nullptr;
        PG_TRY(rt_malloc(&ws, kBlasWorkspaceBytes));
        if (cublasSetWorkspace(static_cast<cublasHandle_t>(ctx->blas), ws, kBlasWorkspaceBytes) != CUBLAS_STATUS_SUCCESS) {
            rt_free(ws);
            return fail(PG_ERR_INTERNAL, "begin_capture: cublasSetWorkspace failed");
        }
        ctx->blas_workspace = ws;
    }
    // Thread-local mode: an unsafe call (cudaMalloc, a synchronous copy) from this thread invalidates
    // the capture; no_capture refuses ours first with a message naming the call.
    const cudaError_t e = cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) return cuda_fail("begin_capture: cudaStreamBeginCapture", e);
    return PG_OK;
}

pg_status rt_end_capture(pg_context* ctx, bool keep, pg_graph** out) {
    cudaGraph_t graph = nullptr;
    const cudaError_t e = cudaStreamEndCapture(ctx->stream, &graph);
    if (!keep || e != cudaSuccess) {
        if (graph != nullptr) cudaGraphDestroy(graph);
        return keep ? cuda_fail("end_capture: cudaStreamEndCapture", e) : PG_OK;
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t ei = cudaGraphInstantiateWithFlags(&exec, graph, 0);
    if (ei != cudaSuccess) {
        cudaGraphDestroy(graph);
        return cuda_fail("end_capture: cudaGraphInstantiateWithFlags", ei);
    }
    *out = new pg_graph{graph, exec};
    return PG_OK;
}

pg_status rt_graph_launch(pg_context* ctx, pg_graph* graph) {
    const cudaError_t e = cudaGraphLaunch(graph->exec, ctx->stream);
    if (e != cudaSuccess) return cuda_fail("graph_launch: cudaGraphLaunch", e);
    return PG_OK;
}

void rt_graph_destroy(pg_graph* graph) {
    cudaGraphExecDestroy(graph->exec);
    cudaGraphDestroy(graph->graph);
    delete graph;
}

void rt_graph_release(pg_context* ctx) {
    if (ctx->blas_workspace != nullptr) cudaFree(ctx->blas_workspace);
    ctx->blas_workspace = nullptr;
}

}  // namespace pg::cuda
