/* Growing arrays in the CLI (see grow.h). */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

#define CLI_GROW_MAX (1 << 28)

int cli_grow(void **items, int *capacity, int needed, size_t item_size) {
    if (needed <= *capacity) return 1;
    if (needed < 0 || needed > CLI_GROW_MAX || item_size == 0) return 0;
    int cap = *capacity > CLI_GROW_MAX / 2 ? CLI_GROW_MAX : 2 * *capacity;
    if (cap < 16) cap = 16;
    if (cap < needed) cap = needed;
    if ((size_t)cap > SIZE_MAX / item_size) return 0;
    void *bigger = realloc(*items, (size_t)cap * item_size);
    if (!bigger) return 0;
    *items = bigger;
    *capacity = cap;
    return 1;
}
