// Portable GEMM: one dot product per output with 8 partial sums (auto-vectorizes to SSE).
#include "gemm.h"

namespace pg::cpu {

namespace {

float dot8(const float* a, const float* b, int64_t k) {
    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        for (int l = 0; l < 8; ++l) p[l] += a[i + l] * b[i + l];
    for (int l = 0; i < k; ++i, ++l) p[l] += a[i] * b[i];
    return ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
}

}  // namespace

void gemm_columns_generic(const GemmArgs& a, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
        const float* wr = a.w + n * a.k;
        for (int64_t m = 0; m < a.m; ++m) {
            const float d = dot8(a.x + m * a.ldx, wr, a.k);
            float* o = a.out + m * a.ldo + n;
            *o = a.accumulate ? *o + d : d;
        }
    }
}

}  // namespace pg::cpu
