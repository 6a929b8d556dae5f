/* IDX datasets (MNIST, Fashion-MNIST): images + labels files, raw or gzipped, fully validated. */
#include "data/dataset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/fileio.h"
#include "base/recipe.h"

#define IDX_MAX_BYTES ((uint64_t)1 << 34) /* per file payload */
#define IDX_MAX_COUNT (INT_MAX / 4)

/* Reads exactly size bytes; returns 0, or -1 with a reason in err. */
static int gz_read_exactly(gzFile gz, uint8_t *buf, uint64_t size, const char *path, sm_err *err) {
    while (size > 0) {
        unsigned chunk = size > (1u << 30) ? (1u << 30) : (unsigned)size;
        int got = gzread(gz, buf, chunk);
        if (got < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            sm_fail(err, SIAMESE_ERR_FORMAT, "%s: corrupt compressed data (%s)", path, msg);
            return -1;
        }
        if (got == 0) {
            sm_fail(err, SIAMESE_ERR_FORMAT, "%s: truncated (the file ends early)", path);
            return -1;
        }
        buf += got;
        size -= (unsigned)got;
    }
    return 0;
}

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Checks the magic and dimensions; *payload receives the byte count. */
static siamese_status check_header(const uint8_t magic[4], const uint32_t *dims, int ndims,
                                   const char *path, uint64_t *payload, sm_err *err) {
    if (magic[0] || magic[1])
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: not an IDX file (bad magic)", path);
    if (magic[2] != 0x08)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s: IDX element type 0x%02x is not unsigned bytes (0x08)", path, magic[2]);
    if (magic[3] != ndims)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: IDX file has %d dimensions, expected %d", path,
                       magic[3], ndims);
    if (dims[0] > IDX_MAX_COUNT)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "%s: %u items is over the limit", path, dims[0]);
    uint64_t per_item = 1;
    if (ndims == 3) {
        if (dims[1] == 0 || dims[2] == 0)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: zero image size %ux%u", path, dims[2],
                           dims[1]);
        if (dims[1] > SM_IMAGE_MAX_SIDE || dims[2] > SM_IMAGE_MAX_SIDE ||
            (uint64_t)dims[1] * dims[2] > (uint64_t)SM_IMAGE_MAX_PIXELS)
            return sm_fail(err, SIAMESE_ERR_LIMIT, "%s: image size %ux%u is over the limits", path,
                           dims[2], dims[1]);
        per_item = (uint64_t)dims[1] * dims[2];
    }
    *payload = per_item * dims[0]; /* < 2^28 * 2^29: no overflow */
    if (*payload > IDX_MAX_BYTES || *payload > SIZE_MAX)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "%s: %llu bytes of data is over the limit", path,
                       (unsigned long long)*payload);
    return SIAMESE_OK;
}

/* Reads the payload into a buffer that grows as the data arrives (from 1 MB, doubling), so a
 * short file whose header declares gigabytes fails as truncated without allocating them. */
static siamese_status read_payload(gzFile gz, size_t payload, uint8_t **out, const char *path,
                                   sm_err *err) {
    size_t have = 0, cap = payload < ((size_t)1 << 20) ? payload : ((size_t)1 << 20);
    uint8_t *buf = malloc(cap ? cap : 1);
    for (;;) {
        if (!buf)
            return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory for %zu bytes", path, cap);
        if (gz_read_exactly(gz, buf + have, cap - have, path, err)) {
            free(buf);
            return err ? err->status : SIAMESE_ERR_FORMAT;
        }
        have = cap;
        if (have == payload) break;
        cap = payload - have > have ? have * 2 : payload;
        uint8_t *grown = realloc(buf, cap);
        if (!grown) free(buf);
        buf = grown;
    }
    *out = buf;
    return SIAMESE_OK;
}

static siamese_status read_idx_open(gzFile gz, const char *path, int ndims, int dims[3],
                                    uint8_t **data, sm_err *err) {
    uint8_t header[16];
    size_t header_size = 4 + 4 * (size_t)ndims;
    if (gz_read_exactly(gz, header, 4, path, err)) return err ? err->status : SIAMESE_ERR_FORMAT;
    if (header[3] != ndims) {
        uint32_t none[3] = {0, 0, 0};
        uint64_t ignored;
        return check_header(header, none, ndims, path, &ignored, err);
    }
    if (gz_read_exactly(gz, header + 4, header_size - 4, path, err))
        return err ? err->status : SIAMESE_ERR_FORMAT;
    uint32_t d[3] = {0, 1, 1};
    for (int i = 0; i < ndims; i++) d[i] = read_be32(header + 4 + 4 * i);
    uint64_t payload;
    siamese_status st = check_header(header, d, ndims, path, &payload, err);
    if (st != SIAMESE_OK) return st;
    uint8_t *buf = NULL;
    st = read_payload(gz, (size_t)payload, &buf, path, err);
    if (st != SIAMESE_OK) return st;
    uint8_t extra;
    if (gzread(gz, &extra, 1) != 0) {
        free(buf);
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: unexpected data after %llu bytes of items",
                       path, (unsigned long long)payload);
    }
    for (int i = 0; i < 3; i++) dims[i] = (int)d[i];
    *data = buf;
    return SIAMESE_OK;
}

siamese_status sm_idx_read(const char *path, int ndims, int dims[3], uint8_t **data, sm_err *err) {
    *data = NULL;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    siamese_status st = read_idx_open(gz, path, ndims, dims, data, err);
    gzclose(gz);
    return st;
}

/* ---- the IDX dataset source */

/* For "X-images-idx3-ubyte[.gz]" returns the length of X, else -1. */
static int images_prefix_len(const char *name) {
    static const char *suffixes[] = {"-images-idx3-ubyte", "-images-idx3-ubyte.gz"};
    for (int i = 0; i < 2; i++)
        if (sm_ends_with(name, suffixes[i])) return (int)(strlen(name) - strlen(suffixes[i]));
    return -1;
}

/* Finds the labels file for prefix in dir (raw or gz); malloc'd path or NULL. */
static char *find_labels(const char *dir, const char *prefix, size_t prefix_len) {
    static const char *suffixes[] = {"-labels-idx1-ubyte.gz", "-labels-idx1-ubyte"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(dir) + prefix_len + strlen(suffixes[i]) + 2;
        char *path = malloc(n);
        if (!path) return NULL;
        snprintf(path, n, "%s/%.*s%s", dir, (int)prefix_len, prefix, suffixes[i]);
        FILE *fp = fopen(path, "rb");
        if (fp) {
            fclose(fp);
            return path;
        }
        free(path);
    }
    return NULL;
}

/* Adds the classes 0..max_label in numeric order (names are the decimal label). */
static siamese_status ensure_classes(siamese_dataset *ds, int max_label) {
    while (ds->n_classes <= max_label) {
        char name[16];
        snprintf(name, sizeof name, "%d", ds->n_classes);
        if (sm_ds_add_class(ds, name) < 0)
            return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    return SIAMESE_OK;
}

static siamese_status keep_block(siamese_dataset *ds, uint8_t *block) {
    uint8_t **bigger = realloc(ds->idx_blocks, (size_t)(ds->n_idx_blocks + 1) * sizeof *bigger);
    if (!bigger) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    ds->idx_blocks = bigger;
    ds->idx_blocks[ds->n_idx_blocks++] = block;
    return SIAMESE_OK;
}

/* Reads one part (images + labels files) and adds its images as "<part>#<i>". */
static siamese_status add_part(siamese_dataset *ds, const char *images_path,
                               const char *labels_path, const char *part) {
    int idims[3], ldims[3];
    uint8_t *pixels = NULL, *labels = NULL;
    siamese_status st = sm_idx_read(images_path, 3, idims, &pixels, &ds->err);
    if (st == SIAMESE_OK) st = sm_idx_read(labels_path, 1, ldims, &labels, &ds->err);
    if (st == SIAMESE_OK && idims[0] != ldims[0])
        st = sm_fail(&ds->err, SIAMESE_ERR_FORMAT, "%s: %d labels for %d images in %s", labels_path,
                     ldims[0], idims[0], images_path);
    if (st == SIAMESE_OK && ds->n_idx_blocks > 0 &&
        (idims[1] != ds->idx_height || idims[2] != ds->idx_width))
        st = sm_fail(&ds->err, SIAMESE_ERR_FORMAT, "%s: images are %dx%d, other parts %dx%d",
                     images_path, idims[2], idims[1], ds->idx_width, ds->idx_height);
    if (st == SIAMESE_OK) st = keep_block(ds, pixels);
    if (st != SIAMESE_OK) {
        free(pixels);
        free(labels);
        return st;
    }
    ds->idx_height = idims[1];
    ds->idx_width = idims[2];
    size_t image_bytes = (size_t)idims[1] * (size_t)idims[2];
    for (int i = 0; i < idims[0] && st == SIAMESE_OK; i++) {
        st = ensure_classes(ds, labels[i]);
        char name[96];
        snprintf(name, sizeof name, "%s#%d", part, i);
        if (st == SIAMESE_OK &&
            sm_ds_add_image(ds, name, NULL, pixels + image_bytes * (size_t)i, labels[i]) < 0)
            st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    free(labels);
    return st;
}

/* Parts named "train*" come first, then the others; each group in name order. */
static int compare_parts(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int tx = !strncmp(x, "train", 5), ty = !strncmp(y, "train", 5);
    if (tx != ty) return ty - tx;
    return strcmp(x, y);
}

static siamese_status add_part_file(siamese_dataset *ds, const char *dir, const char *file) {
    int plen = images_prefix_len(file);
    char part[64];
    snprintf(part, sizeof part, "%.*s", plen < 63 ? plen : 63, file);
    char *images = sm_path_join(dir, file);
    char *labels = images ? find_labels(dir, file, (size_t)plen) : NULL;
    siamese_status st;
    if (!images) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    else if (!labels)
        st = sm_fail(&ds->err, SIAMESE_ERR_IO,
                     "%s: no labels file %s-labels-idx1-ubyte[.gz] beside it", images, part);
    else st = add_part(ds, images, labels, part);
    free(images);
    free(labels);
    return st;
}

static siamese_status open_idx_folder(siamese_dataset *ds, const char *dir, const char *want) {
    sm_dir_list files;
    siamese_status st = sm_list_dir(dir, 0, &files, &ds->err);
    if (st != SIAMESE_OK) return st;
    char **parts = malloc((size_t)(files.count ? files.count : 1) * sizeof *parts);
    if (!parts) {
        sm_dir_list_free(&files);
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    int n = 0;
    for (int i = 0; i < files.count; i++) {
        const char *name = files.names[i];
        if (images_prefix_len(name) < 0 || (want && strncmp(name, want, strlen(want)))) continue;
        size_t len = strlen(name);
        /* the raw file sorts just before its .gz twin: keep the raw one */
        if (sm_ends_with(name, ".gz") && i > 0 && strlen(files.names[i - 1]) == len - 3 &&
            !strncmp(files.names[i - 1], name, len - 3))
            continue;
        parts[n++] = files.names[i];
    }
    qsort(parts, (size_t)n, sizeof *parts, compare_parts);
    for (int i = 0; i < n && st == SIAMESE_OK; i++) st = add_part_file(ds, dir, parts[i]);
    if (st == SIAMESE_OK && n == 0)
        st = sm_fail(&ds->err, SIAMESE_ERR_DATA, "%s: no %s*-images-idx3-ubyte[.gz] files", dir,
                     want ? want : "");
    free(parts);
    sm_dir_list_free(&files);
    return st;
}

siamese_status sm_ds_open_idx(siamese_dataset *ds, const char *path, const char *part) {
    siamese_status st;
    if (sm_is_dir(path)) {
        st = open_idx_folder(ds, path, part && *part ? part : NULL);
    } else {
        const char *slash = strrchr(path, '/');
        const char *file = slash ? slash + 1 : path;
        if (images_prefix_len(file) < 0)
            return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                           "%s: an IDX images file must be named *-images-idx3-ubyte[.gz]", path);
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        if (slash == path) snprintf(dir, sizeof dir, "/");
        st = add_part_file(ds, dir, file);
    }
    if (st != SIAMESE_OK) return st;
    if (sm_ds_classes_with(ds, 1) < 2)
        return sm_fail(&ds->err, SIAMESE_ERR_DATA, "%s: fewer than two classes among the labels",
                       path);
    return SIAMESE_OK;
}
