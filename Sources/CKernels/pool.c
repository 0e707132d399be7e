/* The fork-join worker pool (see ck_pool.h). */
#define _GNU_SOURCE
#include "ck_pool.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { MAX_WORKERS = 255, SPIN_ROUNDS = 1 << 14 };  /* 2^14 pause rounds: about 0.1 ms */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long futex(atomic_int *addr, int op, int value) {
    return syscall(SYS_futex, (int *)addr, op, value, NULL, NULL, 0);
}

/* The job being run. Workers read it only between seeing a new generation and reporting done
 * for it; the submitter changes it only after every worker has reported done. */
static struct {
    ck_task_fn fn;
    void *context;
    long tasks;
    atomic_long next;
} job;

static atomic_int generation;          /* bumped once per job; workers wait on it */
static atomic_int sleepers;            /* workers blocked in futex wait */
static atomic_int done[MAX_WORKERS];   /* the last generation each worker finished */
static pthread_t workers[MAX_WORKERS];
static int started;                    /* workers running (only changed under `submit`) */
static int wanted = 0;                 /* threads asked for, caller included; 0 = not set */
static pthread_mutex_t submit = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool stopping;

static void work(void) {
    for (;;) {
        long t = atomic_fetch_add_explicit(&job.next, 1, memory_order_relaxed);
        if (t >= job.tasks) return;
        job.fn(job.context, t);
    }
}

static void *worker_main(void *arg) {
    int index = (int)(long)arg;
    int seen = atomic_load(&done[index]);  /* the generation when it was created (a job may already be waiting) */
    pthread_setname_np(pthread_self(), "cleanclip-work");
    for (;;) {
        int g;
        for (int spin = 0; (g = atomic_load_explicit(&generation, memory_order_acquire)) == seen; spin++) {
            if (spin < SPIN_ROUNDS) { cpu_relax(); continue; }
            atomic_fetch_add(&sleepers, 1);
            if (atomic_load(&generation) == seen) futex(&generation, FUTEX_WAIT_PRIVATE, seen);
            atomic_fetch_sub(&sleepers, 1);
            spin = 0;
        }
        seen = g;
        if (atomic_load(&stopping)) return NULL;
        work();
        atomic_store_explicit(&done[index], g, memory_order_release);
    }
}

static void stop_workers(void) {
    if (!started) return;
    atomic_store(&stopping, true);
    atomic_fetch_add(&generation, 1);
    futex(&generation, FUTEX_WAKE_PRIVATE, INT_MAX);
    for (int i = 0; i < started; i++) pthread_join(workers[i], NULL);
    started = 0;
    atomic_store(&stopping, false);
}

static int default_threads(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Under `submit`: make the running workers match the wanted count. */
static void ensure_workers(void) {
    int want = (wanted ? wanted : default_threads()) - 1;
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    if (want < 0) want = 0;
    if (started == want) return;
    stop_workers();
    int g = atomic_load(&generation);
    for (int i = 0; i < want; i++) {
        atomic_store(&done[i], g);
        if (pthread_create(&workers[i], NULL, worker_main, (void *)(long)i) != 0) break;  /* run with fewer */
        started = i + 1;
    }
}

static void reset_in_child(void) {
    /* The workers did not survive fork(); the mutex may have been held by a thread that did
     * not either. Start over. */
    pthread_mutex_init(&submit, NULL);
    started = 0;
    atomic_store(&sleepers, 0);
    atomic_store(&stopping, false);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void install_atfork(void) { pthread_atfork(NULL, NULL, reset_in_child); }

void ck_set_threads(int n) {
    pthread_mutex_lock(&submit);
    wanted = n < 1 ? 1 : n;
    pthread_mutex_unlock(&submit);
}

int ck_threads(void) {
    pthread_mutex_lock(&submit);
    int n = wanted ? wanted : default_threads();
    pthread_mutex_unlock(&submit);
    return n;
}

void ck_pool_run(long tasks, ck_task_fn fn, void *context) {
    if (tasks <= 0) return;
    if (tasks == 1 || pthread_mutex_trylock(&submit) != 0) {
        /* One task, or the pool is busy (another host thread, or a task submitting): inline. */
        for (long t = 0; t < tasks; t++) fn(context, t);
        return;
    }
    pthread_once(&atfork_once, install_atfork);
    ensure_workers();
    if (started == 0) {
        for (long t = 0; t < tasks; t++) fn(context, t);
        pthread_mutex_unlock(&submit);
        return;
    }
    job.fn = fn;
    job.context = context;
    job.tasks = tasks;
    atomic_store_explicit(&job.next, 0, memory_order_relaxed);
    int g = atomic_fetch_add(&generation, 1) + 1;  /* seq_cst: pairs with the sleepers check */
    if (atomic_load(&sleepers) > 0) futex(&generation, FUTEX_WAKE_PRIVATE, INT_MAX);
    work();
    for (int i = 0; i < started; i++) {
        for (int spin = 0; atomic_load_explicit(&done[i], memory_order_acquire) != g; spin++) {
            if (spin < SPIN_ROUNDS) cpu_relax(); else { sched_yield(); spin = 0; }
        }
    }
    pthread_mutex_unlock(&submit);
}
