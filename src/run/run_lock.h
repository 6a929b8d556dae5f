/* An advisory lock on a run folder: one training process writes a run folder at a time. */
#ifndef SM_RUN_LOCK_H
#define SM_RUN_LOCK_H

#include "base/errors.h"

/* Zero-initialised means "not held". */
typedef struct sm_run_lock {
    int fd;   /* the open lock file while held */
    int held; /* 1 while held */
} sm_run_lock;

/* The lock file's name inside the run folder. */
#define SM_RUN_LOCK_NAME ".lock"

/* Takes an exclusive flock on "<dir>/.lock" (created when missing) without waiting, and writes
 * this process's pid into it. When another process holds it, fails at once (SIAMESE_ERR_IO) with a
 * message naming the folder and the holder's pid. The kernel drops the lock when its holder exits,
 * however it exits, so a lock left by a killed run never blocks a resume. Once held, removes the
 * temporary files ("<name>.tmp.XXXXXX") that a writer killed mid-write left in dir. */
siamese_status sm_run_lock_take(sm_run_lock *lock, const char *dir, sm_err *err);

/* Releases the lock (the file stays; its pid is cleared). A lock not held is a no-op. */
void sm_run_lock_release(sm_run_lock *lock);

#endif
