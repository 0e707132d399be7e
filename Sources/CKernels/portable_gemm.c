/* The built-in GEMM used when OpenBLAS is missing: plain loops, blocked for the cache and
 * written so the compiler vectorises the inner loop. Correct for every transpose case; about
 * a tenth of OpenBLAS's speed. */
#include "ck_blas.h"

#include <stdlib.h>

enum { KB = 256, NB = 512 };

void ck_sgemm_portable(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        float *row = c + (long)i * ldc;
        for (int j = 0; j < n; j++) row[j] = beta == 0 ? 0 : beta * row[j];
    }
    if (alpha == 0 || k == 0) return;
    float *packed = trans_b ? malloc(sizeof(float) * KB * NB) : NULL;
    for (int j0 = 0; j0 < n; j0 += NB) {
        int nb = n - j0 < NB ? n - j0 : NB;
        for (int p0 = 0; p0 < k; p0 += KB) {
            int kb = k - p0 < KB ? k - p0 : KB;
            /* Rows p of op(B) restricted to columns j0..j0+nb, contiguous in j. */
            const float *bp = b + (long)p0 * ldb + j0;
            long ldbp = ldb;
            if (trans_b && packed) {
                for (int p = 0; p < kb; p++)
                    for (int j = 0; j < nb; j++) packed[(long)p * nb + j] = b[(long)(j0 + j) * ldb + p0 + p];
                bp = packed;
                ldbp = nb;
            }
            for (int i = 0; i < m; i++) {
                float *crow = c + (long)i * ldc + j0;
                for (int p = 0; p < kb; p++) {
                    float av = alpha * (trans_a ? a[(long)(p0 + p) * lda + i] : a[(long)i * lda + p0 + p]);
                    if (trans_b && !packed) {
                        for (int j = 0; j < nb; j++) crow[j] += av * b[(long)(j0 + j) * ldb + p0 + p];
                    } else {
                        const float *brow = bp + p * ldbp;
                        for (int j = 0; j < nb; j++) crow[j] += av * brow[j];
                    }
                }
            }
        }
    }
    free(packed);
}
