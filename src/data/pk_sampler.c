/* The P x K sampler: every batch holds P distinct classes with K distinct images each, seeded by
 * (seed, epoch), drawn from the classes of one side of a split that have at least K images. */
#include "data/pk_sampler.h"

#include <stdlib.h>
#include <string.h>

#include "base/recipe.h"
#include "base/rng.h"
#include "data/dataset.h"

#define STREAM_PK 0x504b53414d504c45ull    /* "PKSAMPLE" */
#define STREAM_TURNS 0x504b5455524e5300ull /* "PKTURNS" */

/* The eligible images of one side grouped by class:
 * by_class.members[by_class.start[c] .. start[c + 1]). */
typedef struct pk_groups {
    sm_class_members by_class;
    int *classes; /* the classes with >= K images */
    int n_classes;
    int images; /* images of those classes */
} pk_groups;

static void groups_free(pk_groups *g) {
    sm_class_members_free(&g->by_class);
    free(g->classes);
}

static siamese_status groups_build(siamese_dataset *ds, const siamese_split *split, int side, int k,
                                   pk_groups *g) {
    memset(g, 0, sizeof *g);
    siamese_status st =
        sm_class_members_build_with(ds, split, side, k, &g->by_class, &g->classes, &g->n_classes);
    if (st != SIAMESE_OK) return st;
    const int *start = g->by_class.start;
    for (int i = 0; i < g->n_classes; i++)
        g->images += start[g->classes[i] + 1] - start[g->classes[i]];
    return SIAMESE_OK;
}

static siamese_status check_args(siamese_dataset *ds, int p, int k) {
    if (ds->n_classes <= 0)
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                       "%s: P x K batches need a dataset with classes (class folders or IDX)",
                       ds->path);
    if (p < 2 || k < 2 || p > SM_PK_MAX || k > SM_PK_MAX || p * k > SM_MAX_BATCH_IMAGES)
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                       "P x K = %d x %d: P and K must each be at least 2 (and P x K at most %d)", p,
                       k, SM_MAX_BATCH_IMAGES);
    return SIAMESE_OK;
}

/* Fails unless g has P classes; the message says what the data allows. */
static siamese_status check_enough(siamese_dataset *ds, const pk_groups *g, int side, int p,
                                   int k) {
    if (g->n_classes >= p) return SIAMESE_OK;
    return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                   "P x K = %d x %d asks for %d classes with at least %d images each, but the %s "
                   "side of %s has only %d such classes: lower P or K",
                   p, k, p, k, side == 0 ? "training" : "test", ds->path, g->n_classes);
}

siamese_status sm_pk_plan(siamese_dataset *ds, const siamese_split *split, int side, int p, int k,
                          int *batches_per_epoch) {
    siamese_status st = check_args(ds, p, k);
    pk_groups g;
    if (st == SIAMESE_OK) st = groups_build(ds, split, side, k, &g);
    if (st != SIAMESE_OK) return st;
    st = check_enough(ds, &g, side, p, k);
    int batches = g.images / (p * k);
    *batches_per_epoch = batches > 0 ? batches : 1;
    groups_free(&g);
    return st;
}

/* K distinct images of class c appended at out (a partial Fisher-Yates shuffle of scratch). */
static void draw_class(const pk_groups *g, int c, int k, sm_rng *rng, int *scratch, int *out) {
    const int *start = g->by_class.start;
    int n = start[c + 1] - start[c];
    memcpy(scratch, g->by_class.members + start[c], (size_t)n * sizeof *scratch);
    sm_rng_pick_int(rng, scratch, n, k, out);
}

static void fill_batches(const pk_groups *g, int p, int k, int batches, sm_rng *rng, int *scratch,
                         int *order, sm_pk_batches *out) {
    int next = g->n_classes; /* forces a shuffle first */
    for (int b = 0; b < batches; b++) {
        if (next + p > g->n_classes) {
            for (int i = 0; i < g->n_classes; i++) order[i] = g->classes[i];
            sm_rng_shuffle_int(rng, order, g->n_classes);
            next = 0;
        }
        for (int j = 0; j < p; j++) {
            int c = order[next++], at = (b * p + j) * k;
            draw_class(g, c, k, rng, scratch, out->images + at);
            for (int i = 0; i < k; i++) out->classes[at + i] = c;
        }
    }
}

siamese_status sm_pk_sample(siamese_dataset *ds, const siamese_split *split, int side, int p, int k,
                            int batches, uint64_t seed, int epoch, sm_pk_batches *out) {
    memset(out, 0, sizeof *out);
    siamese_status st = check_args(ds, p, k);
    if (st == SIAMESE_OK && (batches < 1 || (int64_t)batches * p * k > (1 << 28)))
        st = sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "%d batches of %d x %d out of range",
                     batches, p, k);
    pk_groups g;
    if (st == SIAMESE_OK) st = groups_build(ds, split, side, k, &g);
    if (st != SIAMESE_OK) return st;
    st = check_enough(ds, &g, side, p, k);
    size_t count = (size_t)batches * p * k;
    int *scratch = malloc((size_t)(ds->n_images + 1) * sizeof *scratch);
    int *order = malloc((size_t)(g.n_classes + 1) * sizeof *order);
    out->images = malloc(count * sizeof *out->images);
    out->classes = malloc(count * sizeof *out->classes);
    if (st == SIAMESE_OK && (!scratch || !order || !out->images || !out->classes))
        st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) {
        sm_rng rng;
        sm_rng_seed(&rng, sm_seed_mix(sm_seed_mix(seed, STREAM_PK), (uint64_t)epoch));
        fill_batches(&g, p, k, batches, &rng, scratch, order, out);
        out->count = (int)count;
    }
    free(scratch);
    free(order);
    groups_free(&g);
    if (st != SIAMESE_OK) sm_pk_batches_free(out);
    return st;
}

void sm_pk_batches_free(sm_pk_batches *b) {
    free(b->images);
    free(b->classes);
    memset(b, 0, sizeof *b);
}

void sm_pk_turn_classes(sm_pk_batches *b, int k, int turns, uint64_t seed, int epoch) {
    sm_rng rng;
    sm_rng_seed(&rng, sm_seed_mix(sm_seed_mix(seed, STREAM_TURNS), (uint64_t)epoch));
    for (int at = 0; at + k <= b->count; at += k) {
        int r = (int)sm_rng_below(&rng, (uint64_t)turns);
        for (int i = at; i < at + k; i++) b->classes[i] = b->classes[i] * turns + r;
    }
}
