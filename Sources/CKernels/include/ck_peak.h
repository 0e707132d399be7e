/*
 * The cores' arithmetic limit: single-precision GFLOP/s of independent multiply-add chains
 * that never touch memory, with the widest instructions the CPU and the OS support (AVX-512
 * FMA, AVX2 FMA, or SSE multiply then add), on every thread of the pool. No real kernel can
 * exceed it; `cleanclip bench` reports model and sgemm figures against it.
 */
#ifndef CK_PEAK_H
#define CK_PEAK_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double gflops;              /* a multiply-add counts 2 */
    const char *instructions;   /* "AVX-512 FMA", "AVX2 FMA", "SSE multiply + add" or "scalar multiply + add" */
} ck_peak;

/* Runs for about `seconds` (after a short warm-up) on ck_threads() threads. */
ck_peak ck_measure_peak(double seconds);

#ifdef __cplusplus
}
#endif
#endif
