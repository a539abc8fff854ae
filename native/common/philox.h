// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC'11;
// the reference implementation is Random123's philox.h). A counter-based generator: the output is a
// pure function of a 128-bit counter and a 64-bit key, so a sampling row's draw depends only on
// (seed, step) -- never on the batch, the thread count or a GPU launch shape.
//
// Header-only, plain 32/64-bit integer arithmetic, no statics, no intrinsics and no macros around the
// functions, so a CUDA translation unit can include it as is: mark nothing, and compile with
// --expt-relaxed-constexpr (the functions are constexpr, which nvcc lets device code call), or wrap
// the include in a `__host__ __device__` pragma region. Known-answer vectors (Random123 kat_vectors)
// are checked by tests/Paged.Runtime.Tests/SamplingOpTests.cs through the C# mirror and the op.
//
// How sampling uses it (see native/cpu/sample.cpp):
//   key     = (seed low 32 bits, seed high 32 bits)
//   counter = (step low 32 bits, step high 32 bits, lane, 0); lane 0 is the token draw
//   u       = 53-bit double in [0, 1) from output words 0 and 1
#pragma once
#include <cstdint>

namespace pg {

struct Philox4x32 {
    uint32_t v[4];
};

namespace philox_detail {

constexpr uint32_t kM0 = 0xD2511F53u;  // multipliers
constexpr uint32_t kM1 = 0xCD9E8D57u;
constexpr uint32_t kW0 = 0x9E3779B9u;  // Weyl key increments (golden ratio, sqrt(3) - 1)
constexpr uint32_t kW1 = 0xBB67AE85u;

constexpr Philox4x32 round(Philox4x32 c, uint32_t k0, uint32_t k1) {
    const uint64_t p0 = uint64_t(kM0) * c.v[0];
    const uint64_t p1 = uint64_t(kM1) * c.v[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    return Philox4x32{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
}

}  // namespace philox_detail

// Ten rounds; the key is bumped by the Weyl constants between rounds (nine bumps).
constexpr Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t key0, uint32_t key1) {
    Philox4x32 c = counter;
    for (int r = 0; r < 10; ++r) {
        if (r > 0) {
            key0 += philox_detail::kW0;
            key1 += philox_detail::kW1;
        }
        c = philox_detail::round(c, key0, key1);
    }
    return c;
}

// The uniform in [0, 1) used for row `seed` at step `step` (lane picks an independent stream).
constexpr double philox_uniform(uint64_t seed, uint64_t step, uint32_t lane) {
    const Philox4x32 out = philox4x32_10(
        Philox4x32{{uint32_t(step), uint32_t(step >> 32), lane, 0u}}, uint32_t(seed),
        uint32_t(seed >> 32));
    const uint64_t bits = (uint64_t(out.v[0]) << 32) | out.v[1];
    return double(bits >> 11) * (1.0 / 9007199254740992.0);  // 2^-53
}

// Compile-time known-answer checks (Random123 kat_vectors, philox4x32 10 rounds).
static_assert(philox4x32_10(Philox4x32{{0u, 0u, 0u, 0u}}, 0u, 0u).v[0] == 0x6627e8d5u &&
                  philox4x32_10(Philox4x32{{0u, 0u, 0u, 0u}}, 0u, 0u).v[3] == 0x9b00dbd8u,
              "Philox4x32-10 known answer (zero counter, zero key)");

}  // namespace pg
