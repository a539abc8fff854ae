// The device-side error word: kernels guard their index arrays and record the first bad entry here
// instead of the host validating (which would copy the arrays back: one synchronization per op).
// The host reads the word with the next waiting call (memcpy device-to-host, synchronize) and turns
// it into the message the op would have given. One word per context, zero when no error.
#pragma once
#include <cstdint>

#include "launch.cuh"

namespace pg::cuda {

enum DeviceErrorCode : int32_t {
    kDevErrNone = 0,
    kDevErrEmbeddingId,    // token_ids[index] = value outside [0, limit)
    kDevErrRopePosition,   // positions[index] = value < 0
    kDevErrCacheSlot,      // slot_mapping[index] = value >= limit
    kDevErrCopyPair,       // pairs[index][aux] = value outside [0, limit)
    kDevErrSeqLen,         // seq_lens[index] = value outside [aux, limit]
    kDevErrBlockTable,     // block_tables[index][aux] = value outside [0, limit)
    kDevErrQueryStart,     // query_start[index] = value: not increasing / not ending at limit
    kDevErrSampleParam,    // aux = SampleParam, index = row, fvalue = the value
    kDevErrSampleList,     // aux = list (0 prompt, 1 output, 2 stop, 3 bias), index = entry, value = id
    kDevErrSampleOffsets,  // aux = list, index = row: offsets decrease or do not start at 0
    kDevErrLoraSlot,       // token_slots[index] = value outside [-1, limit)
};

// Which op recorded the error (its name starts the message).
enum DeviceErrorOp : int32_t { kOpEmbedding, kOpRope, kOpCacheWrite, kOpBlockCopy, kOpDecode, kOpPrefill, kOpSample, kOpLora };

enum SampleParam : int32_t {
    kSpTemperature, kSpTopK, kSpTopP, kSpMinP, kSpRepetition, kSpPenalty, kSpMinTokens, kSpSteps,
    kSpNumLogprobs, kSpTopOutputs, kSpBiasValue
};

struct DeviceError {
    int32_t code;
    int32_t op;
    int32_t index;
    int32_t aux;
    int64_t value;
    int64_t limit;
    double fvalue;
};

// First error wins; later ones (of this or other kernels) are dropped until the host reads the word.
__device__ __forceinline__ void report_error(DeviceError* e, int code, int op, int index, int aux, int64_t value,
                                             int64_t limit, double fvalue = 0.0) {
    if (atomicCAS(&e->code, 0, code) == 0) {
        e->op = op;
        e->index = index;
        e->aux = aux;
        e->value = value;
        e->limit = limit;
        e->fvalue = fvalue;
    }
}

}  // namespace pg::cuda
