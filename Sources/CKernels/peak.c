/* The cores' arithmetic limit (see ck_peak.h). */
#include "ck_peak.h"
#include "ck_blas.h"
#include "ck_pool.h"

#include <stdatomic.h>
#include <time.h>

/* Each task runs STEPS rounds of *_CHAINS independent vector multiply-adds: enough chains to
 * cover the FMA latency (4 cycles) times the FMA ports (2) of current x86 cores, few enough
 * to stay in registers with the two constants. */
enum { STEPS = 1 << 18, SCALAR_CHAINS = 8, SSE_CHAINS = 12, AVX2_CHAINS = 10, AVX512_CHAINS = 12 };

typedef struct {
    int kind;
    _Atomic float sink;   /* keeps the results alive */
} peak_job;

enum { KIND_SCALAR, KIND_SSE, KIND_AVX2, KIND_AVX512 };
static const double FLOPS_PER_TASK[] = {
    [KIND_SCALAR] = 2.0 * SCALAR_CHAINS * STEPS,
    [KIND_SSE] = 2.0 * SSE_CHAINS * 4 * STEPS,
    [KIND_AVX2] = 2.0 * AVX2_CHAINS * 8 * STEPS,
    [KIND_AVX512] = 2.0 * AVX512_CHAINS * 16 * STEPS,
};
static const char *NAMES[] = {
    [KIND_SCALAR] = "scalar multiply + add",
    [KIND_SSE] = "SSE multiply + add",
    [KIND_AVX2] = "AVX2 FMA",
    [KIND_AVX512] = "AVX-512 FMA",
};

/* a <- a * 0.999 + 0.001 converges to 1: no overflow, no subnormals. */
static float scalar_chains(void) {
    volatile float seed = 0.5f;
    float a[SCALAR_CHAINS];
    for (int i = 0; i < SCALAR_CHAINS; i++) a[i] = seed + (float)i;
    for (long s = 0; s < STEPS; s++) {
        for (int i = 0; i < SCALAR_CHAINS; i++) a[i] = a[i] * 0.999f + 0.001f;
        __asm__ volatile("" : "+m"(a));   /* no vectorising or folding of the loop */
    }
    float t = 0;
    for (int i = 0; i < SCALAR_CHAINS; i++) t += a[i];
    return t;
}

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>

static float sse_chains(void) {
    __m128 a[SSE_CHAINS], b = _mm_set1_ps(0.999f), c = _mm_set1_ps(0.001f);
    for (int i = 0; i < SSE_CHAINS; i++) a[i] = _mm_set1_ps((float)i);
    for (long s = 0; s < STEPS; s++) {
#pragma unroll
        for (int i = 0; i < SSE_CHAINS; i++) a[i] = _mm_add_ps(_mm_mul_ps(a[i], b), c);
    }
    __m128 t = a[0];
    for (int i = 1; i < SSE_CHAINS; i++) t = _mm_add_ps(t, a[i]);
    return _mm_cvtss_f32(t);
}

__attribute__((target("avx2,fma"))) static float avx2_chains(void) {
    __m256 a[AVX2_CHAINS], b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(0.001f);
    for (int i = 0; i < AVX2_CHAINS; i++) a[i] = _mm256_set1_ps((float)i);
    for (long s = 0; s < STEPS; s++) {
#pragma unroll
        for (int i = 0; i < AVX2_CHAINS; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
    }
    __m256 t = a[0];
    for (int i = 1; i < AVX2_CHAINS; i++) t = _mm256_add_ps(t, a[i]);
    return _mm256_cvtss_f32(t);
}

__attribute__((target("avx512f"))) static float avx512_chains(void) {
    __m512 a[AVX512_CHAINS], b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(0.001f);
    for (int i = 0; i < AVX512_CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long s = 0; s < STEPS; s++) {
#pragma unroll
        for (int i = 0; i < AVX512_CHAINS; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
    }
    __m512 t = a[0];
    for (int i = 1; i < AVX512_CHAINS; i++) t = _mm512_add_ps(t, a[i]);
    return _mm512_reduce_add_ps(t);
}

static int best_kind(void) {
    ck_cpu_features f;
    ck_detect_cpu(&f);
    if (f.avx512f && f.os_avx512) return KIND_AVX512;
    if (f.avx2 && f.fma && f.os_avx) return KIND_AVX2;
    return KIND_SSE;
}
#else
static int best_kind(void) { return KIND_SCALAR; }
#endif

static void peak_task(void *context, long task) {
    (void)task;
    peak_job *job = context;
    float r;
    switch (job->kind) {
#if defined(__x86_64__) && defined(__clang__)
    case KIND_AVX512: r = avx512_chains(); break;
    case KIND_AVX2: r = avx2_chains(); break;
    case KIND_SSE: r = sse_chains(); break;
#endif
    default: r = scalar_chains(); break;
    }
    atomic_store_explicit(&job->sink, r, memory_order_relaxed);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

ck_peak ck_measure_peak(double seconds) {
    peak_job job = {.kind = best_kind()};
    /* Several tasks per thread, handed out dynamically: a thread that starts late only
     * shortens its share. */
    long tasks = 8L * ck_threads();
    ck_pool_run(tasks, peak_task, &job);   /* warm-up: wakes the workers, raises the clock */
    long runs = 0;
    double start = now(), elapsed;
    do {
        ck_pool_run(tasks, peak_task, &job);
        runs++;
        elapsed = now() - start;
    } while (elapsed < seconds);
    return (ck_peak){FLOPS_PER_TASK[job.kind] * (double)(tasks * runs) / elapsed / 1e9, NAMES[job.kind]};
}
