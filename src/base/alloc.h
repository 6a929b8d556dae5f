/* Growing arrays: the one capacity-doubling realloc of the library. */
#ifndef SM_ALLOC_H
#define SM_ALLOC_H

#include <stddef.h>

/* Makes room for `needed` items of item_size bytes in the array *items of *capacity items: when
 * needed exceeds the capacity, the capacity becomes the larger of needed and twice the old one
 * (at least 16), at most max_capacity. 0 on success; -1 when needed passes max_capacity, the size
 * overflows or memory runs out, leaving *items and *capacity as they were. */
int sm_grow_max(void **items, int *capacity, int needed, size_t item_size, int max_capacity);

/* sm_grow_max up to SM_GROW_MAX items. Typical use, before storing item n:
 *     if (sm_grow((void **)&list->items, &list->cap, list->count + 1, sizeof *list->items))
 *         return out-of-memory; */
#define SM_GROW_MAX (1 << 28)
int sm_grow(void **items, int *capacity, int needed, size_t item_size);

#endif
