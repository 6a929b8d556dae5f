/* The public enum name functions: each value's name parses back to it, and a value outside the
 * enum (-1, one past the last, 99) is named SIAMESE_NAME_UNKNOWN, which no parse accepts. */
#include <criterion/criterion.h>
#include <string.h>

#include "siamese.h"

/* One enum: its name and parse functions (the enum passed as int), and its number of values. */
typedef struct enum_names {
    const char *what;
    const char *(*name)(int value);
    siamese_status (*parse)(const char *text, int *value); /* NULL: the enum has none */
    int count;
} enum_names;

/* The public functions with the enum as int: a value cast from any int, as a caller could. */
#define NAME_AND_PARSE(fn, type)                                                                   \
    static const char *fn##_name_of(int v) { return siamese_##fn##_name((type)v); }                \
    static siamese_status fn##_parse_to(const char *text, int *v) {                                \
        type t;                                                                                    \
        siamese_status st = siamese_##fn##_parse(text, &t);                                        \
        *v = (int)t;                                                                               \
        return st;                                                                                 \
    }
NAME_AND_PARSE(metric, siamese_metric)
NAME_AND_PARSE(precision, siamese_precision)
NAME_AND_PARSE(loss, siamese_loss)
NAME_AND_PARSE(split_kind, siamese_split_kind)
NAME_AND_PARSE(mining, siamese_mining)
NAME_AND_PARSE(lr_schedule, siamese_lr_schedule)
static const char *dataset_kind_name_of(int v) {
    return siamese_dataset_kind_name((siamese_dataset_kind)v);
}

static const enum_names all[] = {
    {"metric", metric_name_of, metric_parse_to, SIAMESE_METRIC_CORRELATION + 1},
    {"precision", precision_name_of, precision_parse_to, SIAMESE_PRECISION_INT8 + 1},
    {"loss", loss_name_of, loss_parse_to, SIAMESE_LOSS_TRIPLET + 1},
    {"dataset kind", dataset_kind_name_of, NULL, SIAMESE_DATASET_IDX + 1},
    {"split kind", split_kind_name_of, split_kind_parse_to, SIAMESE_SPLIT_CLASSES + 1},
    {"mining", mining_name_of, mining_parse_to, SIAMESE_MINING_SEMIHARD + 1},
    {"lr schedule", lr_schedule_name_of, lr_schedule_parse_to, SIAMESE_LR_COSINE + 1},
};

Test(enum_names, every_value_has_its_own_name_that_parses_back) {
    for (size_t e = 0; e < sizeof all / sizeof all[0]; e++) {
        for (int v = 0; v < all[e].count; v++) {
            const char *name = all[e].name(v);
            cr_assert(name && strcmp(name, SIAMESE_NAME_UNKNOWN) != 0, "%s %d: %s", all[e].what, v,
                      name ? name : "NULL");
            for (int w = 0; w < v; w++)
                cr_assert_str_neq(name, all[e].name(w), "%s %d and %d", all[e].what, v, w);
            int back = -1;
            if (all[e].parse) {
                cr_assert_eq(all[e].parse(name, &back), SIAMESE_OK, "%s '%s'", all[e].what, name);
                cr_assert_eq(back, v, "%s '%s'", all[e].what, name);
            }
        }
    }
}

Test(enum_names, values_outside_the_enum_are_unknown) {
    for (size_t e = 0; e < sizeof all / sizeof all[0]; e++) {
        const int outside[] = {-1, all[e].count, 99};
        for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
            const char *name = all[e].name(outside[i]);
            cr_assert(name != NULL, "%s %d: NULL", all[e].what, outside[i]);
            cr_assert_str_eq(name, SIAMESE_NAME_UNKNOWN, "%s %d", all[e].what, outside[i]);
        }
        int v = 12345;
        if (all[e].parse)
            cr_assert_eq(all[e].parse(SIAMESE_NAME_UNKNOWN, &v), SIAMESE_ERR_INVALID_ARG, "%s",
                         all[e].what);
    }
    cr_assert_str_eq(SIAMESE_NAME_UNKNOWN, "unknown");
}
