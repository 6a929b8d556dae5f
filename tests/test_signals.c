/* Signals during training and embedding: a profiler-style SIGPROF every 50 us of CPU time never
 * corrupts the heap (oneDNN's JIT gemm points the stack pointer into the heap; the library holds
 * asynchronous signals off its computing threads, base/signal_hold.h), every signal is still
 * delivered, and the caller's signal mask is its own again after each call. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "base/signal_hold.h"
#include "siamese.h"

static volatile sig_atomic_t signals_seen;
static void count_signal(int sig) {
    (void)sig;
    signals_seen++;
}

/* A SIGPROF handler and a timer firing it every 50 us of the process's CPU time. */
static void start_profiler_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGPROF, &sa, NULL), 0);
    struct itimerval every = {{0, 50}, {0, 50}};
    cr_assert_eq(setitimer(ITIMER_PROF, &every, NULL), 0);
}

static void stop_profiler_signals(void) {
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_PROF, &off, NULL);
}

/* The MNIST-sized network whose inner products run oneDNN's JIT gemm, on 2 threads. */
static siamese_model *small_model(void) {
    siamese_model_params mp = siamese_model_default_params();
    mp.arch = "conv(16,k=3,p=1) relu maxpool(2) conv(32,k=3,p=1) relu maxpool(2) flatten "
              "linear(128) relu linear(64)";
    mp.channels = 1;
    mp.height = 28;
    mp.width = 28;
    mp.threads = 2;
    siamese_model *m = NULL;
    cr_assert_eq(siamese_model_create(&mp, &m), SIAMESE_OK);
    return m;
}

static float *noise(size_t n, unsigned seed) {
    float *v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    srand(seed);
    for (size_t i = 0; i < n; i++) v[i] = (float)rand() / (float)RAND_MAX;
    return v;
}

static int sigprof_blocked(void) {
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    return sigismember(&now, SIGPROF);
}

Test(signals, training_steps_under_a_signal_storm) {
    siamese_model *m = small_model();
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(m, NULL, &t), SIAMESE_OK);
    enum { PAIRS = 16 };
    size_t floats = (size_t)PAIRS * 28 * 28;
    float *a = noise(floats, 1), *b = noise(floats, 2), labels[PAIRS];
    for (int i = 0; i < PAIRS; i++) labels[i] = (float)(i & 1);
    start_profiler_signals();
    for (int step = 0; step < 80; step++) {
        float loss = 0;
        cr_assert_eq(siamese_trainer_step(t, a, b, labels, PAIRS, &loss), SIAMESE_OK, "step %d",
                     step);
        cr_assert(!sigprof_blocked(), "step %d left SIGPROF blocked in the caller", step);
        free(malloc(1000 + (size_t)step)); /* the heap stays usable between steps */
    }
    stop_profiler_signals();
    cr_assert_gt(signals_seen, 0, "no SIGPROF was delivered: the timer did not run");
    free(a);
    free(b);
    siamese_trainer_free(t);
    siamese_model_free(m);
}

Test(signals, embedding_under_a_signal_storm) {
    siamese_model *m = small_model();
    enum { IMAGES = 32 };
    float *images = noise((size_t)IMAGES * 28 * 28, 3), *emb = malloc(IMAGES * 64 * sizeof(float));
    cr_assert_not_null(emb);
    start_profiler_signals();
    for (int call = 0; call < 80; call++) {
        cr_assert_eq(siamese_model_embed(m, images, IMAGES, emb), SIAMESE_OK, "call %d", call);
        cr_assert(!sigprof_blocked(), "call %d left SIGPROF blocked in the caller", call);
    }
    stop_profiler_signals();
    cr_assert_gt(signals_seen, 0, "no SIGPROF was delivered: the timer did not run");
    free(images);
    free(emb);
    siamese_model_free(m);
}

Test(signals, a_hold_blocks_asynchronous_signals_only_until_released) {
    sm_signal_hold hold = sm_signals_hold(1);
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    cr_assert(sigismember(&now, SIGPROF) && sigismember(&now, SIGINT) &&
              sigismember(&now, SIGUSR1) && sigismember(&now, SIGTERM));
    cr_assert(!sigismember(&now, SIGSEGV) && !sigismember(&now, SIGBUS) &&
              !sigismember(&now, SIGFPE) && !sigismember(&now, SIGABRT));
    sm_signals_release(hold);
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    cr_assert(!sigismember(&now, SIGPROF) && !sigismember(&now, SIGINT));
}
