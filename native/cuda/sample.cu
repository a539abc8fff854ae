// Fused sampling on the CUDA backend: one thread block (256 threads) per row, fp32 logits, the passes
// of native/cpu/sample_rows.cpp (pg_sample_args in paged.h documents the semantics and their order):
//   1. raw scan (max, min, NaN) -> PG_SAMPLE_ROW_NONFINITE;
//   2. raw log-normalizer (sum of fix(exp(raw - max)));
//   3. rows with edits: copy into the workspace, logit bias (one thread, in list order, so repeated
//      ids add in the CPU's order), min_tokens stop masking, repetition penalty (each distinct id
//      once: an atomic mark per id in the workspace), frequency / presence (atomic counts);
//   4. e = exp((s - max) / T) with the CPU's exp256_ps polynomial (fmaf, IEEE division), stored in
//      the workspace (where the marks of pass 3 were) for the later passes;
//   5. min-p: threshold e >= min_p;
//   6. top-k: a 3-level radix select over the float bits of e (bits 31..20 in 1024 bins, 19..8 in 4096,
//      7..0 in 256) with shared-memory histograms: the exact k-th largest value, no sort;
//   7. top-p: the same three levels weighted by fix(e): the exact value where the descending
//      cumulative mass reaches top_p * mass;
//   8. draw: survivor mass per warp segment, the segment holding u * total, then one warp scans it
//      32 ids at a time (inclusive scan + ballot): the first id whose prefix mass exceeds u * total.
// Greedy rows take the exact argmax (ties to the lowest id); top-N logprobs come from N repeated
// block arg-max passes ordered by (value descending, id ascending), like the CPU's TopN.
//
// Bit-identical to the CPU backend (tokens and logprobs): every sum of probabilities is an integer
// sum of fix(e) (2^-42 units), which no reduction order changes; e, the penalties and the logprob
// arithmetic use the same IEEE operations in the same order (the __f*_rn intrinsics keep nvcc from
// contracting them into FMAs). Under nvcc the only possible difference is the double log() of the
// normalizer (CUDA's log is within 1 ulp, glibc's correctly rounded in practice), so a logprob may
// differ in its last float bit; tokens never depend on it. The emulator build uses glibc's log.
#include <cmath>
#include <cstring>
#include <vector>

#include "backend.h"
#include "checks.h"
#include "common.cuh"
#include "philox.h"
#include "sample_rows.h"

#ifndef __CUDACC__
namespace pg_simt {
// The emulator checks the device pointers inside the by-value argument struct (paged.h: all [device]).
template <>
struct KernelArgPointers<pg_sample_args> {
    static std::string check(const char* kernel, size_t index, const pg_sample_args& a) {
        const std::pair<const char*, const void*> fields[] = {
            {"out_tokens", a.out_tokens}, {"out_logprobs", a.out_logprobs}, {"out_top_ids", a.out_top_ids},
            {"out_top_logprobs", a.out_top_logprobs}, {"out_status", a.out_status}, {"logits", a.logits},
            {"temperature", a.temperature}, {"top_k", a.top_k}, {"top_p", a.top_p}, {"min_p", a.min_p},
            {"repetition_penalty", a.repetition_penalty}, {"frequency_penalty", a.frequency_penalty},
            {"presence_penalty", a.presence_penalty}, {"min_tokens", a.min_tokens}, {"seeds", a.seeds},
            {"steps", a.steps}, {"flags", a.flags}, {"num_logprobs", a.num_logprobs},
            {"prompt_tokens", a.prompt_tokens}, {"prompt_offsets", a.prompt_offsets},
            {"output_tokens", a.output_tokens}, {"output_offsets", a.output_offsets}, {"stop_ids", a.stop_ids},
            {"stop_offsets", a.stop_offsets}, {"bias_ids", a.bias_ids}, {"bias_values", a.bias_values},
            {"bias_offsets", a.bias_offsets}, {"workspace", a.workspace}, {"out_ranks", a.out_ranks}};
        for (const auto& [name, p] : fields) {
            std::string err = check_kernel_pointer(kernel, index, name, p);
            if (!err.empty()) return err;
        }
        return {};
    }
};
}  // namespace pg_simt
#endif

namespace pg::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kNoId = 0x7fffffff;
using u64 = unsigned long long;

#ifdef __CUDACC__
__device__ __forceinline__ float fmul_rn(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float fadd_rn(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float fsub_rn(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float fdiv_rn(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ u64 double_bits(double x) { return u64(__double_as_longlong(x)); }
#else
inline float fmul_rn(float a, float b) { return a * b; }
inline float fadd_rn(float a, float b) { return a + b; }
inline float fsub_rn(float a, float b) { return a - b; }
inline float fdiv_rn(float a, float b) { return a / b; }
inline u64 double_bits(double x) {
    u64 b;
    std::memcpy(&b, &x, sizeof b);
    return b;
}
#endif

// exp_scalar of sample_rows.cpp (the exp256_ps polynomial), operation for operation.
__device__ __forceinline__ float exp_poly(float x) {
    const float hi = 88.7228317f, lo = -87.3365479f;
    if (x != x) return x;
    const float xc = fmaxf(fminf(x, hi), lo);
    const float fx = rintf(fmul_rn(xc, 1.44269504088896341f));
    float r = fmaf(-fx, 0.693359375f, xc);
    r = fmaf(-fx, -2.12194440e-4f, r);
    float y = 1.9875691500E-4f;
    y = fmaf(y, r, 1.3981999507E-3f);
    y = fmaf(y, r, 8.3334519073E-3f);
    y = fmaf(y, r, 4.1665795894E-2f);
    y = fmaf(y, r, 1.6666665459E-1f);
    y = fmaf(y, r, 5.0000001201E-1f);
    y = fmaf(y, fmul_rn(r, r), fadd_rn(r, 1.0f));
    const float scale = __uint_as_float(uint32_t(int32_t(fx) + 126) << 23);
    float res = fmul_rn(fadd_rn(y, y), scale);
    if (x > hi) res = INFINITY;
    if (x < lo) res = 0.0f;
    return res;
}

// e of one processed logit.
__device__ __forceinline__ float e_of(float s, float smax, float t) { return exp_poly(fdiv_rn(fsub_rn(s, smax), t)); }

// fix() of sample_rows.cpp: e in units of 2^-42, rounded to nearest even (the product is exact).
__device__ __forceinline__ u64 fixp(float v) {
    const double x = double(v) * 0x1p42 + 0x1p52;
    return double_bits(x) - 0x4330000000000000ull;
}
__device__ __forceinline__ double unfix(u64 s) { return double(s) * 0x1p-42; }

// ---- block reductions (every thread gets the result; `sh` holds 33 entries) ----
struct MaxF {
    __device__ __forceinline__ float operator()(float a, float b) const { return b > a ? b : a; }
};
struct MinF {
    __device__ __forceinline__ float operator()(float a, float b) const { return b < a ? b : a; }
};
struct MinI {
    __device__ __forceinline__ int operator()(int a, int b) const { return b < a ? b : a; }
};
struct MaxI {
    __device__ __forceinline__ int operator()(int a, int b) const { return b > a ? b : a; }
};
struct AddU {
    __device__ __forceinline__ u64 operator()(u64 a, u64 b) const { return a + b; }
};

template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, T* sh, Op op, T ident) {
    const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T w = lane < kWarps ? sh[lane] : ident;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) w = op(w, __shfl_xor_sync(0xffffffffu, w, o));
        if (lane == 0) sh[32] = w;
    }
    __syncthreads();
    const T r = sh[32];
    __syncthreads();
    return r;
}

// (value descending, id ascending): whether (v, i) comes before (bv, bi).
__device__ __forceinline__ bool before(float v, int i, float bv, int bi) {
    return bi == kNoId || v > bv || (v == bv && i < bi);
}

__device__ __forceinline__ void block_best(float& bv, int& bi, float* shv, int* shi) {
    const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (oi != kNoId && before(ov, oi, bv, bi)) {
            bv = ov;
            bi = oi;
        }
    }
    if (lane == 0) {
        shv[warp] = bv;
        shi[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        float v = lane < kWarps ? shv[lane] : 0.0f;
        int i = lane < kWarps ? shi[lane] : kNoId;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, v, o);
            const int oi = __shfl_xor_sync(0xffffffffu, i, o);
            if (oi != kNoId && before(ov, oi, v, i)) {
                v = ov;
                i = oi;
            }
        }
        if (lane == 0) {
            shv[32] = v;
            shi[32] = i;
        }
    }
    __syncthreads();
    bv = shv[32];
    bi = shi[32];
    __syncthreads();
}

// Warp 0 walks hist[nbins - 1], hist[nbins - 2], ... and finds the first (highest) bin b at which
// the running sum carry + hist[top..b] satisfies the predicate (count >= need, or double(mass) >=
// target); writes b (or -1) and the sum of the bins above b to res[0] / res[1]. Two levels: each
// lane sums a group of nbins / 32 adjacent bins (lane 0 the highest), one warp scan finds the group,
// then the group is scanned 32 bins at a time. The sums are integers, so the grouping cannot change
// the result; double() is monotone, so neither can the predicate.
template <bool kMass>
__device__ __forceinline__ bool walk_hit(u64 sum, u64 need, double target) {
    return kMass ? double(sum) >= target : sum >= need;
}

template <bool kMass>
__device__ __forceinline__ void warp_walk(const u64* hist, int nbins, u64 carry, u64 need, double target,
                                          u64* res) {
    const int lane = int(threadIdx.x) & 31;
    const int group = nbins / 32;
    const int gtop = nbins - 1 - lane * group;
    u64 gs = 0;
    for (int b = gtop; b > gtop - group; --b) gs += hist[b];
    u64 x = gs;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const u64 y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= o) x += y;
    }
    const unsigned gm = __ballot_sync(0xffffffffu, walk_hit<kMass>(carry + x, need, target));
    const u64 all = __shfl_sync(0xffffffffu, x, 31);
    if (gm == 0u) {
        if (lane == 0) {
            res[0] = ~0ull;
            res[1] = carry + all;
        }
        return;
    }
    const int gl = __ffs(int(gm)) - 1;
    carry += __shfl_sync(0xffffffffu, x - gs, gl);
    const int top = nbins - 1 - gl * group, bottom = top - group;  // bins (bottom, top]
    for (int base = top; base > bottom; base -= 32) {
        const int b = base - lane;
        const u64 h = b > bottom ? hist[b] : 0ull;
        u64 y = h;
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const u64 z = __shfl_up_sync(0xffffffffu, y, o);
            if (lane >= o) y += z;
        }
        const unsigned m = __ballot_sync(0xffffffffu, b > bottom && walk_hit<kMass>(carry + y, need, target));
        if (m != 0u) {
            const int l = __ffs(int(m)) - 1;
            const u64 excl = __shfl_sync(0xffffffffu, y - h, l);
            if (lane == 0) {
                res[0] = u64(base - l);
                res[1] = carry + excl;
            }
            return;
        }
        carry += __shfl_sync(0xffffffffu, y, 31);
    }
    if (lane == 0) {  // unreachable: the group's bins add up to its sum
        res[0] = ~0ull;
        res[1] = carry;
    }
}

struct Row {
    const float* s;
    const float* e;  // the stored e of the row (pass 4)
    int n;
    float smax, t, theta;
};

// One radix level: histogram (counts, or fix(e) mass) of the survivors whose bits >> match_shift
// equal prefix (match_shift 32: all), keyed by (bits >> key_shift) & (nbins - 1); then the walk.
// Returns the bin (or -1); *above gets the count / mass of the bins above it.
template <bool kMass>
__device__ int radix_level(const Row& w, u64* hist, u64* res, int nbins, int match_shift, uint32_t prefix,
                           int key_shift, u64 carry, u64 need, double target, u64* above) {
    for (int b = int(threadIdx.x); b < nbins; b += kThreads) hist[b] = 0ull;
    __syncthreads();
    for (int j = int(threadIdx.x); j < w.n; j += kThreads) {
        const float v = PG_LDG(w.e + j);
        if (!(v > 0 && v >= w.theta)) continue;
        const uint32_t bits = __float_as_uint(v);
        if (match_shift < 32 && (bits >> match_shift) != prefix) continue;
        atomicAdd(&hist[(bits >> key_shift) & uint32_t(nbins - 1)], kMass ? fixp(v) : 1ull);
    }
    __syncthreads();
    if (threadIdx.x < 32) warp_walk<kMass>(hist, nbins, carry, need, target, res);
    __syncthreads();
    const int b = res[0] == ~0ull ? -1 : int(res[0]);
    *above = res[1];
    __syncthreads();
    return b;
}

// The exact value reached by a 3-level radix walk (bits 31..20, 19..8, 7..0); -1 bits when the
// first level finds nothing.
template <bool kMass>
__device__ bool radix_select(const Row& w, u64* hist, u64* res, u64 need, double target, float* out) {
    u64 above = 0;
    const int b1 = radix_level<kMass>(w, hist, res, 1024, 32, 0u, 20, 0ull, need, target, &above);
    if (b1 < 0) return false;
    const int b2 = radix_level<kMass>(w, hist, res, 4096, 20, uint32_t(b1), 8, above, need, target, &above);
    if (b2 < 0) return false;  // unreachable: the bins of level 1's bin add up to it
    const uint32_t p2 = (uint32_t(b1) << 12) | uint32_t(b2);
    const int b3 = radix_level<kMass>(w, hist, res, 256, 8, p2, 0, above, need, target, &above);
    if (b3 < 0) return false;  // unreachable
    *out = __uint_as_float((p2 << 8) | uint32_t(b3));
    return true;
}

__device__ void fail_row(const pg_sample_args& a, int64_t r, int32_t status) {
    if (threadIdx.x == 0) {
        a.out_tokens[r] = -1;
        a.out_status[r] = status;
        if (a.out_logprobs != nullptr) a.out_logprobs[r] = NAN;
        if (a.out_ranks != nullptr) a.out_ranks[r] = 0;
    }
    if (a.out_top_ids != nullptr && threadIdx.x < PG_SAMPLE_MAX_LOGPROBS) {
        a.out_top_ids[r * PG_SAMPLE_MAX_LOGPROBS + threadIdx.x] = -1;
        a.out_top_logprobs[r * PG_SAMPLE_MAX_LOGPROBS + threadIdx.x] = -INFINITY;
    }
}

enum TopMode { kTopRaw = 0, kTopFinite = 1, kTopSurvivor = 2 };

// The nlp best (value descending, id ascending) candidates of the row as logprobs: kTopRaw and
// kTopFinite give float(double(v) - shift), kTopSurvivor float((double(v) - smax) / T - shift).
__device__ void top_n(const pg_sample_args& a, int64_t r, int nlp, int mode, const Row& w, double shift,
                      float* shv, int* shi) {
    int32_t* ids = a.out_top_ids + r * PG_SAMPLE_MAX_LOGPROBS;
    float* lps = a.out_top_logprobs + r * PG_SAMPLE_MAX_LOGPROBS;
    float pv = INFINITY;
    int pi = -1;
    int i = 0;
    for (; i < nlp; ++i) {
        float bv = 0.0f;
        int bi = kNoId;
        for (int j = int(threadIdx.x); j < w.n; j += kThreads) {
            const float v = PG_LDG(w.s + j);
            if (!(v < pv || (v == pv && j > pi))) continue;
            if (mode == kTopFinite && v == -INFINITY) continue;
            if (mode == kTopSurvivor) {
                const float e = PG_LDG(w.e + j);
                if (!(e > 0 && e >= w.theta)) continue;
            }
            if (before(v, j, bv, bi)) {
                bv = v;
                bi = j;
            }
        }
        block_best(bv, bi, shv, shi);
        if (bi == kNoId) break;
        if (threadIdx.x == 0) {
            ids[i] = bi;
            lps[i] = mode == kTopSurvivor ? float((double(bv) - double(w.smax)) / double(w.t) - shift)
                                          : float(double(bv) - shift);
        }
        pv = bv;
        pi = bi;
    }
    for (int k = i + int(threadIdx.x); k < PG_SAMPLE_MAX_LOGPROBS; k += kThreads) {
        ids[k] = -1;
        lps[k] = -INFINITY;
    }
}

struct Span {
    const int32_t* ids;
    int begin, end;
};

__device__ __forceinline__ Span span_of(const int32_t* ids, const int32_t* offsets, int64_t r) {
    if (offsets == nullptr) return Span{ids, 0, 0};
    return Span{ids, offsets[r], offsets[r + 1]};
}

// Sum over the row of fix(e) for e = exp((x - shift) / t), optionally only e >= theta.
__device__ u64 mass_sum(const float* x, int n, float shift, float t, float theta, u64* shu) {
    u64 acc = 0;
    for (int j = int(threadIdx.x); j < n; j += kThreads) {
        const float v = e_of(PG_LDG(x + j), shift, t);
        acc += v >= theta ? fixp(v) : 0ull;
    }
    return block_reduce(acc, shu, AddU{}, 0ull);
}

// Guards (the host validates where it builds the rows; this records what it did not): the row's
// parameters, its list offsets and every list id it will index with. Uniform over the block.
__device__ __forceinline__ bool finite_f(float v) { return fabsf(v) <= 3.402823466e38f; }  // false for NaN

__device__ bool row_args_ok(const pg_sample_args& a, int64_t r, DeviceError* err, int* shi) {
    const int row = int(r), n = a.vocab_size;
    int bad = 0;
    if (threadIdx.x == 0) {
        const float t = a.temperature[r];
        const int k = a.top_k == nullptr ? 0 : a.top_k[r];
        const float p = a.top_p == nullptr ? 1.0f : a.top_p[r];
        const float mp = a.min_p == nullptr ? 0.0f : a.min_p[r];
        const float rp = a.repetition_penalty == nullptr ? 1.0f : a.repetition_penalty[r];
        const float fp = a.frequency_penalty == nullptr ? 0.0f : a.frequency_penalty[r];
        const float pp = a.presence_penalty == nullptr ? 0.0f : a.presence_penalty[r];
        const int mt = a.min_tokens == nullptr ? 0 : a.min_tokens[r];
        const int64_t st = a.steps == nullptr ? 0 : a.steps[r];
        const int nl = a.num_logprobs == nullptr ? 0 : a.num_logprobs[r];
        int which = -1;
        double v = 0.0;
        if (!finite_f(t) || t < 0) which = kSpTemperature, v = t;
        else if (k < -1) which = kSpTopK, v = k;
        else if (!(p > 0 && p <= 1)) which = kSpTopP, v = p;
        else if (!(mp >= 0 && mp <= 1)) which = kSpMinP, v = mp;
        else if (!(rp > 0) || !finite_f(rp)) which = kSpRepetition, v = rp;
        else if (!finite_f(fp) || !finite_f(pp)) which = kSpPenalty, v = finite_f(fp) ? pp : fp;
        else if (mt < 0) which = kSpMinTokens, v = mt;
        else if (st < 0) which = kSpSteps, v = double(st);
        else if (nl < 0 || nl > PG_SAMPLE_MAX_LOGPROBS) which = kSpNumLogprobs, v = nl;
        else if (nl > 0 && (a.out_top_ids == nullptr || a.out_top_logprobs == nullptr)) which = kSpTopOutputs, v = nl;
        if (which >= 0) {
            report_error(err, kDevErrSampleParam, kOpSample, row, which, 0, 0, v);
            bad = 1;
        }
        const int32_t* offs[4] = {a.prompt_offsets, a.output_offsets, a.stop_offsets, a.bias_offsets};
        for (int l = 0; l < 4 && bad == 0; ++l)
            if (offs[l] != nullptr && (offs[l][0] != 0 || offs[l][r + 1] < offs[l][r])) {
                report_error(err, kDevErrSampleOffsets, kOpSample, row, l, 0, 0);
                bad = 1;
            }
    }
    if (block_reduce(bad, shi, MaxI{}, 0) != 0) return false;
    const Span lists[4] = {span_of(a.prompt_tokens, a.prompt_offsets, r), span_of(a.output_tokens, a.output_offsets, r),
                           span_of(a.stop_ids, a.stop_offsets, r), span_of(a.bias_ids, a.bias_offsets, r)};
    for (int l = 0; l < 4; ++l)
        for (int i = lists[l].begin + int(threadIdx.x); i < lists[l].end; i += kThreads) {
            const int id = lists[l].ids[i];
            if (id < 0 || id >= n) {
                report_error(err, kDevErrSampleList, kOpSample, i, l, id, n);
                bad = 1;
            } else if (l == 3 && !finite_f(a.bias_values[i])) {
                report_error(err, kDevErrSampleParam, kOpSample, i, kSpBiasValue, 0, 0, a.bias_values[i]);
                bad = 1;
            }
        }
    return block_reduce(bad, shi, MaxI{}, 0) == 0;
}

__global__ void __launch_bounds__(kThreads) sample_kernel(const pg_sample_args a, float* ws_s, int* ws_mark,
                                                          DeviceError* err) {
    PG_SHARED(u64, hist, [4096]);
    PG_SHARED(u64, shu, [33]);
    PG_SHARED(float, shf, [33]);
    PG_SHARED(int, shi, [33]);
    PG_SHARED(u64, res, [2 + kWarps]);
    const int tid = int(threadIdx.x);
    const int64_t r = blockIdx.x;
    const int n = a.vocab_size;
    const float* raw = static_cast<const float*>(a.logits) + r * int64_t(a.row_stride);
    if (!row_args_ok(a, r, err, shi)) {
        fail_row(a, r, PG_SAMPLE_ROW_NO_CANDIDATE);
        return;
    }

    // Pass 1: the raw row.
    float mx = -INFINITY, mn = INFINITY;
    int nan = 0;
    for (int j = tid; j < n; j += kThreads) {
        const float v = PG_LDG(raw + j);
        if (v != v) nan = 1;
        mx = v > mx ? v : mx;
        mn = v < mn ? v : mn;
    }
    mx = block_reduce(mx, shf, MaxF{}, -INFINITY);
    mn = block_reduce(mn, shf, MinF{}, INFINITY);
    nan = block_reduce(nan, shi, MaxI{}, 0);
    if (nan != 0 || mx == INFINITY || mn == -INFINITY) {
        fail_row(a, r, PG_SAMPLE_ROW_NONFINITE);
        return;
    }

    const float temperature = a.temperature[r];
    const int64_t step = a.steps == nullptr ? 0 : a.steps[r];
    const uint32_t flags = a.flags == nullptr ? 0u : a.flags[r];
    const bool processed_lp = (flags & PG_SAMPLE_FLAG_PROCESSED_LOGPROBS) != 0;
    const int nlp = a.num_logprobs == nullptr ? 0 : a.num_logprobs[r];
    const float rep = a.repetition_penalty == nullptr ? 1.0f : a.repetition_penalty[r];
    const float freq = a.frequency_penalty == nullptr ? 0.0f : a.frequency_penalty[r];
    const float pres = a.presence_penalty == nullptr ? 0.0f : a.presence_penalty[r];
    const Span prompt = span_of(a.prompt_tokens, a.prompt_offsets, r);
    const Span output = span_of(a.output_tokens, a.output_offsets, r);
    const Span stops = span_of(a.stop_ids, a.stop_offsets, r);
    const Span bias = span_of(a.bias_ids, a.bias_offsets, r);
    const int min_tokens = a.min_tokens == nullptr ? 0 : a.min_tokens[r];
    const bool mask_stops = step < int64_t(min_tokens) && stops.end > stops.begin;
    const bool rep_on = rep != 1.0f && (prompt.end > prompt.begin || output.end > output.begin);
    const bool fp_on = (freq != 0.0f || pres != 0.0f) && output.end > output.begin;
    const bool edits = bias.end > bias.begin || mask_stops || rep_on || fp_on;

    // Pass 3: the processed row s (the raw row when nothing changes it).
    const float* s = raw;
    float smax = mx;
    if (edits) {
        float* w = ws_s + r * int64_t(n);
        int* mark = ws_mark + r * int64_t(n);
        for (int j = tid; j < n; j += kThreads) w[j] = PG_LDG(raw + j);
        const int np = prompt.end - prompt.begin, no = output.end - output.begin;
        if (rep_on || fp_on)
            for (int i = tid; i < np + no; i += kThreads)
                mark[i < np ? prompt.ids[prompt.begin + i] : output.ids[output.begin + i - np]] = 0;
        __syncthreads();
        if (tid == 0)
            for (int i = bias.begin; i < bias.end; ++i)
                w[bias.ids[i]] = fadd_rn(w[bias.ids[i]], a.bias_values[i]);
        __syncthreads();
        if (mask_stops)
            for (int i = stops.begin + tid; i < stops.end; i += kThreads) w[stops.ids[i]] = -INFINITY;
        __syncthreads();
        if (rep_on) {
            for (int i = tid; i < np + no; i += kThreads) {
                const int t = i < np ? prompt.ids[prompt.begin + i] : output.ids[output.begin + i - np];
                if (atomicExch(&mark[t], 1) != 0) continue;
                const float v = w[t];
                w[t] = v > 0 ? fdiv_rn(v, rep) : fmul_rn(v, rep);
            }
            __syncthreads();
            for (int i = tid; i < no; i += kThreads) mark[output.ids[output.begin + i]] = 0;
            __syncthreads();
        }
        if (fp_on) {
            for (int i = tid; i < no; i += kThreads) atomicAdd(&mark[output.ids[output.begin + i]], 1);
            __syncthreads();
            for (int i = tid; i < no; i += kThreads) {
                const int t = output.ids[output.begin + i];
                const int c = atomicExch(&mark[t], 0);
                if (c == 0) continue;  // already applied
                w[t] = fsub_rn(w[t], fadd_rn(fmul_rn(freq, float(c)), pres));
            }
        }
        __syncthreads();
        float pm = -INFINITY;
        int pnan = 0;
        for (int j = tid; j < n; j += kThreads) {
            const float v = w[j];
            if (v != v) pnan = 1;
            pm = v > pm ? v : pm;
        }
        pm = block_reduce(pm, shf, MaxF{}, -INFINITY);
        pnan = block_reduce(pnan, shi, MaxI{}, 0);
        if (pnan != 0 || pm == INFINITY) {
            fail_row(a, r, PG_SAMPLE_ROW_NONFINITE);
            return;
        }
        if (pm == -INFINITY) {
            fail_row(a, r, PG_SAMPLE_ROW_NO_CANDIDATE);
            return;
        }
        s = w;
        smax = pm;
    }

    // Pass 2: the raw log-normalizer unless pass 4 computes the same sum.
    const bool raw_is_pass4 = !edits && temperature == 1.0f;
    double raw_lse = 0;
    if (!processed_lp && !raw_is_pass4) raw_lse = log(unfix(mass_sum(raw, n, mx, 1.0f, 0.0f, shu)));

    int token = -1;
    double token_lp = 0;
    Row row{s, nullptr, n, smax, temperature, 0.0f};  // sampled rows: row.e and row.theta give the survivors
    if (temperature == 0.0f) {
        int first = kNoId;
        for (int j = tid; j < n && first == kNoId; j += kThreads)
            if (s[j] == smax) first = j;
        token = block_reduce(first, shi, MinI{}, kNoId);
        if (processed_lp) {
            const double lse = double(smax) + log(unfix(mass_sum(s, n, smax, 1.0f, 0.0f, shu)));
            token_lp = double(s[token]) - lse;
            if (nlp > 0) top_n(a, r, nlp, kTopFinite, row, lse, shf, shi);
        }
    } else {
        // Pass 4: e into the workspace (the marks' place) and its mass.
        float* e = reinterpret_cast<float*>(ws_mark) + r * int64_t(n);
        u64 z0 = 0;
        for (int j = tid; j < n; j += kThreads) {
            const float v = e_of(PG_LDG(s + j), smax, temperature);
            e[j] = v;
            z0 += fixp(v);
        }
        z0 = block_reduce(z0, shu, AddU{}, 0ull);  // its barriers also publish e
        if (raw_is_pass4) raw_lse = log(unfix(z0));
        row.e = e;
        const float min_p = a.min_p == nullptr ? 0.0f : a.min_p[r];
        if (min_p > 0.0f) row.theta = min_p;
        const int top_k = a.top_k == nullptr ? 0 : a.top_k[r];
        if (top_k > 0 && top_k < n) {
            u64 alive = 0;
            for (int j = tid; j < n; j += kThreads) {
                const float v = PG_LDG(e + j);
                alive += (v > 0 && v >= row.theta) ? 1ull : 0ull;
            }
            alive = block_reduce(alive, shu, AddU{}, 0ull);
            float kth;
            if (alive > u64(top_k) && radix_select<false>(row, hist, res, u64(top_k), 0.0, &kth))
                row.theta = fmaxf(row.theta, kth);
        }
        const float top_p = a.top_p == nullptr ? 1.0f : a.top_p[r];
        if (top_p < 1.0f) {
            u64 mass = 0;
            for (int j = tid; j < n; j += kThreads) {
                const float v = PG_LDG(e + j);
                mass += (v > 0 && v >= row.theta) ? fixp(v) : 0ull;
            }
            mass = block_reduce(mass, shu, AddU{}, 0ull);
            float t;
            if (radix_select<true>(row, hist, res, 0ull, double(top_p) * double(mass), &t))
                row.theta = fmaxf(row.theta, t);
        }

        // Pass 8: survivor mass per warp segment (contiguous, a multiple of 32 ids), then the draw.
        const int seg = ((n + kWarps - 1) / kWarps + 31) / 32 * 32;
        const int lane = tid & 31, warp = tid >> 5;
        {
            u64 acc = 0;
            const int lo = warp * seg, hi = imin(n, lo + seg);
            for (int j = lo + lane; j < hi; j += 32) {
                const float v = PG_LDG(e + j);
                acc += v >= row.theta ? fixp(v) : 0ull;
            }
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
            if (lane == 0) res[2 + warp] = acc;
        }
        __syncthreads();
        u64 total = 0;
        for (int k = 0; k < kWarps; ++k) total += res[2 + k];
        const double u = philox_uniform(a.seeds == nullptr ? 0ull : a.seeds[r], uint64_t(step), 0u);
        const double target = u * double(total);
        int wseg = -1;
        u64 carry = 0;
        for (int k = 0; k < kWarps; ++k) {
            if (double(carry + res[2 + k]) > target) {
                wseg = k;
                break;
            }
            carry += res[2 + k];
        }
        __syncthreads();
        if (tid == 0) shi[0] = kNoId;
        __syncthreads();
        if (warp == wseg) {
            const int lo = warp * seg, hi = imin(n, lo + seg);
            for (int base = lo; base < hi; base += 32) {
                const int j = base + lane;
                const float v = j < hi ? PG_LDG(e + j) : 0.0f;
                const bool alive = j < hi && v > 0 && v >= row.theta;
                const u64 f = alive ? fixp(v) : 0ull;
                u64 x = f;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1) {
                    const u64 y = __shfl_up_sync(0xffffffffu, x, o);
                    if (lane >= o) x += y;
                }
                const unsigned m = __ballot_sync(0xffffffffu, alive && double(carry + x) > target);
                if (m != 0u) {
                    if (lane == 0) shi[0] = base + __ffs(int(m)) - 1;
                    break;
                }
                carry += __shfl_sync(0xffffffffu, x, 31);
            }
        }
        __syncthreads();
        token = shi[0];
        __syncthreads();
        if (token == kNoId) {  // rounding (u * total == total): the last survivor of the row
            int last = -1;
            for (int j = tid; j < n; j += kThreads) {
                const float v = PG_LDG(e + j);
                if (v > 0 && v >= row.theta) last = j;
            }
            token = block_reduce(last, shi, MaxI{}, -1);
        }
        if (token < 0) {
            fail_row(a, r, PG_SAMPLE_ROW_NO_CANDIDATE);
            return;
        }
        if (processed_lp) {
            const double shift = log(unfix(total));
            token_lp = (double(s[token]) - double(smax)) / double(temperature) - shift;
            if (nlp > 0) top_n(a, r, nlp, kTopSurvivor, row, shift, shf, shi);
        }
    }

    if (!processed_lp) {
        const double lse = double(mx) + raw_lse;
        token_lp = double(raw[token]) - lse;
        if (nlp > 0) {
            const Row rw{raw, nullptr, n, mx, 1.0f, 0.0f};
            top_n(a, r, nlp, kTopRaw, rw, lse, shf, shi);
        }
    }
    if (nlp == 0 && a.out_top_ids != nullptr && tid < PG_SAMPLE_MAX_LOGPROBS) {
        a.out_top_ids[r * PG_SAMPLE_MAX_LOGPROBS + tid] = -1;
        a.out_top_logprobs[r * PG_SAMPLE_MAX_LOGPROBS + tid] = -INFINITY;
    }
    if (a.out_ranks != nullptr && (flags & PG_SAMPLE_FLAG_RANK) != 0) {
        // As the CPU: larger logits (raw, or processed among the survivors) are larger logprobs.
        const float* v = processed_lp ? s : raw;
        const float t = PG_LDG(v + token);
        u64 above = 0;
        for (int j = tid; j < n; j += kThreads) {
            const bool alive = !processed_lp || row.e == nullptr || (PG_LDG(row.e + j) > 0 && PG_LDG(row.e + j) >= row.theta);
            above += (PG_LDG(v + j) > t && alive) ? 1ull : 0ull;
        }
        above = block_reduce(above, shu, AddU{}, 0ull);
        if (tid == 0) a.out_ranks[r] = int32_t(above) + 1;
    } else if (a.out_ranks != nullptr && tid == 0) {
        a.out_ranks[r] = 0;
    }
    if (tid == 0) {
        a.out_tokens[r] = token;
        a.out_status[r] = PG_SAMPLE_ROW_OK;
        if (a.out_logprobs != nullptr) a.out_logprobs[r] = float(token_lp);
    }
}

// Host copies of everything validation reads (the arrays are device memory).
struct HostArgs {
    pg_sample_args h{};
    std::vector<float> f[8];
    std::vector<int32_t> i[12];
    std::vector<int64_t> steps;
    int fi = 0, ii = 0;

    template <class T>
    pg_status copy(pg_context* ctx, const T*& p, size_t n, std::vector<T>& v, const char* name) {
        if (p == nullptr) return PG_OK;
        PG_TRY(to_host(ctx, "sample", name, p, n, v));
        p = v.data();
        return PG_OK;
    }
    pg_status rows(pg_context* ctx, const float*& p, const char* name) {
        return copy(ctx, p, size_t(h.num_rows), f[fi++], name);
    }
    pg_status rows(pg_context* ctx, const int32_t*& p, const char* name) {
        return copy(ctx, p, size_t(h.num_rows), i[ii++], name);
    }
    pg_status list(pg_context* ctx, const int32_t*& ids, const int32_t*& offsets, const float** values, const char* name) {
        if (offsets == nullptr) return PG_OK;
        std::vector<int32_t>& off = i[ii++];
        PG_TRY(copy(ctx, offsets, size_t(h.num_rows) + 1, off, name));
        const int32_t count = off.back() > 0 ? off.back() : 0;
        PG_TRY(copy(ctx, ids, size_t(count), i[ii++], name));
        if (values != nullptr) PG_TRY(copy(ctx, *values, size_t(count), f[fi++], "bias_values"));
        return PG_OK;
    }
};

}  // namespace

pg_status sample(pg_context* ctx, const pg_sample_args* a) {
    PG_TRY(check_ctx("sample", ctx));
    if (a == nullptr || a->num_rows <= 0 || a->vocab_size <= 0) return pg::cpu::validate_sample(a);
    if (ctx->validate_on_host) {
        HostArgs ha;
        ha.h = *a;
        pg_sample_args& h = ha.h;
        PG_TRY(ha.rows(ctx, h.temperature, "temperature"));
        PG_TRY(ha.rows(ctx, h.top_p, "top_p"));
        PG_TRY(ha.rows(ctx, h.min_p, "min_p"));
        PG_TRY(ha.rows(ctx, h.repetition_penalty, "repetition_penalty"));
        PG_TRY(ha.rows(ctx, h.frequency_penalty, "frequency_penalty"));
        PG_TRY(ha.rows(ctx, h.presence_penalty, "presence_penalty"));
        PG_TRY(ha.rows(ctx, h.top_k, "top_k"));
        PG_TRY(ha.rows(ctx, h.min_tokens, "min_tokens"));
        PG_TRY(ha.rows(ctx, h.num_logprobs, "num_logprobs"));
        PG_TRY(ha.copy(ctx, h.steps, size_t(h.num_rows), ha.steps, "steps"));
        PG_TRY(ha.list(ctx, h.prompt_tokens, h.prompt_offsets, nullptr, "prompt"));
        PG_TRY(ha.list(ctx, h.output_tokens, h.output_offsets, nullptr, "output"));
        PG_TRY(ha.list(ctx, h.stop_ids, h.stop_offsets, nullptr, "stop"));
        PG_TRY(ha.list(ctx, h.bias_ids, h.bias_offsets, &h.bias_values, "bias"));
        PG_TRY(pg::cpu::validate_sample(&h));
    } else {
        // The checks that read no device memory (the kernel guards the arrays).
        const char* op = "sample";
        PG_TRY(check_stride(op, "row_stride", a->row_stride, a->vocab_size));
        PG_TRY(check_dtype(op, "dtype", a->dtype, kF32Only));
        PG_TRY(check_ptr(op, "out_tokens", a->out_tokens));
        PG_TRY(check_ptr(op, "out_status", a->out_status));
        PG_TRY(check_ptr(op, "logits", a->logits));
        PG_TRY(check_ptr(op, "temperature", a->temperature));
        if ((a->out_top_ids == nullptr) != (a->out_top_logprobs == nullptr))
            return fail(PG_ERR_INVALID_ARGUMENT, "%s: out_top_ids and out_top_logprobs must both be set or both be NULL", op);
    }

    // Workspace: the processed row and one mark / count per id (later e), for every row.
    const size_t per_row = size_t(a->vocab_size);
    const size_t need = size_t(a->num_rows) * per_row * (sizeof(float) + sizeof(int));
    void* ws = a->workspace;
    if (ws == nullptr || a->workspace_bytes < int64_t(need)) PG_TRY(scratch(ctx, need, &ws));
    float* ws_s = static_cast<float*>(ws);
    int* ws_mark = reinterpret_cast<int*>(ws_s + size_t(a->num_rows) * per_row);
    return launch("sample", sample_kernel, dim3(unsigned(a->num_rows)), dim3(kThreads), 0, ctx->stream, *a,
                  ws_s, ws_mark, ctx->dev_error);
}

}  // namespace pg::cuda
