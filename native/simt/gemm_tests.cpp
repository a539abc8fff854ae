// Kernel grid of the matmul paths with f32 x and out (kernel_tests.cpp runs it): the SIMT GEMM kernel
// (gemm.cu; batch_invariant, and half weights at small m) and the larger-m half-weight path, for f32,
// f16 and bf16 w, against a double reference on the same rounded weights; the kernel's batch
// invariance (a row's bits alone equal its bits inside any batch); the x-to-half rounding kernel that
// feeds cuBLAS's GemmEx.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend.h"
#include "gemm_tests.h"
#include "host_tensor.h"

namespace {

struct Env {
    const pg_api* api;
    pg_context* ctx;
    int passes = 0, failures = 0;

    void check(pg_status st, const std::string& what) {
        if (st == PG_OK) return;
        std::printf("FAIL %s: status %d: %s\n", what.c_str(), int(st), api->last_error());
        std::exit(1);
    }
    void* upload(const void* p, size_t bytes) {
        void* d = nullptr;
        check(api->alloc(ctx, bytes == 0 ? 1 : bytes, &d), "alloc");
        check(api->memcpy(ctx, d, p, bytes, PG_MEMCPY_HOST_TO_DEVICE), "upload");
        return d;
    }
    template <class T>
    void* upload(const std::vector<T>& v) { return upload(v.data(), v.size() * sizeof(T)); }
    template <class T>
    void download(std::vector<T>& v, const void* d) {
        check(api->memcpy(ctx, v.data(), d, v.size() * sizeof(T), PG_MEMCPY_DEVICE_TO_HOST), "download");
    }
    void result(bool ok, const std::string& what) {
        if (ok) {
            ++passes;
        } else {
            std::printf("FAIL %s\n", what.c_str());
            ++failures;
        }
    }
};

// Weights of dtype dt (HostTensor.get: the exact values the kernels read).
HostTensor make_weights(int dt, size_t count, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    HostTensor w(dt, count);
    for (size_t i = 0; i < count; ++i) w.set(i, uni(rng));
    return w;
}

pg_matmul_args args(void* out, const void* x, const void* w, int m, int n, int k, int ldx, int ldo, int wdt) {
    pg_matmul_args a{};
    a.out = out;
    a.x = x;
    a.w = w;
    a.m = m;
    a.n = n;
    a.k = k;
    a.ldx = ldx;
    a.ldo = ldo;
    a.x_dtype = a.out_dtype = PG_DTYPE_F32;
    a.w_dtype = wdt;
    return a;
}

// One matmul against the double reference. Tolerance: every fp32 product and sum rounds with a
// relative error of at most 2^-24 of a partial sum bounded by S = sum |x w| + |out| + |bias|, at most
// k + 2 of them per element (plus the bias broadcast's rounding): |error| <= (k + 3) 2^-24 S.
void matmul_case(Env& e, int wdt, int m, int n, int k, int ldx, bool accumulate, bool bias, int invariant,
                 std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    const int ldo = n + 3;
    std::vector<float> x(size_t(m) * ldx), o(size_t(m) * ldo), b(static_cast<size_t>(n));
    for (float& v : x) v = uni(rng);
    for (float& v : o) v = uni(rng);
    for (float& v : b) v = 2.0f * uni(rng);
    const HostTensor w = make_weights(wdt, size_t(n) * k, rng);
    void* xb = e.upload(x);
    void* wb = e.upload(w.bytes);
    void* ob = e.upload(o);
    void* bb = e.upload(b);
    pg_matmul_args a = args(ob, xb, wb, m, n, k, ldx, ldo, wdt);
    a.accumulate = accumulate ? 1 : 0;
    a.bias = bias ? static_cast<const float*>(bb) : nullptr;
    a.batch_invariant = invariant;
    const std::string what = std::string("matmul f32 x, ") + dt_name(wdt) + " w, m=" + std::to_string(m) +
                             " n=" + std::to_string(n) + " k=" + std::to_string(k) + " ldx=" + std::to_string(ldx) +
                             (accumulate ? " accumulate" : "") + (bias ? " bias" : "") +
                             (invariant != 0 ? " batch_invariant" : "");
    e.check(e.api->matmul(e.ctx, &a), what);
    std::vector<float> got(o.size());
    e.download(got, ob);
    bool ok = true;
    for (int r = 0; r < m && ok; ++r)
        for (int c = 0; c < ldo && ok; ++c) {
            const size_t i = size_t(r) * ldo + c;
            if (c >= n) {  // row padding: neither read nor written
                ok = std::memcmp(&got[i], &o[i], 4) == 0;
                if (!ok) std::printf("  %s wrote the padding of row %d\n", what.c_str(), r);
                continue;
            }
            double ref = (accumulate ? o[i] : 0.0) + (bias ? b[size_t(c)] : 0.0);
            double mag = std::fabs(ref);
            for (int p = 0; p < k; ++p) {
                const double t = double(x[size_t(r) * ldx + p]) * w.get(size_t(c) * k + p);
                ref += t;
                mag += std::fabs(t);
            }
            const double tol = (k + 3) * std::ldexp(mag, -24);
            ok = std::fabs(ref - got[i]) <= tol;
            if (!ok) std::printf("  %s: [%d, %d] expected %.9g got %.9g (tolerance %.3g)\n", what.c_str(), r, c, ref, got[i], tol);
        }
    e.result(ok, what);
    for (void* p : {xb, wb, ob, bb}) e.api->free(e.ctx, p);
}

// Row `target` of x computed alone (m = 1) and inside batches of 2..64 rows of random other values, at
// random positions, with and without padded rows: the SIMT kernel's output bits must not change.
void invariance_case(Env& e, int wdt, int n, int k, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(k));
    for (float& v : row) v = uni(rng);
    const HostTensor w = make_weights(wdt, size_t(n) * k, rng);
    void* wb = e.upload(w.bytes);
    auto run = [&](int m, int ldx, int at) {
        std::vector<float> x(size_t(m) * ldx);
        for (float& v : x) v = uni(rng);
        std::memcpy(&x[size_t(at) * ldx], row.data(), size_t(k) * 4);
        std::vector<float> out(size_t(m) * n);
        void* xb = e.upload(x);
        void* ob = e.upload(out);
        pg_matmul_args a = args(ob, xb, wb, m, n, k, ldx, n, wdt);
        a.batch_invariant = 1;
        e.check(e.api->matmul(e.ctx, &a), "matmul (invariance)");
        e.download(out, ob);
        e.api->free(e.ctx, xb);
        e.api->free(e.ctx, ob);
        return std::vector<float>(out.begin() + ptrdiff_t(at) * n, out.begin() + ptrdiff_t(at + 1) * n);
    };
    const std::vector<float> alone = run(1, k, 0);
    bool ok = true;
    for (int m : {2, 5, 8, 9, 17, 31, 64}) {
        for (int pad : {0, 1, 4}) {
            const int at = int(rng() % unsigned(m));
            if (std::memcmp(run(m, k + pad, at).data(), alone.data(), alone.size() * 4) != 0) {
                std::printf("  row alone != row %d of %d (ldx = k + %d)\n", at, m, pad);
                ok = false;
            }
        }
    }
    e.result(ok, std::string("matmul batch invariance, ") + dt_name(wdt) + " w, n=" + std::to_string(n) + " k=" +
                     std::to_string(k));
    e.api->free(e.ctx, wb);
}

// round_x_to_w_dtype: every element rounded to nearest even, rows made dense.
void rounding_case(Env& e, int wdt, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-3.0f, 3.0f);
    const int m = 5, k = 37, ldx = 41;
    std::vector<float> x(size_t(m) * ldx);
    for (float& v : x) v = uni(rng);
    void* xb = e.upload(x);
    pg_matmul_args a = args(nullptr, xb, nullptr, m, 1, k, ldx, 1, wdt);
    void* xh = nullptr;
    e.check(pg::cuda::round_x_to_w_dtype(e.ctx, &a, &xh), "round_x_to_w_dtype");
    std::vector<uint16_t> got(size_t(m) * k);
    e.download(got, xh);
    bool ok = true;
    for (int r = 0; r < m; ++r)
        for (int c = 0; c < k; ++c) {
            const float v = x[size_t(r) * ldx + c];
            const uint16_t want = wdt == PG_DTYPE_F16 ? __float2half(v).x : __float2bfloat16(v).x;
            ok = ok && got[size_t(r) * k + c] == want;
        }
    e.result(ok, std::string("matmul x rounded to ") + dt_name(wdt));
    e.api->free(e.ctx, xb);
}

}  // namespace

void gemm_grid(const pg_api* api, pg_context* ctx, int* passes, int* failures) {
    Env e{api, ctx};
    std::mt19937 rng(23);
    for (int wdt : {PG_DTYPE_F32, PG_DTYPE_F16, PG_DTYPE_BF16}) {
        for (int invariant : {0, 1}) {
            if (wdt == PG_DTYPE_F32 && invariant == 0) continue;  // rt_gemm: kernel_tests.cpp's one-dtype GEMM
            for (int m : {1, 3, 8, 9, 17, 64, 130})
                for (const auto& [n, k] : std::vector<std::pair<int, int>>{{1, 1}, {41, 72}, {33, 257}})
                    for (int pad : {0, 3}) {
                        const int variant = int(rng() % 4u);
                        matmul_case(e, wdt, m, n, k, k + pad, variant & 1, variant >> 1, invariant, rng);
                    }
        }
        invariance_case(e, wdt, 37, 256, rng);  // whole 16-byte vectors (when aligned)
        invariance_case(e, wdt, 19, 259, rng);  // a partial last chunk, element-wise loads
        if (wdt != PG_DTYPE_F32) rounding_case(e, wdt, rng);
    }
    *passes += e.passes;
    *failures += e.failures;
}

void gemm_coalescing_sample(const pg_api* api, pg_context* ctx, int* passes, int* failures) {
    Env e{api, ctx};
    std::mt19937 rng(29);
    // Decode shapes: one row of x (the weight loads dominate), bf16 and f32 w, whole 16-byte vectors.
    matmul_case(e, PG_DTYPE_BF16, 1, 64, 512, 512, false, false, 0, rng);
    matmul_case(e, PG_DTYPE_F32, 1, 64, 512, 512, false, false, 1, rng);
    *passes += e.passes;
    *failures += e.failures;
}
