/* An advisory lock on a run folder (flock on "<dir>/.lock"), so that two training processes never
 * write the same run folder at once. */
#include "run/run_lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid the holder wrote into the lock file, or 0 when there is none (yet). */
static long holder_pid(int fd) {
    char text[32];
    ssize_t got = pread(fd, text, sizeof text - 1, 0);
    if (got <= 0) return 0;
    text[got] = '\0';
    char *end = NULL;
    long pid = strtol(text, &end, 10);
    return end != text && pid > 0 ? pid : 0;
}

/* Replaces the lock file's contents with this process's pid (best effort: the lock is the flock,
 * the pid only names its holder in the message of a process that is refused). */
static void record_pid(int fd) {
    char text[32];
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)len, 0) == len) (void)fsync(fd);
}

/* 1 when name is a temporary file of an atomic write ("<name>.tmp.XXXXXX", base/fileio.c). */
static int is_atomic_temp(const char *name) {
    size_t len = strlen(name);
    return len > 11 && !memcmp(name + len - 11, ".tmp.", 5);
}

/* Removes the temporary files that writers killed mid-write left in dir (only safe while this
 * process holds the folder's lock: no other process writes there). Best effort. */
static void sweep_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    int dfd = dirfd(d);
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (is_atomic_temp(e->d_name)) (void)unlinkat(dfd, e->d_name, 0);
    closedir(d);
}

siamese_status sm_run_lock_take(sm_run_lock *lock, const char *dir, sm_err *err) {
    lock->held = 0;
    lock->fd = -1;
    size_t size = strlen(dir) + sizeof "/" SM_RUN_LOCK_NAME;
    char *path = malloc(size);
    if (!path) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", dir);
    snprintf(path, size, "%s/%s", dir, SM_RUN_LOCK_NAME);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        siamese_status st =
            sm_fail(err, SIAMESE_ERR_IO, "%s: cannot open the run folder's lock: %s", path,
                    strerror(errno));
        free(path);
        return st;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
        close(fd);
        siamese_status st;
        if (e != EWOULDBLOCK)
            st = sm_fail(err, SIAMESE_ERR_IO, "%s: cannot lock the run folder: %s", path,
                         strerror(e));
        else if (pid > 0)
            st = sm_fail(err, SIAMESE_ERR_IO,
                         "%s is in use by another training process (pid %ld, holding %s); wait "
                         "for it to finish or stop it, or choose another folder",
                         dir, pid, path);
        else
            st = sm_fail(err, SIAMESE_ERR_IO,
                         "%s is in use by another training process (holding %s); wait for it to "
                         "finish or stop it, or choose another folder",
                         dir, path);
        free(path);
        return st;
    }
    free(path);
    record_pid(fd);
    sweep_temps(dir);
    lock->fd = fd;
    lock->held = 1;
    return SIAMESE_OK;
}

void sm_run_lock_release(sm_run_lock *lock) {
    if (!lock || !lock->held) return;
    int rc = ftruncate(lock->fd, 0); /* the pid of a finished run would only mislead */
    (void)rc;
    close(lock->fd); /* closing the only descriptor drops the flock */
    lock->fd = -1;
    lock->held = 0;
}
