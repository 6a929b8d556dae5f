/* Shared by the fuzz harnesses: a private temporary folder and writing the input into a file
 * there, for the parsers that read a path. Test code only; never part of libsiamese. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

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

/* Writes data into tmpdir/name, replacing it; returns 0 or -1. */
static inline int fz_write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && put == size ? 0 : -1;
}

/* Writes the input into tmpdir/name; returns the path (static storage) or aborts. */
static inline const char *fz_input_file(const char *name, const uint8_t *data, size_t size) {
    static char path[512];
    fz_path(path, sizeof path, name);
    if (fz_write_file(path, data, size)) abort();
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
