// RoPE fused with the cache write: one block per token rotates the token's q and k heads in place
// (as rope_kernel) and writes the rotated k and the v row into the token's cache slot (as
// cache_write_kernel): one launch where the pair took two, and k is not read back from memory. Every
// element takes the same path as in the two kernels (k rounded to T, then to the cache's C), so the
// results are the unfused pair's, bit for bit. A negative position is recorded (as rope does) and the
// token is written unrotated; a negative slot is padding (nothing written); a slot past the cache is
// recorded (as cache_write does) and nothing is written.
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"
#include "rope.cuh"

namespace pg::cuda {

template <class T, class C>
__global__ void __launch_bounds__(128) rope_cache_write_kernel(
    T* q, T* k, const T* __restrict__ v, C* __restrict__ cache, const int32_t* __restrict__ positions,
    const int64_t* __restrict__ slots, int num_heads, int num_kv_heads, int head_size, int rotary_dim, int q_stride,
    int k_stride, int v_stride, int style, float theta, const float* __restrict__ inv_freq, int num_layers,
    int block_size, int layer, int64_t num_slots, DeviceError* err) {
    const int t = int(blockIdx.x);
    const int half = rotary_dim / 2;
    const int p = positions[t];
    const int64_t slot = slots[t];
    if (threadIdx.x == 0) {
        if (p < 0) report_error(err, kDevErrRopePosition, kOpRope, t, 0, p, 0);
        if (slot >= num_slots) report_error(err, kDevErrCacheSlot, kOpCacheWrite, t, 0, slot, num_slots);
    }
    const bool rotate = p >= 0;
    const bool write = slot >= 0 && slot < num_slots;
    const int64_t block = write ? slot / block_size : 0;
    const int off = write ? int(slot % block_size) : 0;
    // Cache row of K (kv = 0) or V (kv = 1) of kv head h for this token.
    auto row = [&](int kv, int h) {
        return cache + ((((block * num_layers + layer) * 2 + kv) * num_kv_heads + h) * block_size + off) * head_size;
    };
    const float pos = float(p);
    const int total = (num_heads + num_kv_heads) * half;
    for (int i = int(threadIdx.x); i < total; i += int(blockDim.x)) {
        const int h = i / half, j = i % half;
        float c = 1.0f, s = 0.0f;
        if (rotate) rope_cos_sin(inv_freq, theta, rotary_dim, j, pos, &c, &s);
        const bool is_q = h < num_heads;
        T* base = is_q ? q + int64_t(t) * q_stride + int64_t(h) * head_size
                       : k + int64_t(t) * k_stride + int64_t(h - num_heads) * head_size;
        int i0, i1;
        rope_pair(style, j, half, &i0, &i1);
        const float a = to_f(PG_LDG(base + i0)), b = to_f(PG_LDG(base + i1));
        const T r0 = rotate ? from_f<T>(a * c - b * s) : base[i0];
        const T r1 = rotate ? from_f<T>(a * s + b * c) : base[i1];
        base[i0] = r0;
        base[i1] = r1;
        if (!is_q && write) {
            C* dst = row(0, h - num_heads);
            dst[i0] = from_f<C>(to_f(r0));
            dst[i1] = from_f<C>(to_f(r1));
        }
    }
    if (!write) return;
    // K elements past rotary_dim (not rotated) and every V element.
    const int tail = head_size - rotary_dim;
    for (int i = int(threadIdx.x); i < num_kv_heads * tail; i += int(blockDim.x)) {
        const int h = i / tail, d = rotary_dim + i % tail;
        row(0, h)[d] = from_f<C>(to_f(PG_LDG(k + int64_t(t) * k_stride + int64_t(h) * head_size + d)));
    }
    for (int i = int(threadIdx.x); i < num_kv_heads * head_size; i += int(blockDim.x)) {
        const int h = i / head_size, d = i % head_size;
        row(1, h)[d] = from_f<C>(to_f(PG_LDG(v + int64_t(t) * v_stride + i)));
    }
}

pg_status rope_cache_write(pg_context* ctx, const pg_rope_cache_write_args* a) {
    const char* op = "rope_cache_write";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_rope_cache_write_shape(a, kAllDtypes));
    const pg_rope_args& r = a->rope;
    const pg_cache_write_args& w = a->cache_write;
    if (ctx->validate_on_host) {
        std::vector<int32_t> positions;
        std::vector<int64_t> slots;
        PG_TRY(to_host(ctx, op, "rope.positions", r.positions, size_t(r.num_tokens), positions));
        PG_TRY(to_host(ctx, op, "cache_write.slot_mapping", w.slot_mapping, size_t(w.num_tokens), slots));
        PG_TRY(check_rope_cache_write_indices(a, positions.data(), slots.data()));
    }
    if (r.num_tokens == 0) return PG_OK;
    const pg_kv_cache_desc& c = w.cache;
    return dispatch_kv_dtypes(r.dtype, c.dtype, [&](auto ttag, auto ctag) {
        using T = typename decltype(ttag)::type;
        using C = typename decltype(ctag)::type;
        return launch(op, rope_cache_write_kernel<T, C>, dim3(unsigned(r.num_tokens)), dim3(128), 0, ctx->stream,
                      static_cast<T*>(r.q), static_cast<T*>(r.k), static_cast<const T*>(w.value), static_cast<C*>(c.data),
                      r.positions, w.slot_mapping, r.num_heads, r.num_kv_heads, r.head_size, r.rotary_dim, r.q_stride,
                      r.k_stride, w.value_stride, r.style, r.theta, r.inv_freq, c.num_layers, c.block_size, w.layer,
                      int64_t(c.num_blocks) * c.block_size, ctx->dev_error);
    });
}

}  // namespace pg::cuda
