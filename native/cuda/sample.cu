// Fused sampling on the CUDA backend -- interim: the fused kernel (one thread block per row, the
// passes of native/cpu/sample_rows.cpp as block reductions and shared-memory histograms) is not written
// yet. The emulator build, whose "device" memory is host memory, runs the CPU backend's per-row code so
// that every other kernel can be exercised end to end; the nvcc build reports the op as unsupported.
#include "backend.h"
#include "checks.h"
#if !defined(__CUDACC__)
#include "sample_rows.h"
#endif

namespace pg::cuda {

pg_status sample(pg_context* ctx, const pg_sample_args* a) {
    PG_TRY(check_ctx("sample", ctx));
#if defined(__CUDACC__)
    (void)a;
    return pg::fail(PG_ERR_UNSUPPORTED, "sample: the fused CUDA sampling kernel is not implemented yet");
#else
    PG_TRY(pg::cpu::validate_sample(a));
    pg::cpu::sample_rows(*a, 0, a->num_rows, ctx->avx2);
    return PG_OK;
#endif
}

}  // namespace pg::cuda
