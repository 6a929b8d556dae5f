/* Small general helpers: strings, enum names, paths, clocks, shares of n items (see util.h). */
#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "siamese.h"

char *sm_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

char *sm_path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    int slash = a > 0 && dir[a - 1] != '/';
    char *out = malloc(a + (size_t)slash + b + 1);
    if (!out) return NULL;
    memcpy(out, dir, a);
    if (slash) out[a] = '/';
    memcpy(out + a + (size_t)slash, name, b + 1);
    return out;
}

char *sm_folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return sm_strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

int sm_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int sm_name_index(const char *name, const char *const *names, int count) {
    for (int i = 0; name && i < count; i++)
        if (!strcmp(name, names[i])) return i;
    return -1;
}

const char *sm_name_of(const char *const *names, int count, int i) {
    return i >= 0 && i < count ? names[i] : SIAMESE_NAME_UNKNOWN;
}

int sm_compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The clock's time in seconds, 0 when it cannot be read. */
static double clock_seconds(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return 0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double sm_now_seconds(void) { return clock_seconds(CLOCK_MONOTONIC); }

double sm_thread_cpu_seconds(void) { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

double sm_process_cpu_seconds(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

void sm_share_of(int n, int part, int parts, int *first, int *count) {
    int base = n / parts, extra = n % parts;
    *count = base + (part < extra);
    *first = part * base + (part < extra ? part : extra);
}

size_t sm_first_nonfinite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return i;
    return n;
}

int sm_env_is_one(const char *name) {
    const char *value = getenv(name);
    return value && strcmp(value, "1") == 0;
}
