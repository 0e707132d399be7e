/*
 * OpenBLAS, loaded at run time with its kernel chosen from the CPU's feature bits.
 *
 * Why: OpenBLAS picks its kernels ("core") once, when the library is loaded, from the CPU's
 * model number. Builds that do not know a model (Debian's 0.3.21 on recent Xeons behind a
 * hypervisor, for one) fall back to the generic SSE3 "Prescott" kernels, 3-5x slower than
 * the AVX-512 ones the CPU supports. Linking OpenBLAS normally would load it (and make that
 * choice) before any of our code runs, in every host: the CLI, a C program, Python's ctypes,
 * a Swift program. So nothing links it: the first BLAS call loads it with dlopen, after
 * choosing a core from CPUID and XGETBV, unless the user set OPENBLAS_CORETYPE.
 *
 * If OpenBLAS cannot be loaded, GEMM runs on a portable built-in kernel (correct, slow) and
 * ck_blas_status() says why. Thread-safe: loading happens once (pthread_once).
 *
 * OpenBLAS runs single-threaded; ck_sgemm splits a product over the worker pool (ck_pool.h).
 */
#ifndef CK_BLAS_H
#define CK_BLAS_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the CPU and the operating system support (CPUID leaves 1, 7.0, 7.1 and XCR0). */
typedef struct {
    int vendor;         /* CK_VENDOR_* */
    int family, model;  /* display family and model (extended fields folded in) */
    bool sse3, ssse3, sse4_2;
    bool avx, fma, avx2;
    bool avx512f, avx512cd, avx512bw, avx512dq, avx512vl, avx512_bf16;
    bool os_avx;        /* XCR0 enables the YMM state (bits 1-2) */
    bool os_avx512;     /* XCR0 enables the opmask and ZMM states as well (bits 5-7) */
} ck_cpu_features;

enum { CK_VENDOR_OTHER = 0, CK_VENDOR_INTEL = 1, CK_VENDOR_AMD = 2, CK_VENDOR_HYGON = 3 };

/* Reads this CPU's features (all false on a non-x86 build). */
void ck_detect_cpu(ck_cpu_features *out);

/* The OpenBLAS core (an OPENBLAS_CORETYPE value) for a feature set, or NULL when the CPU has
 * no AVX: then no core is forced and OpenBLAS chooses as it would on its own. */
const char *ck_blas_core_for(const ck_cpu_features *features);

/* How the running kernel was chosen. */
typedef enum {
    CK_CHOSEN_FROM_FEATURES = 0,  /* we set OPENBLAS_CORETYPE from CPUID before loading */
    CK_CHOSEN_BY_USER = 1,        /* OPENBLAS_CORETYPE was set in the environment */
    CK_CHOSEN_BY_OPENBLAS = 2,    /* no AVX, so OpenBLAS's own detection */
    CK_ALREADY_LOADED = 3,        /* OpenBLAS was in the process before us; its choice stands */
    CK_NOT_LOADED = 4,            /* OpenBLAS could not be loaded: the portable kernel runs */
} ck_blas_choice;

typedef struct {
    ck_blas_choice choice;
    const char *core;       /* openblas_get_corename(), or "portable" */
    const char *requested;  /* the core we asked for, or NULL */
    const char *config;     /* openblas_get_config(), or "" */
    const char *library;    /* the file loaded (or tried) */
    const char *message;    /* a sentence for the user; "" when all is as it should be */
} ck_blas_status_t;

/* Loads OpenBLAS if that has not happened yet, and says how it went. Never fails: when the
 * library is missing the portable kernel is used and `message` says so. */
const ck_blas_status_t *ck_blas_status(void);

/* Row-major C = alpha op(A) op(B) + beta C, as cblas_sgemm with CblasRowMajor, split over the
 * worker pool when it is large enough (rows or columns, whichever dimension is larger). */
void ck_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Row-major C = op(A) op(B) + bias, the bias (n values) added to every row, as a linear layer:
 * each part of the split writes the bias into its own block, then accumulates the product
 * onto it (the same rounding as writing it first and calling ck_sgemm with beta 1). A NULL
 * bias gives C = op(A) op(B). */
void ck_sgemm_bias(bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda,
                   const float *b, int ldb, const float *bias, float *c, int ldc);

/* The same on the calling thread only (for callers that parallelise over many small products). */
void ck_sgemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* The built-in kernel alone (used when OpenBLAS is missing; exposed for tests). */
void ck_sgemm_portable(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

#ifdef __cplusplus
}
#endif
#endif
