// Internal to the SIMT emulator: the launch state that its parts (fibers.cpp, warp.cpp,
// schedule.cpp, coalescing.cpp, guard_pages.cpp) share. Not for kernels or the backend.
#pragma once
#include "simt.h"

#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace pg_simt::detail {

constexpr size_t kPage = 4096;

enum State { kRunnable, kWaitBarrier, kWaitWarp, kDone };

struct Fiber {
    ThreadCoords coords;
    void* sp = nullptr;
    void* stack_base = nullptr;  // lowest usable address (a guard page lies below)
    State state = kRunnable;
    Loc wait_loc{nullptr, 0};
    uint64_t coll_result = 0;
    std::unordered_map<const char*, std::unordered_map<int, uint32_t>>* trace_counts = nullptr;
};

struct WarpSlot {
    unsigned pending = 0;   // lanes that arrived at the current collective
    unsigned existing = 0;  // lanes of this warp that exist in the block
    unsigned exited = 0;
    int kind = 0;
    unsigned mask = 0;
    Loc loc{nullptr, 0};
    int width = 32;
    uint64_t value[32] = {};
    int arg[32] = {};
};

struct TraceKey {
    const char* file;
    int line;
    int warp;
    uint32_t n;
    bool operator<(const TraceKey& o) const {
        if (file != o.file) return file < o.file;
        if (line != o.line) return line < o.line;
        if (warp != o.warp) return warp < o.warp;
        return n < o.n;
    }
};
struct TraceRequest {
    std::set<uintptr_t> sectors;
    std::set<uintptr_t> addresses;
    size_t bytes_unique = 0;
};
struct SiteStats {
    uint64_t requests = 0, sectors = 0, ideal = 0, bytes = 0;
};

struct Launch {
    const char* name = "";
    Body body = nullptr;
    void* arg = nullptr;
    std::vector<Fiber> fibers;
    std::vector<WarpSlot> warps;
    int live = 0;
    int barrier_arrived = 0;
    bool aborted = false;
    std::string error;
    void* sched_sp = nullptr;
    Fiber* current = nullptr;
    std::map<TraceKey, TraceRequest> trace;
};

// The launch in progress and the lock that serialises launches and the emulator's settings.
extern std::mutex g_mutex;
extern Launch* g_launch;
extern bool g_trace_enabled;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
const char* base_name(const char* file);
std::string where(const Fiber& f);
void switch_to_scheduler();
[[noreturn]] void abort_launch(const std::string& message);
void release_barrier();

// warp.cpp
const char* kind_name(int kind);

// schedule.cpp: the order in which a block's runnable threads are resumed.
struct Schedule {
    int mode = 0;  // 0 forward, 1 reverse, 2 random
    std::mt19937 rng{0};
};
Schedule parse_schedule();

// coalescing.cpp: folds a block's traced loads into the per-site statistics.
void flush_trace(Launch& L);

}  // namespace pg_simt::detail
