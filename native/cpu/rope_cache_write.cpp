// RoPE fused with the cache write. On the CPU the two ops are already one pass each over data in
// cache, so the fused op validates both halves (with its own name) and runs them in turn: the same
// results as rope then cache_write, by construction.
#include "checks.h"
#include "context.h"
#include "op_checks.h"
#include "ops.h"

namespace pg::cpu {

pg_status rope_cache_write(pg_context* ctx, const pg_rope_cache_write_args* a) {
    PG_TRY(check_ctx("rope_cache_write", ctx));
    PG_TRY(check_rope_cache_write_shape(a, kF32Only));
    PG_TRY(check_rope_cache_write_indices(a, a->rope.positions, a->cache_write.slot_mapping));
    PG_TRY(rope(ctx, &a->rope));
    return cache_write(ctx, &a->cache_write);
}

}  // namespace pg::cpu
