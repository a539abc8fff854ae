// SIMT emulator: what CUDA kernel source needs in order to compile as plain C++ and run on the CPU.
// Included by native/cuda/launch.cuh when the file is not compiled by nvcc. One fiber per CUDA
// thread; blocks run one after another on the calling OS thread. See ../shared/design/SIMT.md.
#pragma once
#ifdef __CUDACC__
#error "simt.h is the emulator header; nvcc builds use the real CUDA headers"
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

// ---- CUDA vector and index types ----------------------------------------------------------------
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 { unsigned x, y, z; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };

namespace pg_simt {

struct Loc {
    const char* file;
    int line;
};
#define PG_SIMT_LOC (::pg_simt::Loc{__FILE__, __LINE__})

// State of the running CUDA thread and block (valid inside a kernel).
struct ThreadCoords {
    uint3 tid;
    int lane;
    int warp;
};
struct BlockCoords {
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
    unsigned char* dynamic_shared;
};
extern ThreadCoords* g_thread;
extern BlockCoords g_block;
extern bool g_trace;  // coalescing trace enabled for the current launch

void syncthreads(Loc loc);
enum CollectiveKind : int { kShflIdx, kShflXor, kShflDown, kShflUp, kBallot, kAny, kAll, kSyncWarp };
uint64_t warp_collective(Loc loc, int kind, unsigned mask, uint64_t value, int arg, int width);
void touch_shared(void* p, size_t bytes);  // poisons a static shared array once per block
void trace_load(const void* p, size_t bytes, Loc loc);
[[noreturn]] void kernel_trap(Loc loc, const char* what);

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
template <class T>
inline T shfl(Loc loc, int kind, unsigned mask, T v, int arg, int width = 32) {
    return from_bits<T>(warp_collective(loc, kind, mask, to_bits(v), arg, width));
}

template <class T>
inline T ldg(const T* p, Loc loc) {
    if (g_trace) trace_load(p, sizeof(T), loc);
    return *p;
}

// ---- the device address space -------------------------------------------------------------------
// Whether [p, p + bytes) lies inside one live allocation of device_alloc (bytes = 0: p is inside
// one or one past its end).
bool is_device(const void* p, size_t bytes);
// "" when p is NULL or device memory, else the diagnostic naming the kernel and the argument.
std::string check_kernel_pointer(const char* kernel, size_t index, const char* field, const void* p);

// Kernel parameters of struct type that carry device pointers specialise this to check each one
// (see sample.cu); plain pointer parameters are checked without it.
template <class T>
struct KernelArgPointers {
    static std::string check(const char*, size_t, const T&) { return {}; }
};

template <class T>
std::string check_kernel_arg(const char* kernel, size_t index, const T& v) {
    if constexpr (std::is_pointer_v<T>) return check_kernel_pointer(kernel, index, nullptr, v);
    else return KernelArgPointers<T>::check(kernel, index, v);
}

template <class Tuple, size_t... I>
std::string check_kernel_args(const char* kernel, const Tuple& t, std::index_sequence<I...>) {
    std::string err;
    ((err.empty() ? void(err = check_kernel_arg(kernel, I, std::get<I>(t))) : void()), ...);
    return err;
}

// ---- launch --------------------------------------------------------------------------------------
using Body = void (*)(void*);
// Runs body(arg) once per thread of every block. Returns "" on success, else the diagnostic.
std::string run_launch(const char* name, dim3 grid, dim3 block, size_t smem, Body body, void* arg);

template <class Tuple, class... P>
struct KernelCall {
    void (*kernel)(P...);
    Tuple* params;
    static void run(void* self) {
        auto* c = static_cast<KernelCall*>(self);
        Tuple copy = *c->params;  // each thread gets its own copy of the by-value parameters
        std::apply(c->kernel, copy);
    }
};

// Runs kernel over params (a tuple of its by-value parameters): a launch, or the replay of a recorded one.
template <class Tuple, class... P>
std::string launch_params(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                          Tuple& params) {
    // As on a GPU, a kernel can only dereference device memory: a host pointer is the launch's error.
    std::string bad = check_kernel_args(name, params, std::index_sequence_for<P...>{});
    if (!bad.empty()) return bad;
    KernelCall<Tuple, P...> call{kernel, &params};
    return run_launch(name, grid, block, smem, &KernelCall<Tuple, P...>::run, &call);
}

template <class... P, class... A>
std::string launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t smem,
                   A&&... args) {
    std::tuple<std::decay_t<P>...> params(std::forward<A>(args)...);
    return launch_params(name, kernel, grid, block, smem, params);
}

// ---- configuration and reports (tests, tools) ---------------------------------------------------
// Schedule of runnable fibers: "forward", "reverse", "random:SEED". Default: PAGED_SIMT_SCHEDULE or
// forward. An empty string restores the environment's choice.
void set_schedule(const std::string& schedule);
// Coalescing trace of PG_LDG loads (global memory sectors per warp request).
void set_coalescing_trace(bool on);
std::string coalescing_report();  // markdown table, one row per (kernel, load site)
void reset_coalescing();
// Device allocations: exact-size with a PROT_NONE guard page behind them when guard is on, so an
// out-of-bounds write stops with a diagnostic naming the kernel, block and thread.
void* device_alloc(size_t bytes);
void* device_alloc_unregistered(size_t bytes);  // host memory shaped like a device allocation (self-tests)
void device_free(void* p);
void set_guard_pages(bool on);

}  // namespace pg_simt

// ---- CUDA spellings ------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __shared__ static
#define __align__(n) alignas(n)
#define threadIdx (::pg_simt::g_thread->tid)
#define blockIdx (::pg_simt::g_block.block_idx)
#define blockDim (::pg_simt::g_block.block_dim)
#define gridDim (::pg_simt::g_block.grid_dim)
#define warpSize 32

#define __syncthreads() ::pg_simt::syncthreads(PG_SIMT_LOC)
#define __syncwarp(...) ::pg_simt::syncwarp_(PG_SIMT_LOC __VA_OPT__(,) __VA_ARGS__)
#define __shfl_sync(mask, v, src, ...) \
    ::pg_simt::shfl(PG_SIMT_LOC, ::pg_simt::kShflIdx, mask, v, src __VA_OPT__(,) __VA_ARGS__)
#define __shfl_xor_sync(mask, v, lm, ...) \
    ::pg_simt::shfl(PG_SIMT_LOC, ::pg_simt::kShflXor, mask, v, lm __VA_OPT__(,) __VA_ARGS__)
#define __shfl_down_sync(mask, v, d, ...) \
    ::pg_simt::shfl(PG_SIMT_LOC, ::pg_simt::kShflDown, mask, v, d __VA_OPT__(,) __VA_ARGS__)
#define __shfl_up_sync(mask, v, d, ...) \
    ::pg_simt::shfl(PG_SIMT_LOC, ::pg_simt::kShflUp, mask, v, d __VA_OPT__(,) __VA_ARGS__)
#define __ballot_sync(mask, pred) \
    unsigned(::pg_simt::warp_collective(PG_SIMT_LOC, ::pg_simt::kBallot, mask, (pred) ? 1 : 0, 0, 32))
#define __any_sync(mask, pred) \
    int(::pg_simt::warp_collective(PG_SIMT_LOC, ::pg_simt::kAny, mask, (pred) ? 1 : 0, 0, 32))
#define __all_sync(mask, pred) \
    int(::pg_simt::warp_collective(PG_SIMT_LOC, ::pg_simt::kAll, mask, (pred) ? 1 : 0, 0, 32))
#define __trap() ::pg_simt::kernel_trap(PG_SIMT_LOC, "__trap()")

namespace pg_simt {
inline void syncwarp_(Loc loc, unsigned mask = 0xffffffffu) {
    warp_collective(loc, kSyncWarp, mask, 0, 0, 32);
}
}  // namespace pg_simt

// ---- device math ---------------------------------------------------------------------------------
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __uint_as_float(unsigned u) { return pg_simt::from_bits<float>(uint64_t(u)); }
inline unsigned __float_as_uint(float f) { return unsigned(pg_simt::to_bits(f)); }
inline float __int_as_float(int i) { return pg_simt::from_bits<float>(uint64_t(uint32_t(i))); }
inline int __float_as_int(float f) { return int(uint32_t(pg_simt::to_bits(f))); }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
template <class T>
inline T __ldg(const T* p) { return *p; }

// ---- atomics (real atomics; float add is a compare-and-swap loop) --------------------------------
inline float atomicAdd(float* p, float v) {
    uint32_t old = __atomic_load_n(reinterpret_cast<uint32_t*>(p), __ATOMIC_RELAXED);
    for (;;) {
        const float f = pg_simt::from_bits<float>(old) + v;
        const uint32_t nv = uint32_t(pg_simt::to_bits(f));
        if (__atomic_compare_exchange_n(reinterpret_cast<uint32_t*>(p), &old, nv, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return pg_simt::from_bits<float>(old);
    }
}
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
template <class T>
inline T atomic_minmax_(T* p, T v, bool want_max) {
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while ((want_max ? v > old : v < old) &&
           !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
inline int atomicMax(int* p, int v) { return atomic_minmax_(p, v, true); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return atomic_minmax_(p, v, true); }
inline int atomicMin(int* p, int v) { return atomic_minmax_(p, v, false); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return atomic_minmax_(p, v, false); }
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline int atomicCAS(int* p, int cmp, int v) {
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return cmp;
}
inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) {
    __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return cmp;
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---- half and bfloat16: storage types with exact conversions (round to nearest even) ------------
struct __half {
    uint16_t x;
};
struct __nv_bfloat16 {
    uint16_t x;
};

inline float __half2float(__half h) {
    const uint32_t sign = uint32_t(h.x & 0x8000u) << 16;
    const uint32_t exp = (h.x >> 10) & 0x1fu;
    const uint32_t man = h.x & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: value = man * 2^-24
            const float f = float(man) * 5.9604644775390625e-8f;
            bits = sign | uint32_t(pg_simt::to_bits(f));
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    return pg_simt::from_bits<float>(bits);
}

inline __half __float2half(float f) {
    const uint32_t bits = uint32_t(pg_simt::to_bits(f));
    const uint16_t sign = uint16_t((bits >> 16) & 0x8000u);
    const uint32_t abs = bits & 0x7fffffffu;
    __half h;
    if (abs > 0x7f800000u) {  // NaN
        h.x = uint16_t(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
        return h;
    }
    if (abs >= 0x477ff000u) {  // rounds to >= 65520: infinity
        h.x = uint16_t(sign | 0x7c00u);
        return h;
    }
    if (abs < 0x38800000u) {  // below the smallest normal half (2^-14): subnormal or zero
        // value / 2^-24 rounded to nearest even (exact in float arithmetic: no double rounding)
        const float a = pg_simt::from_bits<float>(abs);
        const float scaled = a * 16777216.0f;  // exact (power of two)
        h.x = uint16_t(sign | uint16_t(nearbyintf(scaled)));
        return h;
    }
    const uint32_t e = ((abs >> 23) - 112) << 10;
    const uint32_t m = (abs >> 13) & 0x3ffu;
    uint32_t r = e | m;
    const uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;
    h.x = uint16_t(sign | r);
    return h;
}

inline __half __ushort_as_half(unsigned short u) { return __half{u}; }
inline unsigned short __half_as_ushort(__half h) { return h.x; }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }
inline float __bfloat162float(__nv_bfloat16 b) {
    return pg_simt::from_bits<float>(uint32_t(b.x) << 16);
}
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t bits = uint32_t(pg_simt::to_bits(f));
    __nv_bfloat16 b;
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        b.x = uint16_t((bits >> 16) | 0x40u);
        return b;
    }
    bits += 0x7fffu + ((bits >> 16) & 1u);
    b.x = uint16_t(bits >> 16);
    return b;
}
