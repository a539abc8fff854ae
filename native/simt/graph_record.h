// The emulator's stand-in for CUDA stream capture: while a context captures (begin_capture), the
// launch helper, the CPU GEMM and device-side copies and memsets append a step here instead of
// running; graph_launch runs the steps in order (graph_record.cpp). Each kernel step keeps a copy
// of the launch's by-value parameters, as a CUDA graph's kernel node does.
#pragma once
#include <functional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "paged.h"
#include "simt.h"
#include "status.h"

namespace pg_simt {

struct LaunchList {
    std::vector<std::function<pg_status()>> steps;
};

inline pg_status record_step(void* list, std::function<pg_status()> step) {
    static_cast<LaunchList*>(list)->steps.push_back(std::move(step));
    return PG_OK;
}

template <class... P, class... A>
pg_status record_launch(void* list, const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                        A&&... args) {
    std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    // A host pointer is reported at capture, naming the argument, as at a launch; replay checks again
    // (a buffer freed since the capture fails there, where a GPU would fault).
    const std::string bad = check_kernel_args(name, params, std::index_sequence_for<P...>{});
    if (!bad.empty()) return pg::fail(PG_ERR_INTERNAL, "%s", bad.c_str());
    return record_step(list, [=]() -> pg_status {
        auto copy = params;  // each replay starts from the captured values
        const std::string err = launch_params(name, kernel, grid, block, smem, copy);
        return err.empty() ? PG_OK : pg::fail(PG_ERR_INTERNAL, "%s", err.c_str());
    });
}

}  // namespace pg_simt
