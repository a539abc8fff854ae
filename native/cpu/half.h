// Scalar fp16 / bf16 -> fp32 conversions for the portable paths (exact: every half value is a float).
#pragma once
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
