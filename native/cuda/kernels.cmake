# The sources of native/cuda that both CUDA-source backends compile: libpaged_cuda.so (nvcc, with
# runtime_cuda.cu) and libpaged_simt.so (as C++ against the SIMT emulator, with
# ../simt/runtime_simt.cpp). One list, so a new kernel file reaches both; names relative to native/cuda.
set(PAGED_CUDA_SHARED_SOURCES
  api.cu embedding.cu rmsnorm.cu head_rmsnorm.cu rope.cu silu_mul.cu lora.cu argmax.cu matmul.cu kv_cache.cu
  attention_decode.cu attention_prefill.cu sample.cu rope_cache_write.cu graph.cu gemm.cu)
