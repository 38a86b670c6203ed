/* The fast CPU kernels for avx2: see ops_fast_body.h. */
#define GZ_OPS_ISA_NAME "avx2"
#include "tensor/ops_fast_body.h"
