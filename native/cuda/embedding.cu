// Embedding: out[t, :] = table[ids[t], :]. One block per token; coalesced row copy (16-byte vectors
// when the row is a whole number of vectors, else elements).
#include "backend.h"
#include "common.cuh"
#include "op_checks.h"

namespace pg::cuda {

// An id outside [0, vocab) is recorded in the error word and its row left unwritten.
template <class T>
__global__ void __launch_bounds__(128) embedding_kernel(T* __restrict__ out, const T* __restrict__ table,
                                                        const int32_t* __restrict__ ids, int dim, int vocab,
                                                        DeviceError* err) {
    const int t = int(blockIdx.x);
    const int id = ids[t];
    if (id < 0 || id >= vocab) {
        if (threadIdx.x == 0) report_error(err, kDevErrEmbeddingId, kOpEmbedding, t, 0, id, vocab);
        return;
    }
    const T* src = table + int64_t(id) * dim;
    T* dst = out + int64_t(t) * dim;
    constexpr int kN = Vec<T>::kN;
    if (dim % kN == 0) {
        const uint4* s = reinterpret_cast<const uint4*>(src);
        uint4* d = reinterpret_cast<uint4*>(dst);
        for (int i = int(threadIdx.x); i < dim / kN; i += int(blockDim.x)) d[i] = PG_LDG(s + i);
    } else {
        for (int i = int(threadIdx.x); i < dim; i += int(blockDim.x)) dst[i] = src[i];
    }
}

pg_status embedding(pg_context* ctx, const pg_embedding_args* a) {
    PG_TRY(check_ctx("embedding", ctx));
    PG_TRY(check_embedding_shape(a, kAllDtypes));
    if (ctx->validate_on_host) {
        std::vector<int32_t> ids;
        PG_TRY(to_host(ctx, "embedding", "token_ids", a->token_ids, size_t(a->num_tokens), ids));
        PG_TRY(check_embedding_ids(a, ids.data()));
    }
    if (a->num_tokens == 0) return PG_OK;
    return dispatch_dtype(a->dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        return launch("embedding", embedding_kernel<T>, dim3(unsigned(a->num_tokens)), dim3(128), 0,
                      ctx->stream, static_cast<T*>(a->out), static_cast<const T*>(a->table),
                      a->token_ids, a->dim, a->vocab_size, ctx->dev_error);
    });
}

}  // namespace pg::cuda
