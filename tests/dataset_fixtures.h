/* Helpers for the dataset tests: tiny image files, folders, IDX files and a warning collector. */
#ifndef SM_DATASET_FIXTURES_H
#define SM_DATASET_FIXTURES_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "siamese.h"
#include "test_util.h"

static inline void df_mkdir(const char *dir, const char *rel) {
    cr_assert_eq(mkdir(tu_path(dir, rel), 0777), 0, "mkdir %s", rel);
}

static inline void df_write(const char *dir, const char *rel, const void *data, size_t size) {
    FILE *fp = fopen(tu_path(dir, rel), "wb");
    cr_assert_not_null(fp, "cannot create %s", rel);
    cr_assert_eq(fwrite(data, 1, size, fp), size);
    fclose(fp);
}

static inline void df_write_text(const char *dir, const char *rel, const char *text) {
    df_write(dir, rel, text, strlen(text));
}

/* A w x h binary PGM whose pixels follow from seed. */
static inline void df_write_pgm(const char *dir, const char *rel, int w, int h, unsigned seed) {
    size_t n = (size_t)w * (size_t)h;
    char header[64];
    int hl = snprintf(header, sizeof header, "P5\n%d %d\n255\n", w, h);
    unsigned char *buf = malloc((size_t)hl + n);
    cr_assert_not_null(buf);
    memcpy(buf, header, (size_t)hl);
    for (size_t i = 0; i < n; i++)
        buf[hl + i] = (unsigned char)((seed * 2654435761u + i * 40503u) >> 7);
    df_write(dir, rel, buf, (size_t)hl + n);
    free(buf);
}

/* Big-endian IDX header + payload, raw or gzipped. */
static inline void df_write_idx(const char *dir, const char *rel, const uint8_t magic[4],
                                const uint32_t *dims, int ndims, const uint8_t *payload,
                                size_t size, int gz) {
    size_t hl = 4 + 4 * (size_t)ndims;
    uint8_t *buf = malloc(hl + size + 1);
    cr_assert_not_null(buf);
    memcpy(buf, magic, 4);
    for (int i = 0; i < ndims; i++) {
        buf[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        buf[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        buf[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        buf[7 + 4 * i] = (uint8_t)dims[i];
    }
    if (size) memcpy(buf + hl, payload, size);
    if (gz) {
        gzFile g = gzopen(tu_path(dir, rel), "wb");
        cr_assert_not_null(g);
        cr_assert_eq(gzwrite(g, buf, (unsigned)(hl + size)), (int)(hl + size));
        gzclose(g);
    } else {
        df_write(dir, rel, buf, hl + size);
    }
    free(buf);
}

/* An MNIST-like part: n images of h x w with labels i % classes. */
static inline void df_write_idx_part(const char *dir, const char *prefix, int n, int h, int w,
                                     int classes, int gz) {
    uint8_t mi[4] = {0, 0, 8, 3}, ml[4] = {0, 0, 8, 1};
    uint32_t di[3] = {(uint32_t)n, (uint32_t)h, (uint32_t)w}, dl[1] = {(uint32_t)n};
    size_t px = (size_t)n * h * w;
    uint8_t *pixels = malloc(px + 1), *labels = malloc((size_t)n + 1);
    for (size_t i = 0; i < px; i++) pixels[i] = (uint8_t)(i * 7);
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)(i % classes);
    char name[256];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    df_write_idx(dir, name, mi, di, 3, pixels, px, gz);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    df_write_idx(dir, name, ml, dl, 1, labels, (size_t)n, gz);
    free(pixels);
    free(labels);
}

/* Collects warnings. */
typedef struct df_warnings {
    int count;
    char last[1024];
    char all[8192];
} df_warnings;

static inline void df_collect(void *user, const char *message) {
    df_warnings *w = user;
    w->count++;
    snprintf(w->last, sizeof w->last, "%s", message);
    size_t used = strlen(w->all);
    snprintf(w->all + used, sizeof w->all - used, "%s\n", message);
}

static inline siamese_dataset *df_open(const char *path, df_warnings *w, siamese_status want) {
    siamese_dataset_params p = siamese_dataset_default_params();
    if (w) {
        memset(w, 0, sizeof *w);
        p.warning = df_collect;
        p.warning_user = w;
    }
    siamese_dataset *ds = NULL;
    siamese_status st = siamese_dataset_open(path, &p, &ds);
    cr_assert_eq(st, want, "open %s: status %d (%s), want %d", path, st, siamese_dataset_errmsg(ds),
                 want);
    return ds;
}

/* A class tree: classes c0..c{n-1} named "cls_<i>", each with per images "img_<j>.pgm". */
static inline void df_make_classes(const char *dir, int classes, int per, int w, int h) {
    for (int c = 0; c < classes; c++) {
        char rel[128];
        snprintf(rel, sizeof rel, "cls_%02d", c);
        df_mkdir(dir, rel);
        for (int j = 0; j < per; j++) {
            char f[160];
            snprintf(f, sizeof f, "cls_%02d/img_%02d.pgm", c, j);
            df_write_pgm(dir, f, w, h, (unsigned)(c * 100 + j));
        }
    }
}

#endif
