/* How much address space the process has left under its limit (ulimit -v, RLIMIT_AS): oneDNN's
 * JIT writes through a NULL code buffer when its mmap fails, so the engine checks for room first
 * and reports an out-of-memory error instead of crashing. */
#include "base/memlimit.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

/* The process's mapped address space in bytes (first field of /proc/self/statm), or 0. */
static size_t mapped_bytes(void) {
    FILE *fp = fopen("/proc/self/statm", "r");
    if (!fp) return 0;
    unsigned long pages = 0;
    int ok = fscanf(fp, "%lu", &pages) == 1;
    fclose(fp);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (size_t)pages * (size_t)page : 0;
}

int sm_address_space_short(size_t need, size_t *left) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
    size_t used = mapped_bytes();
    if (used == 0) return 0;
    size_t room = (rlim_t)used < rl.rlim_cur ? (size_t)(rl.rlim_cur - used) : 0;
    if (left) *left = room;
    return room < need;
}
