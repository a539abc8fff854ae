// SIMT emulator: device memory. Allocations are registered as the emulated device address space;
// with guard pages on, each ends at a PROT_NONE page and a SIGSEGV handler names the kernel, block
// and thread that overran it (or the fiber stack that overflowed).
#include "emulator.h"

#include <sys/mman.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

namespace pg_simt {

using namespace detail;

namespace {

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
