// Fixed pool of worker threads owned by a context. Ops are small and frequent, so waking must be
// cheap: workers spin on an atomic job counter for ~100 us after each job, then sleep on a condvar.
// The caller thread participates; tasks are grabbed dynamically, but every task computes a fixed
// set of outputs with a fixed order, so results never depend on the thread count.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace pg::cpu {

class ThreadPool {
public:
    using TaskFn = void (*)(void* arg, int64_t task);

    explicit ThreadPool(int num_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int num_threads() const { return int(workers_.size()) + 1; }

    // Runs fn(arg, i) for i in [0, num_tasks); returns when all are done. Runs inline when there is
    // one thread, one task, or the pool is already busy (nested or concurrent callers).
    void run(int64_t num_tasks, TaskFn fn, void* arg);

    template <class F>
    void parallel_for(int64_t num_tasks, F&& f) {
        using Fn = std::remove_reference_t<F>;
        run(num_tasks, [](void* a, int64_t i) { (*static_cast<Fn*>(a))(i); },
            const_cast<void*>(static_cast<const void*>(&f)));
    }

private:
    void worker_loop();
    void run_tasks(uint32_t job);

    // High 32 bits: job id; low 32 bits: next task index (0xFFFFFFFF = job closed).
    std::atomic<uint64_t> counter_{0};
    std::atomic<int64_t> done_{0};
    std::atomic<TaskFn> fn_{nullptr};
    std::atomic<void*> arg_{nullptr};
    std::atomic<int64_t> num_tasks_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
    std::mutex run_mutex_;
    uint32_t job_ = 0;
    std::vector<std::thread> workers_;
};

}  // namespace pg::cpu
