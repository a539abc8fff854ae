// The struct-layout table every backend returns from describe_layouts, so the host can assert that
// its blittable mirrors match the C structs byte for byte. One table, shared by all backends.
#pragma once
#include "paged.h"

namespace pg {
pg_status describe_layouts(const pg_field_layout** entries, int32_t* count);
}
