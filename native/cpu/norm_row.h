// One RMSNorm row, shared by rmsnorm and head_rmsnorm: inv = 1 / sqrt(mean(v^2) + eps),
// out = weight * (inv * v). The sum of squares uses 8 float partial sums in a fixed order:
// vectorizable and deterministic. out may alias v (each element is read before it is written).
#pragma once
#include <cmath>
#include <cstdint>

namespace pg::cpu {

inline float sum_squares(const float* v, int64_t n) {
    float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) part[l] += v[i + l] * v[i + l];
    for (int l = 0; i < n; ++i, ++l) part[l] += v[i] * v[i];
    return ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
}

inline void norm_row(float* out, const float* v, const float* w, int64_t n, float eps) {
    const float ss = sum_squares(v, n) / float(n) + eps;
    const float inv = 1.0f / std::sqrt(ss);
    for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (inv * v[i]);
}

}  // namespace pg::cpu
