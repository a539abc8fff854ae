// Device helpers shared by the kernels: dtype conversions (fp32 accumulation everywhere), 16-byte
// vector loads, warp and block reductions, dtype dispatch for the host code.
#pragma once
#include <cstdint>

#include "launch.cuh"

namespace pg::cuda {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
struct Conv;
template <>
struct Conv<float> {
    __device__ __forceinline__ static float from(float v) { return v; }
};
template <>
struct Conv<__half> {
    __device__ __forceinline__ static __half from(float v) { return __float2half(v); }
};
template <>
struct Conv<__nv_bfloat16> {
    __device__ __forceinline__ static __nv_bfloat16 from(float v) { return __float2bfloat16(v); }
};
template <class T>
__device__ __forceinline__ T from_f(float v) {
    return Conv<T>::from(v);
}

// Elements of T in one 16-byte vector.
template <class T>
struct Vec {
    static constexpr int kN = int(16 / sizeof(T));
};

// In the emulator build, helpers that load global memory take their caller's source line (a
// defaulted argument) so the coalescing report attributes each load to the kernel line using it.
#ifdef __CUDACC__
#define PG_CALLER_PARAM
#define PG_CALLER_LDG(p) (*(p))
#else
#define PG_CALLER_PARAM , const char* pg_file_ = __builtin_FILE(), int pg_line_ = __builtin_LINE()
#define PG_CALLER_LDG(p) ::pg_simt::ldg((p), ::pg_simt::Loc{pg_file_, pg_line_})
#endif

// Widens one 32-bit word holding 32 / (8 sizeof(T)) elements of T (bit operations only: no
// address-taken temporaries, which would put the vector in local memory).
__device__ __forceinline__ void widen_word(float, uint32_t w, float* o) { o[0] = __uint_as_float(w); }
__device__ __forceinline__ void widen_word(__half, uint32_t w, float* o) {
    o[0] = __half2float(__ushort_as_half((unsigned short)(w & 0xffffu)));
    o[1] = __half2float(__ushort_as_half((unsigned short)(w >> 16)));
}
__device__ __forceinline__ void widen_word(__nv_bfloat16, uint32_t w, float* o) {
    o[0] = __uint_as_float(w << 16);
    o[1] = __uint_as_float(w & 0xffff0000u);
}

// Loads 16 bytes (kN elements of T) at p (16-byte aligned: one 128-bit load) and widens them.
template <class T>
__device__ __forceinline__ void load_vec(const T* p, float* out PG_CALLER_PARAM) {
    const uint4 raw = PG_CALLER_LDG(reinterpret_cast<const uint4*>(p));
    constexpr int kPerWord = 4 / int(sizeof(T));
    widen_word(T{}, raw.x, out);
    widen_word(T{}, raw.y, out + kPerWord);
    widen_word(T{}, raw.z, out + 2 * kPerWord);
    widen_word(T{}, raw.w, out + 3 * kPerWord);
}

// Narrows 32 / (8 sizeof(T)) floats into one 32-bit word of T (round to nearest even).
__device__ __forceinline__ uint32_t narrow_word(float, const float* v) { return __float_as_uint(v[0]); }
__device__ __forceinline__ uint32_t narrow_word(__half, const float* v) {
    return uint32_t(__half_as_ushort(__float2half(v[0]))) | (uint32_t(__half_as_ushort(__float2half(v[1]))) << 16);
}
__device__ __forceinline__ uint32_t narrow_word(__nv_bfloat16, const float* v) {
    return uint32_t(__bfloat16_as_ushort(__float2bfloat16(v[0]))) |
           (uint32_t(__bfloat16_as_ushort(__float2bfloat16(v[1]))) << 16);
}

// Stores kN floats as 16 bytes of T at p (16-byte aligned: one 128-bit store).
template <class T>
__device__ __forceinline__ void store_vec(T* p, const float* v) {
    constexpr int kPerWord = 4 / int(sizeof(T));
    uint4 raw;
    raw.x = narrow_word(T{}, v);
    raw.y = narrow_word(T{}, v + kPerWord);
    raw.z = narrow_word(T{}, v + 2 * kPerWord);
    raw.w = narrow_word(T{}, v + 3 * kPerWord);
    *reinterpret_cast<uint4*>(p) = raw;
}

// Host side: whether every pointer is 16-byte aligned (the vector paths need it).
inline bool aligned16(const void* a, const void* b = nullptr, const void* c = nullptr, const void* d = nullptr) {
    return ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c) |
             reinterpret_cast<uintptr_t>(d)) & 15u) == 0;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
// `scratch` holds 33 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
    const int nwarps = int(blockDim.x) >> 5;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < nwarps ? scratch[lane] : 0.0f;
        w = warp_sum(w);
        if (lane == 0) scratch[32] = w;
    }
    __syncthreads();
    return scratch[32];
}

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// Host side: calls f(TypeTag<T>{}) with T = float, __half or __nv_bfloat16 for a pg_dtype.
template <class T>
struct TypeTag {
    using type = T;
};
template <class F>
pg_status dispatch_dtype(int32_t dtype, F&& f) {
    switch (dtype) {
        case PG_DTYPE_F32: return f(TypeTag<float>{});
        case PG_DTYPE_F16: return f(TypeTag<__half>{});
        case PG_DTYPE_BF16: return f(TypeTag<__nv_bfloat16>{});
        default: return fail(PG_ERR_DTYPE, "unknown dtype %d", int(dtype));
    }
}

inline size_t dtype_size(int32_t dtype) { return dtype == PG_DTYPE_F32 ? 4 : 2; }

// Host side: calls f(TypeTag<A>{}, TypeTag<C>{}) for activations of dtype `act` and a KV cache of
// dtype `cache`: equal types, or f32 activations over a half cache (check_kv_dtypes allows no other).
template <class F>
pg_status dispatch_kv_dtypes(int32_t act, int32_t cache, F&& f) {
    if (act == cache) return dispatch_dtype(act, [&](auto tag) { return f(tag, tag); });
    if (act == PG_DTYPE_F32) return dispatch_dtype(cache, [&](auto tag) { return f(TypeTag<float>{}, tag); });
    return fail(PG_ERR_DTYPE, "cache dtype %d with activation dtype %d", int(cache), int(act));
}

}  // namespace pg::cuda
