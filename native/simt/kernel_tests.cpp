// Kernel tests of the CUDA backend under the SIMT emulator, in the style of vLLM's kernel tests:
// many sequences with random block tables over a large pool, lengths ending mid-block and on block
// boundaries, GQA ratios 1/4/8, every unused cache slot NaN, split-K forced on and off, fp32/fp16/
// bf16 against a double-precision reference computed from the same rounded inputs.
//   paged_simt_kernel_tests [grid]        the test grid (exit code 0 = all passed)
//   paged_simt_kernel_tests coalescing    the coalescing report (markdown) and its gate: decode
//                                         attention's K/V loads within 1.5x of the ideal sectors
// PAGED_SIMT_SCHEDULE (forward | reverse | random:SEED) picks the fiber schedule.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gemm_tests.h"
#include "paged.h"
#include "host_tensor.h"
#include "simt.h"

namespace {

const pg_api* api = nullptr;
pg_context* ctx = nullptr;
int g_failures = 0, g_passes = 0;

float round_to(int dt, float v) {
    if (dt == PG_DTYPE_F16) return __half2float(__float2half(v));
    if (dt == PG_DTYPE_BF16) return __bfloat162float(__float2bfloat16(v));
    return v;
}

void check(pg_status st, const char* what) {
    if (st != PG_OK) {
        std::printf("FAIL %s: status %d: %s\n", what, int(st), api->last_error());
        std::exit(1);
    }
}

void* dev(size_t bytes) {
    void* p = nullptr;
    check(api->alloc(ctx, bytes == 0 ? 1 : bytes, &p), "alloc");
    return p;
}
template <class T>
void* upload(const std::vector<T>& v) {
    void* p = dev(v.size() * sizeof(T));
    check(api->memcpy(ctx, p, v.data(), v.size() * sizeof(T), PG_MEMCPY_HOST_TO_DEVICE), "upload");
    return p;
}
void* upload(const HostTensor& t) {
    void* p = dev(t.bytes.size());
    check(api->memcpy(ctx, p, t.bytes.data(), t.bytes.size(), PG_MEMCPY_HOST_TO_DEVICE), "upload");
    return p;
}
void download(HostTensor& t, const void* p) {
    check(api->memcpy(ctx, t.bytes.data(), p, t.bytes.size(), PG_MEMCPY_DEVICE_TO_HOST), "download");
}
void release(void* p) { api->free(ctx, p); }

struct Tol {
    double atol, rtol;
};
// Per dtype: fp32 results against a double reference (accumulation error only); fp16/bf16 results
// are rounded once at the end (half an ulp: 2^-11 resp. 2^-8 relative) on top of that.
Tol tolerance(int dt) {
    if (dt == PG_DTYPE_F16) return {1.5e-3, 2e-3};
    if (dt == PG_DTYPE_BF16) return {1e-2, 8e-3};
    return {3e-5, 1e-4};
}

bool compare(const std::vector<double>& expected, const HostTensor& actual, Tol tol, const std::string& what) {
    for (size_t i = 0; i < expected.size(); ++i) {
        const double e = expected[i], a = actual.get(i);
        if (!(std::fabs(e - a) <= tol.atol + tol.rtol * std::fabs(e))) {
            std::printf("FAIL %s: element %zu expected %.8g got %.8g\n", what.c_str(), i, e, a);
            ++g_failures;
            return false;
        }
    }
    ++g_passes;
    return true;
}

struct Seq {
    int len, qlen;
};

void set_partition(int partition) {
    if (partition > 0) setenv("PAGED_CUDA_PARTITION_SIZE", std::to_string(partition).c_str(), 1);
    else unsetenv("PAGED_CUDA_PARTITION_SIZE");
}

// One attention case: cache_write of every sequence's K/V (plus a NaN padding token with slot -1),
// then prefill (and decode when every q_len is 1), each with split-K off and forced on. With a sliding
// window, the block-table entries of blocks wholly before the first query token's window are set to -1
// after the cache is written: the kernels must neither read nor reject them.
// act: the dtype of keys/values/queries/output (-1: dt). With act = f32 over a half cache (dt) the keys
// and values are unrounded f32, the cache rounds them, and the reference uses the rounded K/V: the
// kernels must then be as exact as fp32 attention (tolerance of f32).
void attention_case(int dt, int D, int bs, int kvh, int gqa, const std::vector<Seq>& seqs, unsigned seed,
                    int window = 0, int act = -1) {
    if (act < 0) act = dt;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    const int heads = kvh * gqa, nseq = int(seqs.size());
    const int layers = 2, layer = 1;
    int max_blocks = 0, used_blocks = 0, total = 0, ntok = 0, max_len = 0;
    for (const Seq& s : seqs) {
        const int b = (s.len + bs - 1) / bs;
        max_blocks = std::max(max_blocks, b);
        used_blocks += b;
        total += s.len;
        ntok += s.qlen;
        max_len = std::max(max_len, s.len);
    }
    const int num_blocks = 2 * used_blocks + 7;  // a pool much larger than what is used
    std::vector<int> pool(static_cast<size_t>(num_blocks));
    for (int i = 0; i < num_blocks; ++i) pool[size_t(i)] = i;
    std::shuffle(pool.begin(), pool.end(), rng);
    std::vector<int32_t> tables(size_t(nseq * max_blocks), -1);  // unused entries: invalid ids
    int next = 0;
    for (int s = 0; s < nseq; ++s)
        for (int b = 0; b < (seqs[size_t(s)].len + bs - 1) / bs; ++b) tables[size_t(s * max_blocks + b)] = pool[size_t(next++)];

    const int width = kvh * D, kv_stride = width + 8;
    HostTensor keys(act, size_t(total + 1) * kv_stride), values(act, size_t(total + 1) * kv_stride);
    std::vector<float> kref(keys.size()), vref(values.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        const float k = round_to(act, uni(rng)), v = round_to(act, uni(rng));
        keys.set(i, k);
        values.set(i, v);
        kref[i] = round_to(dt, k);  // what the cache holds
        vref[i] = round_to(dt, v);
    }
    for (int i = 0; i < width; ++i) {  // the padding token carries NaN: it must never be written
        keys.set(size_t(total) * kv_stride + i, NAN);
        values.set(size_t(total) * kv_stride + i, NAN);
    }
    std::vector<int64_t> slots(size_t(total + 1));
    std::vector<int> first(static_cast<size_t>(nseq));
    int t = 0;
    for (int s = 0; s < nseq; ++s) {
        first[size_t(s)] = t;
        for (int p = 0; p < seqs[size_t(s)].len; ++p, ++t)
            slots[size_t(t)] = int64_t(tables[size_t(s * max_blocks + p / bs)]) * bs + p % bs;
    }
    slots[size_t(total)] = -1;
    auto first_attended = [&](int pos) { return window > 0 ? std::max(0, pos - window + 1) : 0; };

    pg_kv_cache_desc desc{};
    desc.num_blocks = num_blocks;
    desc.num_layers = layers;
    desc.num_kv_heads = kvh;
    desc.block_size = bs;
    desc.head_size = D;
    desc.dtype = dt;
    const size_t cache_bytes = size_t(num_blocks) * layers * 2 * width * bs * dt_size(dt);
    desc.data = dev(cache_bytes);
    check(api->memset(ctx, desc.data, 0xff, cache_bytes), "memset");  // NaN everywhere
    void* kb = upload(keys);
    void* vb = upload(values);
    void* sb = upload(slots);
    pg_cache_write_args cw{};
    cw.cache = desc;
    cw.key = kb;
    cw.value = vb;
    cw.slot_mapping = static_cast<const int64_t*>(sb);
    cw.num_tokens = total + 1;
    cw.layer = layer;
    cw.key_stride = kv_stride;
    cw.value_stride = kv_stride;
    cw.dtype = act;
    check(api->cache_write(ctx, &cw), "cache_write");
    for (int s = 0; s < nseq; ++s) {
        const int lo = first_attended(seqs[size_t(s)].len - seqs[size_t(s)].qlen);
        for (int b = 0; (b + 1) * bs <= lo; ++b) tables[size_t(s * max_blocks + b)] = -1;
    }

    const int q_stride = heads * D + 8;
    HostTensor query(act, size_t(ntok) * q_stride);
    std::vector<float> qref(query.size());
    for (size_t i = 0; i < query.size(); ++i) {
        qref[i] = round_to(act, uni(rng));
        query.set(i, qref[i]);
    }
    std::vector<int32_t> qstart(size_t(nseq + 1), 0), lens(static_cast<size_t>(nseq));
    for (int s = 0; s < nseq; ++s) {
        qstart[size_t(s + 1)] = qstart[size_t(s)] + seqs[size_t(s)].qlen;
        lens[size_t(s)] = seqs[size_t(s)].len;
    }
    const double scale = 1.0 / std::sqrt(double(D));
    std::vector<double> expected(size_t(ntok) * heads * D);
    for (int s = 0; s < nseq; ++s) {
        for (int i = 0; i < seqs[size_t(s)].qlen; ++i) {
            const int tok = qstart[size_t(s)] + i, pos = seqs[size_t(s)].len - seqs[size_t(s)].qlen + i;
            for (int h = 0; h < heads; ++h) {
                const int g = h / gqa;
                const int lo = first_attended(pos);
                std::vector<double> sc(size_t(pos + 1), -INFINITY);
                double mx = -INFINITY;
                for (int j = lo; j <= pos; ++j) {
                    double dot = 0;
                    for (int d = 0; d < D; ++d)
                        dot += double(qref[size_t(tok) * q_stride + h * D + d]) *
                               kref[size_t(first[size_t(s)] + j) * kv_stride + g * D + d];
                    sc[size_t(j)] = dot * float(scale);
                    mx = std::max(mx, sc[size_t(j)]);
                }
                double sum = 0;
                for (double& v : sc) sum += v = std::exp(v - mx);
                for (int d = 0; d < D; ++d) {
                    double acc = 0;
                    for (int j = lo; j <= pos; ++j)
                        acc += sc[size_t(j)] / sum * vref[size_t(first[size_t(s)] + j) * kv_stride + g * D + d];
                    expected[(size_t(tok) * heads + h) * D + d] = acc;
                }
            }
        }
    }

    void* qb = upload(query);
    void* tb = upload(tables);
    void* lb = upload(lens);
    void* qsb = upload(qstart);
    void* ob = dev(expected.size() * dt_size(act));
    pg_attention_args a{};
    a.out = ob;
    a.query = qb;
    a.cache = desc;
    a.block_tables = static_cast<const int32_t*>(tb);
    a.seq_lens = static_cast<const int32_t*>(lb);
    a.query_start = static_cast<const int32_t*>(qsb);
    a.num_seqs = nseq;
    a.num_tokens = ntok;
    a.num_heads = heads;
    a.max_blocks_per_seq = max_blocks;
    a.layer = layer;
    a.q_stride = q_stride;
    a.scale = float(scale);
    a.max_seq_len = max_len;
    a.sliding_window = window;
    a.dtype = act;
    bool decode = true;
    for (const Seq& s : seqs) decode = decode && s.qlen == 1;
    char name[160];
    std::snprintf(name, sizeof name, "%s cache %s D=%d bs=%d kv_heads=%d gqa=%d seqs=%d max_len=%d window=%d",
                  dt_name(act), dt_name(dt), D, bs, kvh, gqa, nseq, max_len, window);
    HostTensor out(act, expected.size());
    check(api->attention_prefill(ctx, &a), "attention_prefill");
    download(out, ob);
    compare(expected, out, tolerance(act), std::string("prefill ") + name);
    if (decode) {
        for (int partition : {0, 16, 48}) {
            set_partition(partition);
            check(api->memset(ctx, ob, 0xff, expected.size() * dt_size(act)), "memset");
            check(api->attention_decode(ctx, &a), "attention_decode");
            download(out, ob);
            compare(expected, out, tolerance(act),
                    std::string("decode ") + (partition > 0 ? "split-K partition " + std::to_string(partition) : "split-K auto") +
                        " " + name);
        }
        set_partition(0);
    }
    for (void* p : {desc.data, kb, vb, sb, qb, tb, lb, qsb, ob}) release(p);
}

std::vector<Seq> decode_batch(std::mt19937& rng, int bs, int n) {
    // Lengths on boundaries, one past, one short, single token, and random ones.
    std::vector<Seq> s = {{1, 1}, {bs, 1}, {bs + 1, 1}, {2 * bs - 1, 1}, {3 * bs, 1}};
    std::uniform_int_distribution<int> len(1, 160);
    while (int(s.size()) < n) s.push_back({len(rng), 1});
    return s;
}

void attention_grid() {
    std::mt19937 rng(1234);
    const int dtypes[] = {PG_DTYPE_F32, PG_DTYPE_F16, PG_DTYPE_BF16};
    // Every supported head size in every dtype.
    for (int dt : dtypes)
        for (int D : {8, 16, 64, 80, 96, 128, 256}) {
            attention_case(dt, D, 16, 2, 4, decode_batch(rng, 16, 6), rng());
            attention_case(dt, D, 16, 2, 4, {{40, 7}, {16, 16}, {5, 1}, {33, 33}}, rng());
        }
    // Block sizes x GQA ratios: many sequences, decode and chunked prefill.
    for (int dt : dtypes)
        for (int bs : {8, 16, 32})
            for (int gqa : {1, 4, 8}) {
                attention_case(dt, 64, bs, 2, gqa, decode_batch(rng, bs, 12), rng());
                attention_case(dt, 128, bs, 1, gqa, {{100, 30}, {1, 1}, {64, 1}, {65, 2}, {2 * bs, bs}}, rng());
            }
    // A long context (split-K automatic: 512-token partitions).
    attention_case(PG_DTYPE_F16, 128, 16, 1, 8, {{1500, 1}, {700, 1}, {3, 1}}, rng());
    // Sliding windows (Mistral): the tiny model's 24 at head size 16, windows of one position, of a
    // block, not a multiple of the block size (crossing block boundaries), longer than every context;
    // decode with split-K over the window and chunked prefill whose chunk starts inside / before it.
    for (int dt : dtypes)
        for (int window : {24, 1, 16, 13, 1000}) {
            attention_case(dt, 16, 16, 2, 4, decode_batch(rng, 16, 8), rng(), window);
            attention_case(dt, 16, 16, 2, 4, {{40, 7}, {16, 16}, {5, 1}, {33, 33}, {70, 3}}, rng(), window);
        }
    for (int bs : {8, 32})
        for (int gqa : {1, 4}) {
            attention_case(PG_DTYPE_F32, 128, bs, 2, gqa, decode_batch(rng, bs, 10), rng(), 37);
            attention_case(PG_DTYPE_BF16, 64, bs, 1, gqa, {{100, 30}, {1, 1}, {64, 1}, {65, 2}, {2 * bs, bs}}, rng(), 37);
        }
    attention_case(PG_DTYPE_F16, 128, 16, 1, 8, {{1500, 1}, {700, 1}, {3, 1}}, rng(), 1100);  // split-K in the window
    // A bf16 / f16 KV cache under fp32 activations (--kv-cache-dtype): cache_write rounds, attention
    // widens; awkward block sizes and lengths, every head size, a window, split-K.
    for (int dt : {PG_DTYPE_F16, PG_DTYPE_BF16}) {
        for (int D : {8, 16, 64, 80, 96, 128, 256})
            attention_case(dt, D, 16, 2, 4, decode_batch(rng, 16, 6), rng(), 0, PG_DTYPE_F32);
        attention_case(dt, 64, 8, 2, 4, {{40, 7}, {16, 16}, {5, 1}, {33, 33}, {70, 3}}, rng(), 0, PG_DTYPE_F32);
        attention_case(dt, 16, 32, 2, 4, decode_batch(rng, 32, 8), rng(), 13, PG_DTYPE_F32);
        attention_case(dt, 128, 16, 1, 8, {{1500, 1}, {700, 1}, {3, 1}}, rng(), 0, PG_DTYPE_F32);
    }
}

// ---- other ops in fp16 / bf16 (fp32 is covered by the C# op tests) ---------------------------------

void elementwise(int dt) {
    std::mt19937 rng(99 + unsigned(dt));
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    const Tol tol = tolerance(dt);
    const std::string tag = dt_name(dt);
    // RMSNorm with fused residual.
    {
        const int n = 5, dim = 96;
        HostTensor x(dt, size_t(n * dim)), res(dt, size_t(n * dim)), w(dt, size_t(dim));
        for (size_t i = 0; i < x.size(); ++i) {
            x.set(i, uni(rng));
            res.set(i, uni(rng));
        }
        for (size_t i = 0; i < w.size(); ++i) w.set(i, uni(rng));
        std::vector<double> eo(x.size()), er(x.size());
        for (int t = 0; t < n; ++t) {
            double ss = 0;
            for (int i = 0; i < dim; ++i) {
                const size_t k = size_t(t * dim + i);
                er[k] = round_to(dt, float(double(x.get(k)) + res.get(k)));
                ss += er[k] * er[k];
            }
            const double inv = 1.0 / std::sqrt(ss / dim + 1e-5);
            for (int i = 0; i < dim; ++i) eo[size_t(t * dim + i)] = w.get(size_t(i)) * er[size_t(t * dim + i)] * inv;
        }
        void* xb = upload(x);
        void* rb = upload(res);
        void* wb = upload(w);
        pg_rmsnorm_args a{};
        a.out = xb;  // out aliases x
        a.x = xb;
        a.residual = rb;
        a.weight = wb;
        a.num_tokens = n;
        a.dim = dim;
        a.eps = 1e-5f;
        a.dtype = dt;
        check(api->rmsnorm(ctx, &a), "rmsnorm");
        HostTensor out(dt, x.size()), r2(dt, x.size());
        download(out, xb);
        download(r2, rb);
        compare(er, r2, tol, "rmsnorm residual " + tag);
        compare(eo, out, {tol.atol * 4, tol.rtol * 2}, "rmsnorm " + tag);
        for (void* p : {xb, rb, wb}) release(p);
    }
    // Per-head RMSNorm in place inside a padded row (Qwen3 q_norm / k_norm), head sizes below, at and
    // above a warp, one not a multiple of 8.
    for (int hs : {5, 16, 64, 80}) {
        const int n = 3, heads = 3, stride = heads * hs + 7;
        HostTensor x(dt, size_t(n * stride)), w(dt, size_t(hs));
        for (size_t i = 0; i < x.size(); ++i) x.set(i, 3.0f * uni(rng));
        for (size_t i = 0; i < w.size(); ++i) w.set(i, uni(rng));
        std::vector<double> e(x.size());
        for (size_t i = 0; i < x.size(); ++i) e[i] = x.get(i);
        for (int t = 0; t < n; ++t)
            for (int h = 0; h < heads; ++h) {
                const size_t b = size_t(t * stride + h * hs);
                double ss = 0;
                for (int i = 0; i < hs; ++i) ss += e[b + size_t(i)] * e[b + size_t(i)];
                const double inv = 1.0 / std::sqrt(ss / hs + 1e-6);
                for (int i = 0; i < hs; ++i) e[b + size_t(i)] = w.get(size_t(i)) * e[b + size_t(i)] * inv;
            }
        void* xb = upload(x);
        void* wb = upload(w);
        pg_head_rmsnorm_args a{xb, wb, n, heads, hs, stride, 1e-6f, dt};
        check(api->head_rmsnorm(ctx, &a), "head_rmsnorm");
        HostTensor out(dt, x.size());
        download(out, xb);
        compare(e, out, {tol.atol * 4, tol.rtol * 2}, "head_rmsnorm " + tag + " hs " + std::to_string(hs));
        for (void* p : {xb, wb}) release(p);
    }
    // RoPE, both styles.
    for (int style : {PG_ROPE_ADJACENT_PAIRS, PG_ROPE_ROTATE_HALF}) {
        const int n = 3, heads = 4, kvh = 2, hs = 64, rot = 64;
        HostTensor q(dt, size_t(n * heads * hs)), k(dt, size_t(n * kvh * hs));
        for (size_t i = 0; i < q.size(); ++i) q.set(i, uni(rng));
        for (size_t i = 0; i < k.size(); ++i) k.set(i, uni(rng));
        std::vector<int32_t> pos = {0, 7, 300};
        auto ref = [&](const HostTensor& src, int nh) {
            std::vector<double> e(src.size());
            for (int t = 0; t < n; ++t)
                for (int h = 0; h < nh; ++h)
                    for (int j = 0; j < rot / 2; ++j) {
                        const float freq = 1.0f / powf(10000.0f, float(2 * j) / float(rot));
                        const float val = float(pos[size_t(t)]) * freq;
                        const size_t base = size_t((t * nh + h) * hs);
                        const size_t i0 = base + size_t(style == PG_ROPE_ADJACENT_PAIRS ? 2 * j : j);
                        const size_t i1 = base + size_t(style == PG_ROPE_ADJACENT_PAIRS ? 2 * j + 1 : j + rot / 2);
                        const double a = src.get(i0), b = src.get(i1);
                        e[i0] = a * cos(double(val)) - b * sin(double(val));
                        e[i1] = a * sin(double(val)) + b * cos(double(val));
                    }
            return e;
        };
        const auto eq = ref(q, heads), ek = ref(k, kvh);
        void* qb = upload(q);
        void* kb = upload(k);
        void* pb = upload(pos);
        pg_rope_args a{};
        a.q = qb;
        a.k = kb;
        a.positions = static_cast<const int32_t*>(pb);
        a.num_tokens = n;
        a.num_heads = heads;
        a.num_kv_heads = kvh;
        a.head_size = hs;
        a.rotary_dim = rot;
        a.q_stride = heads * hs;
        a.k_stride = kvh * hs;
        a.style = style;
        a.theta = 10000.0f;
        a.dtype = dt;
        check(api->rope(ctx, &a), "rope");
        HostTensor qo(dt, q.size()), ko(dt, k.size());
        download(qo, qb);
        download(ko, kb);
        compare(eq, qo, {tol.atol * 2, tol.rtol * 2}, "rope q " + tag + " style " + std::to_string(style));
        compare(ek, ko, {tol.atol * 2, tol.rtol * 2}, "rope k " + tag + " style " + std::to_string(style));
        for (void* p : {qb, kb, pb}) release(p);
    }
    // SiLU-and-multiply.
    {
        const int n = 3, hidden = 300;
        HostTensor x(dt, size_t(n * 2 * hidden));
        for (size_t i = 0; i < x.size(); ++i) x.set(i, 4.0f * uni(rng));
        std::vector<double> e(size_t(n * hidden));
        for (int t = 0; t < n; ++t)
            for (int i = 0; i < hidden; ++i) {
                const double g = x.get(size_t(t * 2 * hidden + i)), u = x.get(size_t(t * 2 * hidden + hidden + i));
                e[size_t(t * hidden + i)] = g / (1 + std::exp(-g)) * u;
            }
        void* xb = upload(x);
        void* ob = dev(e.size() * dt_size(dt));
        pg_silu_mul_args a{ob, xb, n, hidden, dt};
        check(api->silu_mul(ctx, &a), "silu_mul");
        HostTensor out(dt, e.size());
        download(out, ob);
        compare(e, out, {tol.atol * 4, tol.rtol * 2}, "silu_mul " + tag);
        release(xb);
        release(ob);
    }
    // Embedding (exact) and argmax (ties to the lowest index, NaN never wins).
    {
        const int vocab = 37, dim = 24, n = 5;
        HostTensor table(dt, size_t(vocab * dim));
        for (size_t i = 0; i < table.size(); ++i) table.set(i, uni(rng));
        std::vector<int32_t> ids = {36, 0, 5, 5, 17};
        void* tb = upload(table);
        void* ib = upload(ids);
        void* ob = dev(size_t(n * dim) * dt_size(dt));
        pg_embedding_args a{ob, tb, static_cast<const int32_t*>(ib), n, vocab, dim, dt, dt};
        check(api->embedding(ctx, &a), "embedding");
        HostTensor out(dt, size_t(n * dim));
        download(out, ob);
        std::vector<double> e(out.size());
        for (int t = 0; t < n; ++t)
            for (int d = 0; d < dim; ++d) e[size_t(t * dim + d)] = table.get(size_t(ids[size_t(t)] * dim + d));
        compare(e, out, {0, 0}, "embedding " + tag);
        // The same table into f32 rows (the decoder's fp32 activations over a half table): widened exactly.
        void* of = dev(size_t(n * dim) * sizeof(float));
        pg_embedding_args wide{of, tb, static_cast<const int32_t*>(ib), n, vocab, dim, dt, PG_DTYPE_F32};
        check(api->embedding(ctx, &wide), "embedding to f32");
        HostTensor out_f32(PG_DTYPE_F32, size_t(n * dim));
        download(out_f32, of);
        compare(e, out_f32, {0, 0}, "embedding to f32 " + tag);
        for (void* p : {tb, ib, ob, of}) release(p);

        const int rows = 3, v = 1000;
        HostTensor logits(dt, size_t(rows * v));
        for (size_t i = 0; i < logits.size(); ++i) logits.set(i, uni(rng));
        logits.set(size_t(0 * v + 700), 5.0f);
        logits.set(size_t(0 * v + 300), 5.0f);  // tie: 300 wins
        logits.set(size_t(1 * v + 2), NAN);
        logits.set(size_t(1 * v + 999), 9.0f);
        for (int j = 0; j < v; ++j) logits.set(size_t(2 * v + j), NAN);  // all NaN: 0
        void* lb = upload(logits);
        void* rb = dev(sizeof(int32_t) * rows);
        pg_argmax_args am{static_cast<int32_t*>(rb), lb, rows, v, v, dt};
        check(api->argmax(ctx, &am), "argmax");
        int32_t got[3];
        check(api->memcpy(ctx, got, rb, sizeof got, PG_MEMCPY_DEVICE_TO_HOST), "download");
        if (got[0] == 300 && got[1] == 999 && got[2] == 0) {
            ++g_passes;
        } else {
            std::printf("FAIL argmax %s: got %d %d %d, expected 300 999 0\n", tag.c_str(), got[0], got[1], got[2]);
            ++g_failures;
        }
        release(lb);
        release(rb);
    }
    // Block copy in this dtype: whole blocks, every layer, byte exact.
    {
        pg_kv_cache_desc c{};
        c.num_blocks = 6;
        c.num_layers = 3;
        c.num_kv_heads = 2;
        c.block_size = 4;
        c.head_size = 8;
        c.dtype = dt;
        const size_t per = size_t(3 * 2 * 2 * 4 * 8);
        HostTensor data(dt, 6 * per);
        for (size_t i = 0; i < data.size(); ++i) data.set(i, uni(rng));
        c.data = upload(data);
        std::vector<int32_t> pairs = {0, 3, 2, 5, 3, 1};  // the third pair reads what the first wrote
        void* pb = upload(pairs);
        pg_block_copy_args a{c, static_cast<const int32_t*>(pb), 3};
        check(api->block_copy(ctx, &a), "block_copy");
        HostTensor out(dt, data.size());
        download(out, c.data);
        std::vector<double> e(data.size());
        for (size_t i = 0; i < e.size(); ++i) e[i] = data.get(i);
        for (size_t i = 0; i < per; ++i) {
            e[3 * per + i] = data.get(i);
            e[5 * per + i] = data.get(2 * per + i);
            e[1 * per + i] = data.get(i);
        }
        compare(e, out, {0, 0}, "block_copy " + tag);
        release(c.data);
        release(pb);
    }
    // GEMM in this dtype (fp32 accumulation, one rounding), accumulate off and on, with and without an
    // fp32 bias (broadcast into out first: one more rounding), padded leading dimensions; mixed dtypes
    // are a clear dtype error.
    for (int variant = 0; variant < 4; ++variant) {
        const bool accumulate = variant % 2 == 1, with_bias = variant >= 2;
        const int m = 3, n = 41, k = 72, ldx = k + 8, ldo = n + 8;
        HostTensor x(dt, size_t(m * ldx)), w(dt, size_t(n * k)), o(dt, size_t(m * ldo));
        for (size_t i = 0; i < x.size(); ++i) x.set(i, uni(rng));
        for (size_t i = 0; i < w.size(); ++i) w.set(i, uni(rng));
        for (size_t i = 0; i < o.size(); ++i) o.set(i, uni(rng));
        std::vector<float> bias(static_cast<size_t>(n));
        for (float& b : bias) b = 2.0f * uni(rng);
        std::vector<double> e(size_t(m * n));
        for (int r = 0; r < m; ++r)
            for (int c = 0; c < n; ++c) {
                double acc = (accumulate ? o.get(size_t(r * ldo + c)) : 0.0) + (with_bias ? bias[size_t(c)] : 0.0);
                for (int kk = 0; kk < k; ++kk) acc += double(x.get(size_t(r * ldx + kk))) * w.get(size_t(c * k + kk));
                e[size_t(r * n + c)] = acc;
            }
        void* xb = upload(x);
        void* wb = upload(w);
        void* ob = upload(o);
        void* bb = upload(bias);
        pg_matmul_args mm{};
        mm.out = ob;
        mm.x = xb;
        mm.w = wb;
        mm.m = m;
        mm.n = n;
        mm.k = k;
        mm.ldx = ldx;
        mm.ldo = ldo;
        mm.accumulate = accumulate ? 1 : 0;
        mm.x_dtype = mm.w_dtype = mm.out_dtype = dt;
        mm.bias = with_bias ? static_cast<const float*>(bb) : nullptr;
        check(api->matmul(ctx, &mm), "matmul");
        HostTensor got(dt, o.size());
        download(got, ob);
        HostTensor dense(dt, e.size());
        for (int r = 0; r < m; ++r)
            for (int c = 0; c < n; ++c) dense.set(size_t(r * n + c), got.get(size_t(r * ldo + c)));
        const std::string what = "matmul " + tag + (accumulate ? " accumulate" : "") + (with_bias ? " bias" : "");
        compare(e, dense, {tol.atol * 10, tol.rtol * 3}, what);
        for (int c = 0; c < n; ++c)  // the padding between rows is neither read nor written
            if (std::memcmp(&got.bytes[size_t(n + c % 8) * dt_size(dt)], &o.bytes[size_t(n + c % 8) * dt_size(dt)], dt_size(dt)) != 0) {
                std::printf("FAIL %s wrote the row padding\n", what.c_str());
                ++g_failures;
                break;
            }
        // A mix other than f32 x and out with half w (gemm_tests.cpp has those): x of another dtype.
        mm.x_dtype = dt == PG_DTYPE_F32 ? PG_DTYPE_F16 : PG_DTYPE_F32;
        if (api->matmul(ctx, &mm) == PG_ERR_DTYPE) {
            ++g_passes;
        } else {
            std::printf("FAIL matmul %s with mixed dtypes should report PG_ERR_DTYPE: %s\n", tag.c_str(), api->last_error());
            ++g_failures;
        }
        for (void* p : {xb, wb, ob, bb}) release(p);
    }
}

// The fused sample kernel on a small batch with every feature on: statuses, the greedy row's argmax,
// and the filters' support (top-k = 1 gives the argmax as well). Also the coalescing report's sample.
void sampling() {
    const int rows = 4, vocab = 4096;
    std::mt19937 rng(11);
    std::normal_distribution<float> nd(0.0f, 2.5f);
    std::vector<float> logits(size_t(rows) * vocab);
    for (float& v : logits) v = nd(rng);
    std::vector<float> temperature{0.0f, 0.8f, 1.0f, 1.3f}, top_p{1.0f, 0.9f, 1.0f, 0.7f}, min_p{0.0f, 0.02f, 0.0f, 0.0f};
    std::vector<float> rep{1.0f, 1.2f, 1.0f, 0.9f}, freq{0.0f, 0.3f, 0.0f, 0.1f}, pres{0.0f, 0.2f, 0.0f, 0.0f};
    std::vector<int32_t> top_k{0, 50, 1, 0}, nlp{3, 5, 0, 20}, min_tokens{0, 2, 0, 0};
    std::vector<uint64_t> seeds{1, 2, 3, 4};
    std::vector<int64_t> steps{0, 1, 2, 3};
    std::vector<uint32_t> flags{0, PG_SAMPLE_FLAG_PROCESSED_LOGPROBS, 0, PG_SAMPLE_FLAG_PROCESSED_LOGPROBS};
    std::vector<int32_t> hist{5, 6, 7, 5, 100, 200, 300, 5, 9}, hist_off{0, 0, 3, 3, 9};
    std::vector<int32_t> stop{7, 8}, stop_off{0, 0, 2, 2, 2};
    std::vector<int32_t> bias_ids{42, 43}, bias_off{0, 0, 1, 1, 2};
    std::vector<float> bias_vals{3.0f, -2.0f};
    std::vector<void*> bufs;
    auto up = [&](const auto& v) {
        void* p = upload(v);
        bufs.push_back(p);
        return p;
    };
    pg_sample_args a{};
    a.out_tokens = static_cast<int32_t*>(up(std::vector<int32_t>(rows)));
    a.out_logprobs = static_cast<float*>(up(std::vector<float>(rows)));
    a.out_top_ids = static_cast<int32_t*>(up(std::vector<int32_t>(size_t(rows) * PG_SAMPLE_MAX_LOGPROBS)));
    a.out_top_logprobs = static_cast<float*>(up(std::vector<float>(size_t(rows) * PG_SAMPLE_MAX_LOGPROBS)));
    a.out_status = static_cast<int32_t*>(up(std::vector<int32_t>(rows)));
    a.logits = up(logits);
    a.temperature = static_cast<const float*>(up(temperature));
    a.top_k = static_cast<const int32_t*>(up(top_k));
    a.top_p = static_cast<const float*>(up(top_p));
    a.min_p = static_cast<const float*>(up(min_p));
    a.repetition_penalty = static_cast<const float*>(up(rep));
    a.frequency_penalty = static_cast<const float*>(up(freq));
    a.presence_penalty = static_cast<const float*>(up(pres));
    a.min_tokens = static_cast<const int32_t*>(up(min_tokens));
    a.seeds = static_cast<const uint64_t*>(up(seeds));
    a.steps = static_cast<const int64_t*>(up(steps));
    a.flags = static_cast<const uint32_t*>(up(flags));
    a.num_logprobs = static_cast<const int32_t*>(up(nlp));
    a.prompt_tokens = a.output_tokens = static_cast<const int32_t*>(up(hist));
    a.prompt_offsets = static_cast<const int32_t*>(up(std::vector<int32_t>(rows + 1, 0)));
    a.output_offsets = static_cast<const int32_t*>(up(hist_off));
    a.stop_ids = static_cast<const int32_t*>(up(stop));
    a.stop_offsets = static_cast<const int32_t*>(up(stop_off));
    a.bias_ids = static_cast<const int32_t*>(up(bias_ids));
    a.bias_values = static_cast<const float*>(up(bias_vals));
    a.bias_offsets = static_cast<const int32_t*>(up(bias_off));
    a.num_rows = rows;
    a.vocab_size = vocab;
    a.row_stride = vocab;
    a.dtype = PG_DTYPE_F32;
    check(api->sample(ctx, &a), "sample");
    std::vector<int32_t> tokens(rows), status(rows);
    check(api->memcpy(ctx, tokens.data(), a.out_tokens, sizeof(int32_t) * rows, PG_MEMCPY_DEVICE_TO_HOST), "download");
    check(api->memcpy(ctx, status.data(), a.out_status, sizeof(int32_t) * rows, PG_MEMCPY_DEVICE_TO_HOST), "download");
    bool ok = true;
    for (int r = 0; r < rows; ++r) ok = ok && status[size_t(r)] == PG_SAMPLE_ROW_OK && tokens[size_t(r)] >= 0 && tokens[size_t(r)] < vocab;
    for (int r : {0, 2}) {  // greedy and top-k = 1 (rows without edits): the argmax
        const float* row = logits.data() + size_t(r) * vocab;
        ok = ok && tokens[size_t(r)] == int(std::max_element(row, row + vocab) - row);
    }
    if (ok) {
        ++g_passes;
    } else {
        std::printf("FAIL sample: tokens %d %d %d %d status %d %d %d %d\n", tokens[0], tokens[1], tokens[2], tokens[3],
                    status[0], status[1], status[2], status[3]);
        ++g_failures;
    }
    for (void* p : bufs) release(p);
}

int coalescing() {
    pg_simt::set_coalescing_trace(true);
    std::mt19937 rng(7);
    // Representative shapes: Llama-style head size 128, block size 16, GQA 4.
    attention_case(PG_DTYPE_F32, 128, 16, 2, 4, decode_batch(rng, 16, 8), 1);
    attention_case(PG_DTYPE_F16, 128, 16, 2, 4, decode_batch(rng, 16, 8), 2);
    attention_case(PG_DTYPE_BF16, 64, 16, 2, 4, decode_batch(rng, 16, 8), 3);
    attention_case(PG_DTYPE_F32, 8, 16, 4, 2, decode_batch(rng, 16, 8), 4);  // the test model's shape
    setenv("PAGED_CUDA_PARTITION_SIZE", "32", 1);
    attention_case(PG_DTYPE_F16, 128, 16, 2, 4, decode_batch(rng, 16, 8), 5);
    unsetenv("PAGED_CUDA_PARTITION_SIZE");
    elementwise(PG_DTYPE_F16);
    sampling();
    gemm_coalescing_sample(api, ctx, &g_passes, &g_failures);
    pg_simt::set_coalescing_trace(false);
    const std::string report = pg_simt::coalescing_report();
    std::printf("%s", report.c_str());
    // Gate: every traced load of decode attention (its K and V rows) within 1.5x of ideal.
    int bad = 0;
    size_t pos = 0;
    while ((pos = report.find("| decode_attention |", pos)) != std::string::npos) {
        const size_t eol = report.find('\n', pos);
        const std::string row = report.substr(pos, eol - pos);
        const double ratio = std::atof(row.substr(row.rfind('|', row.size() - 2) + 1).c_str());
        if (ratio > 1.5) {
            std::printf("GATE FAIL: %s\n", row.c_str());
            ++bad;
        }
        pos = eol;
    }
    std::printf("\ncoalescing gate (decode attention K/V loads <= 1.5x ideal): %s\n", bad == 0 ? "pass" : "FAIL");
    return bad == 0 && g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    api = pg_get_api(PG_ABI_VERSION);
    if (api == nullptr) return 2;
    check(api->context_create(nullptr, &ctx), "context_create");
    const std::string mode = argc > 1 ? argv[1] : "grid";
    if (mode == "coalescing") return coalescing();
    attention_grid();
    for (int dt : {PG_DTYPE_F32, PG_DTYPE_F16, PG_DTYPE_BF16}) elementwise(dt);
    sampling();
    gemm_grid(api, ctx, &g_passes, &g_failures);
    api->context_destroy(ctx);
    std::printf("%d passed, %d failed\n", g_passes, g_failures);
    return g_failures == 0 ? 0 : 1;
}
