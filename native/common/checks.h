// Argument-checking helpers shared by every backend. Each returns PG_OK or records a message naming
// the op, the argument and the bad value (via pg::fail) and returns the matching status.
#pragma once
#include <cstdint>

#include "paged.h"
#include "status.h"

namespace pg {

// Bit set of dtypes an op supports on a backend (bit i = pg_dtype i).
constexpr uint32_t kF32Only = 1u << PG_DTYPE_F32;
constexpr uint32_t kLoraWeightDtypes = (1u << PG_DTYPE_F32) | (1u << PG_DTYPE_BF16);
constexpr uint32_t kAnyDtype = (1u << PG_DTYPE_F32) | (1u << PG_DTYPE_F16) | (1u << PG_DTYPE_BF16);

pg_status check_ptr(const char* op, const char* name, const void* p);         // non-NULL
pg_status check_positive(const char* op, const char* name, int64_t v);        // v > 0
pg_status check_non_negative(const char* op, const char* name, int64_t v);    // v >= 0
// Unknown value -> INVALID_ARGUMENT; known but not in `supported` -> DTYPE.
pg_status check_dtype(const char* op, const char* name, int32_t dtype, uint32_t supported);
// Row stride in elements must cover the row: stride >= min_stride -> else SHAPE.
pg_status check_stride(const char* op, const char* name, int64_t stride, int64_t min_stride);
// Every field of a KV cache descriptor (data non-NULL, sizes > 0, supported dtype).
pg_status check_cache_desc(const char* op, const pg_kv_cache_desc& c, uint32_t supported);
// 0 <= v < limit -> else OUT_OF_RANGE.
pg_status check_index(const char* op, const char* name, int64_t v, int64_t limit);

const char* dtype_name(int32_t dtype);

// Bytes of one element of a pg_dtype.
inline int64_t dtype_bytes(int32_t dtype) { return dtype == PG_DTYPE_F32 ? 4 : 2; }

// Elements in one cache block (every layer, K and V): the unit block_copy moves.
inline int64_t cache_block_elems(const pg_kv_cache_desc& c) {
    return int64_t(c.num_layers) * 2 * c.num_kv_heads * c.block_size * c.head_size;
}

// Element offset of (block, layer, kv = 0 for K / 1 for V, kv head, offset in block, 0).
inline int64_t cache_offset(const pg_kv_cache_desc& c, int64_t block, int32_t layer, int kv,
                            int32_t head, int32_t offset) {
    return ((((block * c.num_layers + layer) * 2 + kv) * c.num_kv_heads + head) * c.block_size +
            offset) *
           int64_t(c.head_size);
}

}  // namespace pg
