/* The loader: decodes each image of the pairs once into a bounded cache, then assembles batches of
 * 2B float images (first images, then second images) in preallocated buffers, double-buffered
 * by a background thread. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/recipe.h"
#include "base/rng.h"
#include "base/util.h"
#include "data/dataset.h"
#include "data/image_cache.h"
#include "data/loader_chips.h"
#include "data/loader_labelled.h"
#include "data/loader_share.h"
#include "image/augment.h"
#include "image/image.h"

#define STREAM_SHUFFLE 0x53485546464c4500ull /* "SHUFFLE" */

struct siamese_loader {
    siamese_dataset *ds;
    siamese_loader_params p;
    float mean[4], std[4];
    int normalize;
    siamese_image_options opts;
    siamese_pair *pairs; /* usable pairs */
    int n_pairs;
    int *order; /* pair order of the current epoch */
    int batch_count;
    size_t image_floats; /* C * H * W */
    sm_image_cache cache;
    unsigned char *checked; /* [n_images]: decoded successfully once */
    /* two batch slots */
    float *images[2];
    float *labels[2];
    int slot_n[2];     /* pairs in the slot: this part's share of the batch */
    int slot_whole[2]; /* pairs in the whole batch */
    int slot_batch[2]; /* batch held by the slot, -1 = empty */
    siamese_status slot_status[2];
    sm_err slot_err[2];
    /* worker */
    pthread_t thread;
    int thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, active, busy, next_fill;
    int consume_index, held;
    double wait_seconds;
    double fill_cpu_seconds; /* CPU time of fill_slot, on whichever thread ran it */
    sm_err err;
    /* training tools (issue 12) */
    int labelled;          /* batches of labelled images: each pair is (image, image, class) */
    sm_augment augment;    /* drawn per image from (seed, epoch, position, side) */
    int augmenting;        /* augment changes something */
    int epoch;             /* the epoch in progress */
    uint8_t *scratch[2];   /* one augmented image per batch slot */
    float *field[2];       /* the augmentation's float scratch per slot (elastic), or NULL */
    int class_turns;       /* labelled: 2 or 4 turns, class c turned by c % turns; else 0 */
    uint8_t *turned[2];    /* one turned image per batch slot */
    int part, parts;       /* data-parallel share of each batch (issue 16): part of parts */
    sm_loader_chips chips; /* face chips instead of resized photos (issue 13), or make NULL */
};

siamese_loader_params siamese_loader_default_params(void) {
    siamese_loader_params p;
    memset(&p, 0, sizeof p);
    p.channels = SM_RECIPE_CHANNELS;
    p.height = SM_RECIPE_HEIGHT;
    p.width = SM_RECIPE_WIDTH;
    p.batch_size = SM_RECIPE_BATCH_SIZE;
    p.shuffle = 1;
    p.cache_bytes = SM_DEFAULT_CACHE_BYTES;
    p.prefetch = 1;
    return p;
}

/* ---- one image into a tensor slot */

/* Where an image goes in a batch: slot s, position index of the epoch, side 0/1 of a pair. */
typedef struct image_place {
    int slot;
    int64_t index;
    int side;
    int quarter_turns; /* counter-clockwise, before augmentation */
} image_place;

/* Writes image into out[C*H*W]: from the cache, else decoded again (past the cache bound);
 * augmented (into the slot's scratch image) when the loader augments. */
static siamese_status image_to_tensor(siamese_loader *ld, int image, image_place at, float *out,
                                      sm_err *err) {
    const float *mean = ld->normalize ? ld->mean : NULL, *std = ld->normalize ? ld->std : NULL;
    siamese_image img = {0, 0, 0, NULL}, view = {ld->p.width, ld->p.height, ld->p.channels, NULL};
    siamese_status st = SIAMESE_OK;
    view.data = sm_image_cache_get(&ld->cache, image);
    if (!view.data && ld->chips.make) /* every chip is cached (warm_chips) */
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: its face chip is not in the cache",
                       ld->ds->images[image].path ? ld->ds->images[image].path : "an image");
    if (!view.data) {
        st = sm_ds_decode(ld->ds, image, &ld->opts, &img, err);
        view = img;
    }
    if (st == SIAMESE_OK && at.quarter_turns) {
        siamese_image turned = view;
        turned.data = ld->turned[at.slot];
        sm_image_turn(&view, at.quarter_turns, &turned);
        view = turned;
    }
    if (st == SIAMESE_OK && ld->augmenting) {
        siamese_image augmented = view;
        augmented.data = ld->scratch[at.slot];
        uint64_t seed = sm_augment_sample_seed(ld->p.seed, ld->epoch, at.index, at.side);
        sm_augment_apply(&ld->augment, seed, &view, &augmented, ld->field[at.slot]);
        view = augmented;
    }
    if (st == SIAMESE_OK) st = sm_image_to_tensor(&view, mean, std, out);
    sm_image_free(&img);
    return st;
}

/* Assembles this part's share of batch b into slot s (each image augmented as at its place in
 * the whole batch). Reads only immutable state and the slot. */
static siamese_status fill_slot(siamese_loader *ld, int s, int b) {
    int start = b * ld->p.batch_size;
    int whole = ld->n_pairs - start < ld->p.batch_size ? ld->n_pairs - start : ld->p.batch_size;
    int offset, n;
    sm_share_of(whole, ld->part, ld->parts, &offset, &n);
    int first = start + offset;
    siamese_status st = SIAMESE_OK;
    sm_err_clear(&ld->slot_err[s]);
    for (int j = 0; j < n && st == SIAMESE_OK; j++) {
        const siamese_pair *pair = &ld->pairs[ld->order[first + j]];
        image_place at = {s, (int64_t)first + j, 0, 0};
        if (ld->class_turns > 1)
            at.quarter_turns = pair->label % ld->class_turns * (4 / ld->class_turns);
        st = image_to_tensor(ld, pair->a, at, ld->images[s] + (size_t)j * ld->image_floats,
                             &ld->slot_err[s]);
        at.side = 1;
        if (st == SIAMESE_OK && !ld->labelled)
            st =
                image_to_tensor(ld, pair->b, at, ld->images[s] + (size_t)(n + j) * ld->image_floats,
                                &ld->slot_err[s]);
        ld->labels[s][j] = (float)pair->label;
    }
    ld->slot_n[s] = n;
    ld->slot_whole[s] = whole;
    return st;
}

/* ---- the background thread */

static int worker_has_job(const siamese_loader *ld) {
    return ld->active && ld->next_fill < ld->batch_count && ld->slot_batch[ld->next_fill % 2] < 0;
}

static void *worker_main(void *arg) {
    siamese_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->stop && !worker_has_job(ld)) pthread_cond_wait(&ld->cv, &ld->mu);
        if (ld->stop) break;
        int b = ld->next_fill++, s = b % 2;
        ld->busy = 1;
        pthread_mutex_unlock(&ld->mu);
        double cpu0 = sm_thread_cpu_seconds();
        siamese_status st = fill_slot(ld, s, b);
        double cpu = sm_thread_cpu_seconds() - cpu0;
        pthread_mutex_lock(&ld->mu);
        ld->fill_cpu_seconds += cpu;
        ld->busy = 0;
        ld->slot_status[s] = st;
        ld->slot_batch[s] = b;
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* ---- creation: decode every image once */

/* Marks the images the pairs use that were not decoded yet; returns how many. */
static int mark_needed(const siamese_dataset *ds, const siamese_pairs *pairs,
                       const unsigned char *checked, unsigned char *needed) {
    int n = 0;
    for (int i = 0; i < pairs->count; i++) {
        int ab[2] = {pairs->items[i].a, pairs->items[i].b};
        for (int k = 0; k < 2; k++)
            if (!needed[ab[k]] && !checked[ab[k]] && ds->images[ab[k]].usable)
                needed[ab[k]] = 1, n++;
    }
    return n;
}

/* Decodes one needed image into its cache slot (or just to check it when not cached). */
static siamese_status warm_one(siamese_loader *ld, int image, uint8_t *slot, sm_err *err) {
    const uint8_t *ready = sm_ds_predecoded(ld->ds, image, &ld->opts); /* checked before */
    if (ready) {
        if (slot) memcpy(slot, ready, ld->cache.image_bytes);
        return SIAMESE_OK;
    }
    siamese_image img;
    siamese_status st = sm_ds_decode(ld->ds, image, &ld->opts, &img, err);
    if (st == SIAMESE_OK && slot) memcpy(slot, img.data, ld->cache.image_bytes);
    sm_image_free(&img);
    return st;
}

/* ---- face chips (issue 13) */

#define CHIP_CHUNK 32 /* photos decoded in parallel before their chips are made one by one */

/* Reserves a cache slot for every needed image into list (their count in *total); chips are never
 * made twice, so they must all fit. */
static siamese_status reserve_chips(siamese_loader *ld, const unsigned char *needed, int *list,
                                    int *total) {
    *total = 0;
    for (int i = 0; i < ld->ds->n_images; i++) {
        if (!needed[i]) continue;
        if (!sm_image_cache_reserve(&ld->cache, i))
            return sm_fail(&ld->err, SIAMESE_ERR_LIMIT,
                           "%s: the face chips of its images do not fit the image cache "
                           "(%d chips of %zu bytes fill it): raise cache_bytes",
                           ld->ds->path, ld->cache.used, ld->cache.image_bytes);
        list[(*total)++] = i;
    }
    return SIAMESE_OK;
}

/* The chip of one decoded photo into image's cache slot. */
static siamese_status chip_into_cache(siamese_loader *ld, int image, sm_image *photo, sm_err *err) {
    sm_image chip = {0, 0, 0, NULL};
    siamese_status st =
        ld->chips.make(ld->chips.user, photo, ld->p.channels, ld->p.width, &chip, err);
    if (st == SIAMESE_OK && (chip.width != ld->p.width || chip.height != ld->p.height ||
                             chip.channels != ld->p.channels))
        st = sm_fail(err, SIAMESE_ERR_SHAPE, "face chip %dx%dx%d, the loader needs %dx%dx%d",
                     chip.channels, chip.height, chip.width, ld->p.channels, ld->p.height,
                     ld->p.width);
    if (st == SIAMESE_OK)
        memcpy(sm_image_cache_get(&ld->cache, image), chip.data, ld->cache.image_bytes);
    sm_image_free(&chip);
    return st;
}

/* One chunk of list: decoded in parallel, then each made into its chip (the aligner is one
 * network, used by one thread); a photo that fails is warned about and skipped. */
static siamese_status chip_chunk(siamese_loader *ld, const int *list, int m) {
    sm_image photos[CHIP_CHUNK];
    siamese_status state[CHIP_CHUNK];
    sm_err errs[CHIP_CHUNK];
#pragma omp parallel for schedule(dynamic, 1)
    for (int j = 0; j < m; j++) {
        sm_err_clear(&errs[j]);
        photos[j] = (sm_image){0, 0, 0, NULL};
        state[j] = sm_ds_decode(ld->ds, list[j], &ld->chips.photo, &photos[j], &errs[j]);
    }
    siamese_status st = SIAMESE_OK;
    for (int j = 0; j < m; j++) {
        if (state[j] == SIAMESE_OK && st == SIAMESE_OK)
            state[j] = chip_into_cache(ld, list[j], &photos[j], &errs[j]);
        sm_image_free(&photos[j]);
        if (st != SIAMESE_OK) continue;
        if (state[j] == SIAMESE_OK) {
            ld->checked[list[j]] = 1;
            continue;
        }
        sm_image_cache_drop(&ld->cache, list[j]);
        if (state[j] == SIAMESE_ERR_NOMEM) {
            st = sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
        } else {
            ld->ds->images[list[j]].usable = 0;
            sm_ds_warn(ld->ds, "%s; skipped", errs[j].msg);
        }
    }
    return st;
}

/* Every needed image decoded as a photo and made into its face chip, once, in its cache slot;
 * the progress callback hears of it before and after (it takes milliseconds a face). */
static siamese_status warm_chips(siamese_loader *ld, const unsigned char *needed) {
    int *list = malloc((size_t)(ld->ds->n_images + 1) * sizeof *list), total = 0;
    if (!list) return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_status st = reserve_chips(ld, needed, list, &total);
    const sm_loader_chips *c = &ld->chips;
    double t0 = sm_now_seconds();
    if (st == SIAMESE_OK && total && c->progress) c->progress(c->progress_user, 0, total, 0);
    for (int first = 0; st == SIAMESE_OK && first < total; first += CHIP_CHUNK)
        st = chip_chunk(ld, list + first, total - first < CHIP_CHUNK ? total - first : CHIP_CHUNK);
    if (st == SIAMESE_OK && total && c->progress)
        c->progress(c->progress_user, total, total, sm_now_seconds() - t0);
    free(list);
    return st;
}

/* Decodes every needed image once, in parallel; failures are warned about in image order. */
static siamese_status warm_cache(siamese_loader *ld, const unsigned char *needed) {
    siamese_dataset *ds = ld->ds;
    int n = ds->n_images;
    if (ld->chips.make) return warm_chips(ld, needed);
    unsigned char *failed = calloc((size_t)n + 1, 1);
    if (!failed) return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        if (needed[i]) sm_image_cache_reserve(&ld->cache, i);
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < n; i++) {
        if (!needed[i]) continue;
        sm_err err;
        if (warm_one(ld, i, sm_image_cache_get(&ld->cache, i), &err) != SIAMESE_OK) failed[i] = 1;
    }
    siamese_status st = SIAMESE_OK;
    for (int i = 0; i < n && st == SIAMESE_OK; i++) {
        if (!failed[i]) {
            if (needed[i]) ld->checked[i] = 1;
            continue;
        }
        sm_err err;
        sm_err_clear(&err);
        sm_image_cache_drop(&ld->cache, i);
        siamese_status why = warm_one(ld, i, NULL, &err); /* again, for the message */
        if (why == SIAMESE_ERR_NOMEM) st = sm_fail(&ld->err, why, "out of memory");
        else if (why != SIAMESE_OK) {
            ds->images[i].usable = 0;
            sm_ds_warn(ds, "%s; skipped", err.msg);
        }
    }
    free(failed);
    return st;
}

static siamese_status check_params(siamese_loader *ld, const siamese_loader_params *p) {
    if (p->channels != 1 && p->channels != 3)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "channels must be 1 or 3, got %d",
                       p->channels);
    if (p->width <= 0 || p->height <= 0 || p->width > SM_IMAGE_MAX_SIDE ||
        p->height > SM_IMAGE_MAX_SIDE || (int64_t)p->width * p->height > (1 << 26))
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "image size %dx%d out of range", p->width,
                       p->height);
    if (p->batch_size <= 0 || p->batch_size > SM_MAX_BATCH_SIZE)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "batch size %d out of range",
                       p->batch_size);
    if ((p->mean == NULL) != (p->std == NULL))
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "give both mean and std, or neither");
    for (int c = 0; p->std && c < p->channels; c++)
        if (!(p->std[c] > 0))
            return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "std[%d] must be positive", c);
    return sm_augment_parse(p->augment, &ld->augment, &ld->err);
}

static void setup_params(siamese_loader *ld, const siamese_loader_params *p) {
    ld->p = *p;
    ld->normalize = p->mean != NULL;
    for (int c = 0; ld->normalize && c < p->channels; c++) {
        ld->mean[c] = p->mean[c];
        ld->std[c] = p->std[c];
    }
    ld->p.mean = ld->p.std = NULL;
    ld->p.augment = NULL; /* parsed into ld->augment by check_params */
    ld->augmenting = !sm_augment_is_identity(&ld->augment);
    ld->opts = siamese_image_default_options();
    ld->opts.channels = p->channels;
    ld->opts.width = p->width;
    ld->opts.height = p->height;
    ld->opts.fast_jpeg = p->fast_jpeg;
    ld->image_floats = (size_t)p->channels * (size_t)p->width * (size_t)p->height;
}

/* Keeps the pairs whose two images decoded. */
static siamese_status keep_usable_pairs(siamese_loader *ld, const siamese_pairs *pairs) {
    free(ld->pairs);
    free(ld->order);
    ld->n_pairs = 0;
    ld->pairs = malloc((size_t)(pairs->count + 1) * sizeof *ld->pairs);
    ld->order = malloc((size_t)(pairs->count + 1) * sizeof *ld->order);
    if (!ld->pairs || !ld->order) return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int i = 0; i < pairs->count; i++)
        if (ld->ds->images[pairs->items[i].a].usable && ld->ds->images[pairs->items[i].b].usable)
            ld->pairs[ld->n_pairs++] = pairs->items[i];
    if (ld->n_pairs == 0)
        return sm_fail(&ld->err, SIAMESE_ERR_DATA,
                       "%s: no usable pairs (every pair has an image that failed to decode)",
                       ld->ds->path);
    ld->batch_count = ld->p.drop_last ? ld->n_pairs / ld->p.batch_size
                                      : (ld->n_pairs + ld->p.batch_size - 1) / ld->p.batch_size;
    if (ld->batch_count == 0)
        return sm_fail(&ld->err, SIAMESE_ERR_DATA, "%d pairs make no full batch of %d", ld->n_pairs,
                       ld->p.batch_size);
    return SIAMESE_OK;
}

static siamese_status alloc_slots(siamese_loader *ld) {
    size_t floats = 2 * (size_t)ld->p.batch_size * ld->image_floats;
    size_t field = sm_augment_scratch_floats(&ld->augment, ld->p.width, ld->p.height);
    for (int s = 0; s < 2; s++) {
        ld->images[s] = malloc(floats * sizeof(float));
        ld->labels[s] = malloc((size_t)ld->p.batch_size * sizeof(float));
        ld->slot_batch[s] = -1;
        if (ld->augmenting) ld->scratch[s] = malloc(ld->cache.image_bytes);
        if (field) ld->field[s] = malloc(field * sizeof(float));
        if (!ld->images[s] || !ld->labels[s] || (ld->augmenting && !ld->scratch[s]) ||
            (field && !ld->field[s]))
            return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory for batch buffers");
    }
    return SIAMESE_OK;
}

static siamese_status check_pairs(siamese_loader *ld, const siamese_pairs *pairs) {
    if (!pairs || pairs->count <= 0)
        return sm_fail(&ld->err, SIAMESE_ERR_DATA, "%s: no pairs to load", ld->ds->path);
    for (int i = 0; i < pairs->count; i++)
        if (pairs->items[i].a < 0 || pairs->items[i].a >= ld->ds->n_images ||
            pairs->items[i].b < 0 || pairs->items[i].b >= ld->ds->n_images)
            return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "pair %d names no image", i);
    return SIAMESE_OK;
}

/* Decodes the images of pairs not decoded yet, then keeps the usable pairs. */
static siamese_status take_pairs(siamese_loader *ld, const siamese_pairs *pairs) {
    siamese_status st = check_pairs(ld, pairs);
    if (st != SIAMESE_OK) return st;
    unsigned char *needed = calloc((size_t)ld->ds->n_images + 1, 1);
    if (!needed) return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    mark_needed(ld->ds, pairs, ld->checked, needed);
    st = warm_cache(ld, needed);
    free(needed);
    if (st == SIAMESE_OK) st = keep_usable_pairs(ld, pairs);
    return st;
}

static siamese_status loader_setup(siamese_loader *ld, const siamese_pairs *pairs,
                                   const siamese_loader_params *p) {
    siamese_status st = check_params(ld, p);
    if (st == SIAMESE_OK) st = check_pairs(ld, pairs);
    if (st != SIAMESE_OK) return st;
    setup_params(ld, p);
    if (ld->chips.make && p->width != p->height)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG,
                       "face chips are square, the input is %dx%d", p->width, p->height);
    ld->checked = calloc((size_t)ld->ds->n_images + 1, 1);
    if (!ld->checked ||
        sm_image_cache_init(&ld->cache, ld->ds->n_images, ld->image_floats, p->cache_bytes))
        return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    st = take_pairs(ld, pairs);
    if (st == SIAMESE_OK) st = alloc_slots(ld);
    return st;
}

siamese_status siamese_loader_create(siamese_dataset *ds, const siamese_pairs *pairs,
                                     const siamese_loader_params *params, siamese_loader **out) {
    return sm_loader_create_chips(ds, pairs, params, NULL, out);
}

siamese_status sm_loader_create_chips(siamese_dataset *ds, const siamese_pairs *pairs,
                                      const siamese_loader_params *params,
                                      const sm_loader_chips *chips, siamese_loader **out) {
    *out = NULL;
    siamese_loader_params p = params ? *params : siamese_loader_default_params();
    siamese_loader *ld = calloc(1, sizeof *ld);
    if (!ld) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    ld->ds = ds;
    if (chips && chips->make) ld->chips = *chips;
    ld->held = -1;
    ld->parts = 1;
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv, NULL);
    siamese_status st = loader_setup(ld, pairs, &p);
    if (st == SIAMESE_OK && ld->p.prefetch) {
        if (pthread_create(&ld->thread, NULL, worker_main, ld) == 0) ld->thread_started = 1;
        else ld->p.prefetch = 0; /* run synchronously rather than fail */
    }
    if (st != SIAMESE_OK) sm_fail(&ds->err, st, "%s", ld->err.msg);
    *out = ld; /* on failure a handle carrying the message: read it, then free it */
    return st;
}

void siamese_loader_free(siamese_loader *ld) {
    if (!ld) return;
    if (ld->thread_started) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = 1;
        pthread_cond_broadcast(&ld->cv);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->thread, NULL);
    }
    pthread_mutex_destroy(&ld->mu);
    pthread_cond_destroy(&ld->cv);
    sm_image_cache_free(&ld->cache);
    free(ld->checked);
    for (int s = 0; s < 2; s++) {
        free(ld->images[s]);
        free(ld->labels[s]);
        free(ld->scratch[s]);
        free(ld->field[s]);
        free(ld->turned[s]);
    }
    free(ld->pairs);
    free(ld->order);
    free(ld);
}

const char *siamese_loader_errmsg(const siamese_loader *ld) { return ld ? ld->err.msg : ""; }
int siamese_loader_pair_count(const siamese_loader *ld) { return ld->n_pairs; }
int siamese_loader_batch_count(const siamese_loader *ld) { return ld->batch_count; }
size_t siamese_loader_cache_bytes(const siamese_loader *ld) {
    return sm_image_cache_bytes(&ld->cache);
}
int siamese_loader_cached_images(const siamese_loader *ld) { return ld->cache.used; }

double siamese_loader_wait_seconds(const siamese_loader *ld) {
    pthread_mutex_lock((pthread_mutex_t *)&ld->mu);
    double w = ld->wait_seconds;
    pthread_mutex_unlock((pthread_mutex_t *)&ld->mu);
    return w;
}

double siamese_loader_fill_cpu_seconds(const siamese_loader *ld) {
    pthread_mutex_lock((pthread_mutex_t *)&ld->mu);
    double cpu = ld->fill_cpu_seconds;
    pthread_mutex_unlock((pthread_mutex_t *)&ld->mu);
    return cpu;
}

/* The epoch's pair order: identity, or shuffled from (seed, epoch). */
static void make_order(siamese_loader *ld, int epoch) {
    ld->epoch = epoch;
    for (int i = 0; i < ld->n_pairs; i++) ld->order[i] = i;
    if (!ld->p.shuffle) return;
    sm_rng rng;
    sm_rng_seed(&rng, sm_seed_mix(sm_seed_mix(ld->p.seed, STREAM_SHUFFLE), (uint64_t)epoch));
    sm_rng_shuffle_int(&rng, ld->order, ld->n_pairs);
}

/* Stops the worker from starting another batch and waits for the one in progress; mu held. */
static void pause_worker(siamese_loader *ld) {
    ld->active = 0;
    while (ld->busy) pthread_cond_wait(&ld->cv, &ld->mu);
    ld->slot_batch[0] = ld->slot_batch[1] = -1;
    ld->held = -1;
}

siamese_status siamese_loader_start_epoch_at(siamese_loader *ld, int epoch, int first_batch) {
    if (epoch < 0) return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "epoch %d < 0", epoch);
    if (first_batch < 0 || first_batch > ld->batch_count)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "batch %d is not in 0..%d", first_batch,
                       ld->batch_count);
    pthread_mutex_lock(&ld->mu);
    pause_worker(ld);
    ld->consume_index = first_batch;
    ld->next_fill = first_batch;
    make_order(ld, epoch);
    ld->active = 1;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    return SIAMESE_OK;
}

siamese_status siamese_loader_start_epoch(siamese_loader *ld, int epoch) {
    return siamese_loader_start_epoch_at(ld, epoch, 0);
}

siamese_status siamese_loader_set_pairs(siamese_loader *ld, const siamese_pairs *pairs) {
    pthread_mutex_lock(&ld->mu);
    pause_worker(ld);
    pthread_mutex_unlock(&ld->mu);
    return take_pairs(ld, pairs);
}

/* Waits for (or, without prefetch, assembles) batch b in slot s; called with mu held. */
static void obtain_batch(siamese_loader *ld, int b, int s) {
    if (!ld->thread_started) {
        double cpu0 = sm_thread_cpu_seconds();
        ld->slot_status[s] = fill_slot(ld, s, b);
        ld->fill_cpu_seconds += sm_thread_cpu_seconds() - cpu0;
        ld->slot_batch[s] = b;
        return;
    }
    while (ld->slot_batch[s] != b) pthread_cond_wait(&ld->cv, &ld->mu);
}

siamese_status sm_loader_set_share(siamese_loader *ld, int part, int parts) {
    if (parts < 1 || part < 0 || part >= parts)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "share %d of %d parts", part, parts);
    pthread_mutex_lock(&ld->mu);
    pause_worker(ld);
    ld->part = part;
    ld->parts = parts;
    pthread_mutex_unlock(&ld->mu);
    return SIAMESE_OK;
}

siamese_status siamese_loader_next(siamese_loader *ld, siamese_batch *batch) {
    int whole;
    return sm_loader_next_share(ld, batch, &whole);
}

siamese_status sm_loader_next_share(siamese_loader *ld, siamese_batch *batch, int *whole) {
    memset(batch, 0, sizeof *batch);
    *whole = 0;
    double t0 = sm_now_seconds();
    pthread_mutex_lock(&ld->mu);
    if (!ld->active) {
        pthread_mutex_unlock(&ld->mu);
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG,
                       "start an epoch before asking for batches");
    }
    if (ld->held >= 0) {
        ld->slot_batch[ld->held] = -1;
        ld->held = -1;
        pthread_cond_broadcast(&ld->cv);
    }
    siamese_status st = SIAMESE_OK;
    if (ld->consume_index < ld->batch_count) {
        int b = ld->consume_index++, s = b % 2;
        obtain_batch(ld, b, s);
        ld->held = s;
        st = ld->slot_status[s];
        if (st != SIAMESE_OK) sm_fail(&ld->err, st, "%s", ld->slot_err[s].msg);
        int n = ld->slot_n[s];
        const float *second = ld->labelled ? NULL : ld->images[s] + (size_t)n * ld->image_floats;
        *batch = (siamese_batch){ld->images[s], ld->images[s], second, ld->labels[s], n};
        *whole = ld->slot_whole[s];
    }
    ld->wait_seconds += sm_now_seconds() - t0;
    pthread_mutex_unlock(&ld->mu);
    return st;
}

/* ---- labelled images (P x K batches) */

/* The images as pairs (image, image, class): the loader's cache and batching serve them. */
static siamese_status labelled_pairs(const int *images, const int *classes, int count,
                                     siamese_pairs *out) {
    out->count = 0;
    out->items = malloc((size_t)(count > 0 ? count : 1) * sizeof *out->items);
    if (!out->items) return SIAMESE_ERR_NOMEM;
    for (int i = 0; i < count; i++)
        out->items[i] = (siamese_pair){images[i], images[i], classes[i]};
    out->count = count;
    return SIAMESE_OK;
}

siamese_status sm_loader_create_labelled(siamese_dataset *ds, const int *images, const int *classes,
                                         int count, const siamese_loader_params *params,
                                         const sm_loader_chips *chips, siamese_loader **out) {
    *out = NULL;
    siamese_pairs pairs;
    if (labelled_pairs(images, classes, count, &pairs) != SIAMESE_OK)
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_loader_params p = params ? *params : siamese_loader_default_params();
    p.shuffle = 0;
    siamese_status st = sm_loader_create_chips(ds, &pairs, &p, chips, out);
    if (*out) (*out)->labelled = 1; /* the worker fills nothing before an epoch starts */
    siamese_pairs_free(&pairs);
    return st;
}

siamese_status sm_loader_set_labelled(siamese_loader *ld, const int *images, const int *classes,
                                      int count) {
    siamese_pairs pairs;
    if (labelled_pairs(images, classes, count, &pairs) != SIAMESE_OK)
        return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_status st = siamese_loader_set_pairs(ld, &pairs);
    siamese_pairs_free(&pairs);
    return st;
}

siamese_status sm_loader_set_class_turns(siamese_loader *ld, int turns) {
    if (turns != 2 && turns != 4)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG, "class rotations %d: give 2 or 4", turns);
    if (turns == 4 && ld->p.width != ld->p.height)
        return sm_fail(&ld->err, SIAMESE_ERR_INVALID_ARG,
                       "class rotations 4 turn images by 90 degrees: they need a square input, "
                       "not %dx%d",
                       ld->p.width, ld->p.height);
    for (int s = 0; s < 2; s++) {
        if (!ld->turned[s]) ld->turned[s] = malloc(ld->cache.image_bytes);
        if (!ld->turned[s]) return sm_fail(&ld->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    ld->class_turns = turns;
    return SIAMESE_OK;
}
