// Developer self-check: compares matmul (AVX-512, AVX2 and portable paths, 1 and 2 threads) and attention
// against naive loops and prints the max abs error. Exit code 1 on any failure.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "paged.h"

namespace {

const pg_api* api;
int failures = 0;

void expect(bool ok, const char* what) {
    if (!ok) {
        std::printf("FAIL: %s (%s)\n", what, api->last_error());
        ++failures;
    }
}

// level 2: AVX-512 (where the CPU has it), 1: AVX2, 0: portable.
pg_context* make_ctx(int threads, int level) {
    if (level >= 1) unsetenv("PAGED_CPU_NO_AVX2");
    else setenv("PAGED_CPU_NO_AVX2", "1", 1);
    if (level >= 2) unsetenv("PAGED_CPU_NO_AVX512");
    else setenv("PAGED_CPU_NO_AVX512", "1", 1);
    pg_context_options o{threads, 0};
    pg_context* c = nullptr;
    expect(api->context_create(&o, &c) == PG_OK, "context_create");
    char name[64];
    api->device_name(c, name, sizeof name);
    std::printf("context: %s\n", name);
    return c;
}

std::vector<float> randv(size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

void check_gemm(pg_context* c1, pg_context* c2, const char* label) {
    std::mt19937 rng(42);
    const int sizes[] = {1, 3, 7, 17, 33, 65, 100};
    double worst = 0;
    bool identical = true;
    for (int m : sizes)
        for (int n : sizes)
            for (int k : sizes) {
                for (int acc = 0; acc <= 1; ++acc) {
                    const int ldx = k + 3, ldo = n + 5;
                    auto x = randv(size_t(m) * ldx, rng), w = randv(size_t(n) * k, rng);
                    auto init = randv(size_t(m) * ldo, rng);
                    const auto bias = randv(size_t(n), rng);
                    const bool with_bias = (m + k + acc) % 2 == 1;  // every shape class with and without
                    auto o1 = init, o2 = init;
                    pg_matmul_args a{o1.data(), x.data(), w.data(), m, n, k, ldx, ldo, acc, 0, 0, 0,
                                     with_bias ? bias.data() : nullptr, 0};
                    expect(api->matmul(c1, &a) == PG_OK, "matmul");
                    a.out = o2.data();
                    expect(api->matmul(c2, &a) == PG_OK, "matmul");
                    for (int i = 0; i < m; ++i)
                        for (int j = 0; j < ldo; ++j) {
                            const size_t idx = size_t(i) * ldo + j;
                            double ref = init[idx];
                            if (j < n) {
                                double s = 0;
                                for (int kk = 0; kk < k; ++kk)
                                    s += double(x[size_t(i) * ldx + kk]) * w[size_t(j) * k + kk];
                                if (with_bias) s += bias[size_t(j)];
                                ref = acc ? ref + s : s;
                            }
                            worst = std::fmax(worst, std::fabs(ref - o1[idx]));
                            if (std::memcmp(&o1[idx], &o2[idx], 4) != 0) identical = false;
                        }
                }
            }
    std::printf("gemm %-8s max abs err %.3g, 1 vs 2 threads bit-identical: %s\n", label, worst,
                identical ? "yes" : "NO");
    expect(worst < 1e-4 && identical, "gemm accuracy/determinism");
    // large shape through the parallel path
    const int m = 37, n = 1000, k = 300;
    auto x = randv(size_t(m) * k, rng), w = randv(size_t(n) * k, rng);
    std::vector<float> o1(size_t(m) * n), o2(size_t(m) * n);
    pg_matmul_args a{o1.data(), x.data(), w.data(), m, n, k, k, n, 0, 0, 0, 0, nullptr, 0};
    expect(api->matmul(c1, &a) == PG_OK, "matmul big");
    a.out = o2.data();
    expect(api->matmul(c2, &a) == PG_OK, "matmul big");
    expect(std::memcmp(o1.data(), o2.data(), o1.size() * 4) == 0, "gemm big 1 vs 2 threads");
}

// Rounds to bf16 (ties to even) / f16 bits; widened back exactly for the reference.
uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
float from_bf16(uint16_t h) {
    const uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Runs a (dense x [m, k], out [m, n]) on c1 and c2: the error of c1's result against a double reference
// on the widened weights wf (absolute, or relative to 1 + |ref|), and whether c2 gave the same bits.
template <class WF>
void compare_matmul(pg_context* c1, pg_context* c2, pg_matmul_args a, const std::vector<float>& x, const std::vector<WF>& wf,
                    bool relative, double* worst, bool* identical) {
    const int m = a.m, n = a.n, k = a.k;
    std::vector<float> o1(size_t(m) * n), o2(size_t(m) * n);
    a.out = o1.data();
    expect(api->matmul(c1, &a) == PG_OK, "matmul");
    a.out = o2.data();
    expect(api->matmul(c2, &a) == PG_OK, "matmul");
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double ref = 0;
            for (int kk = 0; kk < k; ++kk) ref += double(x[size_t(i) * k + kk]) * double(wf[size_t(j) * k + kk]);
            const double err = std::fabs(ref - o1[size_t(i) * n + j]);
            *worst = std::fmax(*worst, relative ? err / (1.0 + std::fabs(ref)) : err);
        }
    if (std::memcmp(o1.data(), o2.data(), o1.size() * 4) != 0) *identical = false;
}

// Half-precision weights (x, out fp32) against a double reference on the widened weights, and the
// same bits from 1 and 2 threads. f16 weights are exact small multiples of 2^-10 here (no f16
// rounding needed on the host): |w| <= 1 in steps of 1/1024.
void check_gemm_half(pg_context* c1, pg_context* c2, const char* label) {
    std::mt19937 rng(7);
    const int sizes[] = {1, 3, 9, 17, 65};
    double worst = 0;
    bool identical = true;
    for (int dt : {PG_DTYPE_BF16, PG_DTYPE_F16})
        for (int m : sizes)
            for (int n : sizes)
                for (int k : {1, 7, 8, 33, 100}) {
                    auto x = randv(size_t(m) * k, rng), wf = randv(size_t(n) * k, rng);
                    std::vector<uint16_t> wh(wf.size());
                    for (size_t i = 0; i < wf.size(); ++i) {
                        if (dt == PG_DTYPE_BF16) {
                            wh[i] = to_bf16(wf[i]);
                            wf[i] = from_bf16(wh[i]);
                        } else {
                            const int q = int(std::lround(wf[i] * 1024.0f));  // |q| <= 1024
                            wf[i] = float(q) / 1024.0f;
                            const uint16_t sign = q < 0 ? 0x8000u : 0u;
                            const int aq = q < 0 ? -q : q;
                            // aq / 1024 as binary16: normal numbers 2^(e-15) * (1 + f / 1024).
                            uint16_t bits = 0;
                            if (aq != 0) {
                                int e = 0;
                                while ((aq >> e) > 1) ++e;                    // aq in [2^e, 2^(e+1))
                                const int frac = ((aq << (10 - e)) & 0x3ff);  // exact: e <= 10
                                bits = uint16_t(((e - 10 + 15) << 10) | frac);
                            }
                            wh[i] = uint16_t(sign | bits);
                        }
                    }
                    pg_matmul_args a{nullptr, x.data(), wh.data(), m, n, k, k, n, 0, 0, dt, 0, nullptr, 0};
                    compare_matmul(c1, c2, a, x, wf, false, &worst, &identical);
                }
    std::printf("gemm %-8s half weights (bf16, f16) max abs err %.3g, 1 vs 2 threads bit-identical: %s\n", label,
                worst, identical ? "yes" : "NO");
    expect(worst < 1e-4 && identical, "gemm half weights accuracy/determinism");
}

// q8_0 weights (blocks of 32: f16 scale, 32 int8) against a double reference on d * q, and the same
// bits from 1 and 2 threads. Scales are powers of two (exact in f16): 2^-7 .. 2^-4.
void check_gemm_q8(pg_context* c1, pg_context* c2, const char* label) {
    std::mt19937 rng(11);
    double worst = 0;
    bool identical = true;
    for (int m : {1, 2, 3, 5, 9})
        for (int n : {1, 3, 17, 50})
            for (int k : {32, 64, 96, 320}) {
                auto x = randv(size_t(m) * k, rng);
                const int blocks = k / 32;
                std::vector<uint8_t> w(size_t(n) * blocks * 34);
                std::vector<double> wf(size_t(n) * k);
                for (int j = 0; j < n; ++j)
                    for (int b = 0; b < blocks; ++b) {
                        uint8_t* blk = w.data() + (size_t(j) * blocks + b) * 34;
                        const int e = 4 + int(rng() % 4);  // d = 2^-e: f16 exponent field 15 - e
                        const uint16_t d = uint16_t((15 - e) << 10);
                        std::memcpy(blk, &d, 2);
                        for (int i = 0; i < 32; ++i) {
                            const int8_t q = int8_t(int(rng() % 255) - 127);
                            std::memcpy(blk + 2 + i, &q, 1);
                            wf[size_t(j) * k + b * 32 + i] = std::ldexp(double(q), -e);
                        }
                    }
                pg_matmul_args a{nullptr, x.data(), w.data(), m, n, k, k, n, 0, 0, PG_DTYPE_Q8_0, 0, nullptr, 0};
                compare_matmul(c1, c2, a, x, wf, true, &worst, &identical);
            }
    std::printf("gemm %-8s q8_0 weights max rel err %.3g, 1 vs 2 threads bit-identical: %s\n", label, worst,
                identical ? "yes" : "NO");
    expect(worst < 1e-4 && identical, "gemm q8_0 accuracy/determinism");
    const int one = 1;
    std::vector<float> o(1), x(33);
    std::vector<uint8_t> w(34 * 2);
    pg_matmul_args bad{o.data(), x.data(), w.data(), one, one, 33, 33, 1, 0, 0, PG_DTYPE_Q8_0, 0, nullptr, 0};
    expect(api->matmul(c1, &bad) == PG_ERR_INVALID_ARGUMENT, "matmul q8_0 with k % 32 != 0 is refused");
}

// A bf16 weight matrix and the same values widened to f32 sum in the same order: identical bits
// (the model test of bf16 checkpoints on cpu relies on it).
void check_bf16_matches_widened(pg_context* c, const char* label) {
    std::mt19937 rng(9);
    bool same = true;
    for (int m : {1, 2, 5})
        for (int k : {7, 16, 33, 100}) {
            const int n = 19;
            auto x = randv(size_t(m) * k, rng), wf = randv(size_t(n) * k, rng);
            std::vector<uint16_t> wh(wf.size());
            for (size_t i = 0; i < wf.size(); ++i) {
                wh[i] = to_bf16(wf[i]);
                wf[i] = from_bf16(wh[i]);
            }
            std::vector<float> o1(size_t(m) * n), o2(size_t(m) * n);
            pg_matmul_args a{o1.data(), x.data(), wh.data(), m, n, k, k, n, 0, 0, PG_DTYPE_BF16, 0, nullptr, 0};
            expect(api->matmul(c, &a) == PG_OK, "matmul bf16");
            a.out = o2.data();
            a.w = wf.data();
            a.w_dtype = PG_DTYPE_F32;
            expect(api->matmul(c, &a) == PG_OK, "matmul f32");
            if (std::memcmp(o1.data(), o2.data(), o1.size() * 4) != 0) same = false;
        }
    std::printf("gemm %-8s bf16 weights bit-identical to the same weights in f32: %s\n", label, same ? "yes" : "NO");
    expect(same, "gemm bf16 == widened f32");
}

// Batch invariance: row i of an M-row matmul is bit-identical to the same row computed alone (M = 1),
// for every weight dtype: a row's reduction order over K never depends on M or the tile it falls in.
void check_gemm_rows_independent_of_m(pg_context* c, const char* label) {
    std::mt19937 rng(5);
    bool same = true;
    const int n = 53, k = 97;  // tails for every step width (q8_0: k = 96)
    for (int dt : {PG_DTYPE_F32, PG_DTYPE_BF16, PG_DTYPE_F16, PG_DTYPE_Q8_0}) {
        const int kk = dt == PG_DTYPE_Q8_0 ? 96 : k;
        const size_t wbytes = dt == PG_DTYPE_Q8_0 ? size_t(n) * (kk / 32) * 34 : size_t(n) * kk * (dt == PG_DTYPE_F32 ? 4 : 2);
        std::vector<uint8_t> w(wbytes);
        for (size_t i = 0; i < wbytes; i += 2) {
            const uint16_t h = uint16_t(0x3c00 + (rng() % 0x1ff)) ^ uint16_t((rng() & 1) << 15);  // finite in all dtypes
            std::memcpy(w.data() + i, &h, 2);
        }
        for (int m : {2, 3, 4, 5, 7, 9}) {
            auto x = randv(size_t(m) * kk, rng);
            std::vector<float> all(size_t(m) * n), single(static_cast<size_t>(n));
            pg_matmul_args a{all.data(), x.data(), w.data(), m, n, kk, kk, n, 0, 0, dt, 0, nullptr, 0};
            expect(api->matmul(c, &a) == PG_OK, "matmul rows");
            for (int i = 0; i < m; ++i) {
                pg_matmul_args b{single.data(), x.data() + size_t(i) * kk, w.data(), 1, n, kk, kk, n, 0, 0, dt, 0, nullptr, 0};
                expect(api->matmul(c, &b) == PG_OK, "matmul one row");
                if (std::memcmp(single.data(), all.data() + size_t(i) * n, size_t(n) * 4) != 0) same = false;
            }
        }
    }
    std::printf("gemm %-8s rows bit-identical whatever M (f32, bf16, f16, q8_0): %s\n", label, same ? "yes" : "NO");
    expect(same, "gemm rows independent of M");
}

// f32 weight rows that start at every 4-byte offset from a 64-byte boundary (a llama2c .bin's sit at 28 mod
// 64; the AVX-512 M = 1 kernel then loads aligned vectors and recombines them): the same bits as the same
// weights at a 64-byte boundary, for M = 1 and for the last row of M = 5, with and without bias and
// accumulation; K a multiple of 16 (where that path applies) and not.
void check_gemm_misaligned_rows(pg_context* c, const char* label) {
    std::mt19937 rng(21);
    bool same = true;
    const int n = 37;
    for (int k : {16, 48, 768, 33})
        for (int m : {1, 5}) {
            auto x = randv(size_t(m) * k, rng), wv = randv(size_t(n) * k, rng), bias = randv(size_t(n), rng);
            auto init = randv(size_t(m) * n, rng);
            std::vector<float> store(size_t(n) * k + 64);
            float* aligned = store.data() + (16 - (reinterpret_cast<uintptr_t>(store.data()) & 63) / 4) % 16;  // 64-byte aligned
            for (int acc = 0; acc <= 1; ++acc) {
                std::memcpy(aligned, wv.data(), wv.size() * 4);
                std::vector<float> want = init, got = init;
                pg_matmul_args a{want.data(), x.data(), aligned, m, n, k, k, n, acc, 0, PG_DTYPE_F32, 0, acc ? bias.data() : nullptr, 0};
                expect(api->matmul(c, &a) == PG_OK, "matmul aligned rows");
                for (int shift = 1; shift < 16; ++shift) {
                    std::memmove(aligned + shift, wv.data(), wv.size() * 4);
                    got = init;
                    a.out = got.data();
                    a.w = aligned + shift;
                    expect(api->matmul(c, &a) == PG_OK, "matmul misaligned rows");
                    if (std::memcmp(got.data(), want.data(), got.size() * 4) != 0) same = false;
                    a.out = want.data();
                    a.w = aligned;
                }
            }
        }
    std::printf("gemm %-8s f32 rows at every offset from 64 bytes bit-identical to aligned ones: %s\n", label, same ? "yes" : "NO");
    expect(same, "gemm misaligned f32 rows");
}

struct AttnCase {
    int kvh, bs, hs, heads;
    std::vector<int> seq_lens, q_lens;
};

// One attention shape: prefill (or decode when every q_len is 1) on c1 and c2 against a double
// reference. Unused cache slots (past each sequence's length, including the tail of a partial
// last block) are NaN, so any read of them shows up.
void check_attention_case(pg_context* c1, pg_context* c2, const AttnCase& ac, double* worst,
                          bool* identical, bool first) {
    std::mt19937 rng(uint32_t(7 + ac.hs * 31 + ac.bs * 7 + ac.heads));
    const int layers = 2, kvh = ac.kvh, bs = ac.bs, hs = ac.hs, heads = ac.heads, layer = 1;
    const int seqs = int(ac.seq_lens.size());
    int max_blocks = 0, max_len = 0, num_blocks = 0;
    bool decode = true;
    for (int s = 0; s < seqs; ++s) {
        const int nb = (ac.seq_lens[size_t(s)] + bs - 1) / bs;
        max_blocks = nb > max_blocks ? nb : max_blocks;
        max_len = ac.seq_lens[size_t(s)] > max_len ? ac.seq_lens[size_t(s)] : max_len;
        num_blocks += nb;
        decode &= ac.q_lens[size_t(s)] == 1;
    }
    max_blocks += 1;
    num_blocks += 3;
    std::vector<float> cache(size_t(num_blocks) * layers * 2 * kvh * bs * hs, NAN);
    std::vector<int32_t> tables(size_t(seqs) * max_blocks, -1);
    std::vector<int32_t> perm(static_cast<size_t>(num_blocks));
    for (int i = 0; i < num_blocks; ++i) perm[size_t(i)] = i;
    std::shuffle(perm.begin(), perm.end(), rng);
    int next = 0;
    std::uniform_real_distribution<float> d(-1, 1);
    auto at = [&](int b, int kv, int g, int o) {
        return &cache[((((size_t(b) * layers + layer) * 2 + kv) * kvh + g) * bs + o) * hs];
    };
    for (int s = 0; s < seqs; ++s)
        for (int b = 0; b * bs < ac.seq_lens[size_t(s)]; ++b) {
            tables[size_t(s) * max_blocks + b] = perm[size_t(next++)];
            for (int o = 0; o < bs && b * bs + o < ac.seq_lens[size_t(s)]; ++o)
                for (int kv = 0; kv < 2; ++kv)
                    for (int g = 0; g < kvh; ++g)
                        for (int e = 0; e < hs; ++e)
                            at(tables[size_t(s) * max_blocks + b], kv, g, o)[e] = 2.0f * d(rng);
        }
    std::vector<int32_t> qs(size_t(seqs) + 1, 0);
    for (int s = 0; s < seqs; ++s) qs[size_t(s) + 1] = qs[size_t(s)] + ac.q_lens[size_t(s)];
    const int T = qs[size_t(seqs)], q_stride = heads * hs + 4;
    auto q = randv(size_t(T) * q_stride, rng);
    std::vector<float> o1(size_t(T) * heads * hs), o2(o1.size());
    const float scale = 1.0f / std::sqrt(float(hs));
    std::vector<int32_t> lens(ac.seq_lens.begin(), ac.seq_lens.end());
    pg_attention_args a{};
    a.out = o1.data(); a.query = q.data();
    a.cache = {cache.data(), num_blocks, layers, kvh, bs, hs, 0};
    a.block_tables = tables.data(); a.seq_lens = lens.data(); a.query_start = qs.data();
    a.num_seqs = seqs; a.num_tokens = T; a.num_heads = heads; a.max_blocks_per_seq = max_blocks;
    a.layer = layer; a.q_stride = q_stride; a.scale = scale; a.max_seq_len = max_len + 3;
    auto call = decode ? api->attention_decode : api->attention_prefill;
    expect(call(c1, &a) == PG_OK, "attention");
    a.out = o2.data();
    expect(call(c2, &a) == PG_OK, "attention");
    if (!decode) {
        expect(api->attention_decode(c1, &a) == PG_ERR_SHAPE, "decode rejects q_len > 1");
        if (first) std::printf("  decode error: %s\n", api->last_error());
    }
    double w = 0;
    for (int s = 0; s < seqs; ++s)
        for (int i = 0; i < ac.q_lens[size_t(s)]; ++i) {
            const int t = qs[size_t(s)] + i, pos = ac.seq_lens[size_t(s)] - ac.q_lens[size_t(s)] + i;
            for (int h = 0; h < heads; ++h) {
                const int g = h / (heads / kvh);
                std::vector<double> p(size_t(pos) + 1);
                double mx = -1e30, sum = 0;
                for (int j = 0; j <= pos; ++j) {
                    const float* k = at(tables[size_t(s) * max_blocks + j / bs], 0, g, j % bs);
                    double dd = 0;
                    for (int e = 0; e < hs; ++e) dd += double(q[size_t(t) * q_stride + h * hs + e]) * k[e];
                    p[size_t(j)] = dd * scale;
                    mx = std::fmax(mx, p[size_t(j)]);
                }
                for (auto& v : p) sum += (v = std::exp(v - mx));
                for (int e = 0; e < hs; ++e) {
                    double r = 0;
                    for (int j = 0; j <= pos; ++j)
                        r += p[size_t(j)] / sum * at(tables[size_t(s) * max_blocks + j / bs], 1, g, j % bs)[e];
                    const float got = o1[(size_t(t) * heads + h) * hs + e];
                    w = std::isfinite(got) ? std::fmax(w, std::fabs(r - got)) : 1e30;
                }
            }
        }
    *worst = std::fmax(*worst, w);
    if (std::memcmp(o1.data(), o2.data(), o1.size() * 4) != 0) *identical = false;
    if (w >= 1e-5) std::printf("  case kvh %d bs %d hs %d heads %d: max abs err %.3g\n", kvh, bs, hs, heads, w);
    if (first) {
        // An out-of-range block id is reported, not read.
        tables[size_t(seqs - 1) * max_blocks + 0] = 907;
        expect(call(c1, &a) == PG_ERR_OUT_OF_RANGE, "attention bad block");
        std::printf("  bad block error: %s\n", api->last_error());
    }
}

void check_attention(pg_context* c1, pg_context* c2, const char* label) {
    const std::vector<int> lens_p = {9, 13, 30, 1, 16, 17, 40};
    const std::vector<int> ql_p = {3, 1, 30, 1, 5, 17, 2};
    const std::vector<int> lens_d = {1, 7, 8, 9, 16, 17, 31, 33, 64, 100, 272};
    const std::vector<int> ql_d(lens_d.size(), 1);
    std::vector<AttnCase> cases;
    // original shape (head size not a multiple of 8: fallback path)
    cases.push_back({2, 4, 20, 6, {9, 13, 30}, {3, 1, 30}});
    for (int hs : {8, 16, 48, 64, 80, 128, 256})
        for (int group : {1, 2, 8})
            for (int bs : {16, 4, 12}) {
                if (hs >= 128 && bs != 16) continue;
                const int kvh = group == 8 ? 1 : 2;
                cases.push_back({kvh, bs, hs, kvh * group, lens_p, ql_p});
                cases.push_back({kvh, bs, hs, kvh * group, lens_d, ql_d});
            }
    cases.push_back({4, 16, 8, 8, lens_d, ql_d});  // stories260K shape
    cases.push_back({3, 16, 24, 9, lens_p, ql_p});
    double worst = 0;
    bool identical = true;
    for (size_t i = 0; i < cases.size(); ++i)
        check_attention_case(c1, c2, cases[i], &worst, &identical, i == 0);
    std::printf("attention %-8s %zu shapes, max abs err %.3g, 1 vs 2 threads bit-identical: %s\n",
                label, cases.size(), worst, identical ? "yes" : "NO");
    expect(worst < 1e-5 && identical, "attention accuracy/determinism");
}

// The small ops against naive loops (rope bit-exact against the llama2.c formula).
void check_small_ops(pg_context* c) {
    std::mt19937 rng(3);
    // rope
    for (int style = 0; style <= 1; ++style) {
        const int T = 5, H = 4, KVH = 2, hs = 16, rot = 12, qs = H * hs + 3, ks = KVH * hs;
        auto q = randv(size_t(T) * qs, rng), k = randv(size_t(T) * ks, rng);
        auto q0 = q, k0 = k;
        const int32_t pos[T] = {0, 1, 7, 100, 4095};
        pg_rope_args a{q.data(), k.data(), pos, T, H, KVH, hs, rot, qs, ks, style, 10000.0f, 0, nullptr};
        expect(api->rope(c, &a) == PG_OK, "rope");
        bool exact = true;
        auto ref = [&](std::vector<float>& v, int stride, int heads, int t) {
            for (int h = 0; h < heads; ++h) {
                float* x = &v[size_t(t) * stride + size_t(h) * hs];
                for (int j = 0; j < rot / 2; ++j) {
                    float freq = 1.0f / powf(10000.0f, float(2 * j) / float(rot));
                    float val = float(pos[t]) * freq, fc = cosf(val), fs = sinf(val);
                    int i0 = style == 0 ? 2 * j : j, i1 = style == 0 ? 2 * j + 1 : j + rot / 2;
                    float a0 = x[i0], a1 = x[i1];
                    x[i0] = a0 * fc - a1 * fs;
                    x[i1] = a0 * fs + a1 * fc;
                }
            }
        };
        for (int t = 0; t < T; ++t) { ref(q0, qs, H, t); ref(k0, ks, KVH, t); }
        exact = std::memcmp(q.data(), q0.data(), q.size() * 4) == 0 &&
                std::memcmp(k.data(), k0.data(), k.size() * 4) == 0;
        std::printf("rope style %d bit-exact vs llama2.c formula: %s\n", style, exact ? "yes" : "NO");
        expect(exact, "rope exact");
    }
    // rmsnorm with residual, out aliasing x
    {
        const int T = 3, D = 37;
        auto x = randv(size_t(T) * D, rng), r = randv(size_t(T) * D, rng), w = randv(D, rng);
        auto x0 = x, r0 = r;
        pg_rmsnorm_args a{x.data(), x.data(), r.data(), w.data(), T, D, 1e-5f, 0};
        expect(api->rmsnorm(c, &a) == PG_OK, "rmsnorm");
        double worst = 0;
        for (int t = 0; t < T; ++t) {
            double ss = 0;
            for (int i = 0; i < D; ++i) { r0[size_t(t * D + i)] += x0[size_t(t * D + i)]; ss += double(r0[size_t(t * D + i)]) * r0[size_t(t * D + i)]; }
            double inv = 1.0 / std::sqrt(ss / D + 1e-5);
            for (int i = 0; i < D; ++i) {
                worst = std::fmax(worst, std::fabs(r0[size_t(t * D + i)] * inv * w[size_t(i)] - x[size_t(t * D + i)]));
                worst = std::fmax(worst, std::fabs(r0[size_t(t * D + i)] - r[size_t(t * D + i)]));
            }
        }
        std::printf("rmsnorm+residual max abs err %.3g\n", worst);
        expect(worst < 1e-5, "rmsnorm");
    }
    // silu_mul
    {
        const int T = 2, Hd = 37;
        auto x = randv(size_t(T) * 2 * Hd, rng);
        const float extremes[] = {-1e30f, 1e30f, -100.0f, 100.0f, -88.5f, 88.5f, -87.0f, 90.0f,
                                  -20.0f, 20.0f, -5.0f, 5.0f};
        for (size_t i = 0; i < sizeof extremes / sizeof extremes[0]; ++i) x[3 + i] = extremes[i];
        std::vector<float> o(size_t(T) * Hd);
        pg_silu_mul_args a{o.data(), x.data(), T, Hd, 0};
        expect(api->silu_mul(c, &a) == PG_OK, "silu_mul");
        double worst = 0;
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < Hd; ++i) {
                double g = x[size_t(t * 2 * Hd + i)], u = x[size_t(t * 2 * Hd + Hd + i)];
                const double ref = g / (1 + std::exp(-g)) * u;
                worst = std::fmax(worst, std::fabs(ref - o[size_t(t * Hd + i)]) / std::fmax(1.0, std::fabs(ref)));
            }
        std::printf("silu_mul max err (abs, rel above 1) %.3g\n", worst);
        expect(worst < 1e-6, "silu_mul");
    }
    // embedding + bad id
    {
        auto table = randv(10 * 6, rng);
        std::vector<float> o(3 * 6);
        int32_t ids[3] = {9, 0, 4};
        pg_embedding_args a{o.data(), table.data(), ids, 3, 10, 6, 0, PG_DTYPE_F32};
        expect(api->embedding(c, &a) == PG_OK, "embedding");
        expect(std::memcmp(&o[6], &table[0], 24) == 0 && std::memcmp(&o[0], &table[54], 24) == 0, "embedding rows");
        ids[1] = 10;
        expect(api->embedding(c, &a) == PG_ERR_OUT_OF_RANGE, "embedding bad id");
        std::printf("embedding error: %s\n", api->last_error());
        ids[1] = 0;
        std::vector<uint16_t> half(table.size());  // bf16 table: rows widened exactly into f32 out
        for (size_t i = 0; i < half.size(); ++i) half[i] = to_bf16(table[i]);
        a.table = half.data();
        a.dtype = PG_DTYPE_BF16;
        expect(api->embedding(c, &a) == PG_OK, "embedding bf16");
        bool exact = true;
        for (int i = 0; i < 6; ++i) exact = exact && o[size_t(i)] == from_bf16(half[size_t(54 + i)]) && o[size_t(12 + i)] == from_bf16(half[size_t(24 + i)]);
        expect(exact, "embedding bf16 rows widened exactly");
        a.dtype = PG_DTYPE_Q8_0;  // dim 6 is not whole q8_0 blocks
        expect(api->embedding(c, &a) == PG_ERR_INVALID_ARGUMENT, "embedding q8_0 dim 6");
        std::printf("q8_0 error: %s\n", api->last_error());
        // q8_0 table, 3 rows of 32: row r, element i = d_r * q with d_r = 2^-(r+1), q = i - 16.
        std::vector<uint8_t> q8(3 * 34);
        for (int r = 0; r < 3; ++r) {
            const uint16_t d = uint16_t((14 - r) << 10);
            std::memcpy(&q8[size_t(r) * 34], &d, 2);
            for (int i = 0; i < 32; ++i) q8[size_t(r) * 34 + 2 + size_t(i)] = uint8_t(int8_t(i - 16));
        }
        std::vector<float> oq(2 * 32);
        int32_t qids[2] = {2, 0};
        pg_embedding_args q{oq.data(), q8.data(), qids, 2, 3, 32, PG_DTYPE_Q8_0, PG_DTYPE_F32};
        expect(api->embedding(c, &q) == PG_OK, "embedding q8_0");
        bool q_exact = true;
        for (int i = 0; i < 32; ++i) q_exact = q_exact && oq[size_t(i)] == std::ldexp(float(i - 16), -3) && oq[size_t(32 + i)] == std::ldexp(float(i - 16), -1);
        expect(q_exact, "embedding q8_0 rows dequantized exactly");
        q.dtype = 7;
        expect(api->embedding(c, &q) == PG_ERR_INVALID_ARGUMENT, "embedding dtype 7");
        std::printf("dtype error: %s\n", api->last_error());
    }
    // cache_write + block_copy
    {
        const int NB = 4, L = 2, KVH = 2, BS = 3, HS = 5;
        std::vector<float> cache(size_t(NB) * L * 2 * KVH * BS * HS, 0.0f);
        auto key = randv(3 * KVH * HS, rng), val = randv(3 * KVH * HS, rng);
        int64_t slots[3] = {7, -1, 11};
        pg_cache_write_args a{{cache.data(), NB, L, KVH, BS, HS, 0}, key.data(), val.data(), slots, 3, 1, KVH * HS, KVH * HS, PG_DTYPE_F32};
        expect(api->cache_write(c, &a) == PG_OK, "cache_write");
        bool ok = true;
        for (int t : {0, 2})
            for (int h = 0; h < KVH; ++h)
                for (int d = 0; d < HS; ++d) {
                    int64_t s = slots[t], b = s / BS, o = s % BS;
                    ok &= cache[size_t(((((b * L + 1) * 2 + 0) * KVH + h) * BS + o) * HS + d)] == key[size_t(t * KVH * HS + h * HS + d)];
                    ok &= cache[size_t(((((b * L + 1) * 2 + 1) * KVH + h) * BS + o) * HS + d)] == val[size_t(t * KVH * HS + h * HS + d)];
                }
        expect(ok, "cache_write layout");
        int32_t pairs[4] = {2, 0, 3, 3};
        pg_block_copy_args bc{{cache.data(), NB, L, KVH, BS, HS, 0}, pairs, 2};
        expect(api->block_copy(c, &bc) == PG_OK, "block_copy");
        const size_t be = size_t(L) * 2 * KVH * BS * HS;
        expect(std::memcmp(&cache[0], &cache[2 * be], be * 4) == 0, "block_copy data");
        slots[0] = NB * BS;
        expect(api->cache_write(c, &a) == PG_ERR_OUT_OF_RANGE, "cache_write bad slot");
        std::printf("cache_write error: %s\n", api->last_error());
    }
    // argmax: ties -> lowest, NaN skipped
    {
        float logits[2][6] = {{1, 5, 5, 2, NAN, 0}, {NAN, -1, 3, NAN, 3, 2}};
        int32_t out[2];
        pg_argmax_args a{out, logits, 2, 5, 6, 0};
        expect(api->argmax(c, &a) == PG_OK && out[0] == 1 && out[1] == 2, "argmax");
    }
    // layouts
    {
        const pg_field_layout* e;
        int32_t n;
        expect(api->describe_layouts(&e, &n) == PG_OK && n > 80, "describe_layouts");
        std::printf("describe_layouts: %d entries\n", n);
    }
}

// Latency of tiny ops (the 260K-parameter model's shapes): must be well under ~2 us per call.
void time_small_ops(pg_context* c) {
    std::mt19937 rng(5);
    auto x = randv(64, rng), w = randv(512 * 64, rng), wt = randv(64, rng);
    std::vector<float> o(512);
    pg_matmul_args mm{o.data(), x.data(), w.data(), 1, 64, 64, 64, 64, 0, 0, 0, 0, nullptr, 0};
    pg_rmsnorm_args rn{o.data(), x.data(), nullptr, wt.data(), 1, 64, 1e-5f, 0};
    const int reps = 200000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) api->matmul(c, &mm);
    auto t1 = std::chrono::steady_clock::now();
    mm.n = 512;
    mm.ldo = 512;
    for (int i = 0; i < reps; ++i) api->matmul(c, &mm);
    auto t2 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) api->rmsnorm(c, &rn);
    auto t3 = std::chrono::steady_clock::now();
    auto us = [&](auto a, auto b) { return std::chrono::duration<double, std::micro>(b - a).count() / reps; };
    std::printf("latency: matmul 1x64x64 %.3f us, matmul 1x512x64 %.3f us, rmsnorm 64 %.3f us\n",
                us(t0, t1), us(t1, t2), us(t2, t3));
}

}  // namespace

int main() {
    api = pg_get_api(PG_ABI_VERSION);
    if (api == nullptr) return 1;
    for (int level = 2; level >= 0; --level) {
        pg_context* c1 = make_ctx(1, level);
        pg_context* c2 = make_ctx(2, level);
        const char* label = level == 2 ? "avx512" : level == 1 ? "avx2" : "generic";
        check_gemm(c1, c2, label);
        check_gemm_half(c1, c2, label);
        check_gemm_q8(c1, c2, label);
        check_gemm_rows_independent_of_m(c1, label);
        check_bf16_matches_widened(c2, label);
        check_gemm_misaligned_rows(c1, label);
        check_attention(c1, c2, label);
        api->context_destroy(c1);
        api->context_destroy(c2);
    }
    pg_rmsnorm_args bad{};
    pg_context* c = make_ctx(0, 2);
    float buf[4] = {};
    check_small_ops(c);
    time_small_ops(c);
    bad.out = buf; bad.x = buf; bad.weight = buf; bad.num_tokens = 1; bad.dim = 0;
    expect(api->rmsnorm(c, &bad) == PG_ERR_INVALID_ARGUMENT, "rmsnorm dim 0");
    std::printf("rmsnorm error: %s\n", api->last_error());
    api->context_destroy(c);
    std::printf("%s\n", failures == 0 ? "ALL OK" : "FAILURES");
    return failures == 0 ? 0 : 1;
}
