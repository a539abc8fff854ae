// SIMT emulator runtime: fibers with a hand-written x86-64 context switch, block barriers, warp
// collectives through per-warp slots, poisoned shared memory, schedules, diagnostics and the
// coalescing trace. Launches are serialised by one mutex (kernels' static __shared__ arrays are
// function statics shared by every OS thread).
#include "simt.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#if !defined(__x86_64__)
#error "the SIMT emulator's context switch is written for x86-64"
#endif

extern "C" {
void pg_simt_switch(void** save_sp, void* new_sp);
void pg_simt_trampoline();
}

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores
// the stack pointer in *save_sp, loads new_sp and restores the same set from there.
asm(R"(
    .pushsection .text
    .globl pg_simt_switch
    .hidden pg_simt_switch
    .type pg_simt_switch,@function
pg_simt_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size pg_simt_switch, .-pg_simt_switch

    .globl pg_simt_trampoline
    .hidden pg_simt_trampoline
    .type pg_simt_trampoline,@function
pg_simt_trampoline:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size pg_simt_trampoline, .-pg_simt_trampoline
    .popsection
)");

namespace pg_simt {

ThreadCoords* g_thread = nullptr;
BlockCoords g_block{};
bool g_trace = false;

namespace {

constexpr size_t kStackBytes = 64 * 1024;
constexpr size_t kPage = 4096;
constexpr int kMaxThreads = 1024;
constexpr size_t kMaxDynamicShared = 227 * 1024;  // H100 opt-in limit per block

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

std::mutex g_mutex;
Launch* g_launch = nullptr;
std::vector<void*> g_stacks;  // stack_base of each pooled stack
std::vector<unsigned char> g_dynamic;
uint64_t g_block_epoch = 0;
struct SharedArray {
    void* p;
    size_t bytes;
    uint64_t epoch;
};
std::vector<SharedArray> g_shared;
std::string g_schedule_override;
bool g_trace_enabled = false;
std::map<std::pair<std::string, std::string>, SiteStats> g_site_stats;  // (kernel, file:line)

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

const char* base_name(const char* file) {
    if (file == nullptr) return "?";
    const char* s = std::strrchr(file, '/');
    return s != nullptr ? s + 1 : file;
}

std::string where(const Fiber& f) {
    return format("block (%u,%u,%u) thread (%u,%u,%u)", g_block.block_idx.x, g_block.block_idx.y,
                  g_block.block_idx.z, f.coords.tid.x, f.coords.tid.y, f.coords.tid.z);
}

void* stack_at(size_t i) {
    while (g_stacks.size() <= i) {
        void* m = mmap(nullptr, kStackBytes + kPage, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return nullptr;
        mprotect(m, kPage, PROT_NONE);  // guard page below the stack (stacks grow down)
        g_stacks.push_back(static_cast<unsigned char*>(m) + kPage);
    }
    return g_stacks[i];
}

void switch_to_scheduler() {
    Fiber* f = g_launch->current;
    pg_simt_switch(&f->sp, g_launch->sched_sp);
}

// Records the first diagnostic of the launch, abandons the block and returns to the scheduler.
[[noreturn]] void abort_launch(const std::string& message) {
    if (g_launch->error.empty())
        g_launch->error = format("simt: kernel %s: %s", g_launch->name, message.c_str());
    g_launch->aborted = true;
    switch_to_scheduler();
    __builtin_unreachable();
}

void release_barrier() {
    Launch& L = *g_launch;
    const Fiber* first = nullptr;
    for (Fiber& f : L.fibers) {
        if (f.state != kWaitBarrier) continue;
        if (first == nullptr) {
            first = &f;
        } else if (f.wait_loc.line != first->wait_loc.line ||
                   std::strcmp(f.wait_loc.file, first->wait_loc.file) != 0) {
            abort_launch(format("divergent __syncthreads: %s waits at %s:%d but %s waits at %s:%d",
                                where(*first).c_str(), base_name(first->wait_loc.file),
                                first->wait_loc.line, where(f).c_str(), base_name(f.wait_loc.file),
                                f.wait_loc.line));
        }
    }
    for (Fiber& f : L.fibers)
        if (f.state == kWaitBarrier) f.state = kRunnable;
    L.barrier_arrived = 0;
}

const char* kind_name(int kind) {
    switch (kind) {
        case kShflIdx: return "__shfl_sync";
        case kShflXor: return "__shfl_xor_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflUp: return "__shfl_up_sync";
        case kBallot: return "__ballot_sync";
        case kAny: return "__any_sync";
        case kAll: return "__all_sync";
        default: return "__syncwarp";
    }
}

void complete_collective(WarpSlot& w, int warp_index) {
    Launch& L = *g_launch;
    const int base = warp_index * 32;
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
        if ((w.mask >> l) & 1u)
            if (w.value[l] != 0) ballot |= 1u << l;
    for (int l = 0; l < 32; ++l) {
        if (((w.mask >> l) & 1u) == 0) continue;
        Fiber& f = L.fibers[size_t(base + l)];
        uint64_t r = 0;
        const int width = w.width;
        const int seg = l & ~(width - 1);
        int src = l;
        bool shuffle = true;
        switch (w.kind) {
            case kShflIdx: src = seg + (w.arg[l] & (width - 1)); break;
            case kShflXor: src = l ^ w.arg[l]; if ((src & ~(width - 1)) != seg) src = l; break;
            case kShflDown: src = (l - seg) + w.arg[l] < width ? l + w.arg[l] : l; break;
            case kShflUp: src = (l - seg) - w.arg[l] >= 0 ? l - w.arg[l] : l; break;
            default: shuffle = false; break;
        }
        if (shuffle) {
            if (src < 0 || src > 31 || ((w.mask >> src) & 1u) == 0)
                abort_launch(format("%s at %s:%d: lane %d reads lane %d, which is not in mask 0x%08x",
                                    kind_name(w.kind), base_name(w.loc.file), w.loc.line, l, src,
                                    w.mask));
            r = w.value[src];
        } else if (w.kind == kBallot) {
            r = ballot;
        } else if (w.kind == kAny) {
            r = ballot != 0;
        } else if (w.kind == kAll) {
            r = ballot == w.mask;
        }
        f.coll_result = r;
        if (&f != L.current) f.state = kRunnable;
    }
    w.pending = 0;
}

void fiber_entry(Fiber* f) {
    Launch& L = *g_launch;
    L.body(L.arg);
    f->state = kDone;
    --L.live;
    WarpSlot& w = L.warps[size_t(f->coords.warp)];
    w.exited |= 1u << f->coords.lane;
    if (w.pending != 0 && ((w.mask >> f->coords.lane) & 1u))
        abort_launch(format("%s exited while lanes 0x%08x of its warp wait at %s (%s:%d) with mask "
                            "0x%08x that includes it (divergent warp collective)",
                            where(*f).c_str(), w.pending, kind_name(w.kind), base_name(w.loc.file),
                            w.loc.line, w.mask));
    if (L.barrier_arrived > 0 && L.barrier_arrived == L.live) release_barrier();
    switch_to_scheduler();
    __builtin_unreachable();
}

void prepare_fiber(Fiber& f, void* stack_base) {
    f.stack_base = stack_base;
    auto top = reinterpret_cast<uintptr_t>(stack_base) + kStackBytes;  // 16-byte aligned
    auto* frame = reinterpret_cast<uint64_t*>(top - 80);
    uint32_t mxcsr = 0x1f80;
    uint16_t fpucw = 0x037f;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(fpucw));
    frame[0] = uint64_t(mxcsr) | (uint64_t(fpucw) << 32);
    frame[1] = 0;                                                  // r15
    frame[2] = 0;                                                  // r14
    frame[3] = reinterpret_cast<uint64_t>(&fiber_entry);           // r13: function
    frame[4] = reinterpret_cast<uint64_t>(&f);                     // r12: argument
    frame[5] = 0;                                                  // rbx
    frame[6] = 0;                                                  // rbp
    frame[7] = reinterpret_cast<uint64_t>(&pg_simt_trampoline);    // return address
    f.sp = frame;
    f.state = kRunnable;
}

struct Schedule {
    int mode = 0;  // 0 forward, 1 reverse, 2 random
    std::mt19937 rng{0};
};

Schedule parse_schedule() {
    Schedule s;
    std::string text = g_schedule_override;
    if (text.empty()) {
        const char* env = std::getenv("PAGED_SIMT_SCHEDULE");
        if (env != nullptr) text = env;
    }
    if (text == "reverse") {
        s.mode = 1;
    } else if (text.rfind("random", 0) == 0) {
        s.mode = 2;
        const size_t colon = text.find(':');
        s.rng.seed(colon == std::string::npos ? 1u : unsigned(std::strtoul(text.c_str() + colon + 1, nullptr, 10)));
    }
    return s;
}

void flush_trace(Launch& L) {
    for (auto& [key, req] : L.trace) {
        SiteStats& s = g_site_stats[{L.name, format("%s:%d", base_name(key.file), key.line)}];
        s.requests += 1;
        s.sectors += req.sectors.size();
        s.bytes += req.bytes_unique;
        s.ideal += (req.bytes_unique + 31) / 32;
    }
    L.trace.clear();
}

std::string run_block(Launch& L, int nthreads, Schedule& sched) {
    L.live = nthreads;
    L.barrier_arrived = 0;
    for (int t = 0; t < nthreads; ++t) prepare_fiber(L.fibers[size_t(t)], g_stacks[size_t(t)]);
    for (WarpSlot& w : L.warps) {
        w.pending = 0;
        w.exited = 0;
    }
    std::vector<int> order(static_cast<size_t>(nthreads));
    for (int t = 0; t < nthreads; ++t) order[size_t(t)] = sched.mode == 1 ? nthreads - 1 - t : t;
    for (;;) {
        if (sched.mode == 2) std::shuffle(order.begin(), order.end(), sched.rng);
        bool ran = false;
        for (int t : order) {
            Fiber& f = L.fibers[size_t(t)];
            if (f.state != kRunnable) continue;
            L.current = &f;
            g_thread = &f.coords;
            pg_simt_switch(&L.sched_sp, f.sp);
            ran = true;
            if (L.aborted) return L.error;
        }
        if (L.live == 0) return {};
        if (!ran) {
            // Group the waiting threads by where they wait: "N threads (first: ...) wait at X file:line".
            struct Group {
                State state;
                const char* file;
                int line;
                int count;
                const Fiber* first;
            };
            std::vector<Group> groups;
            for (int t = 0; t < nthreads; ++t) {
                const Fiber& f = L.fibers[size_t(t)];
                if (f.state == kDone) continue;
                bool found = false;
                for (Group& g : groups)
                    if (g.state == f.state && g.line == f.wait_loc.line && std::strcmp(g.file, f.wait_loc.file) == 0) {
                        ++g.count;
                        found = true;
                        break;
                    }
                if (!found) groups.push_back({f.state, f.wait_loc.file, f.wait_loc.line, 1, &f});
            }
            std::string msg = "deadlock: no thread can run;";
            for (const Group& g : groups)
                msg += format(" %d thread(s) (first: %s) wait at %s %s:%d;", g.count, where(*g.first).c_str(),
                              g.state == kWaitBarrier ? "__syncthreads" : "a warp collective", base_name(g.file),
                              g.line);
            L.error = format("simt: kernel %s: %s", L.name, msg.c_str());
            return L.error;
        }
    }
}

std::mutex g_alloc_mutex;
bool g_guard = false;
struct GuardedAlloc {
    void* map;
    size_t map_bytes;
    size_t bytes;
};
std::map<uintptr_t, GuardedAlloc> g_guarded;  // user pointer -> mapping
// Every live device allocation, base -> bytes: the emulated device address space. Memory outside
// it (host stacks, heap, alloc_host pools) is host memory, which a kernel or a device-side copy
// must not be given (see is_device).
std::map<uintptr_t, size_t> g_device;
std::set<void*> g_plain;

void segv_handler(int sig, siginfo_t* info, void*) {
    char buf[512];
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    int n = 0;
    if (g_launch != nullptr && g_launch->current != nullptr) {
        const Fiber& f = *g_launch->current;
        const auto sb = reinterpret_cast<uintptr_t>(f.stack_base);
        if (addr >= sb - kPage && addr < sb)
            n = std::snprintf(buf, sizeof buf, "simt: kernel %s: stack overflow in block (%u,%u,%u) thread (%u,%u,%u)\n",
                              g_launch->name, g_block.block_idx.x, g_block.block_idx.y, g_block.block_idx.z,
                              f.coords.tid.x, f.coords.tid.y, f.coords.tid.z);
        else
            n = std::snprintf(buf, sizeof buf,
                              "simt: kernel %s: out-of-bounds access at %p in block (%u,%u,%u) thread (%u,%u,%u)\n",
                              g_launch->name, info->si_addr, g_block.block_idx.x, g_block.block_idx.y,
                              g_block.block_idx.z, f.coords.tid.x, f.coords.tid.y, f.coords.tid.z);
    } else {
        n = std::snprintf(buf, sizeof buf, "simt: segmentation fault at %p outside a kernel\n", info->si_addr);
    }
    if (n > 0) {
        ssize_t w = write(2, buf, size_t(n));
        (void)w;
    }
    _exit(sig == SIGSEGV ? 86 : 87);
}

void install_guard_handler() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    static std::vector<unsigned char> alt(64 * 1024);
    stack_t ss{};
    ss.ss_sp = alt.data();
    ss.ss_size = alt.size();
    sigaltstack(&ss, nullptr);
    struct sigaction sa{};
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace

void syncthreads(Loc loc) {
    Launch& L = *g_launch;
    Fiber* f = L.current;
    f->state = kWaitBarrier;
    f->wait_loc = loc;
    if (++L.barrier_arrived == L.live) {
        release_barrier();
        return;  // the last thread to arrive goes on
    }
    switch_to_scheduler();
}

uint64_t warp_collective(Loc loc, int kind, unsigned mask, uint64_t value, int arg, int width) {
    Launch& L = *g_launch;
    Fiber* f = L.current;
    const int lane = f->coords.lane;
    WarpSlot& w = L.warps[size_t(f->coords.warp)];
    if (((mask >> lane) & 1u) == 0)
        abort_launch(format("%s at %s:%d: %s (lane %d) is not in mask 0x%08x", kind_name(kind),
                            base_name(loc.file), loc.line, where(*f).c_str(), lane, mask));
    if ((mask & ~w.existing) != 0)
        abort_launch(format("%s at %s:%d: mask 0x%08x names lanes that do not exist in this block "
                            "(warp lanes 0x%08x)",
                            kind_name(kind), base_name(loc.file), loc.line, mask, w.existing));
    if ((mask & w.exited) != 0)
        abort_launch(format("%s at %s:%d: mask 0x%08x includes lanes that already exited (0x%08x)",
                            kind_name(kind), base_name(loc.file), loc.line, mask, mask & w.exited));
    if (width <= 0 || width > 32 || (width & (width - 1)) != 0)
        abort_launch(format("%s at %s:%d: width %d is not a power of two <= 32", kind_name(kind),
                            base_name(loc.file), loc.line, width));
    if (w.pending == 0) {
        w.kind = kind;
        w.mask = mask;
        w.loc = loc;
        w.width = width;
    } else if (w.kind != kind || w.mask != mask || w.loc.line != loc.line ||
               std::strcmp(w.loc.file, loc.file) != 0) {
        abort_launch(format("mismatched warp collectives: %s (lane %d) is at %s %s:%d mask 0x%08x "
                            "while lanes 0x%08x of its warp wait at %s %s:%d mask 0x%08x",
                            where(*f).c_str(), lane, kind_name(kind), base_name(loc.file), loc.line,
                            mask, w.pending, kind_name(w.kind), base_name(w.loc.file), w.loc.line,
                            w.mask));
    }
    w.value[lane] = value;
    w.arg[lane] = arg;
    w.pending |= 1u << lane;
    if (w.pending == mask) {
        complete_collective(w, f->coords.warp);
        return f->coll_result;
    }
    f->state = kWaitWarp;
    f->wait_loc = loc;
    switch_to_scheduler();
    return f->coll_result;
}

void touch_shared(void* p, size_t bytes) {
    for (SharedArray& s : g_shared) {
        if (s.p == p) {
            if (s.epoch != g_block_epoch) {
                std::memset(p, 0xff, bytes);
                s.epoch = g_block_epoch;
            }
            return;
        }
    }
    std::memset(p, 0xff, bytes);
    g_shared.push_back({p, bytes, g_block_epoch});
}

void trace_load(const void* p, size_t bytes, Loc loc) {
    Launch& L = *g_launch;
    Fiber* f = L.current;
    uint32_t& n = (*f->trace_counts)[loc.file][loc.line];
    TraceRequest& r = L.trace[TraceKey{loc.file, loc.line, f->coords.warp, n}];
    ++n;
    const auto a = reinterpret_cast<uintptr_t>(p);
    if (r.addresses.insert(a).second) r.bytes_unique += bytes;
    for (uintptr_t s = a / 32; s <= (a + bytes - 1) / 32; ++s) r.sectors.insert(s);
}

void kernel_trap(Loc loc, const char* what) {
    abort_launch(format("%s at %s:%d in %s", what, base_name(loc.file), loc.line,
                        where(*g_launch->current).c_str()));
}

std::string run_launch(const char* name, dim3 grid, dim3 block, size_t smem, Body body, void* arg) {
    const uint64_t nthreads64 = uint64_t(block.x) * block.y * block.z;
    if (nthreads64 == 0 || nthreads64 > uint64_t(kMaxThreads) || block.z > 64)
        return format("simt: kernel %s: invalid block (%u,%u,%u): 1..%d threads", name, block.x,
                      block.y, block.z, kMaxThreads);
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535)
        return format("simt: kernel %s: invalid grid (%u,%u,%u)", name, grid.x, grid.y, grid.z);
    if (smem > kMaxDynamicShared)
        return format("simt: kernel %s: %zu bytes of dynamic shared memory exceed %zu", name, smem,
                      kMaxDynamicShared);
    std::lock_guard<std::mutex> lock(g_mutex);
    const int nthreads = int(nthreads64);
    if (stack_at(size_t(nthreads - 1)) == nullptr) return "simt: cannot map fiber stacks";
    Launch L;
    L.name = name;
    L.body = body;
    L.arg = arg;
    L.fibers.resize(size_t(nthreads));
    L.warps.resize(size_t((nthreads + 31) / 32));
    std::unordered_map<const char*, std::unordered_map<int, uint32_t>> counts_storage;
    std::vector<std::unordered_map<const char*, std::unordered_map<int, uint32_t>>> counts;
    if (g_trace_enabled) counts.resize(size_t(nthreads));
    for (int t = 0; t < nthreads; ++t) {
        Fiber& f = L.fibers[size_t(t)];
        f.coords.tid = uint3{unsigned(t) % block.x, (unsigned(t) / block.x) % block.y,
                             unsigned(t) / (block.x * block.y)};
        f.coords.lane = t % 32;
        f.coords.warp = t / 32;
        L.warps[size_t(t / 32)].existing |= 1u << (t % 32);
        if (g_trace_enabled) f.trace_counts = &counts[size_t(t)];
    }
    g_dynamic.assign(smem + 16, 0xff);
    auto* dyn = reinterpret_cast<unsigned char*>(
        (reinterpret_cast<uintptr_t>(g_dynamic.data()) + 15) & ~uintptr_t(15));
    Schedule sched = parse_schedule();
    g_launch = &L;
    g_trace = g_trace_enabled;
    g_block.block_dim = block;
    g_block.grid_dim = grid;
    g_block.dynamic_shared = dyn;
    std::string err;
    for (unsigned z = 0; z < grid.z && err.empty(); ++z)
        for (unsigned y = 0; y < grid.y && err.empty(); ++y)
            for (unsigned x = 0; x < grid.x && err.empty(); ++x) {
                g_block.block_idx = uint3{x, y, z};
                ++g_block_epoch;
                std::memset(dyn, 0xff, smem);  // NaN in every float/half/bf16 lane
                if (g_trace_enabled)
                    for (auto& c : counts) c.clear();
                err = run_block(L, nthreads, sched);
                if (g_trace_enabled) flush_trace(L);
            }
    g_launch = nullptr;
    g_thread = nullptr;
    g_trace = false;
    return err;
}

void set_schedule(const std::string& schedule) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_schedule_override = schedule;
}

void set_coalescing_trace(bool on) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_trace_enabled = on;
}

void reset_coalescing() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_site_stats.clear();
}

std::string coalescing_report() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::string out =
        "| kernel | load site | warp requests | sectors / request | ideal | ratio |\n"
        "|---|---|---:|---:|---:|---:|\n";
    for (const auto& [key, s] : g_site_stats) {
        if (s.requests == 0) continue;
        const double got = double(s.sectors) / double(s.requests);
        const double ideal = double(s.ideal) / double(s.requests);
        out += format("| %s | %s | %llu | %.2f | %.2f | %.2f |\n", key.first.c_str(),
                      key.second.c_str(), static_cast<unsigned long long>(s.requests), got, ideal,
                      ideal > 0 ? got / ideal : 0.0);
    }
    return out;
}

void set_guard_pages(bool on) {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_guard = on;
    if (on) install_guard_handler();
}

bool is_device(const void* p, size_t bytes) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    auto it = g_device.upper_bound(a);
    if (it == g_device.begin()) return false;
    --it;
    return a + bytes <= it->first + it->second;
}

std::string check_kernel_pointer(const char* kernel, size_t index, const char* field, const void* p) {
    if (p == nullptr || is_device(p, 0)) return {};
    return format("simt: kernel %s: argument %zu%s%s = %p is not device memory (not inside a live allocation "
                  "from alloc): a GPU would fault on it (cudaErrorIllegalAddress / invalid argument)",
                  kernel, index, field != nullptr ? " field " : "", field != nullptr ? field : "", p);
}

void* device_alloc(size_t bytes) {
    void* p = device_alloc_unregistered(bytes);
    if (p != nullptr) {
        std::lock_guard<std::mutex> lock(g_alloc_mutex);
        g_device[reinterpret_cast<uintptr_t>(p)] = bytes;
    }
    return p;
}

void* device_alloc_unregistered(size_t bytes) {
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    if (!g_guard) {
        void* p = nullptr;
        if (posix_memalign(&p, 256, bytes) != 0) return nullptr;
        std::memset(p, 0xff, bytes);  // poison: fresh allocations read as NaN
        return p;
    }
    const size_t rounded = (bytes + 15) & ~size_t(15);
    const size_t data_pages = (rounded + kPage - 1) / kPage;
    const size_t map_bytes = (data_pages + 1) * kPage;
    void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    auto* guard = static_cast<unsigned char*>(m) + data_pages * kPage;
    mprotect(guard, kPage, PROT_NONE);
    unsigned char* p = guard - rounded;
    std::memset(p, 0xff, rounded);
    g_guarded[reinterpret_cast<uintptr_t>(p)] = GuardedAlloc{m, map_bytes, bytes};
    return p;
}

void device_free(void* p) {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(g_alloc_mutex);
    g_device.erase(reinterpret_cast<uintptr_t>(p));
    auto it = g_guarded.find(reinterpret_cast<uintptr_t>(p));
    if (it != g_guarded.end()) {
        munmap(it->second.map, it->second.map_bytes);
        g_guarded.erase(it);
        return;
    }
    std::free(p);
}

}  // namespace pg_simt
