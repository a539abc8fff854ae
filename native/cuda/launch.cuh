// The one place where kernels are launched and dynamic shared memory is declared: both spellings
// differ between nvcc and the SIMT emulator, so every kernel goes through PG_DYNAMIC_SHARED and
// pg::cuda::launch (a test lints the tree for `<<<` and `extern __shared__` anywhere else).
#pragma once
#include <cstddef>
#include <utility>

#include "paged.h"
#include "status.h"

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
// Dynamic shared memory of the launch, as T*. 16-byte aligned.
#define PG_DYNAMIC_SHARED(T, name)                                      \
    extern __shared__ __align__(16) unsigned char pg_dynamic_smem_[]; \
    T* name = reinterpret_cast<T*>(pg_dynamic_smem_)
// A static shared array: PG_SHARED(float, partial, [32]). The emulator poisons it per block.
#define PG_SHARED(T, name, dims) __shared__ __align__(16) T name dims
// A global load the emulator's coalescing report traces (plain load on the GPU).
#define PG_LDG(p) (*(p))
#else
#include "graph_record.h"
#include "simt.h"
#define PG_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::pg_simt::g_block.dynamic_shared)
#define PG_SHARED(T, name, dims) \
    alignas(16) static T name dims; \
    ::pg_simt::touch_shared(name, sizeof(name))
#define PG_LDG(p) (::pg_simt::ldg((p), PG_SIMT_LOC))
#endif

namespace pg::cuda {

#ifdef __CUDACC__
using Stream = cudaStream_t;
#else
using Stream = void*;
#endif

// Counts one launch on the context whose op is running on this thread (pg_counters.launches);
// not while it captures a graph (a replay counts once, in graph_launch).
void count_launch();
// The launch list the context whose op runs on this thread is recording (begin_capture), else
// NULL. Only the emulator records by hand; under nvcc the stream capture does it.
void* recording();

// launch("name", kernel<...>, grid, block, dynamic_smem_bytes, stream, args...): <<<>>> under nvcc,
// the emulator otherwise. Returns PG_INTERNAL with the diagnostic when the launch fails.
template <class... P, class... A>
pg_status launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                 Stream stream, A&&... args) {
    count_launch();
#ifdef __CUDACC__
    if (smem > 48 * 1024) {
        const cudaError_t e =
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
        if (e != cudaSuccess)
            return fail(PG_ERR_INTERNAL, "cuda: %s: cannot use %zu bytes of shared memory: %s", name,
                        smem, cudaGetErrorString(e));
    }
    kernel<<<grid, block, smem, stream>>>(std::forward<A>(args)...);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return fail(PG_ERR_INTERNAL, "cuda: launch of %s failed: %s", name, cudaGetErrorString(e));
    return PG_OK;
#else
    (void)stream;
    if (void* list = recording())  // capturing: record the launch, run it at each graph_launch
        return pg_simt::record_launch(list, name, kernel, grid, block, smem, std::forward<A>(args)...);
    const std::string err = pg_simt::launch(name, kernel, grid, block, smem, std::forward<A>(args)...);
    if (!err.empty()) return fail(PG_ERR_INTERNAL, "%s", err.c_str());
    return PG_OK;
#endif
}

}  // namespace pg::cuda
