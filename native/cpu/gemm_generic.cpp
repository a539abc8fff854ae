// Portable GEMM: one dot product per output (dot_portable: 8 partial sums, auto-vectorizes to SSE).
#include "gemm.h"
#include "vec.h"

namespace pg::cpu {

void gemm_columns_generic(const GemmArgs& a, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
        const float* wr = a.w + n * a.k;
        for (int64_t m = 0; m < a.m; ++m) {
            const float d = a.bias != nullptr ? dot_portable(a.x + m * a.ldx, wr, a.k) + a.bias[n]
                                              : dot_portable(a.x + m * a.ldx, wr, a.k);
            float* o = a.out + m * a.ldo + n;
            *o = a.accumulate ? *o + d : d;
        }
    }
}

}  // namespace pg::cpu
