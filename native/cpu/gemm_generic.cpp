// Portable GEMM: one dot product per output (dot_portable: 8 partial sums, auto-vectorizes to SSE).
// Half-precision and q8_0 weight rows are widened into a small per-thread buffer first (one row at a
// time, reused for every row of x).
#include <vector>

#include "gemm.h"
#include "half.h"
#include "vec.h"

namespace pg::cpu {

namespace {

const float* weight_row(const GemmArgs& a, int64_t n, std::vector<float>& buf) {
    if (a.w_dtype == PG_DTYPE_F32) return static_cast<const float*>(a.w) + n * a.k;
    buf.resize(size_t(a.k));
    if (a.w_dtype == PG_DTYPE_Q8_0) {
        const Q8Block* blocks = static_cast<const Q8Block*>(a.w) + n * (a.k / 32);
        for (int64_t i = 0; i < a.k; ++i)
            buf[size_t(i)] = f16_to_float(blocks[i / 32].d) * float(blocks[i / 32].qs[i % 32]);
        return buf.data();
    }
    const uint16_t* src = static_cast<const uint16_t*>(a.w) + n * a.k;
    buf.resize(size_t(a.k));
    for (int64_t i = 0; i < a.k; ++i)
        buf[size_t(i)] = a.w_dtype == PG_DTYPE_BF16 ? bf16_to_float(src[i]) : f16_to_float(src[i]);
    return buf.data();
}

}  // namespace

void gemm_columns_generic(const GemmArgs& a, int64_t n0, int64_t n1) {
    thread_local std::vector<float> buf;
    for (int64_t n = n0; n < n1; ++n) {
        const float* wr = weight_row(a, n, buf);
        for (int64_t m = 0; m < a.m; ++m) {
            const float d = a.bias != nullptr ? dot_portable(a.x + m * a.ldx, wr, a.k) + a.bias[n]
                                              : dot_portable(a.x + m * a.ldx, wr, a.k);
            float* o = a.out + m * a.ldo + n;
            *o = a.accumulate ? *o + d : d;
        }
    }
}

}  // namespace pg::cpu
