/* The C kernels under TensorCore: OpenBLAS loading (ck_blas.h), the worker pool (ck_pool.h),
 * vectorised element-wise kernels (ck_elementwise.h), the cores' arithmetic peak (ck_peak.h),
 * and dladdr for the Swift side (ck_dl.h). */
#include "ck_blas.h"
#include "ck_conv.h"
#include "ck_dl.h"
#include "ck_elementwise.h"
#include "ck_peak.h"
#include "ck_pool.h"
