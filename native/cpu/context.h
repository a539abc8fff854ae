// The CPU context: a thread pool plus the kernel flavour chosen when it was created.
#pragma once
#include <cstdint>

#include "paged.h"
#include "thread_pool.h"

struct pg_context {
    explicit pg_context(int threads, bool avx2_) : pool(threads), avx2(avx2_) {}
    pg::cpu::ThreadPool pool;
    bool avx2;  // use the AVX2/FMA kernels (decided once, at context_create)
    bool avx512 = false;  // use the AVX-512 kernels where there are some (implies avx2)
};

namespace pg::cpu {

// Below this much work (roughly flops or bytes touched) an op runs on the calling thread: waking a
// worker costs more than the op itself.
constexpr int64_t kParallelThreshold = 100000;

pg_status context_create(const pg_context_options* options, pg_context** out);
pg_status context_destroy(pg_context* ctx);
pg_status synchronize(pg_context* ctx);
pg_status device_name(pg_context* ctx, char* buffer, int32_t buffer_size);

// Every op starts with this.
pg_status check_ctx(const char* op, const pg_context* ctx);

}  // namespace pg::cpu

namespace pg::cpu {

// Runs f(begin, end) over [0, rows) in fixed-size chunks of rows (the chunking never depends on the
// thread count, and each row is computed by exactly one call), in parallel when the total work
// (work_per_row * rows, ~flops or bytes) is large enough to pay for waking the workers.
template <class F>
void parallel_rows(pg_context* ctx, int64_t rows, int64_t work_per_row, F&& f) {
    if (work_per_row < 1) work_per_row = 1;
    if (rows * work_per_row < kParallelThreshold || ctx->pool.num_threads() == 1) {
        f(int64_t(0), rows);
        return;
    }
    int64_t chunk = (kParallelThreshold / 4) / work_per_row;
    if (chunk < 1) chunk = 1;
    const int64_t tasks = (rows + chunk - 1) / chunk;
    ctx->pool.parallel_for(tasks, [&](int64_t t) {
        const int64_t begin = t * chunk;
        const int64_t end = begin + chunk < rows ? begin + chunk : rows;
        f(begin, end);
    });
}

}  // namespace pg::cpu
