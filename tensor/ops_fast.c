/* The fast CPU kernels for scalar: see ops_fast_body.h. */
#define GZ_OPS_ISA_NAME "scalar"
#include "tensor/ops_fast_body.h"
