// GEMM kernels: out[m, n] (+)= dot(x[m, :], w[n, :]) + bias[n] for all m in [0, M) and n in [n0, n1)
// (the bias, when given, is added to the dot product before out is accumulated into).
// Both flavours compute every output element with a fixed summation order that does not depend on
// how the n range is split, so results are identical for any thread count. x and out are fp32; w is
// fp32, fp16, bf16 or q8_0 (widened as they are loaded: fp32 products and sums).
#pragma once
#include <cstdint>

#include "paged.h"

namespace pg::cpu {

struct GemmArgs {
    const float* x;
    int64_t ldx;
    const void* w;  // [N, K] dense, of w_dtype
    float* out;
    int64_t ldo;
    int64_t m;
    int64_t k;
    bool accumulate;
    const float* bias;  // [N] or nullptr
    int32_t w_dtype;    // PG_DTYPE_F32, PG_DTYPE_F16, PG_DTYPE_BF16 or PG_DTYPE_Q8_0
};

// Weight element tags for the kernels' templates (one per w_dtype besides float).
struct Bf16 {
    uint16_t bits;
};
struct F16 {
    uint16_t bits;
};

// A GGUF q8_0 block: w[i] = f16(d) * qs[i] for 32 consecutive weights of a row (k % 32 == 0).
struct Q8Block {
    uint16_t d;
    int8_t qs[32];
};
static_assert(sizeof(Q8Block) == 34, "q8_0 blocks are 34 bytes, unpadded");

void gemm_columns_avx2(const GemmArgs& a, int64_t n0, int64_t n1);
void gemm_columns_generic(const GemmArgs& a, int64_t n0, int64_t n1);
void gemm_columns_avx512(const GemmArgs& a, int64_t n0, int64_t n1);

}  // namespace pg::cpu
