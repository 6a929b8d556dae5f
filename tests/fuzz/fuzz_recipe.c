/* Fuzzes the recipe layout's file names: each input line becomes an (empty) file in
 * similar_all_images/ (before a line "--") or dissimilar_all_images/ (after it), then the folder
 * is opened as a recipe dataset and its pairs are checked. The folders persist between inputs:
 * only the files that differ from the previous input are removed or created. */
#include <sys/stat.h>

#include "fuzz_common.h"
#include "siamese.h"

/* The file names of one folder, sorted, without duplicates. */
typedef struct {
    char **names;
    int count;
} name_list;

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when name can be a file of the folder (no '/', not "." or "..", at most 200 bytes). */
static int usable_name(const char *name) {
    return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
           strlen(name) <= 200;
}

/* Sorts list and drops repeated names (the strings are not owned). */
static void sort_unique(name_list *list) {
    if (list->count > 1)
        qsort(list->names, (size_t)list->count, sizeof *list->names, compare_names);
    int kept = 0;
    for (int i = 0; i < list->count; i++)
        if (!kept || strcmp(list->names[kept - 1], list->names[i]))
            list->names[kept++] = list->names[i];
    list->count = kept;
}

/* Creates the empty file dir/name; returns 0 or -1. */
static int touch(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    return f && fclose(f) == 0 ? 0 : -1;
}

static void remove_file(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

/* Makes folder dir hold exactly the files of want (sorted, unique), given that it holds those of
 * *held (sorted, owned); *held then lists what dir holds. */
static void sync_folder(const char *dir, name_list *held, const name_list *want) {
    char **now = malloc(((size_t)want->count + 1) * sizeof *now);
    if (!now) abort();
    int n = 0, i = 0, j = 0;
    while (i < held->count || j < want->count) {
        int order = i == held->count   ? 1
                    : j == want->count ? -1
                                       : strcmp(held->names[i], want->names[j]);
        if (order < 0) {
            remove_file(dir, held->names[i]);
            free(held->names[i++]);
        } else if (order == 0) {
            now[n++] = held->names[i++];
            j++;
        } else {
            if (touch(dir, want->names[j]) == 0 && !(now[n++] = strdup(want->names[j]))) abort();
            j++;
        }
    }
    free(held->names);
    held->names = now;
    held->count = n;
}

/* Makes root/similar_all_images and root/dissimilar_all_images hold the files the input names. */
static void lay_out(const char *root, const uint8_t *data, size_t size) {
    static name_list held[2];
    static int made;
    char dirs[2][600];
    snprintf(dirs[0], sizeof dirs[0], "%s/similar_all_images", root);
    snprintf(dirs[1], sizeof dirs[1], "%s/dissimilar_all_images", root);
    if (!made) {
        mkdir(root, 0700);
        mkdir(dirs[0], 0700);
        mkdir(dirs[1], 0700);
        made = 1;
    }
    char *text = fz_text(data, size), *save = NULL;
    name_list want[2] = {{NULL, 0}, {NULL, 0}};
    for (int k = 0; k < 2; k++)
        if (!(want[k].names = malloc((size / 2 + 1) * sizeof(char *)))) abort();
    int side = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(line, "--")) side = 1;
        else if (usable_name(line)) want[side].names[want[side].count++] = line;
    }
    for (int k = 0; k < 2; k++) {
        sort_unique(&want[k]);
        sync_folder(dirs[k], &held[k], &want[k]);
        free(want[k].names);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char root[512];
    fz_path(root, sizeof root, "recipe");
    lay_out(root, data, size);

    siamese_dataset_params p = siamese_dataset_default_params();
    p.kind = SIAMESE_DATASET_RECIPE;
    siamese_dataset *ds = NULL;
    if (siamese_dataset_open(root, &p, &ds) == SIAMESE_OK) {
        int n = siamese_dataset_image_count(ds);
        siamese_pairs pairs = {0};
        if (siamese_pairs_recipe(ds, NULL, 0, 3, 1, &pairs) == SIAMESE_OK)
            for (int i = 0; i < pairs.count; i++)
                if (pairs.items[i].a < 0 || pairs.items[i].a >= n || pairs.items[i].b < 0 ||
                    pairs.items[i].b >= n || (unsigned)pairs.items[i].label > 1)
                    abort();
        siamese_pairs_free(&pairs);
    }
    siamese_dataset_free(ds);
    return 0;
}
