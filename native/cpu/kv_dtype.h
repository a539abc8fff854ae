// Element types of a KV cache (f32, or bf16 / f16 under fp32 activations): one conversion pair per
// type, so the cache ops are templates over the element and the attention code stays fp32.
#pragma once
#include <cstdint>

#include "half.h"
#include "paged.h"

namespace pg::cpu {

struct KvF32 {
    using Elem = float;
    static float load(float v) { return v; }
    static float store(float v) { return v; }
};
struct KvF16 {
    using Elem = uint16_t;
    static float load(uint16_t v) { return f16_to_float(v); }
    static uint16_t store(float v) { return float_to_f16(v); }
};
struct KvBf16 {
    using Elem = uint16_t;
    static float load(uint16_t v) { return bf16_to_float(v); }
    static uint16_t store(float v) { return float_to_bf16(v); }
};

// Calls f(KvX{}) for a (validated) cache dtype.
template <class F>
decltype(auto) dispatch_kv(int32_t dtype, F&& f) {
    switch (dtype) {
        case PG_DTYPE_F16: return f(KvF16{});
        case PG_DTYPE_BF16: return f(KvBf16{});
        default: return f(KvF32{});
    }
}

}  // namespace pg::cpu
