/* Helpers for the image tests: fixture manifests, an independent PNM reader for expected
 * outputs, and unzipping a few Stanford Dogs JPEGs into a temporary folder. */
#ifndef SM_IMAGE_FIXTURES_H
#define SM_IMAGE_FIXTURES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "test_util.h"

#define IF_DIR "tests/fixtures/images"

/* Expected pixels stored as "P5|P6\n<w> <h>\n255\n" + raw bytes, parsed here without the library. */
static inline int if_read_expected(const char *path, sm_image *out) {
    size_t size;
    unsigned char *buf = tu_read_file(path, &size);
    memset(out, 0, sizeof *out);
    if (!buf) return -1;
    int w, h, maxval, consumed = 0;
    char magic[3] = {0};
    if (sscanf((char *)buf, "%2s %d %d %d%n", magic, &w, &h, &maxval, &consumed) != 4 ||
        maxval != 255 || (strcmp(magic, "P5") != 0 && strcmp(magic, "P6") != 0)) {
        free(buf);
        return -1;
    }
    int c = magic[1] == '6' ? 3 : 1;
    size_t n = (size_t)w * h * c;
    consumed += 1; /* the single whitespace after maxval */
    if ((size_t)consumed + n > size || sm_image_alloc(out, w, h, c, NULL) != SIAMESE_OK) {
        free(buf);
        return -1;
    }
    memcpy(out->data, buf + consumed, n);
    free(buf);
    return 0;
}

/* Largest absolute difference of two images of the same geometry, -1 if the geometry differs. */
static inline int if_max_diff(const sm_image *a, const sm_image *b) {
    if (a->width != b->width || a->height != b->height || a->channels != b->channels) return -1;
    int m = 0;
    size_t n = (size_t)a->width * a->height * a->channels;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a->data[i] - (int)b->data[i]);
        if (d > m) m = d;
    }
    return m;
}

/* Options: no resize (width = height = 0), given channels. */
static inline sm_image_options if_opts(int channels, int width, int height) {
    sm_image_options o = siamese_image_default_options();
    o.channels = channels;
    o.width = width;
    o.height = height;
    return o;
}

/* Non-comment lines of a manifest under IF_DIR; returns the count (at most max). */
static inline int if_manifest(const char *name, char lines[][256], int max) {
    FILE *fp = fopen(tu_source_path(name), "r");
    if (!fp) return 0;
    int n = 0;
    char line[256];
    while (n < max && fgets(line, sizeof line, fp)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        line[strcspn(line, "\n")] = 0;
        snprintf(lines[n++], 256, "%s", line);
    }
    fclose(fp);
    return n;
}

/* FNV-1a 64, as tests/ref/make_image_fixtures.py computes it. */
static inline uint64_t if_fnv1a64(const uint8_t *data, size_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= data[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

/* Unzips the members matching pattern (unzip's wildcard syntax) of the Stanford Dogs zip into
 * dir; returns 0 on success. */
static inline int if_unzip_dogs(const char *dir, const char *pattern) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "unzip -qq -o '%s' '%s' -d '%s' >/dev/null 2>&1",
             tu_data_path("stanford_dogs_224/stanford_dogs_224_subset40.zip"), pattern, dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
