// SIMT emulator: thread schedules (forward, reverse, random:SEED) from set_schedule or
// PAGED_SIMT_SCHEDULE, so that a kernel's result cannot depend on the order threads run in.
#include "emulator.h"

#include <cstdlib>

namespace pg_simt {

namespace {

std::string g_schedule_override;

}  // namespace

namespace detail {

Schedule parse_schedule() {
    Schedule s;
    std::string text = g_schedule_override;
    if (text.empty()) {
        const char* env = std::getenv("PAGED_SIMT_SCHEDULE");
        if (env != nullptr) text = env;
    }
    if (text == "reverse") {
        s.mode = 1;
    } else if (text.rfind("random", 0) == 0) {
        s.mode = 2;
        const size_t colon = text.find(':');
        s.rng.seed(colon == std::string::npos ? 1u : unsigned(std::strtoul(text.c_str() + colon + 1, nullptr, 10)));
    }
    return s;
}

}  // namespace detail

using namespace detail;

void set_schedule(const std::string& schedule) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_schedule_override = schedule;
}

}  // namespace pg_simt
