// Thread-local error message shared by every backend: each failing call records why it failed,
// api->last_error() returns it. A failure returns its status so call sites read `return fail(...)`.
#pragma once
#include "paged.h"

namespace pg {

// Formats the message (printf-style) into this thread's buffer and returns `status`.
pg_status fail(pg_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// This thread's last message ("" if no call has failed on this thread).
const char* last_error();

}  // namespace pg

// Propagates a non-OK status from a check helper.
#define PG_TRY(expr)                      \
    do {                                  \
        pg_status pg_try_status_ = (expr); \
        if (pg_try_status_ != PG_OK) return pg_try_status_; \
    } while (0)
