// Embedding: out[t, :] = table[ids[t], :]. One block per token; coalesced row copy (16-byte vectors
// when the row is a whole number of vectors, else elements). A half table with f32 out (the decoder's
// fp32 activations over a bf16/f16 checkpoint's table, kept half so a tied classifier reads half the
// bytes) widens each element exactly as it is copied.
#include <type_traits>

#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

// An id outside [0, vocab) is recorded in the error word and its row left unwritten.
template <class TO, class TT>
__global__ void __launch_bounds__(128) embedding_kernel(TO* __restrict__ out, const TT* __restrict__ table,
                                                        const int32_t* __restrict__ ids, int dim, int vocab,
                                                        DeviceError* err) {
    const int t = int(blockIdx.x);
    const int id = ids[t];
    if (id < 0 || id >= vocab) {
        if (threadIdx.x == 0) report_error(err, kDevErrEmbeddingId, kOpEmbedding, t, 0, id, vocab);
        return;
    }
    const TT* src = table + int64_t(id) * dim;
    TO* dst = out + int64_t(t) * dim;
    if constexpr (std::is_same_v<TO, TT>) {
        constexpr int kN = Vec<TT>::kN;
        if (dim % kN == 0) {
            const uint4* s = reinterpret_cast<const uint4*>(src);
            uint4* d = reinterpret_cast<uint4*>(dst);
            for (int i = int(threadIdx.x); i < dim / kN; i += int(blockDim.x)) d[i] = PG_LDG(s + i);
            return;
        }
        for (int i = int(threadIdx.x); i < dim; i += int(blockDim.x)) dst[i] = src[i];
    } else {
        for (int i = int(threadIdx.x); i < dim; i += int(blockDim.x)) dst[i] = to_f(PG_LDG(src + i));
    }
}

pg_status embedding(pg_context* ctx, const pg_embedding_args* a) {
    PG_TRY(check_ctx("embedding", ctx));
    PG_TRY(check_embedding_shape(a, kAllDtypes));
    if (a->out_dtype != a->dtype && a->out_dtype != PG_DTYPE_F32)
        return fail(PG_ERR_DTYPE, "embedding: out_dtype = %s with a %s table: out must be f32 or the table's dtype",
                    dtype_name(a->out_dtype), dtype_name(a->dtype));
    if (ctx->validate_on_host) {
        std::vector<int32_t> ids;
        PG_TRY(to_host(ctx, "embedding", "token_ids", a->token_ids, size_t(a->num_tokens), ids));
        PG_TRY(check_embedding_ids(a, ids.data()));
    }
    if (a->num_tokens == 0) return PG_OK;
    return dispatch_kv_dtypes(a->out_dtype, a->dtype, [&](auto out_tag, auto table_tag) {
        using TO = typename decltype(out_tag)::type;
        using TT = typename decltype(table_tag)::type;
        return launch("embedding", embedding_kernel<TO, TT>, dim3(unsigned(a->num_tokens)), dim3(128), 0,
                      ctx->stream, static_cast<TO*>(a->out), static_cast<const TT*>(a->table),
                      a->token_ids, a->dim, a->vocab_size, ctx->dev_error);
    });
}

}  // namespace pg::cuda
