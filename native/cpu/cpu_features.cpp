#include "cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace pg::cpu {

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    // F16C too (every AVX2 CPU has it): the GEMM widens f16 weights with vcvtph2ps.
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

namespace {
bool env_set(const char* name) {
    const char* env = std::getenv(name);
    return env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0;
}
}  // namespace

bool use_avx2() { return !env_set("PAGED_CPU_NO_AVX2") && cpu_has_avx2_fma(); }

bool cpu_has_avx512() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

bool use_avx512() { return use_avx2() && !env_set("PAGED_CPU_NO_AVX512") && cpu_has_avx512(); }

}  // namespace pg::cpu

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pg::cpu {

#if defined(__x86_64__) || defined(__i386__)
namespace {
__attribute__((target("avx"))) void zero_upper() { _mm256_zeroupper(); }
const bool kHasAvx = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx");
}();
}  // namespace

void clear_upper_vector_state() {
    if (kHasAvx) zero_upper();
}
#else
void clear_upper_vector_state() {}
#endif

}  // namespace pg::cpu
