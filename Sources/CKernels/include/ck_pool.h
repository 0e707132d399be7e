/*
 * The worker threads behind every parallel loop and every matrix product.
 *
 * One pool runs everything: element-wise passes, attention heads, and the parts of a split
 * GEMM, each part a single-threaded OpenBLAS call. OpenBLAS's own threads stay off: a second
 * pool spinning beside ours made the two fight over the cores (sched_yield storms), and our
 * split GEMMs run as fast as OpenBLAS's threaded ones (see ck_sgemm_parallel).
 *
 * Workers spin for about 0.1 ms waiting for the next job (a model's forward pass submits one
 * every few microseconds to milliseconds) and then sleep on a futex. A job submitted while
 * another is running, or from inside a task, runs inline on the calling thread, so the pool
 * is safe to use from any number of host threads and never deadlocks. Fork-safe: a child
 * process starts with no workers and creates its own on first use.
 */
#ifndef CK_POOL_H
#define CK_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*ck_task_fn)(void *context, long task);

/* Threads that run jobs, the caller included (>= 1). Takes effect for the next job. */
void ck_set_threads(int n);
int ck_threads(void);

/* Runs fn(context, t) for every t in [0, tasks), spread over the pool; returns when all have
 * run. Tasks are handed out dynamically, so they may differ in cost. */
void ck_pool_run(long tasks, ck_task_fn fn, void *context);

#ifdef __cplusplus
}
#endif
#endif
