/* Loads OpenBLAS at run time after choosing its kernel (see copenblas.h for why). */
#define _GNU_SOURCE
#include "copenblas.h"

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
static void (*blas_set_threads)(int);
static int (*blas_get_threads)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static ccb_status_t status;
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

    ccb_cpu_features features;
    ccb_detect_cpu(&features);
    const char *best = ccb_core_for(&features);

    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (handle) {
        status.choice = CCB_ALREADY_LOADED;
    } else {
        const char *user = getenv("OPENBLAS_CORETYPE");
        bool forced = false;
        if (user && *user) {
            status.choice = CCB_CHOSEN_BY_USER;
            copy(requested_name, sizeof requested_name, user);
            status.requested = requested_name;
        } else if (best) {
            /* OpenBLAS reads this once, in its load-time constructor; it is removed again
             * right after so that child processes see the environment the user set. */
            status.choice = CCB_CHOSEN_FROM_FEATURES;
            copy(requested_name, sizeof requested_name, best);
            status.requested = requested_name;
            forced = setenv("OPENBLAS_CORETYPE", best, 1) == 0;
        } else {
            status.choice = CCB_CHOSEN_BY_OPENBLAS;
        }
        handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
        if (forced) unsetenv("OPENBLAS_CORETYPE");
    }
    if (!handle) {
        status.choice = CCB_NOT_LOADED;
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
        status.choice = CCB_NOT_LOADED;
        snprintf(message, sizeof message,
                 "%s has no cblas_sgemm; matrix products run on the portable built-in kernel, about 10x slower.",
                 library);
        status.message = message;
        return;
    }
    blas_set_threads = (void (*)(int))dlsym(handle, "openblas_set_num_threads");
    blas_get_threads = (int (*)(void))dlsym(handle, "openblas_get_num_threads");
    char *(*corename)(void) = (char *(*)(void))dlsym(handle, "openblas_get_corename");
    char *(*get_config)(void) = (char *(*)(void))dlsym(handle, "openblas_get_config");
    copy(core_name, sizeof core_name, corename ? corename() : "unknown");
    copy(config, sizeof config, get_config ? get_config() : "");
    status.core = core_name;
    status.config = config;

    if (status.choice == CCB_CHOSEN_FROM_FEATURES && strcasecmp(core_name, requested_name) != 0) {
        snprintf(message, sizeof message,
                 "Asked OpenBLAS for its %s kernel, which this CPU supports, but it runs %s "
                 "(a build without that kernel, or without DYNAMIC_ARCH).", requested_name, core_name);
        status.message = message;
    } else if (status.choice == CCB_ALREADY_LOADED && best && strcasecmp(core_name, best) != 0) {
        snprintf(message, sizeof message,
                 "OpenBLAS was loaded into this process before libcleanclip could choose its kernel: it runs %s, "
                 "this CPU supports %s. Set OPENBLAS_CORETYPE=%s in the environment before starting the program.",
                 core_name, best, best);
        status.message = message;
    }
    blas_sgemm = sgemm;  /* last: the portable kernel serves until everything above is set */
}

const ccb_status_t *ccb_status(void) {
    pthread_once(&once, load);
    return &status;
}

void ccb_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    pthread_once(&once, load);
    if (k <= 0 || !blas_sgemm) {
        /* BLAS leaves C untouched for k == 0 only when beta == 1; the portable kernel scales. */
        ccb_sgemm_portable(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    blas_sgemm(ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb,
               beta, c, ldc);
}

void ccb_set_threads(int n) {
    pthread_once(&once, load);
    if (blas_set_threads) blas_set_threads(n < 1 ? 1 : n);
}

int ccb_get_threads(void) {
    pthread_once(&once, load);
    return blas_get_threads ? blas_get_threads() : 1;
}
