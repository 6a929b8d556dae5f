/* Runs a fuzz harness over files without fuzzing (any compiler): every argument is a file or a
 * folder of files, each given once to LLVMFuzzerTestOneInput. The corpora and the regressions
 * (tests/fuzz/corpus, tests/fuzz/regressions) are replayed by the normal and sanitizer builds. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "fuzz_common.h"

/* Reads path whole and hands it to the harness; returns 0, or -1 when it cannot be read. */
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *buf = NULL;
    size_t size = 0, cap = 0, got;
    do {
        if (size == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) abort();
            buf = grown;
        }
        got = fread(buf + size, 1, cap - size, f);
        size += got;
    } while (got > 0);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    return 0;
}

/* Replays path (a file, or the files of a folder, not recursive); returns the files run or -1. */
static int replay(const char *path) {
    struct stat st;
    if (stat(path, &st)) return -1;
    if (!S_ISDIR(st.st_mode)) return replay_file(path) ? -1 : 1;
    DIR *d = opendir(path);
    if (!d) return -1;
    int count = 0;
    struct dirent *e;
    char file[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(file)) {
                closedir(d);
                return -1;
            }
            count++;
        }
    }
    closedir(d);
    return count;
}

#if defined(__SANITIZE_ADDRESS__)
#define REPLAY_ASAN 1 /* gcc */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPLAY_ASAN 1 /* clang (ASan's shadow memory would not fit under the cap) */
#endif
#endif

/* Without a sanitizer, memory is capped at 1 GB as libFuzzer's -rss_limit_mb would: an input
 * that makes the library allocate what its size does not justify fails instead of passing. */
static void limit_memory(void) {
#if !defined(REPLAY_ASAN)
    struct rlimit lim = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    setrlimit(RLIMIT_DATA, &lim);
#endif
}

int main(int argc, char **argv) {
    limit_memory();
    int total = 0;
    for (int i = 1; i < argc; i++) {
        int n = replay(argv[i]);
        if (n < 0) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            return 1;
        }
        total += n;
    }
    printf("%s: %d input(s) replayed, none crashed\n", argc > 0 ? argv[0] : "replay", total);
    return 0;
}
