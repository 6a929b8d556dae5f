/* Fuzzes the recipe layout's file names: each input line becomes an (empty) file in
 * similar_all_images/ (before a line "--") or dissimilar_all_images/ (after it), then the folder
 * is opened as a recipe dataset and its pairs are checked. */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "siamese.h"

/* Empties folder dir (files only; the harness makes no subfolders). */
static void empty_folder(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

/* Creates dir/name when name is a usable file name (no '/', not "." or "..", < 200 bytes). */
static void touch(const char *dir, const char *name) {
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
        strlen(name) > 200)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char root[512], sim[600], dis[600];
    fz_path(root, sizeof root, "recipe");
    snprintf(sim, sizeof sim, "%s/similar_all_images", root);
    snprintf(dis, sizeof dis, "%s/dissimilar_all_images", root);
    mkdir(root, 0700);
    mkdir(sim, 0700);
    mkdir(dis, 0700);
    empty_folder(sim);
    empty_folder(dis);

    char *text = fz_text(data, size), *save = NULL;
    const char *dir = sim;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strcmp(line, "--")) dir = dis;
        else touch(dir, line);
    }
    free(text);

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
