// Small vector helpers used by attention, in an AVX2/FMA and a portable flavour.
#pragma once
#include <cstdint>

namespace pg::cpu {

// Portable dot product with 8 interleaved partial sums (auto-vectorizes to SSE); the fixed order is
// shared by the portable GEMM and attention.
inline float dot_portable(const float* a, const float* b, int64_t n) {
    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) p[l] += a[i + l] * b[i + l];
    for (int l = 0; i < n; ++i, ++l) p[l] += a[i] * b[i];
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

struct VecOps {
    float (*dot)(const float* a, const float* b, int64_t n);
    void (*axpy)(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
};

const VecOps& vec_ops(bool avx2);

}  // namespace pg::cpu
