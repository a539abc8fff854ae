// Small vector helpers used by attention and the LoRA op, in an AVX2/FMA and a portable flavour.
#pragma once
#include <cstdint>

#include "half.h"

namespace pg::cpu {

// An element of a as fp32: a float, or bf16 bits (uint16_t, widened exactly).
inline float widen(float v) { return v; }
inline float widen(uint16_t bf16) { return bf16_to_float(bf16); }

// Portable dot product with 8 interleaved partial sums (auto-vectorizes to SSE); the fixed order is
// shared by the portable GEMM and attention. A: float, or uint16_t bf16 bits.
template <class A>
inline float dot_portable(const A* a, const float* b, int64_t n) {
    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) p[l] += widen(a[i + l]) * b[i + l];
    for (int l = 0; i < n; ++i, ++l) p[l] += widen(a[i]) * b[i];
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

struct VecOps {
    float (*dot)(const float* a, const float* b, int64_t n);
    void (*axpy)(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
    // The same over bf16 bits in a / x (LoRA adapter rows), widened in registers; sums fp32.
    float (*dot_bf16)(const uint16_t* a, const float* b, int64_t n);
    void (*axpy_bf16)(float alpha, const uint16_t* x, float* y, int64_t n);
};

const VecOps& vec_ops(bool avx2);

}  // namespace pg::cpu
