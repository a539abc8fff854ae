// Small vector helpers used by attention, in an AVX2/FMA and a portable flavour.
#pragma once
#include <cstdint>

namespace pg::cpu {

struct VecOps {
    float (*dot)(const float* a, const float* b, int64_t n);
    void (*axpy)(float alpha, const float* x, float* y, int64_t n);  // y += alpha * x
};

const VecOps& vec_ops(bool avx2);

}  // namespace pg::cpu
