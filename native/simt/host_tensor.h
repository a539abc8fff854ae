// Host images of device tensors for the kernel grid (kernel_tests.cpp, gemm_tests.cpp): f32, f16 or bf16
// elements as bytes, written with round-to-nearest-even and read back as the exact values kernels see.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "paged.h"
#include "simt.h"

inline const char* dt_name(int dt) { return dt == PG_DTYPE_F32 ? "f32" : dt == PG_DTYPE_F16 ? "f16" : "bf16"; }
inline size_t dt_size(int dt) { return dt == PG_DTYPE_F32 ? 4 : 2; }

struct HostTensor {
    int dt;
    std::vector<unsigned char> bytes;
    HostTensor(int dt_, size_t n) : dt(dt_), bytes(n * dt_size(dt_), 0xff) {}
    size_t size() const { return bytes.size() / dt_size(dt); }
    void set(size_t i, float v) {
        if (dt == PG_DTYPE_F32) {
            std::memcpy(&bytes[i * 4], &v, 4);
        } else {
            const uint16_t h = dt == PG_DTYPE_F16 ? __float2half(v).x : __float2bfloat16(v).x;
            std::memcpy(&bytes[i * 2], &h, 2);
        }
    }
    float get(size_t i) const {
        if (dt == PG_DTYPE_F32) {
            float v;
            std::memcpy(&v, &bytes[i * 4], 4);
            return v;
        }
        uint16_t h;
        std::memcpy(&h, &bytes[i * 2], 2);
        return dt == PG_DTYPE_F16 ? __half2float(__half{h}) : __bfloat162float(__nv_bfloat16{h});
    }
};
