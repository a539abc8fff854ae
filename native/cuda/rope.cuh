// Device helpers shared by the rope kernel and the fused rope + cache-write kernel: the angle of pair j
// (the CPU backend's formula) and where the pair's two elements sit.
#pragma once
#include "common.cuh"

namespace pg::cuda {

// cos and sin of pos * freq_j; freq_j = inv_freq[j] when the table is given, else
// 1 / theta^(2j / rotary_dim), in float.
__device__ __forceinline__ void rope_cos_sin(const float* __restrict__ inv_freq, float theta, int rotary_dim, int j,
                                             float pos, float* c, float* s) {
    const float freq =
        inv_freq != nullptr ? PG_LDG(inv_freq + j) : 1.0f / powf(theta, float(2 * j) / float(rotary_dim));
    const float val = pos * freq;
    *c = cosf(val);
    *s = sinf(val);
}

// Offsets of pair j's elements in a head: (2j, 2j+1) for adjacent pairs, (j, j + half) for rotate-half.
__device__ __forceinline__ void rope_pair(int style, int j, int half, int* i0, int* i1) {
    *i0 = style == PG_ROPE_ADJACENT_PAIRS ? 2 * j : j;
    *i1 = style == PG_ROPE_ADJACENT_PAIRS ? 2 * j + 1 : j + half;
}

}  // namespace pg::cuda
