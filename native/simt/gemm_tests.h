// The matmul part of the kernel grid (gemm_tests.cpp), run by kernel_tests.cpp.
#pragma once
#include "paged.h"

void gemm_grid(const pg_api* api, pg_context* ctx, int* passes, int* failures);
// Two decode-shaped matmuls on the SIMT kernel, for the coalescing report.
void gemm_coalescing_sample(const pg_api* api, pg_context* ctx, int* passes, int* failures);
