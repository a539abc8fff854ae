// libpaged_simt.so exports pg_get_api (defined in native/cuda/api.cu, linked whole from the
// paged_simt_kernels archive). This file only gives the shared library a source of its own.
#include "paged.h"
