/* im2col / col2im over channel-major maps and BatchNorm's backward (see ck_conv.h). */
#include "ck_conv.h"

#include <string.h>

/* No contraction of a*b+c into FMA: the AVX2/AVX-512 clones and the baseline one must round
 * alike (explicit fmaf calls are fused in all of them). */
#pragma clang fp contract(off)

#if defined(__x86_64__) && defined(__clang__)
#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_CLONES
#endif

/* Calls body(n, y, x0, x1, offset) for each run of columns [col_begin, col_begin + cols)
 * along one output row (image n, row y, columns x0..x1), offset being the run's first column
 * relative to col_begin. The position advances incrementally: no division per run. */
#define FOR_EACH_RUN(s, col_begin, cols, ...)                                    \
    do {                                                                         \
        long per_image_ = (s)->out_h * (s)->out_w;                               \
        long n = (col_begin) / per_image_, rem_ = (col_begin) % per_image_;      \
        long y = rem_ / (s)->out_w, x0 = rem_ % (s)->out_w;                      \
        long offset = 0;                                                         \
        while (offset < (cols)) {                                                \
            long x1 = (s)->out_w;                                                \
            if (x1 - x0 > (cols) - offset) x1 = x0 + ((cols) - offset);          \
            __VA_ARGS__;                                                         \
            offset += x1 - x0;                                                   \
            x0 = 0;                                                              \
            if (++y == (s)->out_h) { y = 0; n++; }                               \
        }                                                                        \
    } while (0)

/* The output columns x0..x1 of one row whose source column x*stride + shift lies inside
 * 0..width-1: [*lo, *hi). */
static inline void valid_columns(long x0, long x1, long stride, long shift, long width, long *lo, long *hi) {
    long a = x0, b = x1;
    if (shift < 0) { long first = (-shift + stride - 1) / stride; if (a < first) a = first; }
    long last = width - 1 - shift;  /* x*stride <= last */
    long end = last < 0 ? 0 : last / stride + 1;
    if (b > end) b = end;
    if (a > b) a = b;
    *lo = a;
    *hi = b < x0 ? x0 : b;
    if (*lo < x0) *lo = x0;
}

/* The length of each kernel offset's mask: whole output planes, at least 64 values, so that tiny
 * planes still give the copy loops long runs. 0 when the convolution is not "same". */
static long mask_period(const ck_conv_shape *s) {
    long plane = s->out_h * s->out_w;
    if (s->stride != 1 || s->out_h != s->height || s->out_w != s->width || plane <= 0) return 0;
    return plane * ((64 + plane - 1) / plane);
}

long ck_same_masks(const ck_conv_shape *s, unsigned char *masks) {
    long period = mask_period(s), plane = s->out_h * s->out_w;
    if (masks)
        for (long i = 0; i < s->kernel_h; i++)
            for (long j = 0; j < s->kernel_w; j++)
                for (long e = 0; e < period; e++) {
                    long y = e % plane / s->out_w, x = e % s->out_w;
                    long sy = y + i - s->padding, sx = x + j - s->padding;
                    *masks++ = sy >= 0 && sy < s->height && sx >= 0 && sx < s->width;
                }
    return s->kernel_h * s->kernel_w * period;
}

/* Calls body(e, end, m) for each run [e, end) of columns [begin, begin + count) whose sources
 * e + delta lie in the channel's row [0, total), m pointing at column e's mask (period `period`).
 * A column whose mask is 0 reads outside its image; every column left out is one of those. */
#define FOR_EACH_MASKED_RUN(masks, period, total, begin, count, delta, ...)              \
    do {                                                                                \
        long e = (begin) > -(delta) ? (begin) : -(delta);                               \
        long stop_ = (begin) + (count) < (total) - (delta) ? (begin) + (count) : (total) - (delta); \
        while (e < stop_) {                                                             \
            long phase_ = e % (period);                                                 \
            long end = e + ((period) - phase_) < stop_ ? e + ((period) - phase_) : stop_; \
            const unsigned char *m = (masks) + phase_;                                  \
            __VA_ARGS__;                                                                \
            e = end;                                                                    \
        }                                                                               \
    } while (0)

CK_CLONES void ck_im2col(const ck_conv_shape *s, const unsigned char *masks, const float *x, float *col,
                         long row_begin, long row_end, long col_begin, long cols) {
    long kk = s->kernel_h * s->kernel_w, plane = s->height * s->width, total = s->images * plane;
    long period = mask_period(s);
    for (long row = row_begin; row < row_end; row++) {
        long c = row / kk, i = (row / s->kernel_w) % s->kernel_h, j = row % s->kernel_w;
        const float *src = x + c * total;
        float *dst = col + (row - row_begin) * cols;
        if (masks) {
            long delta = (i - s->padding) * s->width + (j - s->padding);
            /* Columns whose source would lie before or after the channel's row are all masked. */
            long head = -delta - col_begin, tail = total - delta - col_begin;
            head = head < 0 ? 0 : head > cols ? cols : head;
            tail = tail < head ? head : tail > cols ? cols : tail;
            memset(dst, 0, sizeof(float) * (size_t)head);
            memset(dst + tail, 0, sizeof(float) * (size_t)(cols - tail));
            FOR_EACH_MASKED_RUN(masks + (i * s->kernel_w + j) * period, period, total, col_begin, cols, delta, {
                float *out = dst + (e - col_begin);
                const float *in = src + e + delta;
                for (long t = 0; t < end - e; t++) out[t] = m[t] ? in[t] : 0.0f;
            });
            continue;
        }
        long shift = j - s->padding;
        FOR_EACH_RUN(s, col_begin, cols, {
            float *out = dst + offset - x0;  /* out[x] for x in x0..x1 */
            long sy = y * s->stride + i - s->padding;
            if (sy < 0 || sy >= s->height) {
                memset(out + x0, 0, sizeof(float) * (size_t)(x1 - x0));
            } else {
                const float *line = src + n * plane + sy * s->width + shift;
                long lo, hi;
                valid_columns(x0, x1, s->stride, shift, s->width, &lo, &hi);
                for (long xx = x0; xx < lo; xx++) out[xx] = 0;
                if (s->stride == 1) memcpy(out + lo, line + lo, sizeof(float) * (size_t)(hi - lo));
                else for (long xx = lo; xx < hi; xx++) out[xx] = line[xx * s->stride];
                for (long xx = hi; xx < x1; xx++) out[xx] = 0;
            }
        });
    }
}

CK_CLONES void ck_col2im(const ck_conv_shape *s, const unsigned char *masks, const float *col, long stride, float *dx,
                         long channel_begin, long channel_end, long col_begin, long cols) {
    long plane = s->height * s->width, total = s->images * plane, period = mask_period(s);
    for (long c = channel_begin; c < channel_end; c++) {
        float *dst = dx + c * total;
        for (long i = 0; i < s->kernel_h; i++) {
            for (long j = 0; j < s->kernel_w; j++) {
                const float *src = col + ((c * s->kernel_h + i) * s->kernel_w + j) * stride;
                if (masks) {
                    long delta = (i - s->padding) * s->width + (j - s->padding);
                    FOR_EACH_MASKED_RUN(masks + (i * s->kernel_w + j) * period, period, total, col_begin, cols, delta, {
                        float *out = dst + e + delta;
                        const float *in = src + (e - col_begin);
                        for (long t = 0; t < end - e; t++)
                            if (m[t]) out[t] += in[t];
                    });
                    continue;
                }
                long shift = j - s->padding;
                FOR_EACH_RUN(s, col_begin, cols, {
                    long sy = y * s->stride + i - s->padding;
                    if (sy >= 0 && sy < s->height) {
                        float *line = dst + n * plane + sy * s->width + shift;
                        const float *in = src + offset - x0;
                        long lo, hi;
                        valid_columns(x0, x1, s->stride, shift, s->width, &lo, &hi);
                        if (s->stride == 1) for (long xx = lo; xx < hi; xx++) line[xx] += in[xx];
                        else for (long xx = lo; xx < hi; xx++) line[xx * s->stride] += in[xx];
                    }
                });
            }
        }
    }
}

enum { DLANES = 8 };

CK_CLONES void ck_channel_batchnorm_backward(const float *x, const float *g, const float *mean, const float *rstd,
                                             const float *gamma, float *dx, float *dgamma, float *dbeta,
                                             int batch_statistics, long channels, long plane) {
    for (long c = 0; c < channels; c++) {
        const float *xc = x + c * plane, *gc = g + c * plane;
        float *dc = dx + c * plane;
        float mu = mean[c], inv = rstd[c];
        double sg[DLANES] = {0}, sgx[DLANES] = {0};
        long i = 0;
        for (; i + DLANES <= plane; i += DLANES)
            for (int l = 0; l < DLANES; l++) {
                sg[l] += (double)gc[i + l];
                sgx[l] += (double)gc[i + l] * (double)(xc[i + l] - mu);
            }
        for (int l = 0; i < plane; i++, l++) {
            sg[l] += (double)gc[i];
            sgx[l] += (double)gc[i] * (double)(xc[i] - mu);
        }
        double sum_g = 0, sum_gx = 0;
        for (int l = 0; l < DLANES; l++) { sum_g += sg[l]; sum_gx += sgx[l]; }
        float dbeta_c = (float)sum_g, dgamma_c = (float)sum_gx * inv;
        dgamma[c] = dgamma_c;
        dbeta[c] = dbeta_c;
        if (batch_statistics) {
            float m = (float)plane, k = gamma[c] * inv / m;
            for (i = 0; i < plane; i++) dc[i] = k * (m * gc[i] - dbeta_c - (xc[i] - mu) * inv * dgamma_c);
        } else {
            float k = gamma[c] * inv;
            for (i = 0; i < plane; i++) dc[i] = k * gc[i];
        }
    }
}

CK_CLONES void ck_channel_relu_backward(const float *x, const float *g, const float *scale, const float *shift,
                                        float *dz, long channels, long plane) {
    for (long c = 0; c < channels; c++) {
        const float *xc = x + c * plane, *gc = g + c * plane;
        float *dc = dz + c * plane;
        float a = scale[c], b = shift[c];
        for (long i = 0; i < plane; i++) dc[i] = xc[i] * a + b > 0 ? gc[i] : 0;  /* as ck_channel_affine rounds */
    }
}

CK_CLONES void ck_avg_pool(const float *x, float *out, long planes, long h, long w, long k) {
    long ho = h / k, wo = w / k;
    float inv = 1.0f / (float)(k * k);
    for (long p = 0; p < planes; p++)
        for (long i = 0; i < ho; i++) {
            const float *top = x + (p * h + i * k) * w;
            float *o = out + (p * ho + i) * wo;
            if (k == 2) {  /* ModifiedResNet's only window: a loop the compiler vectorizes */
                const float *bottom = top + w;
                for (long j = 0; j < wo; j++) o[j] = (0.0f + top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]) * inv;
                continue;
            }
            for (long j = 0; j < wo; j++) {
                float sum = 0.0f;
                for (long di = 0; di < k; di++)
                    for (long dj = 0; dj < k; dj++) sum += top[di * w + j * k + dj];
                o[j] = sum * inv;
            }
        }
}

CK_CLONES void ck_avg_pool_backward(const float *g, float *dx, long planes, long h, long w, long k) {
    long ho = h / k, wo = w / k;
    float inv = 1.0f / (float)(k * k);
    for (long p = 0; p < planes; p++) {
        float *d = dx + p * h * w;
        for (long i = 0; i < ho; i++) {
            const float *gi = g + (p * ho + i) * wo;
            for (long di = 0; di < k; di++) {
                float *row = d + (i * k + di) * w;
                for (long j = 0; j < wo; j++)
                    for (long dj = 0; dj < k; dj++) row[j * k + dj] = gi[j] * inv;
                memset(row + wo * k, 0, sizeof(float) * (size_t)(w - wo * k));
            }
        }
        memset(d + ho * k * w, 0, sizeof(float) * (size_t)((h - ho * k) * w));
    }
}
