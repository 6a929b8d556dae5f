/* Pair samplers: the recipe's (k similar + k dissimilar per class) and online (fresh balanced
 * pairs every epoch), both drawn only from the run's seed. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/dataset.h"
#include "data/split.h"

#define STREAM_RECIPE 0x5245434950450000ull /* "RECIPE" */
#define STREAM_ONLINE 0x4f4e4c494e450000ull /* "ONLINE" */

/* Eligible images grouped by class: by_class.members[by_class.start[c] .. start[c+1]). */
typedef struct class_groups {
    sm_class_members by_class;
    int *usable_classes; /* classes with >= 1 eligible image */
    int n_usable;
    int *pair_classes; /* classes with >= 2 eligible images */
    int n_pair_classes;
} class_groups;

static void groups_free(class_groups *g) {
    sm_class_members_free(&g->by_class);
    free(g->usable_classes);
    free(g->pair_classes);
}

static siamese_status groups_build(siamese_dataset *ds, const siamese_split *split, int side,
                                   class_groups *g) {
    memset(g, 0, sizeof *g);
    siamese_status st = sm_class_members_build_with(ds, split, side, 1, &g->by_class,
                                                    &g->usable_classes, &g->n_usable);
    if (st != SIAMESE_OK) return st;
    g->pair_classes = sm_class_members_with(&g->by_class, ds->n_classes, 2, &g->n_pair_classes);
    if (g->pair_classes) return SIAMESE_OK;
    groups_free(g);
    return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
}

static int class_size(const class_groups *g, int c) {
    return g->by_class.start[c + 1] - g->by_class.start[c];
}

/* The i-th eligible image of class c. */
static int class_member(const class_groups *g, int c, int i) {
    return g->by_class.members[g->by_class.start[c] + i];
}

/* Draws k images of class c into out: distinct when the class has at least k (a partial
 * Fisher-Yates shuffle of scratch), else independently. */
static void draw_images(const class_groups *g, int c, int k, sm_rng *rng, int *scratch, int *out) {
    int n = class_size(g, c);
    const int *m = g->by_class.members + g->by_class.start[c];
    if (n >= k) {
        memcpy(scratch, m, (size_t)n * sizeof *scratch);
        sm_rng_pick_int(rng, scratch, n, k, out);
    } else {
        for (int i = 0; i < k; i++) out[i] = m[sm_rng_below(rng, (uint64_t)n)];
    }
}

/* Two distinct draws in [0, n), n >= 2. */
static void draw_two(sm_rng *rng, int n, int *x, int *y) {
    *x = (int)sm_rng_below(rng, (uint64_t)n);
    *y = (int)sm_rng_below(rng, (uint64_t)n - 1);
    if (*y >= *x) (*y)++;
}

/* Two distinct images of class c (which has at least two). */
static void draw_similar(const class_groups *g, int c, sm_rng *rng, siamese_pair *p) {
    int i, j;
    draw_two(rng, class_size(g, c), &i, &j);
    *p = (siamese_pair){class_member(g, c, i), class_member(g, c, j), 0};
}

static siamese_status check_classes(siamese_dataset *ds, const class_groups *g) {
    if (g->n_usable < 2)
        return sm_fail(&ds->err, SIAMESE_ERR_DATA,
                       "%s: %d class%s with usable images; pairs need at least two", ds->path,
                       g->n_usable, g->n_usable == 1 ? "" : "es");
    return SIAMESE_OK;
}

/* Stored pairs (recipe / manifest datasets) whose images are usable, on side when split. */
static siamese_status stored_pairs(siamese_dataset *ds, const siamese_split *split, int side,
                                   siamese_pairs *out) {
    const siamese_pair *src = ds->pairs;
    int n = ds->n_pairs;
    if (split) {
        if (!split->has_pairs)
            return sm_fail(&ds->err, SIAMESE_ERR_DATA, "the split holds no pairs");
        src = split->pairs[side];
        n = split->n_pairs[side];
    }
    out->items = malloc((size_t)(n + 1) * sizeof *out->items);
    if (!out->items) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        if (ds->images[src[i].a].usable && ds->images[src[i].b].usable)
            out->items[out->count++] = src[i];
    if (out->count == 0) {
        siamese_pairs_free(out);
        return sm_fail(&ds->err, SIAMESE_ERR_DATA, "%s: no usable pairs", ds->path);
    }
    return SIAMESE_OK;
}

static siamese_status check_sampling_args(siamese_dataset *ds, const siamese_split *split, int side,
                                          int n, siamese_pairs *out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    out->items = NULL;
    out->count = 0;
    if (n <= 0 || n > (1 << 24))
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "pair count %d out of range", n);
    if (split && (side < 0 || side > 1))
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "split side must be 0 or 1");
    if (split && split->ds != ds)
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "the split belongs to another dataset");
    if (split && ds->n_classes > 0 && split->kind == SIAMESE_SPLIT_PAIRS)
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                       "a pairs split has no image sides: sample first, then split the pairs");
    return SIAMESE_OK;
}

/* The recipe: per class, similar pairs then dissimilar pairs drawn from two random classes. */
static void sample_recipe(const class_groups *g, int k, sm_rng *rng, int *scratch, int *x, int *y,
                          siamese_pair *similar, int *n_similar, siamese_pair *dissimilar,
                          int *n_dissimilar) {
    for (int u = 0; u < g->n_usable; u++) {
        int c = g->usable_classes[u];
        if (class_size(g, c) >= 2 * k) {
            draw_images(g, c, 2 * k, rng, scratch, x);
            for (int m = 0; m < k; m++)
                similar[(*n_similar)++] = (siamese_pair){x[2 * m], x[2 * m + 1], 0};
        } else if (class_size(g, c) >= 2) {
            for (int m = 0; m < k; m++) draw_similar(g, c, rng, &similar[(*n_similar)++]);
        }
        int i, j;
        draw_two(rng, g->n_usable, &i, &j);
        draw_images(g, g->usable_classes[i], k, rng, scratch, x);
        draw_images(g, g->usable_classes[j], k, rng, scratch, y);
        for (int m = 0; m < k; m++) dissimilar[(*n_dissimilar)++] = (siamese_pair){x[m], y[m], 1};
    }
}

siamese_status siamese_pairs_recipe(siamese_dataset *ds, const siamese_split *split, int side,
                                    int per_class, uint64_t seed, siamese_pairs *out) {
    siamese_status st = check_sampling_args(ds, split, side, per_class, out);
    if (st != SIAMESE_OK) return st;
    if (ds->n_classes == 0) return stored_pairs(ds, split, side, out);
    class_groups g;
    if ((st = groups_build(ds, split, side, &g)) != SIAMESE_OK) return st;
    if ((st = check_classes(ds, &g)) != SIAMESE_OK) {
        groups_free(&g);
        return st;
    }
    size_t per_list = (size_t)g.n_usable * (size_t)per_class;
    if (per_list > INT_MAX / 2) {
        groups_free(&g);
        return sm_fail(&ds->err, SIAMESE_ERR_LIMIT, "%d classes x %d pairs is too many pairs",
                       g.n_usable, per_class);
    }
    siamese_pair *pairs = malloc(2 * per_list * sizeof *pairs);
    siamese_pair *dissimilar = malloc(per_list * sizeof *dissimilar);
    int *scratch = malloc((size_t)(ds->n_images + 1) * sizeof *scratch);
    int *x = malloc(2 * (size_t)per_class * sizeof *x), *y = malloc((size_t)per_class * sizeof *y);
    if (!pairs || !dissimilar || !scratch || !x || !y) {
        st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    } else {
        sm_rng rng;
        sm_rng_seed(&rng, sm_seed_mix(seed, STREAM_RECIPE));
        int n_similar = 0, n_dissimilar = 0;
        sample_recipe(&g, per_class, &rng, scratch, x, y, pairs, &n_similar, dissimilar,
                      &n_dissimilar);
        memcpy(pairs + n_similar, dissimilar, (size_t)n_dissimilar * sizeof *pairs);
        out->items = pairs;
        out->count = n_similar + n_dissimilar;
        pairs = NULL;
    }
    free(pairs);
    free(dissimilar);
    free(scratch);
    free(x);
    free(y);
    groups_free(&g);
    return st;
}

static void shuffle_pairs(sm_rng *rng, siamese_pair *p, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)sm_rng_below(rng, (uint64_t)i + 1);
        siamese_pair t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
}

siamese_status siamese_pairs_online(siamese_dataset *ds, const siamese_split *split, int side,
                                    int count, uint64_t seed, int epoch, siamese_pairs *out) {
    siamese_status st = check_sampling_args(ds, split, side, count, out);
    if (st != SIAMESE_OK) return st;
    if (ds->n_classes == 0)
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                       "%s: online sampling needs classes (a %s dataset has fixed pairs)", ds->path,
                       siamese_dataset_kind_name(ds->kind));
    class_groups g;
    if ((st = groups_build(ds, split, side, &g)) != SIAMESE_OK) return st;
    if ((st = check_classes(ds, &g)) == SIAMESE_OK && g.n_pair_classes == 0)
        st = sm_fail(&ds->err, SIAMESE_ERR_DATA, "%s: no class has two usable images", ds->path);
    siamese_pair *pairs = st == SIAMESE_OK ? malloc((size_t)count * sizeof *pairs) : NULL;
    if (st == SIAMESE_OK && !pairs) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) {
        sm_rng rng;
        sm_rng_seed(&rng, sm_seed_mix(sm_seed_mix(seed, STREAM_ONLINE), (uint64_t)epoch));
        for (int i = 0; i < count; i++) {
            if (i % 2 == 0) {
                draw_similar(&g, g.pair_classes[sm_rng_below(&rng, (uint64_t)g.n_pair_classes)],
                             &rng, &pairs[i]);
            } else {
                int ci, cj;
                draw_two(&rng, g.n_usable, &ci, &cj);
                int a = g.usable_classes[ci], b = g.usable_classes[cj];
                pairs[i] = (siamese_pair){
                    class_member(&g, a, (int)sm_rng_below(&rng, (uint64_t)class_size(&g, a))),
                    class_member(&g, b, (int)sm_rng_below(&rng, (uint64_t)class_size(&g, b))), 1};
            }
        }
        shuffle_pairs(&rng, pairs, count);
        out->items = pairs;
        out->count = count;
    }
    groups_free(&g);
    return st;
}
