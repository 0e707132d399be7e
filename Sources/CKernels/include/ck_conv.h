/*
 * Kernels for channel-major feature maps: x [C, N, H, W], each channel's values for the whole
 * batch one contiguous row of N*H*W. A convolution is then one matrix product over the batch,
 *   Y [O, N*Ho*Wo] = W [O, C*kh*kw] x col [C*kh*kw, N*Ho*Wo],
 * where col is the im2col matrix: row (c*kh + i)*kw + j, column (n*Ho + y)*Wo + x holds
 * x[c, n, y*stride + i - pad, x*stride + j - pad] (0 outside the image). These kernels build
 * a range of col's columns, scatter it back (the adjoint), and run BatchNorm's per-channel
 * passes. Each works on the range it is given; TensorCore spreads ranges over the pool.
 */
#ifndef CK_CONV_H
#define CK_CONV_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    long channels, images, height, width;  /* the input map [C, N, H, W] */
    long kernel_h, kernel_w, stride, padding;
    long out_h, out_w;                     /* (H + 2 padding - kh) / stride + 1, ... */
} ck_conv_shape;

/* For a "same" convolution (stride 1, output plane the size of the input's), column e of row
 * (c, i, j) reads element e + (i - pad) W + (j - pad) of channel c's row, or 0 where that lies
 * outside the image. This is the table that says which: for each kernel offset (i, j), one byte
 * per output position of a plane, 1 where it reads inside the image, the plane repeated to at
 * least 64 bytes. Returns the table's size in bytes, writing it when masks is not NULL, or 0
 * for other convolutions. */
long ck_same_masks(const ck_conv_shape *s, unsigned char *masks);

/* Rows [row_begin, row_end) of col's columns [col_begin, col_begin + cols), stored with row
 * stride `cols`. `masks`: ck_same_masks's table for a "same" convolution (a shifted, masked
 * copy of the rows, fast for planes of any size), else NULL. */
void ck_im2col(const ck_conv_shape *s, const unsigned char *masks, const float *x, float *col, long row_begin,
               long row_end, long col_begin, long cols);

/* Adds columns [col_begin, col_begin + cols) of col back into dx [C, N, H, W], for channels
 * [channel_begin, channel_end) only; `col` points at column col_begin of row 0 and has row
 * stride `stride` (all C*kh*kw rows); `masks` as for ck_im2col. A channel's rows touch only
 * that channel's plane, and a column range of whole images only those images: disjoint ranges
 * can run at once. Each element of dx gets its terms in the order of the kernel offsets. */
void ck_col2im(const ck_conv_shape *s, const unsigned char *masks, const float *col, long stride, float *dx,
               long channel_begin, long channel_end, long col_begin, long cols);

/* BatchNorm's backward over contiguous channel rows of `plane` values, given the batch (or
 * running) statistics used in forward (y = (x - mean) * rstd * gamma + beta):
 *   dbeta = sum g, dgamma = sum g xhat, and
 *   batch statistics:  dx = gamma rstd / M (M g - dbeta - xhat dgamma)
 *   fixed statistics:  dx = gamma rstd g
 * Sums run in double. */
void ck_channel_batchnorm_backward(const float *x, const float *g, const float *mean, const float *rstd,
                                   const float *gamma, float *dx, float *dgamma, float *dbeta, int batch_statistics,
                                   long channels, long plane);

/* dz = g where x * scale[c] + shift[c] > 0, else 0: the gradient through a ReLU that followed
 * a per-channel affine, with the ReLU's mask recomputed from its input instead of kept. */
void ck_channel_relu_backward(const float *x, const float *g, const float *scale, const float *shift, float *dz,
                              long channels, long plane);

/* nn.AvgPool2d(k) (window k x k, stride k, no padding) over `planes` planes of h x w:
 * out[p, i, j] = (0 + the window's values, row by row) / k^2 as one multiply by 1/k^2, rows and
 * columns past the last whole window unread; out has planes x h/k x w/k values. */
void ck_avg_pool(const float *x, float *out, long planes, long h, long w, long k);

/* Its adjoint: every input of a window gets the window's gradient times 1/k^2, inputs in no
 * window 0. Writes all of dx (planes x h x w). */
void ck_avg_pool_backward(const float *g, float *dx, long planes, long h, long w, long k);

#ifdef __cplusplus
}
#endif
#endif
