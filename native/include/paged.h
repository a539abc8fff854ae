/*
 * paged.h - the C ABI every Paged backend library exports (cpu, simt, cuda).
 *
 * Rules (see docs/architecture in ../shared/design/ARCHITECTURE.md):
 *  - Plain C, blittable structs only. Every call returns pg_status; on failure a thread-local
 *    message (api->last_error()) says what was wrong. No call aborts the process on bad input.
 *  - The only exported symbol is pg_get_api(): it returns a versioned table of function pointers,
 *    so several backends can be loaded into one process side by side.
 *  - A context (device, stream, scratch space, worker threads) serves one host thread at a time; use
 *    one context per thread that issues ops concurrently.
 *  - Address spaces. Every pointer is device or host memory; index arrays are marked [device] or
 *    [host] where they are declared, and every tensor pointer (unmarked) is [device]:
 *      [device]  memory from api->alloc (or inside such an allocation). Tensors AND every index
 *                array -- token ids, positions, slot mappings, block tables, sequence lengths, copy
 *                pairs, sampling parameters and lists -- are device memory. A host pointer there is
 *                a bug that a GPU reports as an invalid argument or an illegal address; the simt
 *                emulator rejects it with a diagnostic naming the op and the argument.
 *      [host]    ordinary or api->alloc_host memory, read or written by the host: the block_swap
 *                pair list and host pool, memcpy's host side, describe_layouts' output.
 *    On the CPU backend both are ordinary host memory (nothing is checked).
 *  - Synchronization. Ops only enqueue work: they never wait for the device and never read device
 *    memory on the host (index arrays are validated by the caller where it builds them, once per
 *    step, and guarded by the kernels: an out-of-range id is skipped and recorded in a device-side
 *    error word). The host waits only in memcpy device-to-host, synchronize, free/free_host,
 *    context_destroy (and when a backend's scratch grows); memcpy device-to-host and synchronize
 *    report a recorded device-side error as their failing status, with the message the op would
 *    have given (naming op, argument, index, value), and clear it.
 *    memcpy host-to-device from api->alloc_host memory does not wait: leave the source untouched
 *    until the next waiting call. get_counters counts waits and launches.
 *    The CPU and simt backends also validate index arrays in the op itself (the same messages).
 *  - Row-major everywhere. "stride" arguments are in elements, between consecutive tokens (rows).
 *
 * Paged KV cache layout (identical bytes on every backend):
 *   [num_blocks][num_layers][2 (K,V)][num_kv_heads][block_size][head_size]
 *   A token at position p of a sequence lives in slot block_table[p / block_size] * block_size
 *   + p % block_size.
 */
#ifndef PAGED_H
#define PAGED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PG_EXPORT __declspec(dllexport)
#else
#define PG_EXPORT __attribute__((visibility("default")))
#endif

#define PG_ABI_VERSION 1u

typedef enum pg_status {
    PG_OK = 0,
    PG_ERR_INVALID_ARGUMENT = 1, /* null pointer, non-positive size, bad enum value */
    PG_ERR_SHAPE = 2,            /* inconsistent dimensions or strides */
    PG_ERR_DTYPE = 3,            /* dtype not supported by this op on this backend */
    PG_ERR_OUT_OF_RANGE = 4,     /* token id, slot, block id or position outside its range */
    PG_ERR_OUT_OF_MEMORY = 5,
    PG_ERR_UNSUPPORTED = 6,      /* the backend cannot do this (e.g. no device present) */
    PG_ERR_INTERNAL = 7
} pg_status;

typedef enum pg_dtype {
    PG_DTYPE_F32 = 0,
    PG_DTYPE_F16 = 1,
    PG_DTYPE_BF16 = 2,
    PG_DTYPE_Q8_0 = 3 /* GGUF q8_0 blocks of 32 weights: an f16 scale d, then 32 int8 q (w = d * q; 34 bytes);
                       * matmul w and embedding tables on the cpu backend only, k (dim) a multiple of 32 */
} pg_dtype;

typedef enum pg_rope_style {
    PG_ROPE_ADJACENT_PAIRS = 0, /* llama2.c / GGUF: rotate (x[2i], x[2i+1]) */
    PG_ROPE_ROTATE_HALF = 1     /* HF / NeoX: rotate (x[i], x[i + rot_dim/2]) */
} pg_rope_style;

typedef enum pg_memcpy_kind {
    PG_MEMCPY_HOST_TO_DEVICE = 0,
    PG_MEMCPY_DEVICE_TO_HOST = 1,
    PG_MEMCPY_DEVICE_TO_DEVICE = 2
} pg_memcpy_kind;

typedef struct pg_context pg_context;

typedef struct pg_context_options {
    int32_t num_threads; /* CPU backends: worker threads, 0 = all cores */
    int32_t device_index; /* CUDA: which device */
} pg_context_options;

/* out[t, :] = table[token_ids[t], :] */
typedef struct pg_embedding_args {
    void* out;                /* [device] [num_tokens, dim] */
    const void* table;        /* [device] [vocab_size, dim] */
    const int32_t* token_ids; /* [device] [num_tokens], each in [0, vocab_size) */
    int32_t num_tokens;
    int32_t vocab_size;
    int32_t dim;
    int32_t dtype;     /* pg_dtype of table: cpu f32, f16, bf16 or q8_0; cuda/simt f32, f16 or bf16 */
    int32_t out_dtype; /* pg_dtype of out: f32 (0) with any table (rows widened exactly); cuda/simt also = dtype */
} pg_embedding_args;

/* Without residual: out = x / rms(x) * weight.
 * With residual (non-null): residual += x; out = residual / rms(residual) * weight
 * (the fused residual-add of a pre-norm transformer; out may alias x). */
typedef struct pg_rmsnorm_args {
    void* out;            /* [num_tokens, dim] */
    const void* x;        /* [num_tokens, dim] */
    void* residual;       /* [num_tokens, dim] or NULL */
    const void* weight;   /* [dim] */
    int32_t num_tokens;
    int32_t dim;
    float eps;
    int32_t dtype;
} pg_rmsnorm_args;

/* out[M, N] (+)= x[M, K] * w[N, K]^T + bias  (weights stored [out_features, in_features]).
 * accumulate 0: out = x w^T + bias; 1: out += x w^T + bias. The bias is always fp32 (whatever the
 * other dtypes: a checkpoint's bf16/f16 bias is widened once at load time; it is small). */
typedef struct pg_matmul_args {
    void* out;          /* [M, N], row stride ldo */
    const void* x;      /* [M, K], row stride ldx */
    const void* w;      /* [N, K], dense */
    int32_t m;
    int32_t n;
    int32_t k;
    int32_t ldx;        /* >= k */
    int32_t ldo;        /* >= n */
    int32_t accumulate; /* 0: out = x w^T; 1: out += x w^T */
    int32_t x_dtype;    /* cpu: f32 x and out with f32, f16, bf16 or q8_0 w (read in place, widened in */
    int32_t w_dtype;    /*      registers, fp32 sums); cuda/simt: one dtype for all three, or f32 x and out */
    int32_t out_dtype;  /*      with f16/bf16 w (fp32 sums; on cuda with m > 8 x is rounded to w's type) */
    const float* bias;  /* device memory, [N] fp32, or NULL (no bias); must not overlap out */
    int32_t batch_invariant; /* 1: out[r, :] is bit-identical for any m and any other rows of x (cuda/simt:
                              * the SIMT GEMM kernel, a fixed summation order over K; f32 x and out);
                              * 0: the backend picks by shape. The cpu GEMM is always invariant. */
} pg_matmul_args;

/* Rotary embedding applied in place to q and k at the given positions. Pair i (0 <= i < rotary_dim/2)
 * of every head turns by angle = float(position) * freq[i], one fp32 product (as transformers'
 * LlamaRotaryEmbedding: inv_freq @ position_ids in fp32), then cos/sin in fp32. freq is inv_freq when
 * given (the host computes it as transformers does: Llama 3, linear and dynamic scaling all reduce to a
 * table; theta is then ignored), else theta^(-2i / rotary_dim) computed as llama2.c does. */
typedef struct pg_rope_args {
    void* q;                  /* [num_tokens, num_heads, head_size], token stride q_stride */
    void* k;                  /* [num_tokens, num_kv_heads, head_size], token stride k_stride */
    const int32_t* positions; /* [device] [num_tokens], >= 0 */
    int32_t num_tokens;
    int32_t num_heads;
    int32_t num_kv_heads;
    int32_t head_size;
    int32_t rotary_dim;       /* even, <= head_size (usually head_size) */
    int32_t q_stride;
    int32_t k_stride;
    int32_t style;            /* pg_rope_style */
    float theta;              /* base, e.g. 10000 (used when inv_freq is NULL) */
    int32_t dtype;
    const float* inv_freq;    /* device memory, [rotary_dim / 2] fp32, or NULL */
} pg_rope_args;

/* Per-head RMSNorm in place (Qwen3's q_norm / k_norm, applied before rope): for every token t and head
 * h, the head_size vector v at x + t * token_stride + h * head_size becomes weight * (v / rms(v)) with
 * rms(v) = sqrt(mean(v^2) + eps) in fp32, as rmsnorm computes a row. */
typedef struct pg_head_rmsnorm_args {
    void* x;              /* [num_tokens, num_heads, head_size], token stride token_stride; in place */
    const void* weight;   /* [head_size]; must not overlap x */
    int32_t num_tokens;
    int32_t num_heads;
    int32_t head_size;
    int32_t token_stride; /* elements between tokens, >= num_heads * head_size */
    float eps;
    int32_t dtype;        /* of x and weight */
} pg_head_rmsnorm_args;

/* out[t, i] = silu(x[t, i]) * x[t, hidden + i]; x is the fused [gate | up] projection. */
typedef struct pg_silu_mul_args {
    void* out;     /* [num_tokens, hidden] */
    const void* x; /* [num_tokens, 2 * hidden] */
    int32_t num_tokens;
    int32_t hidden;
    int32_t dtype;
} pg_silu_mul_args;

/* Shape of the paged KV cache; shared by the cache ops. */
typedef struct pg_kv_cache_desc {
    void* data;        /* [device] [num_blocks][num_layers][2][num_kv_heads][block_size][head_size] */
    int32_t num_blocks;
    int32_t num_layers;
    int32_t num_kv_heads;
    int32_t block_size;
    int32_t head_size;
    int32_t dtype;
} pg_kv_cache_desc;

/* Writes one layer's keys and values of num_tokens tokens into their slots.
 * A negative slot marks a padding token: it is skipped. */
typedef struct pg_cache_write_args {
    pg_kv_cache_desc cache;
    const void* key;              /* [num_tokens, num_kv_heads, head_size], token stride key_stride */
    const void* value;            /* same shape, token stride value_stride */
    const int64_t* slot_mapping;  /* [device] [num_tokens], < num_blocks * block_size */
    int32_t num_tokens;
    int32_t layer;
    int32_t key_stride;
    int32_t value_stride;
    int32_t dtype;                /* pg_dtype of key and value (0 = f32). cache.dtype may differ when this is
                                     f32 (a bf16/f16 KV cache under fp32 activations): each element is
                                     rounded to the cache's type, to nearest even; else they are equal. */
} pg_cache_write_args;

/* Paged attention over a flat batch of query tokens from num_seqs sequences.
 * Sequence s owns query tokens [query_start[s], query_start[s+1]) (its chunk of q_len tokens) and has
 * seq_lens[s] tokens in the cache *including* this chunk (write the chunk to the cache first). Query
 * token i of the chunk sits at position seq_lens[s] - q_len + i and attends causally to positions
 * 0..that position. Decode is the case q_len == 1 for every sequence. Query head h reads KV head
 * h / (num_heads / num_kv_heads).
 * Sliding window (Mistral; sliding_window = W > 0): a query at position p attends to the positions k
 * with p - W < k <= p, its last W positions itself included (transformers' sliding_window_overlay:
 * kv_idx > q_idx - W, with the causal kv_idx <= q_idx). Block-table entries of blocks that lie wholly
 * before the window of the chunk's first query token are neither read nor validated (the KV manager
 * may have freed them). */
typedef struct pg_attention_args {
    void* out;                    /* [num_tokens, num_heads, head_size], dense */
    const void* query;            /* [num_tokens, num_heads, head_size], token stride q_stride */
    pg_kv_cache_desc cache;
    const int32_t* block_tables;  /* [device] [num_seqs, max_blocks_per_seq] */
    const int32_t* seq_lens;      /* [device] [num_seqs] */
    const int32_t* query_start;   /* [device] [num_seqs + 1], query_start[0] = 0, query_start[num_seqs] = num_tokens */
    int32_t num_seqs;
    int32_t num_tokens;
    int32_t num_heads;
    int32_t max_blocks_per_seq;
    int32_t layer;
    int32_t q_stride;
    float scale;                  /* usually 1 / sqrt(head_size) */
    int32_t max_seq_len;          /* upper bound of seq_lens (a launch-shape hint; checked) */
    int32_t sliding_window;       /* W > 0: attend to the last W positions only; 0: no window */
    int32_t dtype;                /* pg_dtype of query and out (0 = f32); cache.dtype equals it, or any
                                     when this is f32 (half K/V are widened to fp32 as they are read) */
} pg_attention_args;

/* Copies whole blocks (every layer, K and V) src -> dst: the copy-on-write list of one step. */
typedef struct pg_block_copy_args {
    pg_kv_cache_desc cache;
    const int32_t* pairs; /* [device] [num_pairs, 2] of (src, dst) block ids */
    int32_t num_pairs;
} pg_block_copy_args;

/* out[r] = argmax_j logits[r, j]; ties go to the lowest index. */
typedef struct pg_argmax_args {
    int32_t* out;       /* [num_rows] */
    const void* logits; /* [num_rows, vocab_size], row stride row_stride */
    int32_t num_rows;
    int32_t vocab_size;
    int32_t row_stride;
    int32_t dtype;
} pg_argmax_args;

/* Fused sampling: one call takes a batch of logit rows to one token per row. Every pointer of
 * pg_sample_args is [device] memory.
 *
 * Per row r (all parameter arrays are device arrays of num_rows entries; a NULL optional array means
 * "the neutral value for every row"), in this order -- vLLM's sampler order (vllm/v1/sample/sampler.py:
 * logits processors (logit bias, min_tokens), then penalties, then temperature, then min-p, then
 * top-k / top-p (vllm/v1/sample/ops/topk_topp_sampler.py: top-k first, top-p on what is left)):
 *  0. raw logits must be finite, else out_status = PG_SAMPLE_ROW_NONFINITE and out_tokens = -1 (the
 *     other rows are unaffected); logprobs of the raw distribution are taken here (log_softmax of the
 *     unprocessed row).
 *  1. logit bias: logits[bias_ids[i]] += bias_values[i] for i in [bias_offsets[r], bias_offsets[r+1]).
 *  2. min_tokens: while steps[r] < min_tokens[r], logits[stop_ids[i]] = -inf for i in
 *     [stop_offsets[r], stop_offsets[r+1]) (the host lists the model's end ids and the request's
 *     stop token ids).
 *  3. repetition penalty (over the prompt and the output tokens): a logit > 0 is divided by it, a
 *     logit <= 0 multiplied (CTRL / vLLM / HF).
 *  4. frequency and presence penalties (over the output tokens only): logit -= frequency * count +
 *     presence * (count > 0).
 *  5. temperature: 0 means greedy -- the exact argmax of the processed logits, ties to the lowest
 *     id; steps 6-9 are skipped. Otherwise p = softmax(logits / temperature).
 *  6. min-p: keep tokens with p >= min_p * max(p).
 *  7. top-k: keep tokens whose probability is >= the k-th largest (ties at the boundary are kept).
 *  8. top-p: on the survivors, renormalized, keep the tokens whose probability is >= the largest
 *     threshold t such that the survivors >= t hold at least top_p of the mass (ties kept).
 *  9. draw: u = uniform [0, 1) from Philox4x32-10 keyed by seeds[r] with counter steps[r]
 *     (native/common/philox.h); the token is the first, in id order, at which the cumulative
 *     survivor mass exceeds u * (survivor mass).
 * The token depends only on the row's data, seeds[r] and steps[r]: never on the batch, the other
 * rows or the number of threads. Every row always has a seed: for requests without their own seed
 * the host draws one from an engine-level generator when the request is admitted (and keeps it, so
 * preemption and resumption replay the same draws); PG_SAMPLE_FLAG_SEEDED records which rows had a
 * user seed and does not change the computation.
 *
 * Logprobs: out_logprobs[r] is the log-probability of the chosen token and out_top_ids /
 * out_top_logprobs[r, 0..num_logprobs[r]) the num_logprobs[r] most likely tokens (descending, ties to
 * the lower id; id -1 and -inf pad when fewer tokens are possible). By default of the raw
 * distribution (log_softmax of the unprocessed logits, vLLM's default); with
 * PG_SAMPLE_FLAG_PROCESSED_LOGPROBS of the distribution the token was drawn from (after steps 1-8,
 * filtered tokens -inf; for greedy rows log_softmax of the logits after steps 1-4).
 * Rows where every token is masked get PG_SAMPLE_ROW_NO_CANDIDATE. */
#define PG_SAMPLE_MAX_LOGPROBS 20

typedef enum pg_sample_row_status {
    PG_SAMPLE_ROW_OK = 0,
    PG_SAMPLE_ROW_NONFINITE = 1,   /* NaN or +-inf in the logits (or produced by bias / penalties) */
    PG_SAMPLE_ROW_NO_CANDIDATE = 2 /* every token masked (e.g. min_tokens over an all-stop vocabulary) */
} pg_sample_row_status;

typedef enum pg_sample_flags {
    PG_SAMPLE_FLAG_SEEDED = 1,            /* the request gave its own seed (informational) */
    PG_SAMPLE_FLAG_PROCESSED_LOGPROBS = 2, /* logprobs of the processed distribution, not the raw one */
    PG_SAMPLE_FLAG_RANK = 4               /* write the chosen token's rank into out_ranks[r] */
} pg_sample_flags;

typedef struct pg_sample_args {
    int32_t* out_tokens;         /* [num_rows]; -1 where out_status != 0 */
    float* out_logprobs;         /* [num_rows] or NULL */
    int32_t* out_top_ids;        /* [num_rows, PG_SAMPLE_MAX_LOGPROBS]; may be NULL when no row asks */
    float* out_top_logprobs;     /* [num_rows, PG_SAMPLE_MAX_LOGPROBS]; likewise */
    int32_t* out_status;         /* [num_rows], pg_sample_row_status */
    const void* logits;          /* [num_rows, vocab_size], row stride row_stride; not modified */
    const float* temperature;    /* required; finite, >= 0 */
    const int32_t* top_k;        /* -1 or 0: off; else >= 1 (>= vocab_size: off) */
    const float* top_p;          /* (0, 1]; 1 = off */
    const float* min_p;          /* [0, 1]; 0 = off */
    const float* repetition_penalty; /* > 0; 1 = off */
    const float* frequency_penalty;  /* finite; 0 = off */
    const float* presence_penalty;   /* finite; 0 = off */
    const int32_t* min_tokens;   /* >= 0 */
    const uint64_t* seeds;       /* Philox key per row (NULL: 0) */
    const int64_t* steps;        /* >= 0: tokens the row's sequence has generated so far (NULL: 0) */
    const uint32_t* flags;       /* pg_sample_flags bits */
    const int32_t* num_logprobs; /* 0..PG_SAMPLE_MAX_LOGPROBS */
    const int32_t* prompt_tokens;  /* flattened prompt ids of every row (repetition penalty) */
    const int32_t* prompt_offsets; /* [num_rows + 1], non-decreasing, [0] = 0; NULL: no history */
    const int32_t* output_tokens;  /* flattened generated ids of every row (all three penalties) */
    const int32_t* output_offsets; /* [num_rows + 1]; NULL: none */
    const int32_t* stop_ids;       /* flattened ids masked until min_tokens */
    const int32_t* stop_offsets;   /* [num_rows + 1]; NULL: none */
    const int32_t* bias_ids;       /* flattened logit-bias token ids */
    const float* bias_values;      /* finite, matching bias_ids */
    const int32_t* bias_offsets;   /* [num_rows + 1]; NULL: none */
    void* workspace;               /* optional device scratch for backends that need it (the CPU backend ignores it) */
    int64_t workspace_bytes;
    int32_t num_rows;
    int32_t vocab_size;
    int32_t row_stride;
    int32_t dtype;                 /* of logits; f32 */
    int32_t* out_ranks;            /* [num_rows] or NULL: for rows with PG_SAMPLE_FLAG_RANK, vLLM's rank of the chosen
                                    * token: 1 + the number of tokens whose logprob (in the distribution the logprobs
                                    * are reported from: raw, or processed with filtered tokens at -inf) is strictly
                                    * greater; 0 for other rows and failed rows */
} pg_sample_args;

/* RoPE fused with the cache write: rotates q and k in place exactly as rope does, then writes the
 * rotated keys and the values into their slots exactly as cache_write does (same results, bit for bit),
 * in one pass over the tokens (one launch on a GPU instead of two). The halves describe the same tokens:
 * cache_write.key == rope.k, key_stride == k_stride, equal num_tokens and dtype, rope.num_kv_heads and
 * head_size equal to the cache's. Index arrays as in the two ops: [device]. */
typedef struct pg_rope_cache_write_args {
    pg_rope_args rope;
    pg_cache_write_args cache_write;
} pg_rope_cache_write_args;

/* Direction of a block swap. */
typedef enum pg_swap_direction {
    PG_SWAP_OUT = 0, /* device cache blocks -> host pool slots (preemption by swap) */
    PG_SWAP_IN = 1   /* host pool slots -> device cache blocks (resumption) */
} pg_swap_direction;

/* Copies whole KV blocks (every layer, K and V: one contiguous range each, thanks to the layout)
 * between the device cache and a host pool of num_host_blocks slots of the same size. The host pool
 * should come from api->alloc_host (page-locked on CUDA, so copies run at full PCIe speed). The pair
 * list is in HOST memory (the host issues one DMA copy per pair; it is the one index array that is not
 * device memory): pairs[2i] is the source block of pair i (a cache block for PG_SWAP_OUT, a host slot
 * for PG_SWAP_IN) and pairs[2i+1] its destination. The copies are ordered on the context's stream
 * and the call does not wait for them: read the host pool after the next waiting call (synchronize,
 * memcpy device-to-host); later ops and swaps see them in order. */
typedef struct pg_block_swap_args {
    pg_kv_cache_desc cache;
    void* host;             /* [host] [num_host_blocks][block bytes], from alloc_host */
    const int32_t* pairs;   /* [host] [num_pairs, 2] */
    int32_t num_host_blocks;
    int32_t num_pairs;
    int32_t direction;      /* pg_swap_direction */
} pg_block_swap_args;

/* Batched LoRA over a flat batch of tokens, each with its own adapter (Punica's BGMV in spirit): for every
 * token t whose slot s = token_slots[t] is >= 0 and whose scales[s] != 0,
 *   out[t, 0:n] += scales[s] * (x[t] A_s^T) B_s^T
 * with A_s = a + s * max_rank * k ([max_rank, k]: PEFT's lora_A) and B_s = b + s * max_rank * n
 * ([max_rank, n]: PEFT's lora_B TRANSPOSED, so that expanding reads rows of n contiguous outputs). An
 * adapter of rank r < max_rank uses rows 0..r-1 (slot_ranks[s] = r: the others are not read, so a rank-8
 * adapter in a rank-16 pool costs rank 8; without slot_ranks, rows r.. must be zero). Shrink first (x A^T, fp32, into workspace
 * [num_tokens, max_rank]), then expand. Tokens with slot -1 (the base model) are left untouched; a
 * slot outside [-1, num_slots) is an error. out may be a column range of a wider row (ldo): one call
 * per projection fused into a wider matmul (q, k, v of the fused QKV output). */
typedef struct pg_lora_args {
    void* out;                  /* [num_tokens, n], row stride ldo; added to */
    const void* x;              /* [num_tokens, k], row stride ldx */
    const void* a;              /* [num_slots, max_rank, k] */
    const void* b;              /* [num_slots, max_rank, n] */
    const float* scales;        /* [device] [num_slots]; 0 = the slot's adapter does not touch this projection */
    const int32_t* token_slots; /* [device] [num_tokens], -1 or in [0, num_slots) */
    float* workspace;           /* [num_tokens, max_rank] fp32 scratch (device memory) */
    int32_t num_tokens;
    int32_t n;
    int32_t k;
    int32_t max_rank;
    int32_t num_slots;
    int32_t ldx;                /* >= k */
    int32_t ldo;                /* >= n */
    int32_t dtype;              /* of out and x: f32 */
    int32_t weight_dtype;       /* of a and b: f32 (0) or bf16 (widened in registers; sums stay fp32) */
    const int32_t* slot_ranks;  /* [device] [num_slots] each slot's rank in [0, max_rank]: rows from it on are
                                 * neither read nor need to be zero; NULL: every slot max_rank */
} pg_lora_args;

/* Cumulative counters of a context since context_create (api->get_counters). */
typedef struct pg_counters {
    int64_t host_syncs; /* times the host waited for the device (0 on the CPU backend) */
    int64_t launches;   /* kernel launches (a cuBLAS GEMM counts as one; 0 on the CPU backend) */
    int64_t h2d_copies; /* memcpy host-to-device calls */
    int64_t d2h_copies; /* memcpy device-to-host calls */
    int64_t graph_replays; /* graph_launch calls (each also counts as ONE launch in launches) */
} pg_counters;

/* A captured sequence of launches (a CUDA graph; the simt emulator's recorded launch list), replayed
 * by graph_launch. Capture (begin_capture .. end_capture on a context) records the ops enqueued on
 * the context in between instead of running them; replay runs them again with the SAME arguments: the
 * same device addresses, shapes and scalars, reading whatever those addresses hold at replay time.
 * While capturing, nothing may allocate, free, wait or copy to or from the host (alloc, free,
 * alloc_host, free_host, synchronize, memcpy host-to-device or device-to-host, block_swap, an op whose
 * scratch would have to grow): such a call fails naming itself, and end_capture then fails too (stage
 * the inputs before capture; run the step once eagerly first so scratch is sized). A graph is valid
 * while every buffer it names is alive and keeps its address. The cpu backend answers
 * PG_ERR_UNSUPPORTED (callers run eagerly). */
typedef struct pg_graph pg_graph;

/* One entry of the struct-layout description a test compares with the host's layouts. */
typedef struct pg_field_layout {
    const char* struct_name;
    const char* field_name; /* NULL for the entry giving the struct's total size */
    uint32_t offset;
    uint32_t size;
} pg_field_layout;

/* The function table. Its slots, in this order, are the one list of ops: the backends' tables, the
 * layout description and the C# mirror are checked against it (docs/adding-an-op.md). */
typedef struct pg_api {
    uint32_t abi_version;   /* PG_ABI_VERSION */
    uint32_t struct_size;   /* sizeof(pg_api) */
    const char* backend_name; /* "cpu", "simt", "cuda" */

    /* Diagnostics */
    const char* (*last_error)(void); /* message of this thread's last failed call, "" if none */
    pg_status (*describe_layouts)(const pg_field_layout** entries, int32_t* count);

    /* Context */
    pg_status (*context_create)(const pg_context_options* options, pg_context** out);
    pg_status (*context_destroy)(pg_context* ctx);
    pg_status (*synchronize)(pg_context* ctx);
    pg_status (*device_name)(pg_context* ctx, char* buffer, int32_t buffer_size);

    /* Memory */
    pg_status (*alloc)(pg_context* ctx, size_t bytes, void** out);
    pg_status (*free)(pg_context* ctx, void* ptr);
    /* dst/src: [device] or [host] as kind says. Device-to-host waits (and reports device-side errors). */
    pg_status (*memcpy)(pg_context* ctx, void* dst, const void* src, size_t bytes, int32_t kind);
    pg_status (*memset)(pg_context* ctx, void* dst, int32_t value, size_t bytes);

    /* Ops */
    pg_status (*embedding)(pg_context* ctx, const pg_embedding_args* args);
    pg_status (*rmsnorm)(pg_context* ctx, const pg_rmsnorm_args* args);
    pg_status (*matmul)(pg_context* ctx, const pg_matmul_args* args);
    pg_status (*rope)(pg_context* ctx, const pg_rope_args* args);
    pg_status (*silu_mul)(pg_context* ctx, const pg_silu_mul_args* args);
    pg_status (*cache_write)(pg_context* ctx, const pg_cache_write_args* args);
    pg_status (*attention_decode)(pg_context* ctx, const pg_attention_args* args);  /* every q_len == 1 */
    pg_status (*attention_prefill)(pg_context* ctx, const pg_attention_args* args); /* any q_len >= 1 */
    pg_status (*block_copy)(pg_context* ctx, const pg_block_copy_args* args);
    pg_status (*argmax)(pg_context* ctx, const pg_argmax_args* args);
    pg_status (*sample)(pg_context* ctx, const pg_sample_args* args); /* fused sampling */

    /* Host memory for swapped-out KV blocks (page-locked where the backend benefits) and the swap. */
    pg_status (*alloc_host)(pg_context* ctx, size_t bytes, void** out);
    pg_status (*free_host)(pg_context* ctx, void* ptr);
    pg_status (*block_swap)(pg_context* ctx, const pg_block_swap_args* args);

    /* Ops added after the first release, appended so the table only grows. */
    pg_status (*head_rmsnorm)(pg_context* ctx, const pg_head_rmsnorm_args* args);
    /* Counters of waits and launches (see pg_counters). */
    pg_status (*get_counters)(pg_context* ctx, pg_counters* out);
    /* rope then cache_write in one pass (pg_rope_cache_write_args). */
    pg_status (*rope_cache_write)(pg_context* ctx, const pg_rope_cache_write_args* args);
    /* Batched LoRA shrink + expand with a per-token adapter slot (pg_lora_args). */
    pg_status (*lora)(pg_context* ctx, const pg_lora_args* args);
    /* Graph capture and replay (see pg_graph). end_capture stops capturing and, when everything
     * captured was valid, returns the graph in *out (else NULL and the first failure's message). */
    pg_status (*begin_capture)(pg_context* ctx);
    pg_status (*end_capture)(pg_context* ctx, pg_graph** out);
    pg_status (*graph_launch)(pg_context* ctx, pg_graph* graph); /* enqueues the whole graph; no wait */
    pg_status (*graph_destroy)(pg_context* ctx, pg_graph* graph); /* waits for the stream first */
} pg_api;

/* The one exported entry point. Returns NULL when the library cannot serve the requested version. */
PG_EXPORT const pg_api* pg_get_api(uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif /* PAGED_H */
