/* Writing pairs out: as a TSV manifest (atomically) or as the recipe's folder tree of hard links. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fileio.h"
#include "data/dataset.h"

static siamese_status check_pairs(siamese_dataset *ds, const siamese_pairs *pairs) {
    if (!pairs || pairs->count <= 0)
        return sm_fail(&ds->err, SIAMESE_ERR_DATA, "no pairs to write");
    for (int i = 0; i < pairs->count; i++) {
        const siamese_pair *p = &pairs->items[i];
        if (p->a < 0 || p->a >= ds->n_images || p->b < 0 || p->b >= ds->n_images)
            return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG, "pair %d names no image", i);
    }
    return SIAMESE_OK;
}

/* The resolved folder of the manifest path, malloc'd. */
static char *manifest_folder(const char *path) {
    char *copy = sm_strdup(path);
    if (!copy) return NULL;
    char *slash = strrchr(copy, '/');
    const char *dir = ".";
    if (slash == copy) dir = "/";
    else if (slash) {
        *slash = '\0';
        dir = copy;
    }
    char *real = realpath(dir, NULL);
    free(copy);
    return real;
}

/* Writes the image's path, relative to folder when below it, else absolute. */
static siamese_status write_image_path(siamese_dataset *ds, FILE *fp, const char *folder,
                                       int image) {
    const char *path = ds->images[image].path;
    if (!path)
        return sm_fail(
            &ds->err, SIAMESE_ERR_UNSUPPORTED,
            "%s: an in-memory image cannot be named in a manifest (use the recipe layout)",
            ds->images[image].name);
    char *real = realpath(path, NULL);
    if (!real) return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", path, strerror(errno));
    if (strpbrk(real, "\t\n\r")) {
        free(real);
        return sm_fail(&ds->err, SIAMESE_ERR_UNSUPPORTED,
                       "%s: a path holding a tab or newline cannot be written to a manifest", path);
    }
    size_t n = strlen(folder);
    const char *out = real;
    if (!strncmp(real, folder, n) && real[n] == '/') out = real + n + 1;
    else if (!strcmp(folder, "/")) out = real + 1;
    fputs(out, fp);
    free(real);
    return SIAMESE_OK;
}

siamese_status siamese_pairs_write_manifest(siamese_dataset *ds, const siamese_pairs *pairs,
                                            const char *path) {
    siamese_status st = check_pairs(ds, pairs);
    if (st != SIAMESE_OK) return st;
    char *folder = manifest_folder(path);
    if (!folder)
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: cannot resolve its folder: %s", path,
                       strerror(errno));
    sm_atomic_file af;
    st = sm_atomic_open(&af, path, &ds->err);
    if (st != SIAMESE_OK) {
        free(folder);
        return st;
    }
    fprintf(af.fp,
            "# siamese pairs from %s: path_a<TAB>path_b<TAB>label (0 = similar, 1 = dissimilar)\n",
            ds->path);
    for (int i = 0; i < pairs->count && st == SIAMESE_OK; i++) {
        st = write_image_path(ds, af.fp, folder, pairs->items[i].a);
        if (st == SIAMESE_OK) fputc('\t', af.fp);
        if (st == SIAMESE_OK) st = write_image_path(ds, af.fp, folder, pairs->items[i].b);
        if (st == SIAMESE_OK) fprintf(af.fp, "\t%d\n", pairs->items[i].label);
    }
    free(folder);
    if (st != SIAMESE_OK) {
        sm_atomic_abort(&af);
        return st;
    }
    return sm_atomic_commit(&af, &ds->err);
}

/* ---- the recipe's folder tree */

/* The files and folders a recipe layout made, in order: removed again (newest first) when it
 * fails, so a full disk never leaves half a tree. */
typedef struct made_list {
    char **paths;
    int count, cap;
} made_list;

static siamese_status made_add(siamese_dataset *ds, made_list *m, const char *path) {
    char *copy = sm_strdup(path);
    if (!copy || sm_grow((void **)&m->paths, &m->cap, m->count + 1, sizeof *m->paths)) {
        free(copy);
        return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    }
    m->paths[m->count++] = copy;
    return SIAMESE_OK;
}

/* Frees the list; with undo, first removes what it names (files, then the folders, emptied). */
static void made_finish(made_list *m, int undo) {
    for (int i = m->count - 1; i >= 0; i--) {
        if (undo) (void)remove(m->paths[i]);
        free(m->paths[i]);
    }
    free(m->paths);
}

static siamese_status make_dir(siamese_dataset *ds, const char *dir, made_list *made) {
    if (mkdir(dir, 0777) == 0) return made_add(ds, made, dir);
    if (errno == EEXIST && sm_is_dir(dir)) return SIAMESE_OK;
    return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
}

/* The extension of path's file name (".jpg"), or "" when it has none. */
static const char *extension_of(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : "";
}

static siamese_status copy_file(siamese_dataset *ds, const char *src, const char *dst) {
    int in = open(src, O_RDONLY);
    if (in < 0) return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (out < 0) {
        close(in);
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", dst, strerror(errno));
    }
    char buf[1 << 16];
    siamese_status st = SIAMESE_OK;
    for (;;) {
        ssize_t got = read(in, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) st = sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", src, strerror(errno));
        if (got <= 0) break;
        for (ssize_t done = 0; done < got && st == SIAMESE_OK;) {
            ssize_t put = write(out, buf + done, (size_t)(got - done));
            if (put < 0 && errno == EINTR) continue;
            if (put < 0) st = sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", dst, strerror(errno));
            else done += put;
        }
        if (st != SIAMESE_OK) break;
    }
    close(in);
    if (close(out) && st == SIAMESE_OK)
        st = sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", dst, strerror(errno));
    if (st != SIAMESE_OK) unlink(dst);
    return st;
}

/* An in-memory grey image written as binary PGM. */
static siamese_status write_pgm(siamese_dataset *ds, const uint8_t *pixels, const char *dst) {
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL, 0666);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        if (fd >= 0) close(fd);
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: %s", dst, strerror(errno));
    }
    size_t n = (size_t)ds->idx_width * (size_t)ds->idx_height;
    int bad = fprintf(fp, "P5\n%d %d\n255\n", ds->idx_width, ds->idx_height) < 0 ||
              fwrite(pixels, 1, n, fp) != n;
    int reason = bad ? errno : 0;
    if (fclose(fp) != 0 && !bad) {
        bad = 1;
        reason = errno;
    }
    if (bad) {
        unlink(dst);
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: write failed: %s", dst,
                       strerror(reason ? reason : EIO));
    }
    return SIAMESE_OK;
}

/* Writes image to dst: a hard link, else a copy (a PGM for in-memory images). */
static siamese_status write_image(siamese_dataset *ds, int image, const char *dst) {
    const sm_ds_image *im = &ds->images[image];
    if (!im->path) return write_pgm(ds, im->pixels, dst);
    if (link(im->path, dst) == 0) return SIAMESE_OK;
    if (errno == EEXIST)
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: already exists; not overwritten", dst);
    return copy_file(ds, im->path, dst);
}

/* Places image as dst_stem + its extension, and lists the new file in made. */
static siamese_status place_image(siamese_dataset *ds, int image, const char *dst_stem,
                                  made_list *made) {
    const sm_ds_image *im = &ds->images[image];
    char dst[PATH_MAX];
    const char *ext = im->path ? extension_of(im->path) : ".pgm";
    if ((size_t)snprintf(dst, sizeof dst, "%s%s", dst_stem, ext) >= sizeof dst)
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: path too long", dst_stem);
    siamese_status st = write_image(ds, image, dst);
    return st == SIAMESE_OK ? made_add(ds, made, dst) : st;
}

siamese_status siamese_pairs_write_recipe_layout(siamese_dataset *ds, const siamese_pairs *pairs,
                                                 const char *dir) {
    siamese_status st = check_pairs(ds, pairs);
    char *folders[2] = {sm_path_join(dir, "similar_all_images"),
                        sm_path_join(dir, "dissimilar_all_images")};
    if (st == SIAMESE_OK && (!folders[0] || !folders[1]))
        st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    made_list made = {NULL, 0, 0};
    if (st == SIAMESE_OK) st = make_dir(ds, dir, &made);
    if (st == SIAMESE_OK) st = make_dir(ds, folders[0], &made);
    if (st == SIAMESE_OK) st = make_dir(ds, folders[1], &made);
    int next[2] = {0, 0};
    static const char *prefix[2] = {"similar", "dissimilar"};
    for (int i = 0; i < pairs->count && st == SIAMESE_OK; i++) {
        int label = pairs->items[i].label ? 1 : 0;
        char stem[PATH_MAX];
        int k = next[label]++;
        snprintf(stem, sizeof stem, "%s/%s_%d_first", folders[label], prefix[label], k);
        st = place_image(ds, pairs->items[i].a, stem, &made);
        snprintf(stem, sizeof stem, "%s/%s_%d_second", folders[label], prefix[label], k);
        if (st == SIAMESE_OK) st = place_image(ds, pairs->items[i].b, stem, &made);
    }
    made_finish(&made, st != SIAMESE_OK);
    free(folders[0]);
    free(folders[1]);
    return st;
}
