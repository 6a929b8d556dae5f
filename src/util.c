/* Small general helpers: string copies, path joining, a monotonic clock (see util.h). */
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

double sm_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
