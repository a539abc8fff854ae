// Host-side helpers shared by the decode and prefill attention launchers.
#pragma once
#include <vector>

#include "backend.h"
#include "op_checks.h"

namespace pg::cuda {

// Validates the arguments: the shape always; the index arrays on the host only where the context
// does (the emulator) -- on a GPU the kernels guard them (check_table_range, the tile builder).
inline pg_status validate_attention(pg_context* ctx, const char* op, const pg_attention_args* a, bool decode) {
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_attention_shape(op, a, kAllDtypes));
    if (!ctx->validate_on_host) return PG_OK;
    std::vector<int32_t> query_start, seq_lens, tables;
    PG_TRY(to_host(ctx, op, "query_start", a->query_start, size_t(a->num_seqs) + 1, query_start));
    PG_TRY(to_host(ctx, op, "seq_lens", a->seq_lens, size_t(a->num_seqs), seq_lens));
    PG_TRY(to_host(ctx, op, "block_tables", a->block_tables, size_t(a->num_seqs) * size_t(a->max_blocks_per_seq), tables));
    return check_attention_indices(op, a, decode, query_start.data(), seq_lens.data(), tables.data(), nullptr);
}

// Device side: whether block-table entries [first, last] of one sequence are valid block ids; the
// first bad one is recorded. Every thread of the block gets the same answer (call it uniformly).
__device__ __forceinline__ bool check_table_range(const int32_t* table, int first, int last, int num_blocks,
                                                  int op, int s, DeviceError* err, int* flag) {
    if (threadIdx.x == 0) *flag = 0;
    __syncthreads();
    for (int b = first + int(threadIdx.x); b <= last; b += int(blockDim.x)) {
        const int id = table[b];
        if (id < 0 || id >= num_blocks) {
            atomicExch(flag, 1);
            report_error(err, kDevErrBlockTable, op, s, b, id, num_blocks);
        }
    }
    __syncthreads();
    const bool ok = *flag == 0;
    __syncthreads();
    return ok;
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
