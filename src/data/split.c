/* Train/test splits over pairs, images or classes: seeded, and recorded as JSON so a later
 * evaluation uses exactly the same split. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json_file.h"
#include "base/number.h"
#include "base/rng.h"
#include "base/util.h"
#include "data/dataset.h"
#include "data/split.h"

#define STREAM_SPLIT 0x53504c4954000000ull /* "SPLIT" */
#define SPLIT_FORMAT "siamese-split"

static const char *const kind_names[] = {[SIAMESE_SPLIT_PAIRS] = "pairs",
                                         [SIAMESE_SPLIT_IMAGES] = "images",
                                         [SIAMESE_SPLIT_CLASSES] = "classes"};
#define N_KINDS ((int)(sizeof kind_names / sizeof kind_names[0]))

const char *siamese_split_kind_name(siamese_split_kind kind) {
    return sm_name_of(kind_names, N_KINDS, (int)kind);
}

siamese_status siamese_split_kind_parse(const char *name, siamese_split_kind *out) {
    int i = sm_name_index(name, kind_names, N_KINDS);
    if (i < 0 || !out) return SIAMESE_ERR_INVALID_ARG;
    *out = (siamese_split_kind)i;
    return SIAMESE_OK;
}

/* A split's error record: not part of its value, so functions taking a const split may still
 * leave their message there (the split itself was allocated writable by split_alloc). */
static sm_err *split_err(const siamese_split *s) { return (sm_err *)&s->err; }

const char *siamese_split_errmsg(const siamese_split *split) { return split ? split->err.msg : ""; }

void siamese_split_free(siamese_split *split) {
    if (!split) return;
    free(split->image_side);
    free(split->class_side);
    free(split->pairs[0]);
    free(split->pairs[1]);
    free(split);
}

siamese_split_kind siamese_split_get_kind(const siamese_split *s) { return s->kind; }
uint64_t siamese_split_seed(const siamese_split *s) { return s->seed; }
double siamese_split_train_fraction(const siamese_split *s) { return s->train_fraction; }

int siamese_split_image_side(const siamese_split *s, int image) {
    return image >= 0 && image < s->ds->n_images ? s->image_side[image] : -1;
}

int siamese_split_class_side(const siamese_split *s, int c) {
    return s->class_side && c >= 0 && c < s->ds->n_classes ? s->class_side[c] : -1;
}

siamese_status siamese_split_pairs(const siamese_split *s, int side, siamese_pairs *out) {
    if (!s || !out) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(split_err(s));
    out->items = NULL;
    out->count = 0;
    if (side < 0 || side > 1)
        return sm_fail(split_err(s), SIAMESE_ERR_INVALID_ARG, "split side must be 0 or 1");
    if (!s->has_pairs)
        return sm_fail(split_err(s), SIAMESE_ERR_DATA,
                       "this %s split was made without pairs: sample them per side",
                       siamese_split_kind_name(s->kind));
    int n = s->n_pairs[side];
    out->items = malloc((size_t)(n + 1) * sizeof *out->items);
    if (!out->items) return sm_fail(split_err(s), SIAMESE_ERR_NOMEM, "out of memory");
    memcpy(out->items, s->pairs[side], (size_t)n * sizeof *out->items);
    out->count = n;
    return SIAMESE_OK;
}

static siamese_split *split_alloc(siamese_dataset *ds, siamese_split_kind kind, double fraction,
                                  uint64_t seed) {
    siamese_split *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ds = ds;
    s->kind = kind;
    s->seed = seed;
    s->train_fraction = fraction;
    s->image_side = malloc((size_t)ds->n_images + 1);
    if (ds->n_classes > 0) s->class_side = malloc((size_t)ds->n_classes);
    if (!s->image_side || (ds->n_classes > 0 && !s->class_side)) {
        siamese_split_free(s);
        return NULL;
    }
    memset(s->image_side, -1, (size_t)ds->n_images + 1);
    if (s->class_side) memset(s->class_side, -1, (size_t)ds->n_classes);
    return s;
}

/* Allocates both pair lists for up to n pairs each. */
static int alloc_pair_lists(siamese_split *s, int n) {
    s->pairs[0] = malloc((size_t)(n + 1) * sizeof(siamese_pair));
    s->pairs[1] = malloc((size_t)(n + 1) * sizeof(siamese_pair));
    s->has_pairs = 1;
    return s->pairs[0] && s->pairs[1] ? 0 : -1;
}

static int *identity(int n) {
    int *v = malloc((size_t)(n + 1) * sizeof *v);
    for (int i = 0; v && i < n; i++) v[i] = i;
    return v;
}

/* The recipe's random_split: shuffle, the first int(f * n) pairs train, the rest test. */
static siamese_status split_over_pairs(siamese_split *s, const siamese_pairs *pairs, sm_rng *rng) {
    int n = pairs->count;
    int *perm = identity(n);
    if (!perm || alloc_pair_lists(s, n)) {
        free(perm);
        return SIAMESE_ERR_NOMEM;
    }
    sm_rng_shuffle_int(rng, perm, n);
    int train = (int)(s->train_fraction * n);
    for (int i = 0; i < n; i++) {
        int side = i >= train;
        s->pairs[side][s->n_pairs[side]++] = pairs->items[perm[i]];
    }
    free(perm);
    return SIAMESE_OK;
}

/* Puts the first int(f * n) of the shuffled items train, the rest test. */
static void assign_sides(signed char *side, int *items, int n, double fraction, sm_rng *rng) {
    sm_rng_shuffle_int(rng, items, n);
    int train = (int)(fraction * n);
    for (int i = 0; i < n; i++) side[items[i]] = (signed char)(i >= train);
}

/* Image indices grouped by class (class order, image order within a class; images without a
 * class last), with start[k] .. start[k + 1] the k-th group (the last group holds the
 * classless ones). IDX images come in file order, so grouping cannot rely on adjacency. */
static int *images_by_class(const siamese_dataset *ds, int *start) {
    int groups = ds->n_classes + 1;
    int *items = malloc((ds->n_images ? (size_t)ds->n_images : 1) * sizeof *items);
    if (!items) return NULL;
    for (int k = 0; k <= groups; k++) start[k] = 0;
    for (int i = 0; i < ds->n_images; i++) {
        int c = ds->images[i].class_id;
        start[(c < 0 ? ds->n_classes : c) + 1]++;
    }
    for (int k = 0; k < groups; k++) start[k + 1] += start[k];
    int *fill = malloc((size_t)groups * sizeof *fill);
    if (!fill) {
        free(items);
        return NULL;
    }
    memcpy(fill, start, (size_t)groups * sizeof *fill);
    for (int i = 0; i < ds->n_images; i++) {
        int c = ds->images[i].class_id;
        items[fill[c < 0 ? ds->n_classes : c]++] = i;
    }
    free(fill);
    return items;
}

/* Images split per class (every class on both sides when it has enough images), or over all
 * images when the dataset has no classes. */
static siamese_status split_over_images(siamese_split *s, sm_rng *rng) {
    siamese_dataset *ds = s->ds;
    int *start = malloc(((size_t)ds->n_classes + 2) * sizeof *start);
    int *items = start ? images_by_class(ds, start) : NULL;
    if (!items) {
        free(start);
        return SIAMESE_ERR_NOMEM;
    }
    for (int k = 0; k <= ds->n_classes; k++)
        if (start[k + 1] > start[k])
            assign_sides(s->image_side, items + start[k], start[k + 1] - start[k],
                         s->train_fraction, rng);
    free(items);
    free(start);
    return SIAMESE_OK;
}

static siamese_status split_over_classes(siamese_split *s, sm_rng *rng) {
    siamese_dataset *ds = s->ds;
    int train = (int)(s->train_fraction * ds->n_classes);
    if (train < 1 || train >= ds->n_classes)
        return sm_fail(&s->err, SIAMESE_ERR_DATA,
                       "%s: a class split of %d classes with train fraction %g leaves a side empty",
                       ds->path, ds->n_classes, s->train_fraction);
    int *items = identity(ds->n_classes);
    if (!items) return SIAMESE_ERR_NOMEM;
    assign_sides(s->class_side, items, ds->n_classes, s->train_fraction, rng);
    for (int i = 0; i < ds->n_images; i++) s->image_side[i] = s->class_side[ds->images[i].class_id];
    free(items);
    return SIAMESE_OK;
}

/* Pairs follow their images; a pair whose images are on different sides is dropped. */
static siamese_status pairs_follow_images(siamese_split *s, const siamese_pairs *pairs) {
    if (alloc_pair_lists(s, pairs->count)) return SIAMESE_ERR_NOMEM;
    for (int i = 0; i < pairs->count; i++) {
        int a = s->image_side[pairs->items[i].a], b = s->image_side[pairs->items[i].b];
        if (a == b && a >= 0) s->pairs[a][s->n_pairs[a]++] = pairs->items[i];
    }
    return SIAMESE_OK;
}

static siamese_status check_split_args(siamese_split *s, siamese_split_kind kind,
                                       const siamese_pairs *pairs, double fraction) {
    const siamese_dataset *ds = s->ds;
    if (!(fraction > 0 && fraction < 1))
        return sm_fail(&s->err, SIAMESE_ERR_INVALID_ARG, "train fraction %g is not in (0, 1)",
                       fraction);
    if ((unsigned)kind > SIAMESE_SPLIT_CLASSES)
        return sm_fail(&s->err, SIAMESE_ERR_INVALID_ARG, "unknown split kind %d", (int)kind);
    if (kind == SIAMESE_SPLIT_PAIRS && !pairs)
        return sm_fail(&s->err, SIAMESE_ERR_INVALID_ARG, "a pairs split needs pairs");
    if (kind == SIAMESE_SPLIT_CLASSES && ds->n_classes == 0)
        return sm_fail(&s->err, SIAMESE_ERR_INVALID_ARG, "%s: a %s dataset has no classes to split",
                       ds->path, siamese_dataset_kind_name(ds->kind));
    for (int i = 0; pairs && i < pairs->count; i++)
        if (pairs->items[i].a < 0 || pairs->items[i].a >= ds->n_images || pairs->items[i].b < 0 ||
            pairs->items[i].b >= ds->n_images)
            return sm_fail(&s->err, SIAMESE_ERR_INVALID_ARG, "pair %d names no image", i);
    return SIAMESE_OK;
}

/* Hands out the new split. A failed one is handed out too, carrying only its message (which the
 * dataset also keeps, as for a failed loader). */
static siamese_status split_made(siamese_split *s, siamese_status st, siamese_split **out) {
    if (st != SIAMESE_OK) sm_fail(&s->ds->err, st, "%s", s->err.msg);
    *out = s;
    return st;
}

siamese_status siamese_split_create(siamese_dataset *ds, siamese_split_kind kind,
                                    const siamese_pairs *pairs, double train_fraction,
                                    uint64_t seed, siamese_split **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    if (!ds) return SIAMESE_ERR_INVALID_ARG;
    siamese_pairs own = {ds->pairs, ds->n_pairs};
    if (!pairs && ds->n_classes == 0) pairs = &own;
    siamese_split *s = split_alloc(ds, kind, train_fraction, seed);
    if (!s) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_status st = check_split_args(s, kind, pairs, train_fraction);
    if (st != SIAMESE_OK) return split_made(s, st, out);
    sm_rng rng;
    sm_rng_seed(&rng, sm_seed_mix(seed, STREAM_SPLIT + (uint64_t)kind));
    if (kind == SIAMESE_SPLIT_PAIRS) st = split_over_pairs(s, pairs, &rng);
    else if (kind == SIAMESE_SPLIT_IMAGES) st = split_over_images(s, &rng);
    else st = split_over_classes(s, &rng);
    if (st == SIAMESE_OK && kind != SIAMESE_SPLIT_PAIRS && pairs)
        st = pairs_follow_images(s, pairs);
    if (st == SIAMESE_ERR_NOMEM) sm_fail(&s->err, st, "out of memory");
    return split_made(s, st, out);
}

/* ---- recording */

static json_t *pair_list_json(const siamese_dataset *ds, const siamese_pair *p, int n) {
    json_t *list = json_array();
    for (int i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_pack("[ssi]", ds->images[p[i].a].name,
                                                  ds->images[p[i].b].name, p[i].label))) {
            json_decref(list);
            return NULL;
        }
    return list;
}

/* The test classes or test images by name. */
static json_t *test_names_json(const siamese_split *s) {
    const siamese_dataset *ds = s->ds;
    json_t *list = json_array();
    int classes = s->kind == SIAMESE_SPLIT_CLASSES;
    int n = classes ? ds->n_classes : ds->n_images;
    for (int i = 0; list && i < n; i++) {
        int side = classes ? s->class_side[i] : s->image_side[i];
        const char *name = classes ? ds->class_names[i] : ds->images[i].name;
        if (side == 1 && json_array_append_new(list, json_string(name))) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

static json_t *split_json(const siamese_split *s) {
    const siamese_dataset *ds = s->ds;
    json_t *root = json_pack("{sssisssf}", "format", SPLIT_FORMAT, "version", 1, "kind",
                             siamese_split_kind_name(s->kind), "train_fraction", s->train_fraction);
    if (!root) return NULL;
    int bad = 0;
    if (s->seed <= (uint64_t)INT64_MAX) /* seed_hex holds every seed; this is for readers */
        bad = json_object_set_new(root, "seed", json_integer((json_int_t)s->seed));
    bad = bad ||
          json_object_set_new(root, "seed_hex",
                              json_sprintf("%016llx", (unsigned long long)s->seed)) ||
          json_object_set_new(root, "image_count", json_integer(ds->n_images)) ||
          json_object_set_new(root, "class_count", json_integer(ds->n_classes)) ||
          json_object_set_new(root, "dataset", json_string(ds->path));
    if (!bad && s->kind == SIAMESE_SPLIT_CLASSES)
        bad = json_object_set_new(root, "test_classes", test_names_json(s));
    if (!bad && s->kind == SIAMESE_SPLIT_IMAGES)
        bad = json_object_set_new(root, "test_images", test_names_json(s));
    if (!bad && s->has_pairs)
        bad =
            json_object_set_new(root, "train_pairs",
                                pair_list_json(ds, s->pairs[0], s->n_pairs[0])) ||
            json_object_set_new(root, "test_pairs", pair_list_json(ds, s->pairs[1], s->n_pairs[1]));
    if (bad) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Writes root with one line per member, and one line per item of its lists. */
static int write_json_lines(FILE *fp, json_t *root) {
    const char *key;
    json_t *value;
    int first = 1, bad = fputs("{", fp) == EOF;
    json_object_foreach(root, key, value) {
        json_t *name = json_string(key);
        char *name_text = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
        json_decref(name);
        if (!name_text) return -1;
        bad |= fprintf(fp, "%s\n %s: ", first ? "" : ",", name_text) < 0;
        free(name_text);
        first = 0;
        if (json_is_array(value) && json_array_size(value) > 0) {
            size_t i;
            json_t *item;
            bad |= fputs("[", fp) == EOF;
            json_array_foreach(value, i, item) {
                bad |= fputs(i ? ",\n  " : "\n  ", fp) == EOF;
                bad |= json_dumpf(item, fp, JSON_COMPACT | JSON_ENCODE_ANY) != 0;
            }
            bad |= fputs("\n ]", fp) == EOF;
        } else {
            bad |= json_dumpf(value, fp, JSON_COMPACT | JSON_ENCODE_ANY) != 0;
        }
    }
    bad |= fputs("\n}\n", fp) == EOF;
    return bad ? -1 : 0;
}

siamese_status siamese_split_save(const siamese_split *s, const char *path) {
    if (!s || !path) return SIAMESE_ERR_INVALID_ARG;
    sm_err *err = split_err(s);
    sm_err_clear(err);
    json_t *root = split_json(s);
    if (!root) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    sm_atomic_file af;
    siamese_status st = sm_atomic_open(&af, path, err);
    if (st == SIAMESE_OK) {
        if (write_json_lines(af.fp, root)) {
            st = sm_atomic_fail(&af, err);
        } else {
            st = sm_atomic_commit(&af, err);
        }
    }
    json_decref(root);
    return st;
}

/* ---- reading back */

typedef struct name_index {
    const siamese_dataset *ds;
    int *order; /* image indices sorted by name */
} name_index;

static int find_image(const name_index *ix, const char *name) {
    int lo = 0, hi = ix->ds->n_images - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(ix->ds->images[ix->order[mid]].name, name);
        if (c == 0) return ix->order[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* Insertion into a sorted order by merge sort (no qsort context needed). */
static void sort_by_name(const siamese_dataset *ds, int *v, int *tmp, int n) {
    if (n < 2) return;
    int h = n / 2;
    sort_by_name(ds, v, tmp, h);
    sort_by_name(ds, v + h, tmp, n - h);
    int i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = strcmp(ds->images[v[i]].name, ds->images[v[j]].name) <= 0 ? v[i++] : v[j++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
}

static siamese_status read_pairs(siamese_split *s, const name_index *ix, json_t *list, int side,
                                 const char *path) {
    sm_err *err = &s->err;
    if (!json_is_array(list))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: %s_pairs is not a list", path,
                       side ? "test" : "train");
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const char *a, *b;
        int label;
        if (json_unpack(item, "[ssi]", &a, &b, &label) || (label != 0 && label != 1))
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: pair %zu is not [name, name, 0|1]", path,
                           i);
        int ia = find_image(ix, a), ib = find_image(ix, b);
        if (ia < 0 || ib < 0)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: image '%s' is not in the dataset %s", path,
                           ia < 0 ? a : b, s->ds->path);
        s->pairs[side][s->n_pairs[side]++] = (siamese_pair){ia, ib, label};
    }
    return SIAMESE_OK;
}

static int find_class(const siamese_dataset *ds, const char *name) {
    for (int c = 0; c < ds->n_classes; c++)
        if (!strcmp(ds->class_names[c], name)) return c;
    return -1;
}

/* Rebuilds the sides from the list of test classes or test images. */
static siamese_status read_test_names(siamese_split *s, const name_index *ix, json_t *list,
                                      const char *path) {
    siamese_dataset *ds = s->ds;
    int classes = s->kind == SIAMESE_SPLIT_CLASSES;
    if (!json_is_array(list))
        return sm_fail(&s->err, SIAMESE_ERR_FORMAT, "%s: missing list of test %s", path,
                       classes ? "classes" : "images");
    if (classes) memset(s->class_side, 0, (size_t)ds->n_classes);
    else memset(s->image_side, 0, (size_t)ds->n_images);
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        const char *name = json_string_value(item);
        int id = !name ? -1 : classes ? find_class(ds, name) : find_image(ix, name);
        if (id < 0)
            return sm_fail(&s->err, SIAMESE_ERR_FORMAT, "%s: test %s '%s' is not in the dataset %s",
                           path, classes ? "class" : "image", name ? name : "(not a string)",
                           ds->path);
        if (classes) s->class_side[id] = 1;
        else s->image_side[id] = 1;
    }
    if (classes)
        for (int k = 0; k < ds->n_images; k++)
            s->image_side[k] = s->class_side[ds->images[k].class_id];
    return SIAMESE_OK;
}

static siamese_status parse_header(siamese_split *s, json_t *root, const char *path) {
    const siamese_dataset *ds = s->ds;
    const char *format = NULL, *kind_name = NULL, *seed_hex = NULL;
    int version = 0, images = -1, classes = -1;
    if (json_unpack(root, "{s:s, s:i, s:s, s:F, s:s, s:i, s:i}", "format", &format, "version",
                    &version, "kind", &kind_name, "train_fraction", &s->train_fraction, "seed_hex",
                    &seed_hex, "image_count", &images, "class_count", &classes) ||
        strcmp(format, SPLIT_FORMAT) || version != 1 ||
        siamese_split_kind_parse(kind_name, &s->kind) != SIAMESE_OK ||
        sm_parse_u64(seed_hex, 16, &s->seed))
        return sm_fail(&s->err, SIAMESE_ERR_FORMAT, "%s: not a siamese split record (version 1)",
                       path);
    if (images != ds->n_images || classes != ds->n_classes)
        return sm_fail(&s->err, SIAMESE_ERR_FORMAT,
                       "%s: recorded for a dataset of %d images and %d classes; %s has %d and %d",
                       path, images, classes, ds->path, ds->n_images, ds->n_classes);
    return SIAMESE_OK;
}

static siamese_status read_split(siamese_split *s, json_t *root, const char *path) {
    siamese_dataset *ds = s->ds;
    name_index ix = {ds, identity(ds->n_images)};
    int *tmp = malloc((size_t)(ds->n_images + 1) * sizeof *tmp);
    siamese_status st = SIAMESE_OK;
    if (!ix.order || !tmp) st = sm_fail(&s->err, SIAMESE_ERR_NOMEM, "out of memory");
    else sort_by_name(ds, ix.order, tmp, ds->n_images);
    if (st == SIAMESE_OK && s->kind == SIAMESE_SPLIT_CLASSES)
        st = read_test_names(s, &ix, json_object_get(root, "test_classes"), path);
    if (st == SIAMESE_OK && s->kind == SIAMESE_SPLIT_IMAGES)
        st = read_test_names(s, &ix, json_object_get(root, "test_images"), path);
    json_t *train = json_object_get(root, "train_pairs"),
           *test = json_object_get(root, "test_pairs");
    if (st == SIAMESE_OK && (train || test || s->kind == SIAMESE_SPLIT_PAIRS)) {
        size_t n = json_array_size(train) > json_array_size(test) ? json_array_size(train)
                                                                  : json_array_size(test);
        if (n > (1u << 28) || alloc_pair_lists(s, (int)n))
            st = sm_fail(&s->err, SIAMESE_ERR_NOMEM, "out of memory");
        if (st == SIAMESE_OK) st = read_pairs(s, &ix, train, 0, path);
        if (st == SIAMESE_OK) st = read_pairs(s, &ix, test, 1, path);
    }
    free(ix.order);
    free(tmp);
    return st;
}

siamese_status siamese_split_load(siamese_dataset *ds, const char *path, siamese_split **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    if (!ds || !path) return SIAMESE_ERR_INVALID_ARG;
    siamese_split *s = split_alloc(ds, SIAMESE_SPLIT_PAIRS, 0, 0);
    if (!s) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    json_t *root = NULL;
    siamese_status st = sm_json_read_file(path, JSON_REJECT_DUPLICATES, &root, &s->err);
    if (st == SIAMESE_OK) st = parse_header(s, root, path);
    if (st == SIAMESE_OK) st = read_split(s, root, path);
    json_decref(root);
    return split_made(s, st, out);
}
