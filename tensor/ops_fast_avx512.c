/* The fast CPU kernels for avx512: see ops_fast_body.h. */
#define GZ_OPS_ISA_NAME "avx512"
#include "tensor/ops_fast_body.h"
