// SIMT emulator: the coalescing trace. Each traced load is a warp request; the report compares the
// 32-byte sectors it touched with the fewest its unique bytes need.
#include "emulator.h"

namespace pg_simt {

namespace detail {

bool g_trace_enabled = false;

}  // namespace detail

using namespace detail;

namespace {

std::map<std::pair<std::string, std::string>, SiteStats> g_site_stats;  // (kernel, file:line)

}  // namespace

namespace detail {

void flush_trace(Launch& L) {
    for (auto& [key, req] : L.trace) {
        SiteStats& s = g_site_stats[{L.name, format("%s:%d", base_name(key.file), key.line)}];
        s.requests += 1;
        s.sectors += req.sectors.size();
        s.bytes += req.bytes_unique;
        s.ideal += (req.bytes_unique + 31) / 32;
    }
    L.trace.clear();
}

}  // namespace detail

void trace_load(const void* p, size_t bytes, Loc loc) {
    Launch& L = *g_launch;
    Fiber* f = L.current;
    uint32_t& n = (*f->trace_counts)[loc.file][loc.line];
    TraceRequest& r = L.trace[TraceKey{loc.file, loc.line, f->coords.warp, n}];
    ++n;
    const auto a = reinterpret_cast<uintptr_t>(p);
    if (r.addresses.insert(a).second) r.bytes_unique += bytes;
    for (uintptr_t s = a / 32; s <= (a + bytes - 1) / 32; ++s) r.sectors.insert(s);
}

void set_coalescing_trace(bool on) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_trace_enabled = on;
}

void reset_coalescing() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_site_stats.clear();
}

std::string coalescing_report() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::string out =
        "| kernel | load site | warp requests | sectors / request | ideal | ratio |\n"
        "|---|---|---:|---:|---:|---:|\n";
    for (const auto& [key, s] : g_site_stats) {
        if (s.requests == 0) continue;
        const double got = double(s.sectors) / double(s.requests);
        const double ideal = double(s.ideal) / double(s.requests);
        out += format("| %s | %s | %llu | %.2f | %.2f | %.2f |\n", key.first.c_str(),
                      key.second.c_str(), static_cast<unsigned long long>(s.requests), got, ideal,
                      ideal > 0 ? got / ideal : 0.0);
    }
    return out;
}

}  // namespace pg_simt
