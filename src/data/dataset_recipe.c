/* The recipe's pair folders: similar_all_images/similar_{i}_{first,second}.* (label 0) and
 * dissimilar_all_images/dissimilar_{i}_{first,second}.* (label 1), paired by i. */
#include "data/dataset.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/number.h"

typedef struct recipe_entry {
    long index;
    int second;       /* 0 = first, 1 = second */
    const char *file; /* borrowed from the folder listing */
} recipe_entry;

/* Parses "<prefix>_<i>_<first|second>[.ext]"; 0 on success. */
static int parse_recipe_name(const char *name, const char *prefix, recipe_entry *out) {
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) || name[n] != '_') return -1;
    const char *digits = name + n + 1, *end = digits + strspn(digits, "0123456789");
    int64_t index;
    if (sm_parse_i64_n(digits, (size_t)(end - digits), 0, INT_MAX / 2, &index) || *end != '_')
        return -1;
    end++;
    int second;
    if (!strncmp(end, "first", 5)) second = 0, end += 5;
    else if (!strncmp(end, "second", 6)) second = 1, end += 6;
    else return -1;
    if (*end && *end != '.') return -1;
    out->index = index;
    out->second = second;
    out->file = name;
    return 0;
}

static int compare_entries(const void *a, const void *b) {
    const recipe_entry *x = a, *y = b;
    if (x->index != y->index) return x->index < y->index ? -1 : 1;
    if (x->second != y->second) return x->second - y->second;
    return strcmp(x->file, y->file);
}

/* Adds the image folder/file named "sub/file"; returns its index or -1 (out of memory). */
static int add_recipe_image(siamese_dataset *ds, const char *folder, const char *sub,
                            const char *file) {
    char *path = sm_path_join(folder, file);
    char *name = path ? sm_path_join(sub, file) : NULL;
    int id = name ? sm_ds_add_image(ds, name, path, NULL, -1) : -1;
    free(path);
    free(name);
    return id;
}

/* Pairs up sorted entries: each index needs exactly one first and one second file. */
static siamese_status add_recipe_pairs(siamese_dataset *ds, const char *folder, const char *sub,
                                       recipe_entry *e, int n, int label) {
    int i = 0;
    while (i < n) {
        int j = i;
        while (j < n && e[j].index == e[i].index) j++;
        if (j - i != 2 || e[i].second != 0 || e[i + 1].second != 1) {
            sm_ds_warn(ds, "%s/%s: pair %ld needs exactly one _first and one _second file; skipped",
                       folder, e[i].file, e[i].index);
        } else {
            int a = add_recipe_image(ds, folder, sub, e[i].file);
            int b = a >= 0 ? add_recipe_image(ds, folder, sub, e[i + 1].file) : -1;
            if (b < 0 || sm_ds_add_pair(ds, a, b, label) != SIAMESE_OK)
                return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
        }
        i = j;
    }
    return SIAMESE_OK;
}

/* Reads one pair folder (root/sub) whose files are named prefix_{i}_{first,second}.*. */
static siamese_status read_pair_folder(siamese_dataset *ds, const char *root, const char *sub,
                                       const char *prefix, int label) {
    char *folder = sm_path_join(root, sub);
    if (!folder) return sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (!sm_is_dir(folder)) {
        sm_ds_warn(ds, "%s: missing folder; no %s pairs", folder, prefix);
        free(folder);
        return SIAMESE_OK;
    }
    sm_dir_list files;
    siamese_status st = sm_list_dir(folder, 0, &files, &ds->err);
    recipe_entry *entries =
        st == SIAMESE_OK && files.count ? malloc((size_t)files.count * sizeof *entries) : NULL;
    if (st == SIAMESE_OK && files.count && !entries)
        st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; st == SIAMESE_OK && i < files.count; i++) {
        if (parse_recipe_name(files.names[i], prefix, &entries[n]) == 0) n++;
        else
            sm_ds_warn(ds, "%s/%s: not named %s_<i>_first or %s_<i>_second; skipped", folder,
                       files.names[i], prefix, prefix);
    }
    if (st == SIAMESE_OK) {
        if (n > 1) qsort(entries, (size_t)n, sizeof *entries, compare_entries);
        st = add_recipe_pairs(ds, folder, sub, entries, n, label);
    }
    free(entries);
    sm_dir_list_free(&files);
    free(folder);
    return st;
}

siamese_status sm_ds_open_recipe(siamese_dataset *ds, const char *path) {
    if (!sm_is_dir(path))
        return sm_fail(&ds->err, SIAMESE_ERR_IO, "%s: not a folder (or it does not exist)", path);
    siamese_status st = read_pair_folder(ds, path, "similar_all_images", "similar", 0);
    if (st == SIAMESE_OK) st = read_pair_folder(ds, path, "dissimilar_all_images", "dissimilar", 1);
    if (st != SIAMESE_OK) return st;
    if (ds->n_pairs == 0)
        return sm_fail(&ds->err, SIAMESE_ERR_DATA,
                       "%s: no pairs in similar_all_images/ or dissimilar_all_images/", path);
    return SIAMESE_OK;
}
