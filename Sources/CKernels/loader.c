/* Loads OpenBLAS at run time after choosing its kernel (see copenblas.h for why). */
#define _GNU_SOURCE
#include "ck_blas.h"
#include "ck_pool.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };  /* CBLAS enum values */

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
static sgemm_fn blas_sgemm;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static ck_blas_status_t status;
static char core_name[64], requested_name[64], config[256], library[512], message[1024];

/* The default file name is the runtime package's soname (Debian/Ubuntu libopenblas0, Fedora
 * openblas); CLEANCLIP_OPENBLAS names another build. */
static const char *library_path(void) {
    const char *p = getenv("CLEANCLIP_OPENBLAS");
    return p && *p ? p : "libopenblas.so.0";
}

static void copy(char *dst, size_t size, const char *src) { snprintf(dst, size, "%s", src ? src : ""); }

static void load(void) {
    status.core = "portable";
    status.requested = NULL;
    status.config = "";
    status.message = "";
    copy(library, sizeof library, library_path());
    status.library = library;

    ck_cpu_features features;
    ck_detect_cpu(&features);
    const char *best = ck_blas_core_for(&features);

    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (handle) {
        status.choice = CK_ALREADY_LOADED;
    } else {
        const char *user = getenv("OPENBLAS_CORETYPE");
        bool forced = false;
        if (user && *user) {
            status.choice = CK_CHOSEN_BY_USER;
            copy(requested_name, sizeof requested_name, user);
            status.requested = requested_name;
        } else if (best) {
            /* OpenBLAS reads this once, in its load-time constructor; it is removed again
             * right after so that child processes see the environment the user set. */
            status.choice = CK_CHOSEN_FROM_FEATURES;
            copy(requested_name, sizeof requested_name, best);
            status.requested = requested_name;
            forced = setenv("OPENBLAS_CORETYPE", best, 1) == 0;
        } else {
            status.choice = CK_CHOSEN_BY_OPENBLAS;
        }
        handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
        if (forced) unsetenv("OPENBLAS_CORETYPE");
    }
    if (!handle) {
        status.choice = CK_NOT_LOADED;
        const char *why = dlerror();
        snprintf(message, sizeof message,
                 "OpenBLAS could not be loaded (%s); matrix products run on the portable built-in kernel, "
                 "about 10x slower. Install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0) or set "
                 "CLEANCLIP_OPENBLAS to the path of libopenblas.so.",
                 why ? why : library);
        status.message = message;
        return;
    }
    sgemm_fn sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    if (!sgemm) {
        status.choice = CK_NOT_LOADED;
        snprintf(message, sizeof message,
                 "%s has no cblas_sgemm; matrix products run on the portable built-in kernel, about 10x slower.",
                 library);
        status.message = message;
        return;
    }
    /* Our pool splits the products; OpenBLAS's own threads would only compete with it. */
    void (*set_threads)(int) = (void (*)(int))dlsym(handle, "openblas_set_num_threads");
    if (set_threads) set_threads(1);
    char *(*corename)(void) = (char *(*)(void))dlsym(handle, "openblas_get_corename");
    char *(*get_config)(void) = (char *(*)(void))dlsym(handle, "openblas_get_config");
    copy(core_name, sizeof core_name, corename ? corename() : "unknown");
    copy(config, sizeof config, get_config ? get_config() : "");
    status.core = core_name;
    status.config = config;

    if (status.choice == CK_CHOSEN_FROM_FEATURES && strcasecmp(core_name, requested_name) != 0) {
        snprintf(message, sizeof message,
                 "Asked OpenBLAS for its %s kernel, which this CPU supports, but it runs %s "
                 "(a build without that kernel, or without DYNAMIC_ARCH).", requested_name, core_name);
        status.message = message;
    } else if (status.choice == CK_ALREADY_LOADED && best && strcasecmp(core_name, best) != 0) {
        snprintf(message, sizeof message,
                 "OpenBLAS was loaded into this process before libcleanclip could choose its kernel: it runs %s, "
                 "this CPU supports %s. Set OPENBLAS_CORETYPE=%s in the environment before starting the program.",
                 core_name, best, best);
        status.message = message;
    }
    blas_sgemm = sgemm;  /* last: the portable kernel serves until everything above is set */
}

const ck_blas_status_t *ck_blas_status(void) {
    pthread_once(&once, load);
    return &status;
}

void ck_sgemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    pthread_once(&once, load);
    if (k <= 0 || !blas_sgemm) {
        /* BLAS leaves C untouched for k == 0 only when beta == 1; the portable kernel scales. */
        ck_sgemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    blas_sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
               beta, c, ldc);
}

/* One product split into `parts` column blocks (split_n) or row blocks of `step` each;
 * with `bias`, each part first writes the bias into its own block (beta is then 1). */
typedef struct {
    bool trans_a, trans_b, split_n;
    int m, n, k, lda, ldb, ldc, step;
    float alpha, beta;
    const float *a, *b, *bias;
    float *c;
} gemm_job;

/* c[i][j] = bias[j] for the block rows x cols. */
static void fill_bias(float *c, int ldc, int rows, int cols, const float *bias) {
    for (int i = 0; i < rows; i++) memcpy(c + (long)i * ldc, bias, (size_t)cols * sizeof *bias);
}

static void gemm_part(void *context, long part) {
    const gemm_job *j = context;
    int start = (int)part * j->step;
    if (j->split_n) {
        int width = j->n - start < j->step ? j->n - start : j->step;
        const float *b = j->trans_b ? j->b + (long)start * j->ldb : j->b + start;
        if (j->bias) fill_bias(j->c + start, j->ldc, j->m, width, j->bias + start);
        ck_sgemm_serial(j->trans_a, j->trans_b, j->m, width, j->k, j->alpha, j->a, j->lda, b, j->ldb, j->beta,
                        j->c + start, j->ldc);
    } else {
        int height = j->m - start < j->step ? j->m - start : j->step;
        const float *a = j->trans_a ? j->a + start : j->a + (long)start * j->lda;
        if (j->bias) fill_bias(j->c + (long)start * j->ldc, j->ldc, height, j->n, j->bias);
        ck_sgemm_serial(j->trans_a, j->trans_b, height, j->n, j->k, j->alpha, a, j->lda, j->b, j->ldb, j->beta,
                        j->c + (long)start * j->ldc, j->ldc);
    }
}

static void sgemm_split(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, const float *bias, float beta, float *c, int ldc) {
    /* Below about 2M multiply-adds (tens of microseconds) a split costs more than it saves. */
    pthread_once(&once, load);
    int threads = ck_threads();
    if (bias) {
        beta = 1;
        if (m <= 0 || n <= 0) return;
    }
    /* Split the larger dimension: each part then packs the shared operand once, as OpenBLAS's
     * threaded driver would (measured equal or faster on ViT, text and ResNet shapes). Blocks
     * are multiples of the kernels' register tiles (32 columns, 16 rows). */
    bool split_n = n >= m;
    int dim = split_n ? n : m, align = split_n ? 32 : 16;
    int parts = dim / align < threads ? dim / align : threads;
    if (threads <= 1 || (double)m * n * k < 2e6 || !blas_sgemm || parts <= 1) {
        if (bias) fill_bias(c, ldc, m, n, bias);
        ck_sgemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int step = ((dim + parts - 1) / parts + align - 1) / align * align;
    parts = (dim + step - 1) / step;
    gemm_job job = {trans_a, trans_b, split_n, m, n, k, lda, ldb, ldc, step, alpha, beta, a, b, bias, c};
    ck_pool_run(parts, gemm_part, &job);
}

void ck_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    sgemm_split(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, beta, c, ldc);
}

void ck_sgemm_bias(bool trans_a, bool trans_b, int m, int n, int k, const float *a, int lda,
                   const float *b, int ldb, const float *bias, float *c, int ldc) {
    sgemm_split(trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, bias, 0, c, ldc);
}

int ck_image_path(const void *address, char *buffer, size_t capacity) {
    Dl_info info;
    if (!dladdr(address, &info) || !info.dli_fname || capacity == 0) return -1;
    snprintf(buffer, capacity, "%s", info.dli_fname);
    return 0;
}
