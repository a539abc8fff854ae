#include "checks.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace pg {

const char* dtype_name(int32_t dtype) {
    switch (dtype) {
        case PG_DTYPE_F32: return "f32";
        case PG_DTYPE_F16: return "f16";
        case PG_DTYPE_BF16: return "bf16";
        case PG_DTYPE_Q8_0: return "q8_0";
        default: return "unknown";
    }
}

pg_status check_ptr(const char* op, const char* name, const void* p) {
    if (p == nullptr) return fail(PG_ERR_INVALID_ARGUMENT, "%s: %s must not be NULL", op, name);
    return PG_OK;
}

pg_status check_positive(const char* op, const char* name, int64_t v) {
    if (v <= 0)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: %s must be > 0 (got %" PRId64 ")", op, name, v);
    return PG_OK;
}

pg_status check_non_negative(const char* op, const char* name, int64_t v) {
    if (v < 0)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: %s must be >= 0 (got %" PRId64 ")", op, name, v);
    return PG_OK;
}

pg_status check_dtype(const char* op, const char* name, int32_t dtype, uint32_t supported) {
    if (dtype < PG_DTYPE_F32 || dtype > PG_DTYPE_Q8_0)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: %s = %d is not a pg_dtype", op, name, dtype);
    if ((supported & (1u << dtype)) == 0) {
        char list[64] = "";  // the supported dtypes, named: "f32", "f32, f16, bf16"
        for (int32_t d = PG_DTYPE_F32; d <= PG_DTYPE_Q8_0; ++d)
            if ((supported & (1u << d)) != 0)
                std::snprintf(list + std::strlen(list), sizeof list - std::strlen(list), "%s%s", list[0] ? ", " : "", dtype_name(d));
        return fail(PG_ERR_DTYPE, "%s: %s = %s is not supported by this backend (only %s)", op,
                    name, dtype_name(dtype), list);
    }
    return PG_OK;
}

pg_status check_stride(const char* op, const char* name, int64_t stride, int64_t min_stride) {
    if (stride < min_stride)
        return fail(PG_ERR_SHAPE, "%s: %s must be >= %" PRId64 " (got %" PRId64 ")", op, name,
                    min_stride, stride);
    return PG_OK;
}

pg_status check_index(const char* op, const char* name, int64_t v, int64_t limit) {
    if (v < 0 || v >= limit)
        return fail(PG_ERR_OUT_OF_RANGE, "%s: %s = %" PRId64 " is outside [0, %" PRId64 ")", op,
                    name, v, limit);
    return PG_OK;
}

pg_status check_cache_desc(const char* op, const pg_kv_cache_desc& c, uint32_t supported) {
    PG_TRY(check_ptr(op, "cache.data", c.data));
    PG_TRY(check_positive(op, "cache.num_blocks", c.num_blocks));
    PG_TRY(check_positive(op, "cache.num_layers", c.num_layers));
    PG_TRY(check_positive(op, "cache.num_kv_heads", c.num_kv_heads));
    PG_TRY(check_positive(op, "cache.block_size", c.block_size));
    PG_TRY(check_positive(op, "cache.head_size", c.head_size));
    PG_TRY(check_dtype(op, "cache.dtype", c.dtype, supported));
    return PG_OK;
}

}  // namespace pg
