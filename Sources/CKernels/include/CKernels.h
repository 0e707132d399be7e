/* The C kernels under TensorCore: OpenBLAS loading (ck_blas.h), the worker pool (ck_pool.h),
 * and vectorised element-wise kernels (ck_elementwise.h). */
#include "ck_blas.h"
#include "ck_conv.h"
#include "ck_elementwise.h"
#include "ck_pool.h"
