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

void sm_unfinished_add(const char *tmp_path) {
    char *copy = sm_strdup(tmp_path);
    if (!copy) return;
    pthread_mutex_lock(&lock);
    if (count == capacity) {
        size_t more = capacity ? 2 * capacity : 8;
        char **grown = realloc(paths, more * sizeof *grown);
        if (grown) paths = grown, capacity = more;
    }
    if (count < capacity) paths[count++] = copy;
    else free(copy);
    pthread_mutex_unlock(&lock);
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
