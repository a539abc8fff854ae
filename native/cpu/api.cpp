// The one exported symbol: a static table of entry points for ABI version 1.
#include "context.h"
#include "layouts.h"
#include "ops.h"
#include "status.h"

namespace {

const pg_api kApi = {
    PG_ABI_VERSION,
    uint32_t(sizeof(pg_api)),
    "cpu",
    pg::last_error,
    pg::describe_layouts,
    pg::cpu::context_create,
    pg::cpu::context_destroy,
    pg::cpu::synchronize,
    pg::cpu::device_name,
    pg::cpu::alloc,
    pg::cpu::free,
    pg::cpu::memcpy,
    pg::cpu::memset,
    pg::cpu::embedding,
    pg::cpu::rmsnorm,
    pg::cpu::matmul,
    pg::cpu::rope,
    pg::cpu::silu_mul,
    pg::cpu::cache_write,
    pg::cpu::attention_decode,
    pg::cpu::attention_prefill,
    pg::cpu::block_copy,
    pg::cpu::argmax,
};

}  // namespace

extern "C" PG_EXPORT const pg_api* pg_get_api(uint32_t abi_version) {
    return abi_version == PG_ABI_VERSION ? &kApi : nullptr;
}
