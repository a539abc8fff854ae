#include "thread_pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pg::cpu {

namespace {
// Tells the core we are spinning (frees pipeline resources, saves power).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

constexpr uint64_t kClosed = 0xFFFFFFFFull;
// How long an idle worker spins before sleeping: long enough to bridge the gap between the
// ops of one forward pass, short enough not to burn a core when the engine is idle.
constexpr auto kSpinBudget = std::chrono::microseconds(100);
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
    counter_.store(kClosed, std::memory_order_relaxed);
    for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true, std::memory_order_seq_cst);
    {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        wake_.notify_all();
    }
    for (auto& t : workers_) t.join();
}

// Grabs and runs tasks of `job` until none are left (or the job was replaced).
void ThreadPool::run_tasks(uint32_t job) {
    // Fields are read after seeing the job id (acquire); if they already belong to a later job,
    // the job was closed before they were written, so the CAS below can never succeed.
    TaskFn fn = fn_.load(std::memory_order_acquire);
    void* arg = arg_.load(std::memory_order_acquire);
    uint64_t n = uint64_t(num_tasks_.load(std::memory_order_acquire));
    uint64_t v = counter_.load(std::memory_order_acquire);
    for (;;) {
        if (uint32_t(v >> 32) != job || (v & kClosed) >= n) return;
        if (counter_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) {
            fn(arg, int64_t(v & kClosed));
            done_.fetch_add(1, std::memory_order_release);
            v = counter_.load(std::memory_order_acquire);
        }
    }
}

void ThreadPool::worker_loop() {
    uint32_t seen = uint32_t(counter_.load(std::memory_order_acquire) >> 32);
    for (;;) {
        auto start = std::chrono::steady_clock::now();
        uint64_t v;
        for (int spins = 0;; ++spins) {
            v = counter_.load(std::memory_order_acquire);
            if (uint32_t(v >> 32) != seen || stop_.load(std::memory_order_relaxed)) break;
            cpu_relax();
            if ((spins & 255) == 255 && std::chrono::steady_clock::now() - start > kSpinBudget) {
                std::unique_lock<std::mutex> lock(sleep_mutex_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                wake_.wait(lock, [&] {
                    return stop_.load(std::memory_order_seq_cst) ||
                           uint32_t(counter_.load(std::memory_order_seq_cst) >> 32) != seen;
                });
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
                start = std::chrono::steady_clock::now();
            }
        }
        if (stop_.load(std::memory_order_relaxed)) return;
        seen = uint32_t(v >> 32);
        run_tasks(seen);
    }
}

void ThreadPool::run(int64_t num_tasks, TaskFn fn, void* arg) {
    if (num_tasks <= 0) return;
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (workers_.empty() || num_tasks == 1 || !busy.owns_lock()) {
        for (int64_t i = 0; i < num_tasks; ++i) fn(arg, i);
        return;
    }
    const uint32_t job = ++job_;
    fn_.store(fn, std::memory_order_release);
    arg_.store(arg, std::memory_order_release);
    num_tasks_.store(num_tasks, std::memory_order_release);
    done_.store(0, std::memory_order_relaxed);
    counter_.store(uint64_t(job) << 32, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(sleep_mutex_);
        wake_.notify_all();
    }
    run_tasks(job);
    while (done_.load(std::memory_order_acquire) < num_tasks) cpu_relax();
    // Close the job before the next one rewrites the fields (see run_tasks).
    counter_.store((uint64_t(job) << 32) | kClosed, std::memory_order_seq_cst);
}

}  // namespace pg::cpu
