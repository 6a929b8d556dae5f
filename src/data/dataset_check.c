/* Checking every file of a dataset before training: each usable image decoded once as training
 * will decode it (in parallel), failures marked unusable, warned about in image order and
 * listed with their reasons, so a bad file is named even when no pair would have drawn it. */
#include "data/dataset_check.h"

#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/image_cache.h"
#include "image/image.h"

/* The reason without the file's path in front ("x.jpg: truncated" -> "truncated"). */
static const char *reason_of(const char *msg, const char *path) {
    size_t n = path ? strlen(path) : 0;
    if (n && !strncmp(msg, path, n) && msg[n] == ':' && msg[n + 1] == ' ') return msg + n + 2;
    return msg;
}

static siamese_status list_skip(sm_ds_files *c, const sm_ds_image *im, const char *msg) {
    c->names[c->listed] = sm_strdup(im->name);
    c->reasons[c->listed] = sm_strdup(reason_of(msg, im->path));
    if (!c->names[c->listed] || !c->reasons[c->listed]) {
        free(c->names[c->listed]);
        free(c->reasons[c->listed]);
        return SIAMESE_ERR_NOMEM;
    }
    c->listed++;
    return SIAMESE_OK;
}

static int may_fail(const siamese_dataset *ds, int i) {
    return ds->images[i].usable && !ds->images[i].pixels;
}

/* Decodes the images that may fail, in parallel, into their kept slot when they have one:
 * failed[i] = 1 when image i did not decode. */
static void decode_all(const siamese_dataset *ds, const siamese_image_options *opts,
                       sm_image_cache *keep, unsigned char *failed) {
#pragma omp parallel for schedule(dynamic, 8)
    for (int i = 0; i < ds->n_images; i++) {
        if (!may_fail(ds, i)) continue;
        siamese_image img = {0};
        sm_err err;
        sm_err_clear(&err);
        uint8_t *slot = keep ? sm_image_cache_get(keep, i) : NULL;
        if (sm_ds_decode(ds, i, opts, &img, &err) != SIAMESE_OK) failed[i] = 1;
        else if (slot) memcpy(slot, img.data, keep->image_bytes);
        sm_image_free(&img);
    }
}

/* A cache for the decoded pixels (slots reserved for every image that may fail, within the
 * budget), or NULL when none is wanted or memory runs out (the check then only checks). */
static sm_image_cache *keep_cache(const siamese_dataset *ds, const siamese_image_options *opts,
                                  size_t budget) {
    if (!budget || opts->width <= 0 || opts->height <= 0 ||
        (opts->channels != 1 && opts->channels != 3))
        return NULL;
    sm_image_cache *c = calloc(1, sizeof *c);
    size_t bytes = (size_t)opts->channels * (size_t)opts->width * (size_t)opts->height;
    if (!c || sm_image_cache_init(c, ds->n_images, bytes, budget)) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < ds->n_images; i++)
        if (may_fail(ds, i) && !sm_image_cache_reserve(c, i)) break;
    return c;
}

const uint8_t *sm_ds_predecoded(const siamese_dataset *ds, int image,
                                const siamese_image_options *opts) {
    const siamese_image_options *k = &ds->predecoded_opts;
    if (!ds->predecoded || k->channels != opts->channels || k->width != opts->width ||
        k->height != opts->height || k->fast_jpeg != opts->fast_jpeg ||
        k->max_side != opts->max_side || k->max_pixels != opts->max_pixels)
        return NULL;
    return sm_image_cache_get(ds->predecoded, image);
}

siamese_status sm_ds_check_files(siamese_dataset *ds, const siamese_image_options *opts,
                                 int max_listed, size_t keep_bytes, sm_ds_files *out) {
    memset(out, 0, sizeof *out);
    int n = ds->n_images, cap = max_listed > 0 ? max_listed : 0;
    unsigned char *failed = calloc((size_t)n + 1, 1);
    out->names = calloc((size_t)cap + 1, sizeof *out->names);
    out->reasons = calloc((size_t)cap + 1, sizeof *out->reasons);
    if (!failed || !out->names || !out->reasons) {
        free(failed);
        sm_ds_files_free(out);
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    out->files = n + ds->skipped; /* entries skipped while opening are not images */
    out->ds = ds;
    sm_image_cache *keep = keep_cache(ds, opts, keep_bytes);
    decode_all(ds, opts, keep, failed);
    siamese_status st = SIAMESE_OK;
    for (int i = 0; i < n && st == SIAMESE_OK; i++) {
        if (!failed[i]) continue;
        siamese_image img = {0};
        sm_err err;
        sm_err_clear(&err);
        if (keep) sm_image_cache_drop(keep, i);
        siamese_status why = sm_ds_decode(ds, i, opts, &img, &err); /* again, for the message */
        if (why == SIAMESE_OK) sm_image_free(&img);
        else if (why == SIAMESE_ERR_NOMEM) st = sm_fail(&ds->err, why, "out of memory");
        else {
            ds->images[i].usable = 0;
            sm_ds_warn(ds, "%s; skipped", err.msg);
            if (out->listed < cap && list_skip(out, &ds->images[i], err.msg) != SIAMESE_OK)
                st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        }
    }
    for (int i = 0; i < n; i++) out->usable += ds->images[i].usable;
    out->skipped = ds->skipped;
    free(failed);
    if (keep && st == SIAMESE_OK) {
        ds->predecoded = keep;
        ds->predecoded_opts = *opts;
    } else if (keep) {
        sm_image_cache_free(keep);
        free(keep);
    }
    return st;
}

void sm_ds_files_free(sm_ds_files *c) {
    if (!c) return;
    if (c->ds && c->ds->predecoded) {
        sm_image_cache_free(c->ds->predecoded);
        free(c->ds->predecoded);
        c->ds->predecoded = NULL;
    }
    for (int i = 0; i < c->listed; i++) {
        free(c->names[i]);
        free(c->reasons[i]);
    }
    free(c->names);
    free(c->reasons);
    memset(c, 0, sizeof *c);
}
