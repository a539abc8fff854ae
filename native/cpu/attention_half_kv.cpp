// Attention over a bf16 / f16 KV cache on the CPU: the blocks one call reads (this layer's K and V
// of every block a sequence attends to, each once however many sequences share it) are widened
// into an fp32 scratch cache, and the fp32 attention code runs on it unchanged. Widening is exact,
// so the result equals fp32 attention over the rounded K/V. Costs one extra pass over the blocks.
#include <vector>

#include "attention_half_kv.h"
#include "context.h"
#include "kv_dtype.h"
#include "op_checks.h"

namespace pg::cpu {

const pg_attention_args* widen_half_kv(pg_context* ctx, const pg_attention_args& a, HalfKvScratch& s) {
    const pg_kv_cache_desc& c = a.cache;
    const int64_t layer_elems = int64_t(2) * c.num_kv_heads * c.block_size * c.head_size;  // K and V of one layer
    s.index.assign(size_t(c.num_blocks), -1);
    s.blocks.clear();
    s.tables.assign(size_t(a.num_seqs) * size_t(a.max_blocks_per_seq), 0);  // entries never read stay 0
    for (int32_t q = 0; q < a.num_seqs; ++q) {
        const int32_t q_len = a.query_start[q + 1] - a.query_start[q];
        const int32_t len = a.seq_lens[q];
        const int32_t first = window_start(a.sliding_window, len - q_len) / c.block_size;
        const int32_t used = (len + c.block_size - 1) / c.block_size;
        const int64_t row = int64_t(q) * a.max_blocks_per_seq;
        for (int32_t b = first; b < used; ++b) {
            const int32_t id = a.block_tables[row + b];
            if (s.index[size_t(id)] < 0) {
                s.index[size_t(id)] = int32_t(s.blocks.size());
                s.blocks.push_back(id);
            }
            s.tables[size_t(row + b)] = s.index[size_t(id)];
        }
    }
    s.data.resize(s.blocks.size() * size_t(layer_elems));
    dispatch_kv(c.dtype, [&](auto kv) {
        using K = decltype(kv);
        const auto* src = static_cast<const typename K::Elem*>(c.data);
        parallel_rows(ctx, int64_t(s.blocks.size()), layer_elems, [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) {
                const auto* from = src + cache_offset(c, s.blocks[size_t(i)], a.layer, 0, 0, 0);
                float* to = s.data.data() + i * layer_elems;
                for (int64_t j = 0; j < layer_elems; ++j) to[j] = K::load(from[j]);
            }
        });
    });
    s.args = a;
    s.args.cache.data = s.data.data();
    s.args.cache.num_blocks = s.blocks.empty() ? 1 : int32_t(s.blocks.size());
    s.args.cache.num_layers = 1;
    s.args.cache.dtype = PG_DTYPE_F32;
    s.args.layer = 0;
    s.args.block_tables = s.tables.data();
    return &s.args;
}

}  // namespace pg::cpu
