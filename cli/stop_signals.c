/* Ctrl-C and SIGUSR1 taken by a watcher thread, never by a thread that computes: oneDNN's JIT
 * gemm kernels point the stack pointer into the heap while they run (oneDNN issue 4845), so a
 * handler run on such a thread writes its signal frame over the heap (glibc then aborts with
 * "corrupted size vs. prev_size"). With both signals blocked in every thread, only sigwait in the
 * watcher takes them. */
#include "stop_signals.h"

#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "siamese.h"

static volatile sig_atomic_t *watched;
static int watcher_running;

/* The signal's default action (the process ends as if the signal had never been blocked), after
 * removing the temporary files of the writes in progress. */
static void act_by_default(int sig) {
    siamese_remove_unfinished_writes();
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    signal(sig, SIG_DFL);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
}

/* The stop signals, and those that end the process (after act_by_default's clean-up). */
static void stop_signal_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

static void *watch_signals(void *arg) {
    (void)arg;
    sigset_t set;
    stop_signal_set(&set);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        volatile sig_atomic_t *flag = __atomic_load_n(&watched, __ATOMIC_ACQUIRE);
        if (!flag || sig == SIGTERM || sig == SIGHUP || (sig == SIGINT && *flag))
            act_by_default(sig); /* no run to stop, an ending signal, or a second Ctrl-C */
        *flag = 1;
    }
    return NULL;
}

int cli_stop_signals_start(void) {
    sigset_t set, old;
    stop_signal_set(&set);
    if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0) return -1;
    pthread_t thread;
    pthread_attr_t attr;
    int ok = pthread_attr_init(&attr) == 0;
    if (ok) pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ok = ok && pthread_create(&thread, &attr, watch_signals, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    watcher_running = 1;
    return 0;
}

/* Without the watcher: a handler on whichever thread the signal lands. */
static volatile sig_atomic_t *handler_flag;
static void on_stop_signal(int sig) {
    (void)sig;
    *handler_flag = 1;
}

static void install_handler(int sig, int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART | flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

void cli_stop_signals_watch(volatile sig_atomic_t *flag) {
    if (watcher_running) {
        __atomic_store_n(&watched, flag, __ATOMIC_RELEASE);
        return;
    }
    handler_flag = flag;
    install_handler(SIGINT, SA_RESETHAND); /* a second Ctrl-C stops at once */
    install_handler(SIGUSR1, 0);
}
