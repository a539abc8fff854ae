#include "status.h"

#include <cstdarg>
#include <cstdio>

namespace pg {

namespace {
// Fixed-size buffer: no allocation on the error path, valid until the thread's next failure.
thread_local char t_message[512] = "";
}  // namespace

pg_status fail(pg_status status, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(t_message, sizeof t_message, fmt, ap);
    va_end(ap);
    return status;
}

const char* last_error() { return t_message; }

}  // namespace pg
