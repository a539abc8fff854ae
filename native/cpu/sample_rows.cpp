// Fused sampling (pg_sample_args in paged.h documents the semantics and their order).
//
// One row at a time, on one thread, with no global sort. The passes over a row of n logits:
//   1. scan the raw row: max, NaN / inf check;                         (always)
//   2. sum exp(raw - max) for the raw logprobs;                       (skipped when it equals pass 4)
//   3. copy + sparse edits (logit bias, min_tokens mask, penalties), then max of the processed row;
//                                                                      (only rows with edits)
//   4. e[j] = exp((s[j] - max) / temperature) into scratch (unnormalized probabilities, e[argmax] = 1);
//   5. min-p is the threshold e >= min_p (no pass);
//   6. top-k: a 1024-bin histogram of the survivors' float bit patterns (e >= 0, so the bits order like
//      the values) finds the bin holding the k-th largest; nth_element over that bin alone gives the
//      exact k-th value, the new threshold;
//   7. top-p: the same histogram weighted by mass finds the bin where the descending cumulative mass
//      crosses top_p * mass; two more radix levels over that bin's candidates (when crowded) and a
//      sort of the few left give the exact threshold;
//   8. survivor mass per block of 256 ids (fixed point), then the draw: u * total located by walking the
//      block sums, then the ids inside one block (inverse CDF in id order).
// Every filter is a threshold on e, so the survivors are always {j : e[j] >= theta, e[j] > 0}.
// Every sum of probabilities is exact: each e is rounded once to a fixed-point integer (fix(): units of
// 2^-42, round to nearest even; e <= 1, so a vocabulary of up to 2^21 ids cannot overflow 64 bits) and
// the integers are added, so the order of the additions is irrelevant. A row's result never depends on
// the batch or the thread count, and the AVX2 and portable paths (exp_scalar mirrors exp256_ps) and the
// CUDA kernel (native/cuda/sample.cu) give bit-identical tokens and logprobs.
//
// A CUDA port (one thread block per row) maps passes 1/2/4 to block reductions, 6/7 to shared-memory
// histograms plus a block-wide select inside one bin, and 8 to block sums plus a one-warp walk. To
// give the same tokens as this file bit for bit it must reproduce exactly: e[j] via the exp256_ps
// polynomial with fmaf and an IEEE division by the temperature (not __expf / fast division), the
// threshold comparisons on e, fix() and the double comparisons against u * total and top_p * total
// (sums of fix() are integers, so any reduction order gives the same value).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <utility>
#include <vector>

#include "checks.h"
#include "philox.h"
#include "sample_rows.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "vexp.h"
#define PG_SAMPLE_AVX2 1
#define PG_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace pg::cpu {

namespace {

constexpr int kBins = 1024;       // float bits >> 20 of a value in [0, 1] is at most 0x3F8
constexpr int64_t kBlock = 256;   // ids per block sum of the draw
constexpr float kNegInf = -INFINITY;

// Fixed point for probability sums: e in [0, 1] in units of 2^-42, rounded to nearest even (the double
// product is exact; x + 2^52 - 2^52 rounds to an integer for 0 <= x < 2^51).
inline uint64_t fix(float v) {
    const double x = double(v) * 0x1p42 + 0x1p52;
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    return bits - 0x4330000000000000ull;
}
inline double unfix(uint64_t s) { return double(s) * 0x1p-42; }

struct Scan {
    float max;
    float min;
    bool nan;
};

Scan scan_generic(const float* x, int64_t n) {
    Scan s{kNegInf, INFINITY, false};
    for (int64_t j = 0; j < n; ++j) {
        const float v = x[j];
        if (v != v) s.nan = true;
        s.max = v > s.max ? v : s.max;
        s.min = v < s.min ? v : s.min;
    }
    return s;
}

// Scalar twin of exp256_ps (vexp.h), operation for operation with the same fused multiply-adds, so
// the portable path computes bit-identical probabilities (and therefore the same tokens) as the AVX2
// path -- and a CUDA port can reproduce them with fmaf / __float_as_uint.
float exp_scalar(float x) {
    const float hi = 88.7228317f, lo = -87.3365479f;
    if (x != x) return x;
    const float xc = std::fmax(std::fmin(x, hi), lo);
    const float fx = std::nearbyint(xc * 1.44269504088896341f);
    float r = std::fma(-fx, 0.693359375f, xc);
    r = std::fma(-fx, -2.12194440e-4f, r);
    float y = 1.9875691500E-4f;
    y = std::fma(y, r, 1.3981999507E-3f);
    y = std::fma(y, r, 8.3334519073E-3f);
    y = std::fma(y, r, 4.1665795894E-2f);
    y = std::fma(y, r, 1.6666665459E-1f);
    y = std::fma(y, r, 5.0000001201E-1f);
    y = std::fma(y, r * r, r + 1.0f);
    const uint32_t ebits = uint32_t(int32_t(fx) + 126) << 23;
    float scale;
    std::memcpy(&scale, &ebits, sizeof scale);
    float res = (y + y) * scale;
    if (x > hi) res = INFINITY;
    if (x < lo) res = 0.0f;
    return res;
}

// sum_j fix(exp((x[j] - shift) / t)), optionally storing the terms in e (shift >= every x[j]).
uint64_t exp_sum_generic(float* e, const float* x, int64_t n, float shift, float t) {
    uint64_t sum = 0;
    for (int64_t j = 0; j < n; ++j) {
        const float v = exp_scalar((x[j] - shift) / t);
        if (e != nullptr) e[j] = v;
        sum += fix(v);
    }
    return sum;
}

#ifdef PG_SAMPLE_AVX2
PG_AVX2 Scan scan_avx2(const float* x, int64_t n) {
    __m256 mx = _mm256_set1_ps(kNegInf), mn = _mm256_set1_ps(INFINITY), bad = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 v = _mm256_loadu_ps(x + j);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        mx = _mm256_max_ps(mx, v);
        mn = _mm256_min_ps(mn, v);
    }
    alignas(32) float a[8], b[8];
    _mm256_store_ps(a, mx);
    _mm256_store_ps(b, mn);
    Scan s = scan_generic(x + j, n - j);
    s.nan = s.nan || _mm256_movemask_ps(bad) != 0;
    for (int l = 0; l < 8; ++l) {
        s.max = a[l] > s.max ? a[l] : s.max;
        s.min = b[l] < s.min ? b[l] : s.min;
    }
    return s;
}

PG_AVX2 inline __m256i fix_pd(__m256d v) {
    const __m256d magic = _mm256_set1_pd(0x1p52);
    const __m256d x = _mm256_add_pd(_mm256_mul_pd(v, _mm256_set1_pd(0x1p42)), magic);
    return _mm256_sub_epi64(_mm256_castpd_si256(x), _mm256_castpd_si256(magic));
}

PG_AVX2 uint64_t exp_sum_avx2(float* e, const float* x, int64_t n, float shift, float t) {
    const __m256 vs = _mm256_set1_ps(shift), vt = _mm256_set1_ps(t);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 v = exp256_ps(_mm256_div_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vs), vt));
        if (e != nullptr) _mm256_storeu_ps(e + j, v);
        acc0 = _mm256_add_epi64(acc0, fix_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v))));
        acc1 = _mm256_add_epi64(acc1, fix_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
    }
    alignas(32) uint64_t d[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_add_epi64(acc0, acc1));
    uint64_t sum = d[0] + d[1] + d[2] + d[3];
    // The tail with the same vector exp (one padded vector), so every e[j] comes from one formula.
    if (j < n) {
        alignas(32) float tail[8];
        for (int l = 0; l < 8; ++l) tail[l] = j + l < n ? x[j + l] : shift;
        alignas(32) float out[8];
        _mm256_store_ps(out, exp256_ps(_mm256_div_ps(_mm256_sub_ps(_mm256_load_ps(tail), vs), vt)));
        for (int l = 0; j + l < n; ++l) {
            if (e != nullptr) e[j + l] = out[l];
            sum += fix(out[l]);
        }
    }
    return sum;
}
#endif

struct Kernels {
    Scan (*scan)(const float* x, int64_t n);
    uint64_t (*exp_sum)(float* e, const float* x, int64_t n, float shift, float t);
};

const Kernels& kernels(bool avx2) {
    static const Kernels generic{scan_generic, exp_sum_generic};
#ifdef PG_SAMPLE_AVX2
    static const Kernels fast{scan_avx2, exp_sum_avx2};
    if (avx2) return fast;
#else
    (void)avx2;
#endif
    return generic;
}

// The N largest values offered, descending; ties keep the earlier (lower) id.
struct TopN {
    int n = 0;
    int count = 0;
    float val[PG_SAMPLE_MAX_LOGPROBS];
    int32_t id[PG_SAMPLE_MAX_LOGPROBS];

    void offer(float v, int32_t j) {
        if (count == n && !(v > val[n - 1])) return;
        int pos = count < n ? count : n - 1;
        while (pos > 0 && v > val[pos - 1]) {
            val[pos] = val[pos - 1];
            id[pos] = id[pos - 1];
            --pos;
        }
        val[pos] = v;
        id[pos] = j;
        if (count < n) ++count;
    }
};

inline uint32_t bin_of(float v) {
    uint32_t b;
    std::memcpy(&b, &v, sizeof b);
    return b >> 20;
}

// Per-thread scratch, grown on demand and reused across calls.
struct Scratch {
    std::vector<float> s, e, cand;
    std::vector<uint32_t> mark;   // repetition penalty: mark[t] == stamp once t was penalized
    std::vector<int32_t> count;   // frequency / presence: occurrences, reset after use
    std::vector<uint64_t> block;
    std::vector<uint64_t> sub = std::vector<uint64_t>(4096);  // top-p radix refinement
    uint32_t stamp = 0;

    void reserve(int32_t vocab) {
        if (int32_t(s.size()) < vocab) {
            s.resize(size_t(vocab));
            e.resize(size_t(vocab));
            mark.assign(size_t(vocab), 0u);
            count.assign(size_t(vocab), 0);
            stamp = 0;
        }
        block.resize(size_t((vocab + kBlock - 1) / kBlock));
    }
};

Scratch& scratch() {
    thread_local Scratch s;
    return s;
}

struct Range {
    const int32_t* ids;
    int32_t begin, end;
};

Range range_of(const int32_t* ids, const int32_t* offsets, int64_t r) {
    if (offsets == nullptr) return Range{ids, 0, 0};
    return Range{ids, offsets[r], offsets[r + 1]};
}

template <class T>
T param(const T* arr, int64_t r, T fallback) {
    return arr == nullptr ? fallback : arr[r];
}

void write_top(const pg_sample_args& a, int64_t r, const TopN& top, int n, double shift) {
    int32_t* ids = a.out_top_ids + r * PG_SAMPLE_MAX_LOGPROBS;
    float* lps = a.out_top_logprobs + r * PG_SAMPLE_MAX_LOGPROBS;
    for (int i = 0; i < PG_SAMPLE_MAX_LOGPROBS; ++i) {
        if (i < top.count && i < n) {
            ids[i] = top.id[i];
            lps[i] = float(double(top.val[i]) - shift);
        } else {
            ids[i] = -1;
            lps[i] = kNegInf;
        }
    }
}

void fail_row(const pg_sample_args& a, int64_t r, int32_t status) {
    a.out_tokens[r] = -1;
    a.out_status[r] = status;
    if (a.out_logprobs != nullptr) a.out_logprobs[r] = NAN;
    if (a.out_ranks != nullptr) a.out_ranks[r] = 0;
    if (a.out_top_ids != nullptr) {
        for (int i = 0; i < PG_SAMPLE_MAX_LOGPROBS; ++i) {
            a.out_top_ids[r * PG_SAMPLE_MAX_LOGPROBS + i] = -1;
            a.out_top_logprobs[r * PG_SAMPLE_MAX_LOGPROBS + i] = kNegInf;
        }
    }
}

// Largest threshold keeping the k largest values among {e >= theta, e > 0} (ties kept).
float top_k_threshold(const float* e, int32_t n, float theta, int32_t k, std::vector<float>& cand) {
    // Four interleaved histograms so that runs of equal bins do not serialize on one counter.
    uint32_t h4[4][kBins] = {};
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        for (int l = 0; l < 4; ++l) {
            const float v = e[j + l];
            h4[l][bin_of(v)] += (v > 0 && v >= theta) ? 1u : 0u;
        }
    }
    for (; j < n; ++j) {
        const float v = e[j];
        h4[0][bin_of(v)] += (v > 0 && v >= theta) ? 1u : 0u;
    }
    uint32_t hist[kBins];
    int64_t alive = 0;
    for (int b = 0; b < kBins; ++b) {
        hist[b] = h4[0][b] + h4[1][b] + h4[2][b] + h4[3][b];
        alive += hist[b];
    }
    if (alive <= k) return theta;
    int64_t above = 0;
    int b = kBins - 1;
    for (; b >= 0; --b) {
        if (above + int64_t(hist[b]) >= int64_t(k)) break;
        above += hist[b];
    }
    cand.clear();
    for (j = 0; j < n; ++j) {
        const float v = e[j];
        if (v > 0 && v >= theta && int(bin_of(v)) == b) cand.push_back(v);
    }
    const int64_t need = k - above;  // 1-based rank inside the bin
    std::nth_element(cand.begin(), cand.begin() + (need - 1), cand.end(), std::greater<float>());
    return std::max(theta, cand[size_t(need - 1)]);
}

// Largest threshold t such that the survivors >= t hold at least top_p of the survivors' mass.
float top_p_threshold(const float* e, int32_t n, float theta, float top_p, std::vector<float>& cand,
                      std::vector<uint64_t>& sub) {
    // Four interleaved histograms (as in top-k); integer sums, so the combination order is free.
    uint64_t m4[4][kBins] = {};
    int32_t j = 0;
    for (; j + 4 <= n; j += 4) {
        for (int l = 0; l < 4; ++l) {
            const float v = e[j + l];
            m4[l][bin_of(v)] += (v > 0 && v >= theta) ? fix(v) : 0u;
        }
    }
    for (; j < n; ++j) {
        const float v = e[j];
        m4[0][bin_of(v)] += (v > 0 && v >= theta) ? fix(v) : 0u;
    }
    uint64_t mass[kBins];
    for (int b = 0; b < kBins; ++b) mass[b] = m4[0][b] + m4[1][b] + m4[2][b] + m4[3][b];
    uint64_t total = 0;
    for (int b = 0; b < kBins; ++b) total += mass[b];
    const double target = double(top_p) * double(total);
    uint64_t above = 0;
    int b = kBins - 1;
    for (; b >= 0; --b) {
        if (double(above + mass[b]) >= target) break;
        above += mass[b];
    }
    if (b < 0) return theta;  // rounding: keep everything
    cand.clear();
    for (j = 0; j < n; ++j) {
        const float v = e[j];
        if (v > 0 && v >= theta && int(bin_of(v)) == b) cand.push_back(v);
    }
    // A crowded bin is narrowed by two more radix levels over its candidates alone (float bits 8..19,
    // then 0..7), so no sort ever sees more than a small set -- even a row of equal logits.
    for (const auto& [shift, mask] : {std::pair<int, uint32_t>{8, 0xFFFu}, std::pair<int, uint32_t>{0, 0xFFu}}) {
        if (cand.size() <= 1024) break;
        std::fill(sub.begin(), sub.end(), uint64_t(0));
        for (float v : cand) {
            uint32_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            sub[(bits >> shift) & mask] += fix(v);
        }
        int sb = int(mask);
        for (; sb >= 0; --sb) {
            if (double(above + sub[size_t(sb)]) >= target) break;
            above += sub[size_t(sb)];
        }
        if (sb < 0) return std::max(theta, *std::min_element(cand.begin(), cand.end()));  // rounding
        size_t kept = 0;
        for (float v : cand) {
            uint32_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            if (int((bits >> shift) & mask) == sb) cand[kept++] = v;
        }
        cand.resize(kept);
    }
    if (cand.size() > 1024) return std::max(theta, cand[0]);  // all bits equal: one value
    std::sort(cand.begin(), cand.end(), std::greater<float>());
    uint64_t acc = above;
    float t = cand.empty() ? theta : cand.back();
    for (float v : cand) {
        acc += fix(v);
        if (double(acc) >= target) {
            t = v;
            break;
        }
    }
    return std::max(theta, t);
}

void sample_row(const Kernels& K, const pg_sample_args& a, int64_t r) {
    const int32_t n = a.vocab_size;
    const float* raw = static_cast<const float*>(a.logits) + r * int64_t(a.row_stride);
    Scratch& sc = scratch();
    sc.reserve(n);

    const Scan rs = K.scan(raw, n);
    if (rs.nan || rs.max == INFINITY || rs.min == kNegInf) {
        fail_row(a, r, PG_SAMPLE_ROW_NONFINITE);
        return;
    }

    const float temperature = a.temperature[r];
    const int64_t step = param<int64_t>(a.steps, r, 0);
    const uint32_t flags = param<uint32_t>(a.flags, r, 0u);
    const bool processed_lp = (flags & PG_SAMPLE_FLAG_PROCESSED_LOGPROBS) != 0;
    const int nlp = param<int32_t>(a.num_logprobs, r, 0);
    const float rep = param(a.repetition_penalty, r, 1.0f);
    const float freq = param(a.frequency_penalty, r, 0.0f);
    const float pres = param(a.presence_penalty, r, 0.0f);
    const Range prompt = range_of(a.prompt_tokens, a.prompt_offsets, r);
    const Range output = range_of(a.output_tokens, a.output_offsets, r);
    const Range stops = range_of(a.stop_ids, a.stop_offsets, r);
    const Range bias = range_of(a.bias_ids, a.bias_offsets, r);
    const bool mask_stops = step < int64_t(param<int32_t>(a.min_tokens, r, 0)) && stops.end > stops.begin;
    const bool rep_on = rep != 1.0f && (prompt.end > prompt.begin || output.end > output.begin);
    const bool fp_on = (freq != 0.0f || pres != 0.0f) && output.end > output.begin;
    const bool edits = bias.end > bias.begin || mask_stops || rep_on || fp_on;

    // Pass 3: the processed logits s (the raw row itself when nothing changes it).
    const float* s = raw;
    float smax = rs.max;
    if (edits) {
        float* w = sc.s.data();
        std::memcpy(w, raw, sizeof(float) * size_t(n));
        for (int32_t i = bias.begin; i < bias.end; ++i) w[bias.ids[i]] += a.bias_values[i];
        if (mask_stops)
            for (int32_t i = stops.begin; i < stops.end; ++i) w[stops.ids[i]] = kNegInf;
        if (rep_on) {
            if (++sc.stamp == 0) {  // wrapped: clear the marks
                std::fill(sc.mark.begin(), sc.mark.end(), 0u);
                sc.stamp = 1;
            }
            for (const Range& h : {prompt, output}) {
                for (int32_t i = h.begin; i < h.end; ++i) {
                    const int32_t t = h.ids[i];
                    if (sc.mark[size_t(t)] == sc.stamp) continue;
                    sc.mark[size_t(t)] = sc.stamp;
                    w[t] = w[t] > 0 ? w[t] / rep : w[t] * rep;
                }
            }
        }
        if (fp_on) {
            for (int32_t i = output.begin; i < output.end; ++i) ++sc.count[size_t(output.ids[i])];
            for (int32_t i = output.begin; i < output.end; ++i) {
                const int32_t t = output.ids[i];
                const int32_t c = sc.count[size_t(t)];
                if (c == 0) continue;  // already applied
                w[t] -= freq * float(c) + pres;
                sc.count[size_t(t)] = 0;
            }
        }
        const Scan ps = K.scan(w, n);
        if (ps.nan || ps.max == INFINITY) {
            fail_row(a, r, PG_SAMPLE_ROW_NONFINITE);
            return;
        }
        if (ps.max == kNegInf) {
            fail_row(a, r, PG_SAMPLE_ROW_NO_CANDIDATE);
            return;
        }
        s = w;
        smax = ps.max;
    }

    // Raw log-normalizer: log sum exp(raw - max), unless the processed pass computes the same thing.
    const bool raw_is_pass4 = !edits && temperature == 1.0f;
    double raw_lse = 0;
    if (!processed_lp && !raw_is_pass4) raw_lse = std::log(unfix(K.exp_sum(nullptr, raw, n, rs.max, 1.0f)));

    int32_t token = -1;
    double token_lp = 0;
    const float* e_alive = nullptr;  // sampled rows: e (the survivors are e > 0 && e >= theta_alive)
    float theta_alive = 0.0f;
    TopN top;
    top.n = processed_lp ? nlp : 0;

    if (temperature == 0.0f) {
        // Greedy: the first index holding the maximum.
        for (int32_t j = 0; j < n; ++j) {
            if (s[j] == smax) {
                token = j;
                break;
            }
        }
        if (processed_lp) {
            const double lse = double(smax) + std::log(unfix(K.exp_sum(nullptr, s, n, smax, 1.0f)));
            token_lp = double(s[token]) - lse;
            if (nlp > 0) {
                for (int32_t j = 0; j < n; ++j)
                    if (s[j] != kNegInf) top.offer(s[j], j);
                write_top(a, r, top, nlp, lse);
            }
        }
    } else {
        float* e = sc.e.data();
        const uint64_t z0 = K.exp_sum(e, s, n, smax, temperature);
        if (raw_is_pass4) raw_lse = std::log(unfix(z0));
        float theta = 0.0f;
        const float min_p = param(a.min_p, r, 0.0f);
        if (min_p > 0.0f) theta = min_p;
        const int32_t top_k = param<int32_t>(a.top_k, r, 0);
        if (top_k > 0 && top_k < n) theta = top_k_threshold(e, n, theta, top_k, sc.cand);
        const float top_p = param(a.top_p, r, 1.0f);
        if (top_p < 1.0f) theta = top_p_threshold(e, n, theta, top_p, sc.cand, sc.sub);

        // Pass 8: survivor mass per block, the total as the sequential sum of blocks, then the draw.
        const int64_t nb = (n + kBlock - 1) / kBlock;
        uint64_t total = 0;
        for (int64_t b = 0; b < nb; ++b) {
            const int64_t lo = b * kBlock, hi = std::min<int64_t>(n, lo + kBlock);
            uint64_t p0 = 0, p1 = 0, p2 = 0, p3 = 0;
            int64_t j = lo;
            for (; j + 4 <= hi; j += 4) {
                p0 += e[j] >= theta ? fix(e[j]) : 0u;
                p1 += e[j + 1] >= theta ? fix(e[j + 1]) : 0u;
                p2 += e[j + 2] >= theta ? fix(e[j + 2]) : 0u;
                p3 += e[j + 3] >= theta ? fix(e[j + 3]) : 0u;
            }
            for (; j < hi; ++j) p0 += e[j] >= theta ? fix(e[j]) : 0u;
            sc.block[size_t(b)] = p0 + p1 + p2 + p3;
            total += sc.block[size_t(b)];
        }
        const double u = philox_uniform(param<uint64_t>(a.seeds, r, 0), uint64_t(step), 0u);
        const double target = u * double(total);
        uint64_t cum = 0;
        int64_t b = 0;
        for (; b < nb; ++b) {
            if (double(cum + sc.block[size_t(b)]) > target) break;
            cum += sc.block[size_t(b)];
        }
        if (b == nb) b = nb - 1;  // rounding: the last block
        const int64_t lo = b * kBlock, hi = std::min<int64_t>(n, lo + kBlock);
        int32_t last = -1;
        for (int64_t j = lo; j < hi; ++j) {
            const float v = e[j];
            if (!(v > 0 && v >= theta)) continue;
            last = int32_t(j);
            cum += fix(v);
            if (double(cum) > target) {
                token = int32_t(j);
                break;
            }
        }
        if (token < 0) token = last;
        if (token < 0) {  // rounding left an empty block: the last survivor of the row
            for (int64_t j = n - 1; j >= 0; --j) {
                if (e[j] > 0 && e[j] >= theta) {
                    token = int32_t(j);
                    break;
                }
            }
        }
        if (token < 0) {
            fail_row(a, r, PG_SAMPLE_ROW_NO_CANDIDATE);
            return;
        }
        e_alive = e;
        theta_alive = theta;
        if (processed_lp) {
            // log(e_j / total) with e_j = exp((s_j - smax) / T), in double.
            const double shift = std::log(unfix(total));
            token_lp = (double(s[token]) - double(smax)) / double(temperature) - shift;
            if (nlp > 0) {
                for (int32_t j = 0; j < n; ++j)
                    if (e[j] > 0 && e[j] >= theta) top.offer(s[j], j);
                // Values are processed logits; convert each to a logprob in double.
                int32_t* ids = a.out_top_ids + r * PG_SAMPLE_MAX_LOGPROBS;
                float* lps = a.out_top_logprobs + r * PG_SAMPLE_MAX_LOGPROBS;
                for (int i = 0; i < PG_SAMPLE_MAX_LOGPROBS; ++i) {
                    if (i < top.count && i < nlp) {
                        ids[i] = top.id[i];
                        lps[i] = float((double(top.val[i]) - double(smax)) / double(temperature) - shift);
                    } else {
                        ids[i] = -1;
                        lps[i] = kNegInf;
                    }
                }
            }
        }
    }

    if (!processed_lp) {
        const double lse = double(rs.max) + raw_lse;
        token_lp = double(raw[token]) - lse;
        if (nlp > 0) {
            top.n = nlp;
            for (int32_t j = 0; j < n; ++j) top.offer(raw[j], j);
            write_top(a, r, top, nlp, lse);
        }
    }
    if (nlp == 0 && a.out_top_ids != nullptr) {
        TopN none;
        write_top(a, r, none, 0, 0);
    }
    a.out_tokens[r] = token;
    a.out_status[r] = PG_SAMPLE_ROW_OK;
    if (a.out_logprobs != nullptr) a.out_logprobs[r] = float(token_lp);
    if (a.out_ranks != nullptr) {
        // Logprobs are increasing in the logits they come from (raw, or processed s among the survivors;
        // the others are -inf), so counting larger logits counts larger logprobs.
        const float* v = processed_lp ? s : raw;
        const float t = v[token];
        int32_t above = 0;
        if ((flags & PG_SAMPLE_FLAG_RANK) != 0)
            for (int32_t j = 0; j < n; ++j)
                above += (v[j] > t && (!processed_lp || e_alive == nullptr || (e_alive[j] > 0 && e_alive[j] >= theta_alive))) ? 1 : 0;
        a.out_ranks[r] = (flags & PG_SAMPLE_FLAG_RANK) != 0 ? above + 1 : 0;
    }
}

pg_status check_list(const char* op, const char* name, const int32_t* ids, const int32_t* offsets,
                     int32_t rows, int32_t vocab) {
    if (offsets == nullptr) return PG_OK;
    if (offsets[0] != 0)
        return fail(PG_ERR_SHAPE, "%s: %s_offsets[0] must be 0 (got %d)", op, name, offsets[0]);
    for (int32_t r = 0; r < rows; ++r) {
        if (offsets[r + 1] < offsets[r])
            return fail(PG_ERR_SHAPE, "%s: %s_offsets must not decrease (row %d: %d then %d)", op,
                        name, r, offsets[r], offsets[r + 1]);
    }
    if (offsets[rows] > 0 && ids == nullptr)
        return fail(PG_ERR_INVALID_ARGUMENT, "%s: %s ids must not be NULL (%d entries)", op, name,
                    offsets[rows]);
    for (int32_t i = 0; i < offsets[rows]; ++i) {
        if (ids[i] < 0 || ids[i] >= vocab)
            return fail(PG_ERR_OUT_OF_RANGE, "%s: %s id %d (entry %d) is outside [0, %d)", op, name,
                        ids[i], i, vocab);
    }
    return PG_OK;
}

pg_status validate(const pg_sample_args* a) {
    const char* op = "sample";
    PG_TRY(check_ptr(op, "args", a));
    PG_TRY(check_non_negative(op, "num_rows", a->num_rows));
    PG_TRY(check_positive(op, "vocab_size", a->vocab_size));
    PG_TRY(check_stride(op, "row_stride", a->row_stride, a->vocab_size));
    PG_TRY(check_dtype(op, "dtype", a->dtype, kF32Only));
    if (a->num_rows == 0) return PG_OK;
    PG_TRY(check_ptr(op, "out_tokens", a->out_tokens));
    PG_TRY(check_ptr(op, "out_status", a->out_status));
    PG_TRY(check_ptr(op, "logits", a->logits));
    PG_TRY(check_ptr(op, "temperature", a->temperature));
    bool any_logprobs = false;
    for (int32_t r = 0; r < a->num_rows; ++r) {
        const float t = a->temperature[r];
        if (!std::isfinite(t) || t < 0)
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: temperature[%d] = %g must be finite and >= 0",
                        op, r, double(t));
        const int32_t k = param<int32_t>(a->top_k, r, 0);
        if (k < -1)
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: top_k[%d] = %d must be -1, 0 (off) or >= 1", op,
                        r, k);
        const float p = param(a->top_p, r, 1.0f);
        if (!(p > 0 && p <= 1))
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: top_p[%d] = %g must be in (0, 1]", op, r,
                        double(p));
        const float mp = param(a->min_p, r, 0.0f);
        if (!(mp >= 0 && mp <= 1))
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: min_p[%d] = %g must be in [0, 1]", op, r,
                        double(mp));
        const float rp = param(a->repetition_penalty, r, 1.0f);
        if (!(rp > 0) || !std::isfinite(rp))
            return fail(PG_ERR_INVALID_ARGUMENT,
                        "%s: repetition_penalty[%d] = %g must be finite and > 0", op, r, double(rp));
        const float fp = param(a->frequency_penalty, r, 0.0f);
        const float pp = param(a->presence_penalty, r, 0.0f);
        if (!std::isfinite(fp) || !std::isfinite(pp))
            return fail(PG_ERR_INVALID_ARGUMENT,
                        "%s: frequency_penalty[%d] = %g and presence_penalty[%d] = %g must be finite",
                        op, r, double(fp), r, double(pp));
        const int32_t mt = param<int32_t>(a->min_tokens, r, 0);
        if (mt < 0)
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: min_tokens[%d] = %d must be >= 0", op, r, mt);
        const int64_t st = param<int64_t>(a->steps, r, 0);
        if (st < 0)
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: steps[%d] = %lld must be >= 0", op, r,
                        static_cast<long long>(st));
        const int32_t nl = param<int32_t>(a->num_logprobs, r, 0);
        if (nl < 0 || nl > PG_SAMPLE_MAX_LOGPROBS)
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: num_logprobs[%d] = %d must be in [0, %d]", op,
                        r, nl, PG_SAMPLE_MAX_LOGPROBS);
        any_logprobs = any_logprobs || nl > 0;
    }
    if (any_logprobs) {
        PG_TRY(check_ptr(op, "out_top_ids (a row asks for logprobs)", a->out_top_ids));
        PG_TRY(check_ptr(op, "out_top_logprobs (a row asks for logprobs)", a->out_top_logprobs));
    }
    if ((a->out_top_ids == nullptr) != (a->out_top_logprobs == nullptr))
        return fail(PG_ERR_INVALID_ARGUMENT,
                    "%s: out_top_ids and out_top_logprobs must both be set or both be NULL", op);
    PG_TRY(check_list(op, "prompt", a->prompt_tokens, a->prompt_offsets, a->num_rows, a->vocab_size));
    PG_TRY(check_list(op, "output", a->output_tokens, a->output_offsets, a->num_rows, a->vocab_size));
    PG_TRY(check_list(op, "stop", a->stop_ids, a->stop_offsets, a->num_rows, a->vocab_size));
    PG_TRY(check_list(op, "bias", a->bias_ids, a->bias_offsets, a->num_rows, a->vocab_size));
    if (a->bias_offsets != nullptr && a->bias_offsets[a->num_rows] > 0) {
        PG_TRY(check_ptr(op, "bias_values", a->bias_values));
        for (int32_t i = 0; i < a->bias_offsets[a->num_rows]; ++i) {
            if (!std::isfinite(a->bias_values[i]))
                return fail(PG_ERR_INVALID_ARGUMENT, "%s: bias_values[%d] = %g must be finite", op,
                            i, double(a->bias_values[i]));
        }
    }
    return PG_OK;
}

}  // namespace

pg_status validate_sample(const pg_sample_args* a) { return validate(a); }

void sample_rows(const pg_sample_args& a, int64_t begin, int64_t end, bool avx2) {
    const Kernels& K = kernels(avx2);
    for (int64_t r = begin; r < end; ++r) sample_row(K, a, r);
}

}  // namespace pg::cpu
