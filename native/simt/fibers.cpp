// SIMT emulator runtime: fibers with a hand-written x86-64 context switch, block barriers,
// poisoned shared memory and the launch loop. Launches are serialised by one mutex (kernels' static
// __shared__ arrays are function statics shared by every OS thread). Warp collectives, schedules,
// the coalescing trace and guard pages live in warp.cpp, schedule.cpp, coalescing.cpp and guard_pages.cpp.
#include "emulator.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

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

namespace detail {

std::mutex g_mutex;
Launch* g_launch = nullptr;

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

}  // namespace detail

using namespace detail;

namespace {

constexpr size_t kStackBytes = 64 * 1024;
constexpr int kMaxThreads = 1024;
constexpr size_t kMaxDynamicShared = 227 * 1024;  // H100 opt-in limit per block

std::vector<void*> g_stacks;  // stack_base of each pooled stack
std::vector<unsigned char> g_dynamic;
uint64_t g_block_epoch = 0;
struct SharedArray {
    void* p;
    size_t bytes;
    uint64_t epoch;
};
std::vector<SharedArray> g_shared;

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

}  // namespace pg_simt
