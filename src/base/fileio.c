/* File helpers: read a whole file into memory, and atomic writes via a temporary file + rename. */
#define _GNU_SOURCE /* fopencookie: an atomic write's stream keeps the reason a write failed */
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/unfinished_writes.h"
#include "base/util.h"

/* Reads exactly size bytes from fd into buf; returns 0 or an errno value (EIO if the file
 * shrank while being read). */
static int read_exactly(int fd, unsigned char *buf, size_t size) {
    size_t done = 0;
    while (done < size) {
        ssize_t got = read(fd, buf + done, size - done);
        if (got < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (got == 0) return EIO;
        done += (size_t)got;
    }
    return 0;
}

siamese_status sm_read_file(const char *path, unsigned char **data, size_t *size, sm_err *err) {
    return sm_read_file_max(path, SIZE_MAX - 1, data, size, err);
}

siamese_status sm_read_file_max(const char *path, size_t max_bytes, unsigned char **data,
                                size_t *size, sm_err *err) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sm_fail(err, SIAMESE_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > (uint64_t)max_bytes ||
        (uint64_t)st.st_size >= (uint64_t)SIZE_MAX) {
        close(fd);
        return sm_fail(err, SIAMESE_ERR_LIMIT, "%s: file of %lld bytes is too large", path,
                       (long long)st.st_size);
    }
    size_t len = (size_t)st.st_size;
    unsigned char *buf = malloc(len + 1);
    if (!buf) {
        close(fd);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, len);
    }
    int e = read_exactly(fd, buf, len);
    close(fd);
    if (e != 0) {
        free(buf);
        return sm_fail(err, SIAMESE_ERR_IO, "%s: read failed: %s", path, strerror(e));
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return SIAMESE_OK;
}

/* A malloc'd copy of s with suffix appended, or NULL. */
static char *concat(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    char *out = malloc(a + b + 1);
    if (!out) return NULL;
    memcpy(out, s, a);
    memcpy(out + a, suffix, b + 1);
    return out;
}

static void free_paths(sm_atomic_file *af) {
    if (af->tmp_path) sm_unfinished_drop(af->tmp_path);
    free(af->final_path);
    free(af->tmp_path);
    af->final_path = NULL;
    af->tmp_path = NULL;
}

/* The file under an atomic write's stream. stdio forgets why a buffered write failed (after a
 * failed flush, errno says nothing and a second fflush succeeds), so the stream writes through
 * this sink, which keeps the first error for the message. */
typedef struct sm_atomic_sink {
    int fd;
    int error; /* errno of the first failed write, 0 while none failed */
} sm_atomic_sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t size) {
    sm_atomic_sink *sink = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t put = write(sink->fd, buf + done, size - done);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) {
            if (!sink->error) sink->error = put < 0 ? errno : EIO;
            errno = sink->error;
            return 0; /* fopencookie: 0 is an error */
        }
        done += (size_t)put;
    }
    return (ssize_t)done;
}

static int sink_close(void *cookie) {
    sm_atomic_sink *sink = cookie;
    int rc = close(sink->fd);
    free(sink);
    return rc;
}

/* A write-only stream on fd whose failures are kept in *sink; NULL (fd closed) on failure. */
static FILE *open_sink(int fd, sm_atomic_sink **sink) {
    *sink = calloc(1, sizeof **sink);
    if (!*sink) {
        close(fd);
        return NULL;
    }
    (*sink)->fd = fd;
    cookie_io_functions_t io = {NULL, sink_write, NULL, sink_close};
    FILE *fp = fopencookie(*sink, "wb", io);
    if (!fp) {
        sink_close(*sink);
        *sink = NULL;
    }
    return fp;
}

/* The permissions of the file at path: a file it replaces keeps its own (a read-only model stays
 * read-only), a new one gets the usual ones the umask allows (mkstemp makes 0600). */
static mode_t new_file_mode(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) return sb.st_mode & 07777;
    mode_t mask = umask(0);
    umask(mask);
    return 0666 & ~mask;
}

siamese_status sm_atomic_open(sm_atomic_file *af, const char *path, sm_err *err) {
    af->fp = NULL;
    af->sink = NULL;
    af->final_path = sm_strdup(path);
    af->tmp_path = concat(path, ".tmp.XXXXXX");
    if (!af->final_path || !af->tmp_path) {
        free_paths(af);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    }
    int fd = sm_unfinished_create(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        free_paths(af);
        return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot create the file (its temporary copy): %s",
                       path, strerror(e));
    }
    (void)fchmod(fd, new_file_mode(path));
    af->fp = open_sink(fd, &af->sink);
    if (!af->fp) {
        int e = errno ? errno : ENOMEM;
        unlink(af->tmp_path);
        free_paths(af);
        return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot open temporary file: %s", path,
                       strerror(e));
    }
    return SIAMESE_OK;
}

/* fsyncs the folder holding path so the rename itself is durable; returns 0 or an errno. */
static int sync_folder(const char *path) {
    char *dir = sm_folder_of(path);
    if (!dir) return ENOMEM;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0) return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    /* Some file systems refuse fsync on folders; that does not make the write less atomic. */
    if (rc == EINVAL || rc == EBADF) rc = 0;
    return rc;
}

/* The reason of the first failed write to af, or fallback when none is known. */
static int write_error(const sm_atomic_file *af, int fallback) {
    return af->sink && af->sink->error ? af->sink->error : fallback ? fallback : EIO;
}

/* Flushes and fsyncs af->fp, then closes it; returns 0 or an errno value. */
static int flush_and_close(sm_atomic_file *af) {
    int rc = 0;
    if (fflush(af->fp) != 0) rc = write_error(af, errno);
    if (ferror(af->fp) && rc == 0) rc = write_error(af, EIO);
    if (rc == 0 && fsync(af->sink->fd) != 0) rc = errno;
    if (fclose(af->fp) != 0 && rc == 0) rc = errno ? errno : EIO; /* fclose frees the sink */
    af->fp = NULL;
    af->sink = NULL;
    return rc;
}

siamese_status sm_atomic_commit(sm_atomic_file *af, sm_err *err) {
    if (!af->fp || !af->tmp_path)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "atomic write: no file open");
    errno = 0;
    int e = flush_and_close(af);
    if (e != 0) {
        sm_fail(err, SIAMESE_ERR_IO, "%s: write failed: %s", af->final_path, strerror(e));
        sm_atomic_abort(af);
        return SIAMESE_ERR_IO;
    }
    if (rename(af->tmp_path, af->final_path) != 0) {
        e = errno;
        sm_fail(err, SIAMESE_ERR_IO, "%s: cannot rename temporary file into place: %s",
                af->final_path, strerror(e));
        sm_atomic_abort(af);
        return SIAMESE_ERR_IO;
    }
    e = sync_folder(af->final_path);
    siamese_status status = SIAMESE_OK;
    if (e != 0)
        status =
            sm_fail(err, SIAMESE_ERR_IO, "%s: cannot sync folder: %s", af->final_path, strerror(e));
    free_paths(af);
    return status;
}

void sm_atomic_abort(sm_atomic_file *af) {
    if (!af) return;
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
        af->sink = NULL;
    }
    if (af->tmp_path) unlink(af->tmp_path);
    free_paths(af);
}

siamese_status sm_atomic_fail(sm_atomic_file *af, sm_err *err) {
    int e = errno;
    if (!af || !af->final_path)
        return sm_fail(err, SIAMESE_ERR_IO, "write failed: %s", strerror(e ? e : EIO));
    e = write_error(af, e);
    sm_fail(err, SIAMESE_ERR_IO, "%s: write failed: %s", af->final_path, strerror(e));
    sm_atomic_abort(af);
    return SIAMESE_ERR_IO;
}

/* mkdir of one folder; EEXIST is fine when a folder is there. */
static int make_one_dir(const char *path) {
    struct stat sb;
    if (mkdir(path, 0777) == 0) return 0;
    if (errno == EEXIST && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
    if (errno == EEXIST) errno = ENOTDIR;
    return -1;
}

siamese_status sm_make_dirs(const char *path, sm_err *err) {
    if (!path || !*path) return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "no folder name");
    char *copy = sm_strdup(path);
    if (!copy) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_status st = SIAMESE_OK;
    /* each parent in turn ("a", "a/b", ...), then the folder itself */
    for (char *p = copy + 1; st == SIAMESE_OK && *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = '\0';
        if (make_one_dir(copy) != 0)
            st = sm_fail(err, SIAMESE_ERR_IO, "%s: cannot create the folder %s: %s", path, copy,
                         strerror(errno));
        *p = '/';
    }
    if (st == SIAMESE_OK && make_one_dir(copy) != 0)
        st =
            sm_fail(err, SIAMESE_ERR_IO, "%s: cannot create the folder: %s", path, strerror(errno));
    free(copy);
    return st;
}

char *sm_first_missing_dir(const char *path) {
    struct stat sb;
    char *copy = path && *path ? sm_strdup(path) : NULL;
    if (!copy) return NULL;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = '\0';
        if (stat(copy, &sb) != 0 && errno == ENOENT) return copy;
        *p = '/';
    }
    if (stat(copy, &sb) != 0 && errno == ENOENT) return copy;
    free(copy);
    return NULL;
}

void sm_remove_dirs_up_to(const char *path, const char *top) {
    char *copy = path && top ? sm_strdup(path) : NULL;
    if (!copy) return;
    size_t len = strlen(copy), top_len = strlen(top);
    while (len > 1 && copy[len - 1] == '/') copy[--len] = '\0';
    while (len >= top_len && rmdir(copy) == 0 && len > top_len) {
        while (len > 0 && copy[len - 1] != '/') len--; /* drop the last name */
        while (len > 1 && copy[len - 1] == '/') len--; /* and the slashes before it */
        copy[len] = '\0';
    }
    free(copy);
}
