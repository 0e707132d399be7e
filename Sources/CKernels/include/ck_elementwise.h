/*
 * Element-wise and row-wise kernels of the tensor core, compiled for AVX-512, AVX2+FMA and
 * baseline x86-64, with the best chosen at load time (target_clones). Each works on the range
 * it is given and runs on the calling thread; TensorCore splits work over the pool.
 *
 * exp and erf are vectorisable polynomial / rational approximations with relative errors of a
 * few float ulps (checked against libm in TensorCoreTests); every other operation is exact
 * IEEE arithmetic, so each clone gives the same element-wise results. Row reductions (LayerNorm,
 * softmax, channel statistics) sum in vector lanes: their rounding depends on the clone.
 */
#ifndef CK_ELEMENTWISE_H
#define CK_ELEMENTWISE_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activation kinds (TensorCore's Activation). */
enum { CK_QUICK_GELU = 0, CK_GELU = 1, CK_RELU = 2, CK_IDENTITY = 3 };

/* exp(x) and erf(x) for n values (tests and reductions). */
void ck_exp(const float *x, float *y, long n);
void ck_erf(const float *x, float *y, long n);

/* y = act(x). */
void ck_activation(int kind, const float *x, float *y, long n);
/* dx = g * act'(x); for ReLU `x` may be the output (y > 0 exactly where x > 0). */
void ck_activation_backward(int kind, const float *x, const float *g, float *dx, long n);
/* y[r, :] = act(y[r, :] + bias) in place for `rows` rows of `cols` (bias may be NULL). */
void ck_bias_activation(int kind, float *y, const float *bias, long rows, long cols);

/* LayerNorm over rows of `cols`: y = (x - mean) * rstd * gamma + beta; stores mean and rstd
 * per row when those are not NULL. */
void ck_layernorm(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                  long rows, long cols, float eps);
/* dx for those rows; adds the rows' dgamma and dbeta contributions into dgamma, dbeta. */
void ck_layernorm_backward(const float *x, const float *gamma, const float *g, const float *mean, const float *rstd,
                           float *dx, float *dgamma, float *dbeta, long rows, long cols);

/* Softmax of each row of `cols` (x may equal y). With causal_offset >= 0, row i keeps only
 * columns 0 ... i + causal_offset (the rest become 0), as a causal mask with -inf would. */
void ck_softmax_rows(const float *x, float *y, long rows, long cols, long causal_offset);
/* dS = P * (dP - rowsum(dP * P)) * scale, in place over dp. */
void ck_softmax_backward_rows(const float *p, float *dp, long rows, long cols, float scale);

/* Per-channel affine over contiguous channel rows (channel-major feature maps [C, N*H*W]):
 * y[c, :] = x[c, :] * scale[c] + shift[c] (+ residual[c, :]) (then max(., 0) when relu). */
void ck_channel_affine(const float *x, float *y, const float *scale, const float *shift, const float *residual,
                       bool relu, long channels, long plane);
/* Mean and biased variance of each channel row, accumulated in double (two passes). */
void ck_channel_moments(const float *x, long channels, long plane, double *mean, double *variance);

/* Sum of squares of n values, in double. */
double ck_sum_squares(const float *x, long n);

/* One AdamW update (PyTorch's torch.optim.AdamW, amsgrad off) of n parameters in place:
 *   g' = g * clip; m = m + (1 - beta1) (g' - m); v = beta2 v + (1 - beta2) g'^2;
 *   x = x * decay - step_size * m / (sqrt(v) * inv_bias2_sqrt + eps)
 * with decay = 1 - lr * weight_decay, step_size = lr / (1 - beta1^t),
 * inv_bias2_sqrt = 1 / sqrt(1 - beta2^t). */
void ck_adamw(float *x, const float *g, float *m, float *v, long n, float clip, float decay, float beta1,
              float beta2, float step_size, float inv_bias2_sqrt, float eps);

/* Column sums of a [rows, cols] matrix added into out[cols] (bias gradients). */
void ck_column_sums(const float *x, float *out, long rows, long cols);

#ifdef __cplusplus
}
#endif
#endif
