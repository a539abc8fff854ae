// SIMT emulator: warp collectives (shuffles, votes, __syncwarp) through per-warp slots; the last
// lane of the mask to arrive completes the collective for all of them.
#include "emulator.h"

namespace pg_simt {

namespace detail {

const char* kind_name(int kind) {
    switch (kind) {
        case kShflIdx: return "__shfl_sync";
        case kShflXor: return "__shfl_xor_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflUp: return "__shfl_up_sync";
        case kBallot: return "__ballot_sync";
        case kAny: return "__any_sync";
        case kAll: return "__all_sync";
        default: return "__syncwarp";
    }
}

}  // namespace detail

using namespace detail;

namespace {

void complete_collective(WarpSlot& w, int warp_index) {
    Launch& L = *g_launch;
    const int base = warp_index * 32;
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l)
        if ((w.mask >> l) & 1u)
            if (w.value[l] != 0) ballot |= 1u << l;
    for (int l = 0; l < 32; ++l) {
        if (((w.mask >> l) & 1u) == 0) continue;
        Fiber& f = L.fibers[size_t(base + l)];
        uint64_t r = 0;
        const int width = w.width;
        const int seg = l & ~(width - 1);
        int src = l;
        bool shuffle = true;
        switch (w.kind) {
            case kShflIdx: src = seg + (w.arg[l] & (width - 1)); break;
            case kShflXor: src = l ^ w.arg[l]; if ((src & ~(width - 1)) != seg) src = l; break;
            case kShflDown: src = (l - seg) + w.arg[l] < width ? l + w.arg[l] : l; break;
            case kShflUp: src = (l - seg) - w.arg[l] >= 0 ? l - w.arg[l] : l; break;
            default: shuffle = false; break;
        }
        if (shuffle) {
            if (src < 0 || src > 31 || ((w.mask >> src) & 1u) == 0)
                abort_launch(format("%s at %s:%d: lane %d reads lane %d, which is not in mask 0x%08x",
                                    kind_name(w.kind), base_name(w.loc.file), w.loc.line, l, src,
                                    w.mask));
            r = w.value[src];
        } else if (w.kind == kBallot) {
            r = ballot;
        } else if (w.kind == kAny) {
            r = ballot != 0;
        } else if (w.kind == kAll) {
            r = ballot == w.mask;
        }
        f.coll_result = r;
        if (&f != L.current) f.state = kRunnable;
    }
    w.pending = 0;
}

}  // namespace

uint64_t warp_collective(Loc loc, int kind, unsigned mask, uint64_t value, int arg, int width) {
    Launch& L = *g_launch;
    Fiber* f = L.current;
    const int lane = f->coords.lane;
    WarpSlot& w = L.warps[size_t(f->coords.warp)];
    if (((mask >> lane) & 1u) == 0)
        abort_launch(format("%s at %s:%d: %s (lane %d) is not in mask 0x%08x", kind_name(kind),
                            base_name(loc.file), loc.line, where(*f).c_str(), lane, mask));
    if ((mask & ~w.existing) != 0)
        abort_launch(format("%s at %s:%d: mask 0x%08x names lanes that do not exist in this block "
                            "(warp lanes 0x%08x)",
                            kind_name(kind), base_name(loc.file), loc.line, mask, w.existing));
    if ((mask & w.exited) != 0)
        abort_launch(format("%s at %s:%d: mask 0x%08x includes lanes that already exited (0x%08x)",
                            kind_name(kind), base_name(loc.file), loc.line, mask, mask & w.exited));
    if (width <= 0 || width > 32 || (width & (width - 1)) != 0)
        abort_launch(format("%s at %s:%d: width %d is not a power of two <= 32", kind_name(kind),
                            base_name(loc.file), loc.line, width));
    if (w.pending == 0) {
        w.kind = kind;
        w.mask = mask;
        w.loc = loc;
        w.width = width;
    } else if (w.kind != kind || w.mask != mask || w.loc.line != loc.line ||
               std::strcmp(w.loc.file, loc.file) != 0) {
        abort_launch(format("mismatched warp collectives: %s (lane %d) is at %s %s:%d mask 0x%08x "
                            "while lanes 0x%08x of its warp wait at %s %s:%d mask 0x%08x",
                            where(*f).c_str(), lane, kind_name(kind), base_name(loc.file), loc.line,
                            mask, w.pending, kind_name(w.kind), base_name(w.loc.file), w.loc.line,
                            w.mask));
    }
    w.value[lane] = value;
    w.arg[lane] = arg;
    w.pending |= 1u << lane;
    if (w.pending == mask) {
        complete_collective(w, f->coords.warp);
        return f->coll_result;
    }
    f->state = kWaitWarp;
    f->wait_loc = loc;
    switch_to_scheduler();
    return f->coll_result;
}

}  // namespace pg_simt
