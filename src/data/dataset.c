/* Datasets: opening (kind detection), the shared image/class/pair lists, accessors, verification. */
#include "data/dataset.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/fileio.h"
#include "base/util.h"
#include "image/image.h"

int sm_ds_add_class(siamese_dataset *ds, const char *name) {
    if (sm_grow((void **)&ds->class_names, &ds->cap_classes, ds->n_classes + 1, sizeof(char *)))
        return -1;
    char *copy = sm_strdup(name);
    if (!copy) return -1;
    ds->class_names[ds->n_classes] = copy;
    return ds->n_classes++;
}

int sm_ds_add_image(siamese_dataset *ds, const char *name, const char *path, const uint8_t *pixels,
                    int class_id) {
    if (sm_grow((void **)&ds->images, &ds->cap_images, ds->n_images + 1, sizeof(sm_ds_image)))
        return -1;
    sm_ds_image *im = &ds->images[ds->n_images];
    im->name = sm_strdup(name);
    im->path = path ? sm_strdup(path) : NULL;
    if (!im->name || (path && !im->path)) {
        free(im->name);
        free(im->path);
        return -1;
    }
    im->pixels = pixels;
    im->class_id = class_id;
    im->usable = 1;
    return ds->n_images++;
}

siamese_status sm_ds_add_pair(siamese_dataset *ds, int a, int b, int label) {
    if (sm_grow((void **)&ds->pairs, &ds->cap_pairs, ds->n_pairs + 1, sizeof(siamese_pair)))
        return SIAMESE_ERR_NOMEM;
    ds->pairs[ds->n_pairs++] = (siamese_pair){a, b, label};
    return SIAMESE_OK;
}

static int member_of(const siamese_dataset *ds, const siamese_split *split, int side, int i) {
    const sm_ds_image *im = &ds->images[i];
    return im->usable && im->class_id >= 0 &&
           (!split || siamese_split_image_side(split, i) == side);
}

/* A counting sort of the eligible images by class. */
siamese_status sm_class_members_build(siamese_dataset *ds, const siamese_split *split, int side,
                                      sm_class_members *out) {
    int nc = ds->n_classes;
    out->members = malloc((size_t)(ds->n_images + 1) * sizeof *out->members);
    out->start = calloc((size_t)nc + 1, sizeof *out->start);
    int *fill = malloc((size_t)(nc + 1) * sizeof *fill);
    if (!out->members || !out->start || !fill) {
        free(fill);
        sm_class_members_free(out);
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < ds->n_images; i++)
        if (member_of(ds, split, side, i)) out->start[ds->images[i].class_id + 1]++;
    for (int c = 0; c < nc; c++) out->start[c + 1] += out->start[c];
    memcpy(fill, out->start, (size_t)nc * sizeof *fill);
    for (int i = 0; i < ds->n_images; i++)
        if (member_of(ds, split, side, i)) out->members[fill[ds->images[i].class_id]++] = i;
    free(fill);
    return SIAMESE_OK;
}

int *sm_class_members_with(const sm_class_members *m, int n_classes, int min_images, int *count) {
    int *classes = malloc((size_t)(n_classes + 1) * sizeof *classes);
    *count = 0;
    if (!classes) return NULL;
    for (int c = 0; c < n_classes; c++)
        if (m->start[c + 1] - m->start[c] >= min_images) classes[(*count)++] = c;
    return classes;
}

siamese_status sm_class_members_build_with(siamese_dataset *ds, const siamese_split *split,
                                           int side, int min_images, sm_class_members *out,
                                           int **classes, int *count) {
    siamese_status st = sm_class_members_build(ds, split, side, out);
    if (st != SIAMESE_OK) return st;
    *classes = sm_class_members_with(out, ds->n_classes, min_images, count);
    if (*classes) return SIAMESE_OK;
    sm_class_members_free(out);
    return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
}

void sm_class_members_free(sm_class_members *m) {
    free(m->members);
    free(m->start);
    m->members = m->start = NULL;
}

void sm_ds_warn(siamese_dataset *ds, const char *fmt, ...) {
    ds->skipped++;
    if (!ds->warning) return;
    char line[SM_ERRMSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ds->warning(ds->warning_user, line);
}

int sm_ds_classes_with(const siamese_dataset *ds, int min_images) {
    if (ds->n_classes <= 0) return 0;
    int *count = calloc((size_t)ds->n_classes, sizeof *count);
    if (!count) return 0;
    for (int i = 0; i < ds->n_images; i++)
        if (ds->images[i].usable && ds->images[i].class_id >= 0) count[ds->images[i].class_id]++;
    int n = 0;
    for (int c = 0; c < ds->n_classes; c++) n += count[c] >= min_images;
    free(count);
    return n;
}

siamese_dataset_params siamese_dataset_default_params(void) {
    siamese_dataset_params p;
    memset(&p, 0, sizeof p);
    p.kind = SIAMESE_DATASET_AUTO;
    return p;
}

static int is_idx_images_name(const char *name) {
    return sm_ends_with(name, "-images-idx3-ubyte") || sm_ends_with(name, "-images-idx3-ubyte.gz");
}

/* A folder holding at least one *-images-idx3-ubyte[.gz] file. */
static int folder_has_idx(const char *path) {
    sm_dir_list files;
    if (sm_list_dir(path, 0, &files, NULL) != SIAMESE_OK) return 0;
    int found = 0;
    for (int i = 0; i < files.count && !found; i++) found = is_idx_images_name(files.names[i]);
    sm_dir_list_free(&files);
    return found;
}

static siamese_dataset_kind detect_kind(const char *path) {
    if (!sm_is_dir(path)) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (is_idx_images_name(base)) return SIAMESE_DATASET_IDX;
        return SIAMESE_DATASET_MANIFEST;
    }
    char *similar = sm_path_join(path, "similar_all_images");
    int recipe = similar && sm_is_dir(similar);
    free(similar);
    if (recipe) return SIAMESE_DATASET_RECIPE;
    if (folder_has_idx(path)) return SIAMESE_DATASET_IDX;
    return SIAMESE_DATASET_FOLDERS;
}

/* The image format of the file at path by its first bytes (the decoder's own detection), else
 * its name's image extension (".jpg"); NULL when it looks like no image (or cannot be read). */
static const char *image_kind(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    uint8_t head[16];
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    sm_image_format format = sm_image_detect(head, n);
    if (format != SM_IMAGE_UNKNOWN) return sm_image_format_name(format);
    static const char *const extensions[] = {".jpg", ".jpeg", ".png",  ".pgm", ".ppm",
                                             ".pbm", ".pnm",  ".webp", ".gif"};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof extensions / sizeof *extensions; i++)
        if (strcasecmp(dot, extensions[i]) == 0) return dot;
    return NULL;
}

/* Every file that is not IDX is read as a manifest: when that fails on an image, the manifest's
 * complaint (no tabs on line 1) would mislead, so say what a data set may be instead. */
static siamese_status open_manifest(siamese_dataset *ds, const char *path) {
    siamese_status st = sm_ds_open_manifest(ds, path);
    const char *image = st == SIAMESE_OK || st == SIAMESE_ERR_NOMEM ? NULL : image_kind(path);
    if (!image) return st;
    return sm_fail(&ds->err, SIAMESE_ERR_DATA,
                   "%s: an image (%s), not a data set: give a folder of class folders, the "
                   "recipe's similar_all_images/dissimilar_all_images folder, IDX files or a pairs "
                   "manifest (TSV lines: path_a, path_b, label)",
                   path, image);
}

static siamese_status open_kind(siamese_dataset *ds, const char *path,
                                const siamese_dataset_params *p) {
    switch (ds->kind) {
    case SIAMESE_DATASET_FOLDERS:
        return sm_ds_open_folders(ds, path);
    case SIAMESE_DATASET_RECIPE:
        return sm_ds_open_recipe(ds, path);
    case SIAMESE_DATASET_MANIFEST:
        return open_manifest(ds, path);
    case SIAMESE_DATASET_IDX:
        return sm_ds_open_idx(ds, path, p->idx_part);
    default:
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "%s: unknown dataset kind", path);
    }
}

siamese_status siamese_dataset_open(const char *path, const siamese_dataset_params *params,
                                    siamese_dataset **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    siamese_dataset_params p = params ? *params : siamese_dataset_default_params();
    siamese_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return SIAMESE_ERR_NOMEM;
    *out = ds;
    ds->warning = p.warning;
    ds->warning_user = p.warning_user;
    if (!path || !*path) return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "no dataset path given");
    ds->path = sm_strdup(path);
    if (!ds->path) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    ds->kind = p.kind == SIAMESE_DATASET_AUTO ? detect_kind(path) : p.kind;
    return open_kind(ds, path, &p);
}

void siamese_dataset_free(siamese_dataset *ds) {
    if (!ds) return;
    for (int i = 0; i < ds->n_classes; i++) free(ds->class_names[i]);
    for (int i = 0; i < ds->n_images; i++) {
        free(ds->images[i].name);
        free(ds->images[i].path);
    }
    for (int i = 0; i < ds->n_idx_blocks; i++) free(ds->idx_blocks[i]);
    free(ds->idx_blocks);
    free(ds->class_names);
    free(ds->images);
    free(ds->pairs);
    free(ds->path);
    free(ds);
}

const char *siamese_dataset_errmsg(const siamese_dataset *ds) { return ds ? ds->err.msg : ""; }

siamese_dataset_kind siamese_dataset_get_kind(const siamese_dataset *ds) { return ds->kind; }

static const char *const kind_names[] = {[SIAMESE_DATASET_AUTO] = "auto",
                                         [SIAMESE_DATASET_FOLDERS] = "folders",
                                         [SIAMESE_DATASET_RECIPE] = "recipe",
                                         [SIAMESE_DATASET_MANIFEST] = "manifest",
                                         [SIAMESE_DATASET_IDX] = "idx"};

const char *siamese_dataset_kind_name(siamese_dataset_kind kind) {
    return sm_name_of(kind_names, (int)(sizeof kind_names / sizeof kind_names[0]), (int)kind);
}

const char *siamese_dataset_path(const siamese_dataset *ds) { return ds->path; }
int siamese_dataset_class_count(const siamese_dataset *ds) { return ds->n_classes; }

const char *siamese_dataset_class_name(const siamese_dataset *ds, int c) {
    return c >= 0 && c < ds->n_classes ? ds->class_names[c] : NULL;
}

int siamese_dataset_image_count(const siamese_dataset *ds) { return ds->n_images; }

static int valid_image(const siamese_dataset *ds, int i) { return i >= 0 && i < ds->n_images; }

const char *siamese_dataset_image_name(const siamese_dataset *ds, int i) {
    return valid_image(ds, i) ? ds->images[i].name : NULL;
}

const char *siamese_dataset_image_path(const siamese_dataset *ds, int i) {
    return valid_image(ds, i) ? ds->images[i].path : NULL;
}

int siamese_dataset_image_class(const siamese_dataset *ds, int i) {
    return valid_image(ds, i) ? ds->images[i].class_id : -1;
}

int siamese_dataset_image_usable(const siamese_dataset *ds, int i) {
    return valid_image(ds, i) ? ds->images[i].usable : 0;
}

int siamese_dataset_skipped_count(const siamese_dataset *ds) { return ds->skipped; }

/* Converts and resizes an in-memory grey image as opts says. */
static siamese_status decode_memory_image(const siamese_dataset *ds, const sm_ds_image *im,
                                          const siamese_image_options *opts, siamese_image *out,
                                          sm_err *err) {
    sm_image grey = {ds->idx_width, ds->idx_height, 1, (uint8_t *)im->pixels};
    int channels = opts->channels ? opts->channels : 1;
    int resize = opts->width > 0 && opts->height > 0 &&
                 (opts->width != grey.width || opts->height != grey.height);
    sm_image converted = {0, 0, 0, NULL};
    siamese_status st = sm_image_convert(&grey, channels, &converted, err);
    if (st != SIAMESE_OK || !resize) {
        *out = converted;
        return st;
    }
    st = sm_image_resize(&converted, opts->width, opts->height, out, err);
    sm_image_free(&converted);
    return st;
}

siamese_status sm_ds_decode(const siamese_dataset *ds, int image, const siamese_image_options *opts,
                            siamese_image *out, sm_err *err) {
    *out = (siamese_image){0, 0, 0, NULL};
    if (!valid_image(ds, image))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "image index %d out of range", image);
    siamese_image_options defaults = siamese_image_default_options();
    if (!opts) opts = &defaults;
    const sm_ds_image *im = &ds->images[image];
    if (im->pixels) {
        siamese_status st = decode_memory_image(ds, im, opts, out, err);
        if (st != SIAMESE_OK) sm_err_prefix(err, im->name);
        return st;
    }
    return sm_image_load_file(im->path, opts, out, err);
}

siamese_status siamese_dataset_load_image(siamese_dataset *ds, int image,
                                          const siamese_image_options *options,
                                          siamese_image *out) {
    return sm_ds_decode(ds, image, options, out, &ds->err);
}

/* A stored pair both of whose images are usable. */
static int pair_usable(const siamese_dataset *ds, const siamese_pair *p) {
    return ds->images[p->a].usable && ds->images[p->b].usable;
}

siamese_status siamese_dataset_verify(siamese_dataset *ds, const siamese_image_options *options) {
    siamese_image_options opts = options ? *options : siamese_image_default_options();
    opts.width = opts.height = 0; /* decoding proves the file; no need to resize */
    opts.channels = 0;
    for (int i = 0; i < ds->n_images; i++) {
        if (!ds->images[i].usable || ds->images[i].pixels) continue;
        siamese_image img;
        sm_err err;
        sm_err_clear(&err);
        siamese_status st = sm_ds_decode(ds, i, &opts, &img, &err);
        if (st == SIAMESE_ERR_NOMEM) return sm_fail(&ds->err, st, "out of memory");
        if (st != SIAMESE_OK) {
            ds->images[i].usable = 0;
            sm_ds_warn(ds, "%s; skipped", err.msg);
        }
        sm_image_free(&img);
    }
    if (ds->n_classes > 0) {
        if (sm_ds_classes_with(ds, 1) < 2)
            return sm_fail(&ds->err, SIAMESE_ERR_DATA,
                           "%s: fewer than two classes with a usable image", ds->path);
        return SIAMESE_OK;
    }
    for (int i = 0; i < ds->n_pairs; i++)
        if (pair_usable(ds, &ds->pairs[i])) return SIAMESE_OK;
    return sm_fail(&ds->err, SIAMESE_ERR_DATA, "%s: no usable pairs", ds->path);
}

void siamese_pairs_free(siamese_pairs *pairs) {
    if (!pairs) return;
    free(pairs->items);
    pairs->items = NULL;
    pairs->count = 0;
}
