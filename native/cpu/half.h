// Scalar fp16 / bf16 -> fp32 conversions for the portable paths (exact: every half value is a float).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace pg::cpu {

inline float bits_to_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

inline float bf16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }

// IEEE binary16: subnormals renormalised, inf and NaN kept (NaN payload shifted into place).
inline float f16_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return bits_to_float(sign);
        exp = 1;
        while ((man & 0x400u) == 0) {  // subnormal: shift the leading 1 into the implicit bit
            man <<= 1;
            --exp;
        }
        man &= 0x3ffu;
    }
    return bits_to_float(sign | ((exp + 112u) << 23) | (man << 13));
}

}  // namespace pg::cpu

namespace pg::cpu {

inline uint32_t float_to_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// fp32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet bit set).
inline uint16_t float_to_bf16(float f) {
    const uint32_t u = float_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40u);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// fp32 -> IEEE binary16 bits, round to nearest even (overflow to inf, subnormals rounded exactly).
inline uint16_t float_to_f16(float f) {
    const uint32_t u = float_to_bits(f);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    const uint32_t abs = u & 0x7fffffffu;
    if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
    if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: infinity
    if (abs < 0x38800000u) {  // subnormal or zero: value / 2^-24 rounded to nearest even (exact in fp32)
        const float scaled = bits_to_float(abs) * 16777216.0f;
        return uint16_t(sign | uint16_t(std::nearbyint(scaled)));  // default rounding: ties to even
    }
    uint32_t r = (((abs >> 23) - 112) << 10) | ((abs >> 13) & 0x3ffu);
    const uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (r & 1u))) ++r;
    return uint16_t(sign | r);
}

}  // namespace pg::cpu
