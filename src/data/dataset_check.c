/* Checking every file of a dataset before training: each usable image decoded once as training
 * will decode it (in parallel), failures marked unusable, warned about in image order and
 * listed with their reasons, so a bad file is named even when no pair would have drawn it. */
#include "data/dataset_check.h"

#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
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

/* Decodes the images that may fail, in parallel: failed[i] = 1 when image i did not decode. */
static void decode_all(const siamese_dataset *ds, const siamese_image_options *opts,
                       unsigned char *failed) {
#pragma omp parallel for schedule(dynamic, 8)
    for (int i = 0; i < ds->n_images; i++) {
        if (!ds->images[i].usable || ds->images[i].pixels) continue;
        siamese_image img;
        sm_err err;
        sm_err_clear(&err);
        if (sm_ds_decode(ds, i, opts, &img, &err) != SIAMESE_OK) failed[i] = 1;
        else sm_image_free(&img);
    }
}

siamese_status sm_ds_check_files(siamese_dataset *ds, const siamese_image_options *opts,
                                 int max_listed, sm_ds_files *out) {
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
    decode_all(ds, opts, failed);
    siamese_status st = SIAMESE_OK;
    for (int i = 0; i < n && st == SIAMESE_OK; i++) {
        if (!failed[i]) continue;
        siamese_image img;
        sm_err err;
        sm_err_clear(&err);
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
    return st;
}

void sm_ds_files_free(sm_ds_files *c) {
    if (!c) return;
    for (int i = 0; i < c->listed; i++) {
        free(c->names[i]);
        free(c->reasons[i]);
    }
    free(c->names);
    free(c->reasons);
    memset(c, 0, sizeof *c);
}
