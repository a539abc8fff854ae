// Paged attention (decode and prefill share this code). One task per (query token, kv head): it
// handles every query head of that GQA group, reading K/V rows straight from their cache blocks and
// never touching slots past the token's own position. Softmax follows llama2.c (max-subtract,
// expf, float sum, divide by the sum), then out = sum_j p_j * V[j] in order j = 0..pos.
#include <cmath>
#include <vector>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"
#include "vec.h"

namespace pg::cpu {

namespace {

pg_status validate(const char* op, const pg_context* ctx, const pg_attention_args* a, bool decode,
                   int64_t* work) {
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_attention_shape(op, a, kF32Only));
    return check_attention_indices(op, a, decode, a->query_start, a->seq_lens, a->block_tables, work);
}

// Sequence owning query token t: the last s with query_start[s] <= t (query_start is sorted).
int32_t find_seq(const int32_t* query_start, int32_t num_seqs, int32_t t) {
    int32_t lo = 0, hi = num_seqs - 1;
    while (lo < hi) {
        const int32_t mid = (lo + hi + 1) / 2;
        if (query_start[mid] <= t) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

struct Task {
    const pg_attention_args* a;
    const VecOps* ops;
    int32_t group;  // query heads per kv head
};

void run_task(const Task& task, int64_t index) {
    const pg_attention_args& a = *task.a;
    const pg_kv_cache_desc& c = a.cache;
    const int32_t t = int32_t(index / c.num_kv_heads);
    const int32_t g = int32_t(index % c.num_kv_heads);
    const int32_t s = find_seq(a.query_start, a.num_seqs, t);
    const int32_t q_len = a.query_start[s + 1] - a.query_start[s];
    const int32_t pos = a.seq_lens[s] - q_len + (t - a.query_start[s]);
    const int32_t n = pos + 1;  // positions attended to
    const int32_t hs = c.head_size;
    const int32_t* table = a.block_tables + int64_t(s) * a.max_blocks_per_seq;
    const auto* cache = static_cast<const float*>(c.data);

    thread_local std::vector<float> scores;
    if (scores.size() < size_t(n)) scores.resize(size_t(a.max_seq_len));
    float* sc = scores.data();

    for (int32_t h = g * task.group; h < (g + 1) * task.group; ++h) {
        const float* q = static_cast<const float*>(a.query) + int64_t(t) * a.q_stride +
                         int64_t(h) * hs;
        float max_score = -INFINITY;
        for (int32_t j0 = 0; j0 < n; j0 += c.block_size) {
            const float* k = cache + cache_offset(c, table[j0 / c.block_size], a.layer, 0, g, 0);
            const int32_t rows = n - j0 < c.block_size ? n - j0 : c.block_size;
            for (int32_t o = 0; o < rows; ++o) {
                const float v = task.ops->dot(q, k + int64_t(o) * hs, hs) * a.scale;
                sc[j0 + o] = v;
                max_score = v > max_score ? v : max_score;
            }
        }
        float sum = 0.0f;
        for (int32_t j = 0; j < n; ++j) {
            sc[j] = expf(sc[j] - max_score);
            sum += sc[j];
        }
        for (int32_t j = 0; j < n; ++j) sc[j] /= sum;
        float* out = static_cast<float*>(a.out) + (int64_t(t) * a.num_heads + h) * hs;
        for (int32_t d = 0; d < hs; ++d) out[d] = 0.0f;
        for (int32_t j0 = 0; j0 < n; j0 += c.block_size) {
            const float* v = cache + cache_offset(c, table[j0 / c.block_size], a.layer, 1, g, 0);
            const int32_t rows = n - j0 < c.block_size ? n - j0 : c.block_size;
            for (int32_t o = 0; o < rows; ++o) task.ops->axpy(sc[j0 + o], v + int64_t(o) * hs, out, hs);
        }
    }
}

pg_status attention(pg_context* ctx, const pg_attention_args* a, bool decode) {
    const char* op = decode ? "attention_decode" : "attention_prefill";
    int64_t work = 0;
    PG_TRY(validate(op, ctx, a, decode, &work));
    if (a->num_tokens == 0) return PG_OK;
    const Task task{a, &vec_ops(ctx->avx2), a->num_heads / a->cache.num_kv_heads};
    const int64_t tasks = int64_t(a->num_tokens) * a->cache.num_kv_heads;
    if (work < kParallelThreshold) {
        for (int64_t i = 0; i < tasks; ++i) run_task(task, i);
    } else {
        ctx->pool.parallel_for(tasks, [&](int64_t i) { run_task(task, i); });
    }
    return PG_OK;
}

}  // namespace

pg_status attention_decode(pg_context* ctx, const pg_attention_args* a) {
    return attention(ctx, a, true);
}

pg_status attention_prefill(pg_context* ctx, const pg_attention_args* a) {
    return attention(ctx, a, false);
}

}  // namespace pg::cpu
