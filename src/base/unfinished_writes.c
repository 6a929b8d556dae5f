/* The temporary files of the atomic writes in progress (see unfinished_writes.h). */
#include "base/unfinished_writes.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "siamese.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char **paths; /* [count] malloc'd */
static size_t count, capacity;

/* Records copy (malloc'd, owned from here) with the lock held. */
static void add_locked(char *copy) {
    if (!copy) return;
    if (count == capacity) {
        size_t more = capacity ? 2 * capacity : 8;
        char **grown = realloc(paths, more * sizeof *grown);
        if (grown) paths = grown, capacity = more;
    }
    if (count < capacity) paths[count++] = copy;
    else free(copy);
}

int sm_unfinished_create(char *tmp_template) {
    pthread_mutex_lock(&lock); /* a removal waits until the new file is recorded */
    int fd = mkstemp(tmp_template);
    if (fd >= 0) add_locked(sm_strdup(tmp_template));
    pthread_mutex_unlock(&lock);
    return fd;
}

void sm_unfinished_drop(const char *tmp_path) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(paths[i], tmp_path) != 0) continue;
        free(paths[i]);
        paths[i] = paths[--count];
        break;
    }
    pthread_mutex_unlock(&lock);
}

void siamese_remove_unfinished_writes(void) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < count; i++) {
        unlink(paths[i]);
        free(paths[i]);
    }
    count = 0;
    pthread_mutex_unlock(&lock);
}
