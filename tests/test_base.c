/* src/base helpers: the array grower. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"

Test(grow, makes_room_and_keeps_the_items) {
    int *items = NULL, cap = 0;
    for (int n = 0; n < 1000; n++) {
        cr_assert_eq(sm_grow((void **)&items, &cap, n + 1, sizeof *items), 0);
        cr_assert_geq(cap, n + 1);
        items[n] = n;
    }
    for (int n = 0; n < 1000; n++) cr_assert_eq(items[n], n);
    cr_assert_leq(cap, 2000, "capacity %d: more than doubling", cap);
    int before = cap;
    cr_assert_eq(sm_grow((void **)&items, &cap, 10, sizeof *items), 0);
    cr_assert_eq(cap, before, "no shrinking, no realloc when it fits");
    cr_assert_eq(sm_grow((void **)&items, &cap, 5000, sizeof *items), 0);
    cr_assert_geq(cap, 5000, "a jump past twice the capacity");
    free(items);
}

Test(grow, refuses_past_the_limit_and_keeps_the_array) {
    int *items = NULL, cap = 0;
    cr_assert_eq(sm_grow_max((void **)&items, &cap, 3, sizeof *items, 5), 0);
    cr_assert_eq(cap, 5, "the first capacity is clamped to the limit");
    int *kept = items;
    cr_assert_eq(sm_grow_max((void **)&items, &cap, 6, sizeof *items, 5), -1);
    cr_assert_eq(items, kept);
    cr_assert_eq(cap, 5);
    cr_assert_eq(sm_grow((void **)&items, &cap, SM_GROW_MAX + 1, sizeof *items), -1);
    cr_assert_eq(sm_grow((void **)&items, &cap, 1 << 27, SIZE_MAX / 4), -1, "size overflow");
    cr_assert_eq(items, kept);
    free(items);
}
