/* Growing arrays (see alloc.h). */
#include "base/alloc.h"

#include <stdint.h>
#include <stdlib.h>

int sm_grow_max(void **items, int *capacity, int needed, size_t item_size, int max_capacity) {
    if (needed <= *capacity) return 0;
    if (needed < 0 || needed > max_capacity || item_size == 0) return -1;
    int cap = *capacity > max_capacity / 2 ? max_capacity : 2 * *capacity;
    if (cap < 16) cap = 16 < max_capacity ? 16 : max_capacity;
    if (cap < needed) cap = needed;
    if ((size_t)cap > SIZE_MAX / item_size) return -1;
    void *bigger = realloc(*items, (size_t)cap * item_size);
    if (!bigger) return -1;
    *items = bigger;
    *capacity = cap;
    return 0;
}

int sm_grow(void **items, int *capacity, int needed, size_t item_size) {
    return sm_grow_max(items, capacity, needed, item_size, SM_GROW_MAX);
}
