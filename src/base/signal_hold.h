/* Asynchronous signals held off the threads that run oneDNN's JIT code, for the length of a run. */
#ifndef SM_SIGNAL_HOLD_H
#define SM_SIGNAL_HOLD_H

#include <signal.h>

/* The calling thread's signal mask before a hold. */
typedef struct sm_signal_hold {
    sigset_t saved;
    int held;
} sm_signal_hold;

/* Blocks every asynchronous signal (all but SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT and
 * SIGSYS) in the calling thread until sm_signals_release, and for good in the threads of its
 * OpenMP team of `team` threads (0: omp_get_max_threads(); done once per team size). oneDNN's JIT gemm kernels point the stack pointer into the heap
 * while they run, so a signal handler run on such a thread writes its frame over the heap (oneDNN
 * issue 4845): held, a process-directed signal goes to another thread, or waits for the release. */
sm_signal_hold sm_signals_hold(int team);
void sm_signals_release(sm_signal_hold hold);

#endif
