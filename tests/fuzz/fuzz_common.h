/* Shared by the fuzz harnesses: a private temporary folder and writing the input into a file
 * there, for the parsers that read a path. Test code only; never part of libsiamese. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fz_dir[256];

static inline int fz_remove_entry(const char *path, const struct stat *st, int flag,
                                  struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Removes the folder at exit (a crash leaves it, beside the crash file, for inspection). */
static inline void fz_remove_tmpdir(void) {
    if (fz_dir[0]) nftw(fz_dir, fz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A folder of this process (in /dev/shm when it exists), made on first use; aborts on failure. */
static inline const char *fz_tmpdir(void) {
    if (!fz_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_dir, sizeof fz_dir, "%s/siamese-fuzz-XXXXXX", base);
        if (!mkdtemp(fz_dir)) abort();
        atexit(fz_remove_tmpdir);
    }
    return fz_dir;
}

/* path = tmpdir/name (aborts when it does not fit). */
static inline void fz_path(char *path, size_t size, const char *name) {
    if ((size_t)snprintf(path, size, "%s/%s", fz_tmpdir(), name) >= size) abort();
}

/* Writes the input into tmpdir/name, replacing what it held; returns the path (static storage)
 * or aborts. The file stays open while the name stays the same, so an input costs a write and a
 * truncate instead of a path lookup, an open, a truncate, a write and a close. */
static inline const char *fz_input_file(const char *name, const uint8_t *data, size_t size) {
    static char path[512], open_name[256];
    static int fd = -1;
    if (fd < 0 || strcmp(open_name, name)) {
        if (fd >= 0) close(fd);
        if (strlen(name) >= sizeof open_name) abort();
        fz_path(path, sizeof path, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) abort();
        strcpy(open_name, name);
    }
    for (size_t done = 0; done < size;) {
        ssize_t put = pwrite(fd, data + done, size - done, (off_t)done);
        if (put <= 0) abort();
        done += (size_t)put;
    }
    if (ftruncate(fd, (off_t)size)) abort();
    return path;
}

/* A NUL-terminated copy of the input (caller frees); aborts when memory runs out. */
static inline char *fz_text(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
