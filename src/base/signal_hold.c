/* Asynchronous signals held off the threads that run oneDNN's JIT code (see signal_hold.h). */
#include "base/signal_hold.h"

#include <omp.h>
#include <pthread.h>

/* The OpenMP team size of this thread whose threads block asynchronous signals for good. */
static _Thread_local int team_blocked;

static void asynchronous_signals(sigset_t *set) {
    static const int synchronous[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
    sigfillset(set);
    for (size_t i = 0; i < sizeof synchronous / sizeof synchronous[0]; i++)
        sigdelset(set, synchronous[i]);
}

/* oneDNN runs its kernels on the OpenMP team of the calling thread, whose threads may predate any
 * hold (made by an earlier parallel loop): they block the signals once, and keep them blocked. */
static void block_in_team(int team, const sigset_t *set) {
    if (team <= 0) team = omp_get_max_threads();
    if (team <= 1 || team <= team_blocked) return;
#pragma omp parallel num_threads(team)
    pthread_sigmask(SIG_BLOCK, set, NULL);
    team_blocked = team;
}

sm_signal_hold sm_signals_hold(int team) {
    sm_signal_hold hold;
    sigset_t set;
    asynchronous_signals(&set);
    hold.held = pthread_sigmask(SIG_BLOCK, &set, &hold.saved) == 0;
    block_in_team(team, &set);
    return hold;
}

void sm_signals_release(sm_signal_hold hold) {
    if (hold.held) pthread_sigmask(SIG_SETMASK, &hold.saved, NULL);
}
