/* Benchmark: decode + resize to 256x256 RGB + ToTensor of Stanford Dogs JPEGs, ours against
 * Pillow with the recipe's torchvision transform (bench/pillow_decode.py), one core, same run.
 * Usage: bench_decode [--dir DIR] [--count N] [--reps R] [--no-pillow]
 * Without --dir the Stanford Dogs subset zip is unzipped into a temporary folder. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "siamese.h"

#define DEFAULT_ZIP SIAMESE_DATA_DIR_DEFAULT "/stanford_dogs_224/stanford_dogs_224_subset40.zip"
#define PILLOW_SCRIPT SIAMESE_SOURCE_DIR "/bench/pillow_decode.py"

typedef struct path_list {
    char **items;
    int count;
    int cap;
} path_list;

static int path_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect(const char *dir, path_list *list) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".jpg") == 0) {
            if (list->count == list->cap) {
                list->cap = list->cap ? 2 * list->cap : 1024;
                list->items = realloc(list->items, (size_t)list->cap * sizeof *list->items);
            }
            list->items[list->count++] = strdup(path);
        } else {
            collect(path, list);
        }
    }
    closedir(d);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One pass over the files: load (decode, RGB, 256x256) and ToTensor into a reused buffer. */
static double ours_rate(path_list *list, int count, float *tensor) {
    siamese_image_options o = siamese_image_default_options();
    double start = sm_now_seconds();
    for (int i = 0; i < count; i++) {
        siamese_image img;
        char msg[256];
        if (siamese_image_load(list->items[i], &o, &img, msg, sizeof msg) != SIAMESE_OK) {
            fprintf(stderr, "%s\n", msg);
            exit(1);
        }
        siamese_image_to_tensor(&img, NULL, NULL, tensor, NULL, 0);
        siamese_image_free(&img);
    }
    return count / (sm_now_seconds() - start);
}

int main(int argc, char **argv) {
    const char *dir = NULL;
    int count = 1000, reps = 3, pillow = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--count") && i + 1 < argc) count = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-pillow")) pillow = 0;
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--count N] [--reps R] [--no-pillow]\n",
                    argv[0]);
            return 2;
        }
    }
    char tmp[] = "/tmp/bench-decode-XXXXXX";
    int made_tmp = 0;
    if (!dir) {
        if (!mkdtemp(tmp)) return perror("mkdtemp"), 1;
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "unzip -qq '%s' -d '%s'", DEFAULT_ZIP, tmp);
        if (system(cmd) != 0) return fprintf(stderr, "cannot unzip %s\n", DEFAULT_ZIP), 1;
        dir = tmp;
        made_tmp = 1;
    }
    path_list list = {NULL, 0, 0};
    collect(dir, &list);
    if (list.count == 0) return fprintf(stderr, "no .jpg files under %s\n", dir), 1;
    qsort(list.items, (size_t)list.count, sizeof *list.items, path_cmp);
    if (count > list.count) count = list.count;

    /* one core for both sides */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);

    float *tensor = malloc(3 * 256 * 256 * sizeof *tensor);
    ours_rate(&list, count < 50 ? count : 50, tensor); /* warm the page cache */
    double *rates = malloc((size_t)reps * sizeof *rates);
    for (int r = 0; r < reps; r++) rates[r] = ours_rate(&list, count, tensor);
    qsort(rates, (size_t)reps, sizeof *rates, cmp_double);
    double ours = rates[reps / 2];
    printf("images: %d (decode + RGB + resize 256x256 BILINEAR + ToTensor), reps: %d, one core\n",
           count, reps);
    printf("ours:   %8.1f images/s\n", ours);

    if (pillow) {
        char list_path[] = "/tmp/bench-decode-list-XXXXXX";
        int fd = mkstemp(list_path);
        FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!fp) return perror("list file"), 1;
        for (int i = 0; i < count; i++) fprintf(fp, "%s\n", list.items[i]);
        fclose(fp);
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' %d 0", PILLOW_SCRIPT, list_path,
                 reps);
        FILE *py = popen(cmd, "r");
        double theirs = 0;
        char line[256];
        while (py && fgets(line, sizeof line, py)) sscanf(line, "pillow %lf", &theirs);
        if (py) pclose(py);
        remove(list_path);
        if (theirs > 0) {
            printf("pillow: %8.1f images/s\n", theirs);
            printf("ratio:  %8.2fx\n", ours / theirs);
        } else {
            printf("pillow: failed to run %s\n", PILLOW_SCRIPT);
        }
    }
    if (made_tmp) {
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    for (int i = 0; i < list.count; i++) free(list.items[i]);
    free(list.items);
    free(rates);
    free(tensor);
    return 0;
}
