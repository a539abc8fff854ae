// Emulator self-tests: correct kernels give the right answers under every schedule, and planted
// bugs (missing __syncthreads, divergent shuffle, divergent barrier, bad mask, mismatched collectives,
// deadlock, out-of-bounds write)
// are caught with a diagnostic naming the source line. Usage: paged_simt_selftest [oob]
// (the out-of-bounds case ends the process with exit code 86 by design, so it runs on its own).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../cuda/launch.cuh"

namespace pg::cuda {
// launch() counts each launch on the context of the op running on this thread; these self-tests
// launch kernels directly, outside any context, so there is nothing to count (or record).
void count_launch() {}
void* recording() { return nullptr; }
}  // namespace pg::cuda

namespace {

int g_failures = 0;

void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++g_failures;
}

void expect_error(pg_status st, const char* needle, const std::string& what) {
    const std::string msg = pg::last_error();
    const bool ok = st != PG_OK && msg.find(needle) != std::string::npos;
    expect(ok, what + (ok ? "" : " (status " + std::to_string(int(st)) + ", message: " + msg + ")"));
    if (ok) std::printf("     diagnostic: %s\n", msg.c_str());
}

// Block-wide sum through shared memory and warp shuffles (correct).
__global__ void block_sum(const float* in, float* out, int n) {
    PG_SHARED(float, partial, [32]);
    float v = 0.0f;
    for (int i = int(threadIdx.x); i < n; i += int(blockDim.x)) v += in[i];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < int(blockDim.x) / 32 ? partial[lane] : 0.0f;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
        if (lane == 0) out[blockIdx.x] = v;
    }
}

// Planted bug: the barrier between writing and reading shared memory is missing.
__global__ void reverse_missing_sync(const float* in, float* out) {
    PG_DYNAMIC_SHARED(float, tile);
    tile[threadIdx.x] = in[threadIdx.x];
    // __syncthreads() belongs here
    out[threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

__global__ void reverse_ok(const float* in, float* out) {
    PG_DYNAMIC_SHARED(float, tile);
    tile[threadIdx.x] = in[threadIdx.x];
    __syncthreads();
    out[threadIdx.x] = tile[blockDim.x - 1 - threadIdx.x];
}

// Planted bug: a full-mask shuffle inside a branch only half of the warp takes.
__global__ void divergent_shuffle(float* out) {
    float v = float(threadIdx.x);
    if (threadIdx.x % 32 < 16) v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

// Planted bug: threads of one block reach different __syncthreads.
__global__ void divergent_barrier(float* out) {
    if (threadIdx.x < 32) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1.0f;
}

// Planted bug: a lane calls a shuffle with a mask that excludes itself.
__global__ void bad_mask(float* out) {
    out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1.0f, 0);
}

// Planted bug: even and odd lanes of a warp call different shuffles (a mismatched collective).
__global__ void mismatched_collectives(float* out) {
    float v = float(threadIdx.x);
    if (threadIdx.x % 2 == 0) v = __shfl_xor_sync(0xffffffffu, v, 2);
    else v = __shfl_down_sync(0xffffffffu, v, 2);
    out[threadIdx.x] = v;
}

// Planted bug: warp 0 waits at a shuffle that lane 31 never reaches, the others at a barrier.
__global__ void deadlock(float* out) {
    float v = 1.0f;
    if (threadIdx.x != 31) v = __shfl_xor_sync(0xffffffffu, v, 1);
    __syncthreads();
    out[threadIdx.x] = v;
}

// Planted bug: one thread writes one element past the end.
__global__ void out_of_bounds(float* out, int n) {
    const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
    if (i <= n) out[i] = 1.0f;  // should be i < n
}

__global__ void ballot_and_atomics(float* sum, int* maxv, unsigned* ballots) {
    const unsigned b = __ballot_sync(0xffffffffu, threadIdx.x % 3 == 0);
    if (threadIdx.x % 32 == 0) ballots[threadIdx.x / 32] = b;
    atomicAdd(sum, 1.0f);
    atomicMax(maxv, int(threadIdx.x));
    if (__all_sync(0xffffffffu, true) && !__any_sync(0xffffffffu, false) && threadIdx.x == 0)
        atomicAdd(sum, 1000.0f);
}

template <class T>
T* dalloc(size_t n) {
    return static_cast<T*>(pg_simt::device_alloc(n * sizeof(T)));
}

}  // namespace

int main(int argc, char** argv) {
    const dim3 one(1);
    if (argc > 1 && std::string(argv[1]) == "oob") {
        pg_simt::set_guard_pages(true);
        const int n = 1000;
        float* out = dalloc<float>(size_t(n));
        pg_status st = pg::cuda::launch("out_of_bounds", out_of_bounds, dim3((n + 127) / 128),
                                        dim3(128), 0, nullptr, out, n);
        std::printf("FAIL out-of-bounds write was not caught (status %d)\n", int(st));
        return 1;
    }

    const char* schedules[] = {"forward", "reverse", "random:7"};
    for (const char* sched : schedules) {
        pg_simt::set_schedule(sched);
        const int n = 1000;
        std::vector<float> host(static_cast<size_t>(n));
        float expect_sum = 0.0f;
        for (int i = 0; i < n; ++i) expect_sum += host[size_t(i)] = float(i % 7);
        float* in = dalloc<float>(size_t(n));
        float* out = dalloc<float>(1);
        std::copy(host.begin(), host.end(), in);
        pg_status st = pg::cuda::launch("block_sum", block_sum, one, dim3(256), 0, nullptr, in, out, n);
        expect(st == PG_OK && *out == expect_sum, std::string("block_sum correct under ") + sched);

        float* rin = dalloc<float>(64);
        float* rout = dalloc<float>(64);
        for (int i = 0; i < 64; ++i) rin[i] = float(i);
        st = pg::cuda::launch("reverse_ok", reverse_ok, one, dim3(64), 64 * sizeof(float), nullptr, rin, rout);
        bool ok = st == PG_OK;
        for (int i = 0; i < 64; ++i) ok = ok && rout[i] == float(63 - i);
        expect(ok, std::string("reverse with barrier correct under ") + sched);
        pg_simt::device_free(in);
        pg_simt::device_free(out);
        pg_simt::device_free(rin);
        pg_simt::device_free(rout);
    }

    // Missing __syncthreads: reading another thread's element before it is written returns the
    // poison (NaN) under at least one schedule.
    {
        bool caught = false;
        for (const char* sched : schedules) {
            pg_simt::set_schedule(sched);
            float* rin = dalloc<float>(64);
            float* rout = dalloc<float>(64);
            for (int i = 0; i < 64; ++i) rin[i] = float(i);
            const pg_status st = pg::cuda::launch("reverse_missing_sync", reverse_missing_sync, one,
                                                  dim3(64), 64 * sizeof(float), nullptr, rin, rout);
            bool wrong = st != PG_OK;
            for (int i = 0; i < 64; ++i) wrong = wrong || rout[i] != float(63 - i);
            if (wrong) std::printf("     missing __syncthreads shows as wrong results under %s\n", sched);
            caught = caught || wrong;
            pg_simt::device_free(rin);
            pg_simt::device_free(rout);
        }
        expect(caught, "missing __syncthreads caught (poisoned shared memory + schedules)");
    }
    pg_simt::set_schedule("forward");

    float* buf = dalloc<float>(64);
    expect_error(pg::cuda::launch("divergent_shuffle", divergent_shuffle, one, dim3(64), 0, nullptr, buf),
                 "selftest.cpp:", "divergent shuffle caught with its source line");
    expect_error(pg::cuda::launch("divergent_barrier", divergent_barrier, one, dim3(64), 0, nullptr, buf),
                 "divergent __syncthreads", "divergent barrier caught");
    expect_error(pg::cuda::launch("bad_mask", bad_mask, one, dim3(32), 0, nullptr, buf),
                 "is not in mask", "lane outside its mask caught");
    expect_error(pg::cuda::launch("mismatched_collectives", mismatched_collectives, one, dim3(32), 0, nullptr, buf),
                 "mismatched warp collectives", "mismatched collectives caught");
    expect_error(pg::cuda::launch("deadlock", deadlock, one, dim3(64), 0, nullptr, buf), "deadlock",
                 "deadlock caught, naming who waits where");
    expect_error(pg::cuda::launch("too_big", bad_mask, one, dim3(2048), 0, nullptr, buf),
                 "invalid block", "oversized block rejected");
    // Planted bug (the one a real GPU found): host memory handed to a kernel as if it were device
    // memory. The emulator keeps a device address space (live allocations of device_alloc) and
    // rejects the launch, naming the kernel and the argument; freed device memory counts as host.
    std::vector<float> host(64);
    expect_error(pg::cuda::launch("host_pointer", divergent_barrier, one, dim3(64), 0, nullptr, host.data()),
                 "kernel host_pointer: argument 0", "host pointer passed to a kernel rejected");
    float* freed = dalloc<float>(8);
    pg_simt::device_free(freed);
    expect_error(pg::cuda::launch("freed_pointer", divergent_barrier, one, dim3(64), 0, nullptr, freed),
                 "is not device memory", "freed device memory passed to a kernel rejected");

    float* sum = dalloc<float>(1);
    int* maxv = dalloc<int>(1);
    unsigned* ballots = dalloc<unsigned>(4);
    *sum = 0.0f;
    *maxv = -1;
    pg_status st = pg::cuda::launch("ballot_and_atomics", ballot_and_atomics, dim3(2), dim3(128), 0,
                                    nullptr, sum, maxv, ballots);
    expect(st == PG_OK && *sum == 2256.0f && *maxv == 127 && ballots[0] == 0x49249249u &&
               ballots[1] == 0x92492492u,
           "ballot, all/any, atomicAdd(float), atomicMax");

    std::printf("%s\n", g_failures == 0 ? "ALL OK" : "FAILURES");
    return g_failures == 0 ? 0 : 1;
}
