/* Ctrl-C, SIGUSR1, SIGTERM and SIGHUP taken by a watcher thread, never by a thread that computes. */
#ifndef SIAMESE_CLI_STOP_SIGNALS_H
#define SIAMESE_CLI_STOP_SIGNALS_H

#include <signal.h>

/* Called first thing, before any other thread exists: blocks SIGINT, SIGUSR1, SIGTERM and SIGHUP
 * in this thread (so in every thread made later: OpenMP's, the loader's, MPI's) and starts the
 * thread that waits for them. Until cli_stop_signals_watch names a flag, each ends the process as
 * its default action would, after removing the temporary files of the writes in progress
 * (siamese_remove_unfinished_writes); SIGTERM and SIGHUP always do. Returns 0, or -1 when no
 * thread could be started (the signals are left as they were). */
int cli_stop_signals_start(void);

/* From now on the first SIGINT or SIGUSR1 sets *flag (a stop request: the run stops after its
 * step, with a checkpoint); a second SIGINT ends the process at once. Without the watcher thread
 * (cli_stop_signals_start failed) plain handlers set the flag, as before. */
void cli_stop_signals_watch(volatile sig_atomic_t *flag);

#endif
