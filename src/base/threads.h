/* Thread counts scoped to one library call: no process-wide OpenMP setting outlives a call. */
#ifndef SM_THREADS_H
#define SM_THREADS_H

/* The calling thread's OpenMP thread count (nthreads-var) before a scoped call. */
typedef struct sm_threads_scope {
    int saved; /* 0: nothing was changed */
} sm_threads_scope;

/* Runs the rest of the call with threads OpenMP threads (threads <= 0: the caller's own setting,
 * by default all cores or OMP_NUM_THREADS). oneDNN 2.6 built for the OpenMP runtime sizes every
 * primitive and every parallel region by omp_get_max_threads() of the calling thread and offers
 * no per-call thread count, so the count is set as this thread's OpenMP setting here and the
 * caller's restored by sm_threads_leave. OpenMP keeps that setting per thread: models used from
 * different threads never see each other's counts. Our own parallel loops inside the call follow
 * the same setting. */
sm_threads_scope sm_threads_enter(int threads);
void sm_threads_leave(sm_threads_scope scope);

#endif
