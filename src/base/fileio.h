/* File helpers: read a whole file, atomic writes (temporary file, fsync, rename), folders. */
#ifndef SM_FILEIO_H
#define SM_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "base/errors.h"

/* Reads the whole file into a malloc'd buffer (NUL-terminated for convenience; *size excludes
 * the NUL). Errors name the path and the reason. */
siamese_status sm_read_file(const char *path, unsigned char **data, size_t *size, sm_err *err);
/* The same, refusing (SIAMESE_ERR_LIMIT) a file larger than max_bytes. */
siamese_status sm_read_file_max(const char *path, size_t max_bytes, unsigned char **data,
                                size_t *size, sm_err *err);

/* An atomic write in progress: write to ->fp, then commit or abort. */
typedef struct sm_atomic_file {
    FILE *fp;
    char *final_path;
    char *tmp_path;
    struct sm_atomic_sink *sink; /* the descriptor under fp and its first write error */
} sm_atomic_file;

/* Creates "<path>.tmp.XXXXXX" in the same folder. */
siamese_status sm_atomic_open(sm_atomic_file *af, const char *path, sm_err *err);
/* Flushes, fsyncs, renames over path and fsyncs the folder. On failure the temp file is removed,
 * the old file at path (if any) is untouched, and the message names path and the reason of the
 * first failed write (e.g. "No space left on device"), even one whose result was not checked. */
siamese_status sm_atomic_commit(sm_atomic_file *af, sm_err *err);
/* Removes the temporary file; the old file at path is untouched. Safe after commit. */
void sm_atomic_abort(sm_atomic_file *af);
/* After a write to af->fp failed (call it at once, errno still holds the reason): removes the
 * temporary file and records SIAMESE_ERR_IO "<path>: write failed: <reason>" (e.g. "No space
 * left on device") in err; returns SIAMESE_ERR_IO. The old file at path is untouched. */
siamese_status sm_atomic_fail(sm_atomic_file *af, sm_err *err);

/* Creates the folder path and any missing parent folders (mkdir -p). A folder already there is
 * fine; a file in the way is an error naming it. */
siamese_status sm_make_dirs(const char *path, sm_err *err);
/* The outermost of path and its parents that does not exist yet (what sm_make_dirs would
 * create first), malloc'd; NULL when path exists already (or memory runs out). */
char *sm_first_missing_dir(const char *path);
/* Undoes sm_make_dirs: removes the empty folder path and its parents up to and including top (a
 * prefix of path, from sm_first_missing_dir), innermost first; stops at the first folder that
 * cannot be removed (one that is not empty is kept). Best effort. */
void sm_remove_dirs_up_to(const char *path, const char *top);

/* ---- folder listing (dir_list.c) */
typedef struct sm_dir_list {
    char **names; /* sorted by strcmp, hidden entries skipped */
    int count;
} sm_dir_list;
/* Lists the entries of dir: want_dirs selects subfolders (1) or regular files (0). */
siamese_status sm_list_dir(const char *dir, int want_dirs, sm_dir_list *out, sm_err *err);
void sm_dir_list_free(sm_dir_list *list);
int sm_is_dir(const char *path);

#endif
