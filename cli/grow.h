/* Growing arrays in the CLI (the library's sm_grow is internal to it). */
#ifndef SIAMESE_CLI_GROW_H
#define SIAMESE_CLI_GROW_H

#include <stddef.h>

/* Makes room for `needed` items of item_size bytes in *items (capacity *capacity): the
 * capacity becomes the larger of needed and twice the old one (at least 16). 1 on success; 0
 * when memory runs out or the size passes 2^28 items, leaving *items and *capacity as they were. */
int cli_grow(void **items, int *capacity, int needed, size_t item_size);

#endif
