/* Datasets (internal): the image list, classes, stored pairs and warnings shared by the sources,
 * samplers, splits and the loader. */
#ifndef SM_DATASET_H
#define SM_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "base/util.h"
#include "siamese.h"

typedef struct sm_ds_image {
    char *name;            /* key: path relative to the dataset path, or "<part>#<index>" */
    char *path;            /* openable path; NULL for in-memory images */
    const uint8_t *pixels; /* in-memory grey image (IDX), width x height bytes; else NULL */
    int class_id;          /* -1 when the dataset has no classes */
    int usable;            /* 0 once it failed to decode */
} sm_ds_image;

struct siamese_dataset {
    siamese_dataset_kind kind;
    char *path;
    char **class_names;
    int n_classes, cap_classes;
    sm_ds_image *images;
    int n_images, cap_images;
    siamese_pair *pairs; /* stored pairs of recipe and manifest datasets */
    int n_pairs, cap_pairs;
    uint8_t **idx_blocks; /* pixel blocks of IDX parts (owned) */
    int n_idx_blocks;
    int idx_width, idx_height;
    siamese_warning_fn warning;
    void *warning_user;
    int skipped; /* guarded by being touched only from one thread at a time, see loader.c */
    sm_err err;
    /* Images decoded by the check before training (dataset_check.c) with predecoded_opts, for
     * the loaders made meanwhile to copy instead of decoding again; NULL outside that window. */
    struct sm_image_cache *predecoded;
    siamese_image_options predecoded_opts;
};

/* The pixels of image as the check decoded them with opts, or NULL (not kept, other options). */
const uint8_t *sm_ds_predecoded(const siamese_dataset *ds, int image,
                                const siamese_image_options *opts);

/* ---- building (dataset.c); sm_strdup and sm_path_join come from util.h */
/* Adds a class named name; returns its index or -1 when memory runs out. */
int sm_ds_add_class(siamese_dataset *ds, const char *name);
/* Adds an image (name and path are copied; path may be NULL); returns its index or -1. */
int sm_ds_add_image(siamese_dataset *ds, const char *name, const char *path, const uint8_t *pixels,
                    int class_id);
/* Adds a stored pair; returns SIAMESE_OK or SIAMESE_ERR_NOMEM. */
siamese_status sm_ds_add_pair(siamese_dataset *ds, int a, int b, int label);
/* Reports one skipped file or entry: counts it and sends "message" to the warning callback. */
void sm_ds_warn(siamese_dataset *ds, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The number of classes holding at least min_images usable images. */
int sm_ds_classes_with(const siamese_dataset *ds, int min_images);

/* The images the samplers draw from on one side of split (every image when split is NULL):
 * usable, with a class, grouped by class in image order: members[start[c] .. start[c + 1]). */
typedef struct sm_class_members {
    int *members; /* [n_images + 1] */
    int *start;   /* [n_classes + 1] */
} sm_class_members;

/* Builds the groups; SIAMESE_ERR_NOMEM (message in the dataset) when memory runs out. */
siamese_status sm_class_members_build(siamese_dataset *ds, const siamese_split *split, int side,
                                      sm_class_members *out);
void sm_class_members_free(sm_class_members *m);
/* The classes (of n_classes) holding at least min_images members, in class order, malloc'd;
 * *count receives how many. NULL only when memory runs out. */
int *sm_class_members_with(const sm_class_members *m, int n_classes, int min_images, int *count);
/* sm_class_members_build, then the classes holding at least min_images members as by
 * sm_class_members_with (*classes, *count of them). On failure (SIAMESE_ERR_NOMEM, message in the
 * dataset) nothing stays allocated. */
siamese_status sm_class_members_build_with(siamese_dataset *ds, const siamese_split *split,
                                           int side, int min_images, sm_class_members *out,
                                           int **classes, int *count);

/* ---- sources (one file each) */
siamese_status sm_ds_open_folders(siamese_dataset *ds, const char *path);
siamese_status sm_ds_open_recipe(siamese_dataset *ds, const char *path);
siamese_status sm_ds_open_manifest(siamese_dataset *ds, const char *path);
/* path: a folder of IDX files or one *-images-idx3-ubyte[.gz] file; part: prefix filter. */
siamese_status sm_ds_open_idx(siamese_dataset *ds, const char *path, const char *part);

/* ---- IDX files (dataset_idx.c) */
/* Reads an IDX file (raw or gzip) of unsigned bytes with ndims dimensions (1 or 3): dims
 * receives the sizes, *data the payload (malloc'd). */
siamese_status sm_idx_read(const char *path, int ndims, int dims[3], uint8_t **data, sm_err *err);

/* ---- decoding one image of the dataset (dataset.c) */
siamese_status sm_ds_decode(const siamese_dataset *ds, int image, const siamese_image_options *opts,
                            siamese_image *out, sm_err *err);

#endif
