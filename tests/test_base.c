/* src/base helpers: the array grower, tensor memory and the strict number parsers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/number.h"
#include "base/tensor_alloc.h"

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

/* Tensors of 2 MiB or more start on a 2 MiB boundary (so huge pages can back them whole),
 * smaller ones on the alignment asked for, as do large ones with the huge-page switch off; every
 * block is writable to its end. */
Test(tensor_alloc, large_blocks_on_huge_page_boundaries) {
    size_t sizes[4] = {0, 100, (size_t)2 << 20, ((size_t)5 << 20) + 3};
    for (int i = 0; i < 4; i++) {
        unsigned char *p = sm_tensor_alloc(sizes[i], 64);
        cr_assert_not_null(p);
        size_t want = sizes[i] >= ((size_t)2 << 20) ? (size_t)2 << 20 : 64;
        cr_assert_eq((uintptr_t)p % want, 0, "%zu bytes at %p: not %zu-aligned", sizes[i],
                     (void *)p, want);
        if (sizes[i]) p[sizes[i] - 1] = 1;
        free(p);
    }
    cr_assert_eq(setenv("SIAMESE_ENGINE_NO_HUGE_PAGES", "1", 1), 0);
    unsigned char *p = sm_tensor_alloc((size_t)3 << 20, 4096);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % 4096, 0);
    p[((size_t)3 << 20) - 1] = 1;
    free(p);
    unsetenv("SIAMESE_ENGINE_NO_HUGE_PAGES");
}

Test(tensor_alloc, calloc_zeroes_and_refuses_overflow) {
    size_t n = ((size_t)3 << 20) / sizeof(float) + 5;
    float *p = sm_tensor_calloc(n, sizeof(float), 64);
    cr_assert_not_null(p);
    cr_assert_eq((uintptr_t)p % ((size_t)2 << 20), 0, "a large block on a huge page boundary");
    for (size_t i = 0; i < n; i++) cr_assert_eq(p[i], 0.0f, "element %zu is not zero", i);
    free(p);
    int64_t *one = sm_tensor_calloc(0, sizeof(int64_t), 64);
    cr_assert_not_null(one, "no elements still gives one");
    cr_assert_eq(one[0], 0);
    free(one);
    cr_assert_null(sm_tensor_calloc(SIZE_MAX / 4 + 1, 4, 64), "count x elem overflows");
}

Test(number, integers_are_whole_decimal_and_in_range) {
    int v = 7;
    cr_assert_eq(sm_parse_int("42", 0, 100, &v), 0);
    cr_assert_eq(v, 42);
    cr_assert_eq(sm_parse_int("-3", -5, 5, &v), 0);
    cr_assert_eq(v, -3);
    const char *bad[] = {"", " 1", "+1", "1 ", "1x", "0x10", "101", "-1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        cr_assert_eq(sm_parse_int(bad[i], 0, 100, &v), -1, "'%s' parsed", bad[i]);
        cr_assert_eq(v, 7, "'%s' changed the output", bad[i]);
    }
    cr_assert_eq(sm_parse_int(NULL, 0, 100, &v), -1);
    int64_t big;
    cr_assert_eq(sm_parse_i64("9223372036854775807", 0, INT64_MAX, &big), 0);
    cr_assert_eq(big, INT64_MAX);
    cr_assert_eq(sm_parse_i64("9223372036854775808", 0, INT64_MAX, &big), -1, "overflow");
    /* spans: a number inside longer text */
    const char *text = "12x34";
    cr_assert_eq(sm_parse_int_n(text, 2, 1, 99, &v), 0);
    cr_assert_eq(v, 12);
    cr_assert_eq(sm_parse_int_n(text + 3, 2, 1, 99, &v), 0);
    cr_assert_eq(v, 34);
    cr_assert_eq(sm_parse_int_n(text, 3, 1, 99, &v), -1);
    cr_assert_eq(sm_parse_int_n(text, 0, 1, 99, &v), -1);
}

Test(number, unsigned_in_a_base_without_sign) {
    uint64_t v;
    cr_assert_eq(sm_parse_u64("fedcba9876543210", 16, &v), 0);
    cr_assert_eq(v, 0xfedcba9876543210u);
    cr_assert_eq(sm_parse_u64("18446744073709551615", 10, &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(sm_parse_u64("18446744073709551616", 10, &v), -1, "overflow");
    cr_assert_eq(sm_parse_u64("-1", 10, &v), -1, "strtoull would wrap it");
    cr_assert_eq(sm_parse_u64("12g", 16, &v), -1);
}

Test(number, doubles_whole_text) {
    double d;
    cr_assert_eq(sm_parse_double("0.0005", &d), 0);
    cr_assert_eq(d, 0.0005);
    cr_assert_eq(sm_parse_double("-1e3", &d), 0);
    cr_assert_eq(d, -1000.0);
    cr_assert_eq(sm_parse_double("nan", &d), 0, "callers that need finite values check");
    cr_assert(isnan(d));
    cr_assert_eq(sm_parse_double("1e999", &d), -1, "out of range");
    cr_assert_eq(sm_parse_double("1.5x", &d), -1);
    cr_assert_eq(sm_parse_double(" 1.5", &d), -1);
    cr_assert_eq(sm_parse_double_n("2.5)", 3, &d), 0);
    cr_assert_eq(d, 2.5);
}
