// Developer tool: the LoRA op's cost per decode step next to the base projections' matmuls it rides on.
// One step = 12 layers x 7 projections of the stories110M shape (dim 768, hidden 2048), f32, each
// projection with its own adapter slot store (so the adapters' bytes come from memory as in a real
// step), batch tokens spread round robin over the adapters. The two are timed interleaved.
//   paged_cpu_lora_bench [threads=1] [adapters=16] [rank=16] [max_rank=16] [batch=32] [steps=7]
// Prints median ms per step of each and the LoRA op's time as a share of the projections'.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "paged.h"

namespace {

int arg(int argc, char** argv, int i, int fallback) { return argc > i ? std::atoi(argv[i]) : fallback; }

struct Projection {
    int k, n;
    std::vector<float> a, b, w;
    std::vector<uint16_t> a16, b16;
};

uint16_t to_bf16(float f) {  // round to nearest even (the values are finite)
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

std::vector<uint16_t> rounded(const std::vector<float>& v) {
    std::vector<uint16_t> r(v.size());
    std::transform(v.begin(), v.end(), r.begin(), to_bf16);
    return r;
}

enum Variant { kBase, kLoraPadded, kLoraF32, kLoraBf16, kVariants };
const char* const kNames[kVariants] = {"projections", "lora_f32_padded", "lora_f32", "lora_bf16"};

double median_ms(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = arg(argc, argv, 1, 1), adapters = arg(argc, argv, 2, 16), rank = arg(argc, argv, 3, 16);
    const int max_rank = arg(argc, argv, 4, 16), batch = arg(argc, argv, 5, 32), steps = arg(argc, argv, 6, 7);
    constexpr int kLayers = 12, kDim = 768, kHidden = 2048;
    if (adapters < 1 || rank < 1 || rank > max_rank || batch < 1 || steps < 1) {
        std::fprintf(stderr, "bad arguments (need adapters >= 1, 1 <= rank <= max_rank, batch >= 1, steps >= 1)\n");
        return 2;
    }
    const pg_api* api = pg_get_api(PG_ABI_VERSION);
    pg_context_options options{threads, 0};
    pg_context* ctx = nullptr;
    if (!api || api->context_create(&options, &ctx) != PG_OK) return 1;

    uint32_t seed = 12345;
    auto uniform = [&seed] { seed = seed * 1664525u + 1013904223u; return float(seed >> 8) / float(1u << 24) - 0.5f; };
    const int shapes[7][2] = {{kDim, kDim}, {kDim, kDim}, {kDim, kDim}, {kDim, kDim}, {kDim, kHidden}, {kDim, kHidden}, {kHidden, kDim}};
    std::vector<Projection> projections;
    for (int l = 0; l < kLayers; ++l)
        for (const auto& s : shapes) {
            Projection p{s[0], s[1], {}, {}, {}, {}, {}};
            p.a.assign(size_t(adapters) * max_rank * p.k, 0.0f);  // rows >= rank stay zero, as in the slot store
            p.b.assign(size_t(adapters) * max_rank * p.n, 0.0f);
            for (int a = 0; a < adapters; ++a)
                for (int r = 0; r < rank; ++r) {
                    for (int i = 0; i < p.k; ++i) p.a[(size_t(a) * max_rank + r) * p.k + i] = 0.01f * uniform();
                    for (int i = 0; i < p.n; ++i) p.b[(size_t(a) * max_rank + r) * p.n + i] = 0.01f * uniform();
                }
            p.a16 = rounded(p.a);
            p.b16 = rounded(p.b);
            p.w.resize(size_t(p.n) * p.k);
            for (auto& v : p.w) v = 0.01f * uniform();
            projections.push_back(std::move(p));
        }
    std::vector<float> x(size_t(batch) * kHidden), out(size_t(batch) * kHidden), workspace(size_t(batch) * max_rank);
    std::vector<float> scales(size_t(adapters), 2.0f);
    std::vector<int32_t> slots(static_cast<size_t>(batch)), ranks(size_t(adapters), rank);
    for (auto& v : x) v = uniform();
    for (int t = 0; t < batch; ++t) slots[size_t(t)] = t % adapters;

    auto step = [&](Variant variant) {
        for (auto& p : projections) {
            pg_status st;
            if (variant != kBase) {
                const bool bf16 = variant == kLoraBf16;
                pg_lora_args a{out.data(), x.data(), bf16 ? static_cast<const void*>(p.a16.data()) : p.a.data(),
                               bf16 ? static_cast<const void*>(p.b16.data()) : p.b.data(), scales.data(), slots.data(),
                               workspace.data(), batch, p.n, p.k, max_rank, adapters, p.k, p.n, PG_DTYPE_F32,
                               bf16 ? PG_DTYPE_BF16 : PG_DTYPE_F32, variant == kLoraPadded ? nullptr : ranks.data()};
                st = api->lora(ctx, &a);
            } else {
                pg_matmul_args m{out.data(), x.data(), p.w.data(), batch, p.n, p.k, p.k, p.n, 0,
                                 PG_DTYPE_F32, PG_DTYPE_F32, PG_DTYPE_F32, nullptr, 0};
                st = api->matmul(ctx, &m);
            }
            if (st != PG_OK) {
                std::fprintf(stderr, "%s\n", api->last_error());
                std::exit(1);
            }
        }
    };
    std::vector<double> ms[kVariants];
    for (int v = 0; v < kVariants; ++v) step(Variant(v));  // warm-up: first touch of the buffers
    for (int i = 0; i < steps; ++i)
        for (int v = 0; v < kVariants; ++v) {
            const auto t0 = std::chrono::steady_clock::now();
            step(Variant(v));
            ms[v].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
    const double base = median_ms(ms[kBase]);
    std::printf("threads=%d adapters=%d rank=%d max_rank=%d batch=%d projections_ms=%.2f", threads, adapters, rank,
                max_rank, batch, base);
    for (int v = kLoraPadded; v < kVariants; ++v)
        std::printf(" %s_ms=%.2f (%.1f%%)", kNames[v], median_ms(ms[v]), 100.0 * median_ms(ms[v]) / base);
    std::printf("\n");
    api->context_destroy(ctx);
    return 0;
}
