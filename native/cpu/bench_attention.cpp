// Decode attention's cost per token at the stories110M shape (12 layers, 12 heads of 64, blocks of 16):
// one sequence generating positions 8..263, attention_decode for every layer, with a 20 MB stream written
// between layers (in a real step the weights pass through the caches between two attention calls, so
// the K/V rows come from DRAM). Process CPU time of the attention calls only, per token, best of the rounds.
//   paged_cpu_attention_bench [threads] [rounds]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <vector>

#include "paged.h"

namespace {

double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
    const pg_api* api = pg_get_api(PG_ABI_VERSION);
    if (api == nullptr) return 1;
    pg_context_options opt{argc > 1 ? std::atoi(argv[1]) : 1, 0};
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
    pg_context* ctx = nullptr;
    if (api->context_create(&opt, &ctx) != PG_OK) return 1;
    const int layers = 12, heads = 12, hs = 64, bs = 16, num_blocks = 512, max_blocks = 32;
    const size_t floats = size_t(num_blocks) * layers * 2 * heads * bs * hs;
    void* cache = nullptr;
    if (api->alloc(ctx, floats * 4, &cache) != PG_OK) return 1;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    for (size_t i = 0; i < floats; ++i) static_cast<float*>(cache)[i] = uni(rng);
    std::vector<float> q(size_t(heads) * hs), out(size_t(heads) * hs);
    for (auto& v : q) v = 0.3f * uni(rng);
    // Blocks scattered over the cache as a serving engine hands them out.
    std::vector<int32_t> table(max_blocks);
    for (int i = 0; i < max_blocks; ++i) table[size_t(i)] = num_blocks - 1 - 2 * i;
    std::vector<unsigned char> evict(size_t(20) << 20, 1);
    std::printf("decode attention, 110M shape, positions 8..263, %d thread(s)\n", opt.num_threads);
    double best = 1e30;
    for (int r = 0; r < rounds; ++r) {
        double spent = 0;
        for (int pos = 8; pos < 264; ++pos) {
            const int32_t seq_len = pos + 1;
            const int32_t query_start[2] = {0, 1};
            for (int l = 0; l < layers; ++l) {
                for (size_t i = 0; i < evict.size(); i += 64) ++evict[i];
                pg_attention_args a{};
                a.out = out.data();
                a.query = q.data();
                a.cache = pg_kv_cache_desc{cache, num_blocks, layers, heads, bs, hs, PG_DTYPE_F32};
                a.block_tables = table.data();
                a.seq_lens = &seq_len;
                a.query_start = query_start;
                a.num_seqs = 1;
                a.num_tokens = 1;
                a.num_heads = heads;
                a.max_blocks_per_seq = max_blocks;
                a.layer = l;
                a.q_stride = heads * hs;
                a.scale = 0.125f;
                a.max_seq_len = max_blocks * bs;
                const double c0 = cpu_seconds();
                if (api->attention_decode(ctx, &a) != PG_OK) {
                    std::printf("attention_decode failed: %s\n", api->last_error());
                    return 1;
                }
                spent += cpu_seconds() - c0;
            }
        }
        std::printf("round %d: %.3f CPU ms per token\n", r + 1, spent / 256 * 1e3);
        best = spent < best ? spent : best;
    }
    double checksum = 0;
    for (float v : out) checksum += double(v);
    std::printf("best %.3f CPU ms per token (checksum %.6f)\n", best / 256 * 1e3, checksum);
    api->free(ctx, cache);
    api->context_destroy(ctx);
    return 0;
}
