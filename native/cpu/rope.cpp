// Rotary position embedding, in place on q and k. Without a frequency table the angles follow llama2.c
// exactly (freq = 1 / powf(theta, 2j / rotary_dim), angle = pos * freq in float, cosf / sinf) so that
// generated tokens match the reference implementation bit for bit; with one (inv_freq, HF rope
// scaling) angle = pos * inv_freq[j] in float, as transformers computes it.
#include <cmath>
#include <vector>

#include "checks.h"
#include "op_checks.h"
#include "context.h"
#include "ops.h"

namespace pg::cpu {

namespace {

void rotate_head(float* x, const float* c, const float* s, int32_t half, int32_t style) {
    if (style == PG_ROPE_ADJACENT_PAIRS) {
        for (int32_t j = 0; j < half; ++j) {
            const float a = x[2 * j], b = x[2 * j + 1];
            x[2 * j] = a * c[j] - b * s[j];
            x[2 * j + 1] = a * s[j] + b * c[j];
        }
    } else {
        for (int32_t j = 0; j < half; ++j) {
            const float a = x[j], b = x[j + half];
            x[j] = a * c[j] - b * s[j];
            x[j + half] = a * s[j] + b * c[j];
        }
    }
}

}  // namespace

pg_status rope(pg_context* ctx, const pg_rope_args* a) {
    const char* op = "rope";
    PG_TRY(check_ctx(op, ctx));
    PG_TRY(check_rope_shape(a, kF32Only));
    PG_TRY(check_rope_positions(a, a->positions));

    const int32_t half = a->rotary_dim / 2;
    // Frequencies depend only on (theta, rotary_dim) or the table: resolved once per call.
    std::vector<float> freq(static_cast<size_t>(half));
    for (int32_t j = 0; j < half; ++j)
        freq[size_t(j)] = a->inv_freq != nullptr ? a->inv_freq[j]
                                                 : 1.0f / powf(a->theta, float(2 * j) / float(a->rotary_dim));
    auto* q = static_cast<float*>(a->q);
    auto* k = static_cast<float*>(a->k);
    const int64_t heads = int64_t(a->num_heads) + a->num_kv_heads;
    parallel_rows(ctx, a->num_tokens, heads * a->rotary_dim * 3 + half * 40,
                  [&](int64_t b, int64_t e) {
                      thread_local std::vector<float> cs;
                      if (cs.size() < size_t(2 * half)) cs.resize(size_t(2 * half));
                      float* c = cs.data();
                      float* s = c + half;
                      for (int64_t t = b; t < e; ++t) {
                          const float pos = float(a->positions[t]);
                          for (int32_t j = 0; j < half; ++j) {
                              const float val = pos * freq[size_t(j)];
                              c[j] = cosf(val);
                              s[j] = sinf(val);
                          }
                          for (int32_t h = 0; h < a->num_heads; ++h)
                              rotate_head(q + t * a->q_stride + int64_t(h) * a->head_size, c, s,
                                          half, a->style);
                          for (int32_t h = 0; h < a->num_kv_heads; ++h)
                              rotate_head(k + t * a->k_stride + int64_t(h) * a->head_size, c, s,
                                          half, a->style);
                      }
                  });
    return PG_OK;
}

}  // namespace pg::cpu
