/* Element-wise and row-wise kernels (see ck_elementwise.h). */
#include "ck_elementwise.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* No contraction of a*b+c into FMA: the AVX2/AVX-512 clones and the baseline one must round
 * alike (explicit fmaf calls are fused in all of them). */
#pragma clang fp contract(off)

#if defined(__x86_64__) && defined(__clang__)
#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_CLONES
#endif

/* Reductions sum into LANES independent partial sums, in source order, then combine them in
 * a fixed order: the compiler vectorises that without reassociating, so every clone rounds
 * alike. */
enum { LANES = 16 };

static inline __attribute__((always_inline)) float lanes_total(const float acc[LANES]) {
    float t = 0;
    for (int l = 0; l < LANES; l++) t += acc[l];
    return t;
}

/* exp(x): x = n ln2 + r with |r| <= ln2/2, exp(r) by Cephes' degree-7 polynomial, 2^n by
 * exponent bits. Inputs are clamped to [-87.3, 88.7] (results stay normal floats). */
static inline __attribute__((always_inline)) float exp_approx(float x) {
    x = fminf(fmaxf(x, -87.3f), 88.7f);
    float n = rintf(x * 1.44269504088896341f);
    float r = fmaf(n, -0.693359375f, x);
    r = fmaf(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r) + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* erf(x) as x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 to float precision beyond). */
static inline __attribute__((always_inline)) float erf_approx(float x) {
    x = fminf(fmaxf(x, -4.0f), 4.0f);
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = fmaf(p, x2, 2.77068142495902e-08f);
    p = fmaf(p, x2, -2.10102402082508e-06f);
    p = fmaf(p, x2, -5.69250639462346e-05f);
    p = fmaf(p, x2, -7.34990630326855e-04f);
    p = fmaf(p, x2, -2.95459980854025e-03f);
    p = fmaf(p, x2, -1.60960333262415e-02f);
    float q = -1.45660718464996e-05f;
    q = fmaf(q, x2, -2.13374055278905e-04f);
    q = fmaf(q, x2, -1.68282697438203e-03f);
    q = fmaf(q, x2, -7.37332916720468e-03f);
    q = fmaf(q, x2, -1.42647390514189e-02f);
    return x * p / q;
}

static inline __attribute__((always_inline)) float quick_gelu(float x) { return x / (1.0f + exp_approx(-1.702f * x)); }
static inline __attribute__((always_inline)) float gelu(float x) { return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f)); }

CK_CLONES void ck_exp(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = exp_approx(x[i]);
}

CK_CLONES void ck_erf(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = erf_approx(x[i]);
}

CK_CLONES void ck_activation(int kind, const float *x, float *y, long n) {
    switch (kind) {
    case CK_QUICK_GELU: for (long i = 0; i < n; i++) y[i] = quick_gelu(x[i]); break;
    case CK_GELU: for (long i = 0; i < n; i++) y[i] = gelu(x[i]); break;
    case CK_RELU: for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0; break;
    default: if (x != y) memmove(y, x, sizeof(float) * (size_t)n); break;
    }
}

CK_CLONES void ck_activation_backward(int kind, const float *x, const float *g, float *dx, long n) {
    switch (kind) {
    case CK_QUICK_GELU:
        for (long i = 0; i < n; i++) {
            float s = 1.0f / (1.0f + exp_approx(-1.702f * x[i]));
            dx[i] = g[i] * (s + 1.702f * x[i] * s * (1.0f - s));
        }
        break;
    case CK_GELU:
        for (long i = 0; i < n; i++) {
            float cdf = 0.5f * (1.0f + erf_approx(x[i] * 0.70710678118654752f));
            float pdf = exp_approx(-0.5f * x[i] * x[i]) * 0.3989422804014327f;
            dx[i] = g[i] * (cdf + x[i] * pdf);
        }
        break;
    case CK_RELU: for (long i = 0; i < n; i++) dx[i] = x[i] > 0 ? g[i] : 0; break;
    default: if (g != dx) memmove(dx, g, sizeof(float) * (size_t)n); break;
    }
}

CK_CLONES void ck_bias_activation(int kind, float *y, const float *bias, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *row = y + r * cols;
        if (bias) for (long j = 0; j < cols; j++) row[j] += bias[j];
        switch (kind) {
        case CK_QUICK_GELU: for (long j = 0; j < cols; j++) row[j] = quick_gelu(row[j]); break;
        case CK_GELU: for (long j = 0; j < cols; j++) row[j] = gelu(row[j]); break;
        case CK_RELU: for (long j = 0; j < cols; j++) row[j] = row[j] > 0 ? row[j] : 0; break;
        default: break;
        }
    }
}

static inline __attribute__((always_inline)) float row_sum(const float *x, long n) {
    float acc[LANES] = {0};
    long j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += x[j + l];
    for (int l = 0; j < n; j++, l++) acc[l] += x[j];
    return lanes_total(acc);
}

static inline __attribute__((always_inline)) float row_squared_deviation(const float *x, float m, long n) {
    float acc[LANES] = {0};
    long j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) { float d = x[j + l] - m; acc[l] += d * d; }
    for (int l = 0; j < n; j++, l++) { float d = x[j] - m; acc[l] += d * d; }
    return lanes_total(acc);
}

CK_CLONES void ck_layernorm(const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,
                            long rows, long cols, float eps) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = row_sum(xr, cols) / (float)cols;
        float inv = 1.0f / sqrtf(row_squared_deviation(xr, m, cols) / (float)cols + eps);
        if (mean) mean[r] = m;
        if (rstd) rstd[r] = inv;
        for (long j = 0; j < cols; j++) yr[j] = (xr[j] - m) * inv * gamma[j] + beta[j];
    }
}

CK_CLONES void ck_layernorm_backward(const float *x, const float *gamma, const float *g, const float *mean,
                                     const float *rstd, float *dx, float *dgamma, float *dbeta, long rows, long cols) {
    float inv_w = 1.0f / (float)cols;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *gr = g + r * cols;
        float *dr = dx + r * cols;
        float m = mean[r], inv = rstd[r];
        float sg[LANES] = {0}, sgx[LANES] = {0};
        long j = 0;
        for (; j + LANES <= cols; j += LANES)
            for (int l = 0; l < LANES; l++) {
                float xhat = (xr[j + l] - m) * inv, gy = gr[j + l] * gamma[j + l];
                sg[l] += gy;
                sgx[l] += gy * xhat;
            }
        for (int l = 0; j < cols; j++, l++) {
            float xhat = (xr[j] - m) * inv, gy = gr[j] * gamma[j];
            sg[l] += gy;
            sgx[l] += gy * xhat;
        }
        float sum_g = lanes_total(sg), sum_gx = lanes_total(sgx);
        for (j = 0; j < cols; j++) {
            float xhat = (xr[j] - m) * inv;
            dgamma[j] += gr[j] * xhat;
            dbeta[j] += gr[j];
            dr[j] = inv * (gr[j] * gamma[j] - inv_w * sum_g - xhat * inv_w * sum_gx);
        }
    }
}

CK_CLONES void ck_softmax_rows(const float *x, float *y, long rows, long cols, long causal_offset) {
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        long valid = cols;
        if (causal_offset >= 0 && r + causal_offset + 1 < cols) valid = r + causal_offset + 1;
        float lane_max[LANES];
        for (int l = 0; l < LANES; l++) lane_max[l] = -INFINITY;
        long j = 0;
        for (; j + LANES <= valid; j += LANES)
            for (int l = 0; l < LANES; l++) lane_max[l] = fmaxf(lane_max[l], xr[j + l]);
        for (int l = 0; j < valid; j++, l++) lane_max[l] = fmaxf(lane_max[l], xr[j]);
        float mx = -INFINITY;
        for (int l = 0; l < LANES; l++) mx = fmaxf(mx, lane_max[l]);
        if (mx == -INFINITY) {  /* every entry masked: a zero row, not NaN */
            for (long j = 0; j < cols; j++) yr[j] = 0;
            continue;
        }
        float acc[LANES] = {0};
        j = 0;
        for (; j + LANES <= valid; j += LANES)
            for (int l = 0; l < LANES; l++) { float e = exp_approx(xr[j + l] - mx); yr[j + l] = e; acc[l] += e; }
        for (int l = 0; j < valid; j++, l++) { float e = exp_approx(xr[j] - mx); yr[j] = e; acc[l] += e; }
        float inv = 1.0f / lanes_total(acc);
        for (j = 0; j < valid; j++) yr[j] *= inv;
        for (; j < cols; j++) yr[j] = 0;
    }
}

CK_CLONES void ck_softmax_backward_rows(const float *p, float *dp, long rows, long cols, float scale) {
    for (long r = 0; r < rows; r++) {
        const float *pr = p + r * cols;
        float *dr = dp + r * cols;
        float acc[LANES] = {0};
        long j = 0;
        for (; j + LANES <= cols; j += LANES)
            for (int l = 0; l < LANES; l++) acc[l] += dr[j + l] * pr[j + l];
        for (int l = 0; j < cols; j++, l++) acc[l] += dr[j] * pr[j];
        float dot = lanes_total(acc);
        for (j = 0; j < cols; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
    }
}

CK_CLONES void ck_channel_affine(const float *x, float *y, const float *scale, const float *shift,
                                 const float *residual, bool relu, long channels, long plane) {
    for (long c = 0; c < channels; c++) {
        const float *xc = x + c * plane;
        float *yc = y + c * plane;
        float a = scale[c], b = shift[c];
        if (residual) {
            const float *rc = residual + c * plane;
            if (relu) for (long i = 0; i < plane; i++) { float v = xc[i] * a + b + rc[i]; yc[i] = v > 0 ? v : 0; }
            else for (long i = 0; i < plane; i++) yc[i] = xc[i] * a + b + rc[i];
        } else {
            if (relu) for (long i = 0; i < plane; i++) { float v = xc[i] * a + b; yc[i] = v > 0 ? v : 0; }
            else for (long i = 0; i < plane; i++) yc[i] = xc[i] * a + b;
        }
    }
}

enum { DLANES = 8 };

CK_CLONES void ck_channel_moments(const float *x, long channels, long plane, double *mean, double *variance) {
    for (long c = 0; c < channels; c++) {
        const float *xc = x + c * plane;
        double acc[DLANES] = {0};
        long i = 0;
        for (; i + DLANES <= plane; i += DLANES)
            for (int l = 0; l < DLANES; l++) acc[l] += (double)xc[i + l];
        for (int l = 0; i < plane; i++, l++) acc[l] += (double)xc[i];
        double s = 0;
        for (int l = 0; l < DLANES; l++) s += acc[l];
        double mu = s / (double)plane;
        double dev[DLANES] = {0};
        for (i = 0; i + DLANES <= plane; i += DLANES)
            for (int l = 0; l < DLANES; l++) { double d = (double)xc[i + l] - mu; dev[l] += d * d; }
        for (int l = 0; i < plane; i++, l++) { double d = (double)xc[i] - mu; dev[l] += d * d; }
        double v = 0;
        for (int l = 0; l < DLANES; l++) v += dev[l];
        mean[c] = mu;
        variance[c] = v / (double)plane;
    }
}

CK_CLONES double ck_sum_squares(const float *x, long n) {
    double acc[DLANES] = {0};
    long i = 0;
    for (; i + DLANES <= n; i += DLANES)
        for (int l = 0; l < DLANES; l++) acc[l] += (double)x[i + l] * (double)x[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += (double)x[i] * (double)x[i];
    double s = 0;
    for (int l = 0; l < DLANES; l++) s += acc[l];
    return s;
}

CK_CLONES void ck_adamw(float *x, const float *g, float *m, float *v, long n, float clip, float decay, float beta1,
                        float beta2, float step_size, float inv_bias2_sqrt, float eps) {
    float one_minus_b1 = 1.0f - beta1, one_minus_b2 = 1.0f - beta2;
    for (long i = 0; i < n; i++) {
        float gi = g[i] * clip;
        float xi = x[i] * decay;
        float mi = m[i] + one_minus_b1 * (gi - m[i]);
        float vi = v[i] * beta2 + one_minus_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        x[i] = xi - step_size * (mi / (__builtin_elementwise_sqrt(vi) * inv_bias2_sqrt + eps));  /* IEEE sqrt, no errno */
    }
}

CK_CLONES void ck_column_sums(const float *x, float *out, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        const float *row = x + r * cols;
        for (long j = 0; j < cols; j++) out[j] += row[j];
    }
}
