// Host-side helpers shared by the decode and prefill attention launchers.
#pragma once
#include <vector>

#include "backend.h"
#include "op_checks.h"

namespace pg::cuda {

// Validates the arguments (index arrays are copied to the host first) and returns host copies.
struct AttentionHost {
    std::vector<int32_t> query_start, seq_lens, tables;
};

inline pg_status validate_attention(pg_context* ctx, const char* op, const pg_attention_args* a,
                                    bool decode, AttentionHost& h) {
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_attention_shape(op, a, kAllDtypes));
    PG_TRY(to_host(ctx, a->query_start, size_t(a->num_seqs) + 1, h.query_start));
    PG_TRY(to_host(ctx, a->seq_lens, size_t(a->num_seqs), h.seq_lens));
    PG_TRY(to_host(ctx, a->block_tables, size_t(a->num_seqs) * size_t(a->max_blocks_per_seq), h.tables));
    return check_attention_indices(op, a, decode, h.query_start.data(), h.seq_lens.data(),
                                   h.tables.data(), nullptr);
}

// Calls f(std::integral_constant<int, D>) for a supported head size.
template <class F>
pg_status dispatch_head_size(const char* op, int head_size, F&& f) {
    switch (head_size) {
        case 8: return f(std::integral_constant<int, 8>{});
        case 16: return f(std::integral_constant<int, 16>{});
        case 64: return f(std::integral_constant<int, 64>{});
        case 80: return f(std::integral_constant<int, 80>{});
        case 96: return f(std::integral_constant<int, 96>{});
        case 128: return f(std::integral_constant<int, 128>{});
        case 256: return f(std::integral_constant<int, 256>{});
        default:
            return fail(PG_ERR_UNSUPPORTED,
                        "%s: head_size = %d has no kernel on this backend (supported: 8, 16, 64, 80, 96, 128, 256)",
                        op, head_size);
    }
}

}  // namespace pg::cuda
