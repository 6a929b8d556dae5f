/* Helpers shared by the Criterion tests (see test_util.h). */
#define _XOPEN_SOURCE 700
#include "test_util.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"

#define PATH_SLOTS 16
static char path_slots[PATH_SLOTS][4096];
static int path_slot;

const char *tu_path(const char *dir, const char *relative) {
    char *slot = path_slots[path_slot++ % PATH_SLOTS];
    snprintf(slot, sizeof path_slots[0], "%s/%s", dir, relative);
    return slot;
}

const char *tu_source_path(const char *relative) { return tu_path(SIAMESE_SOURCE_DIR, relative); }

const char *tu_data_path(const char *relative) {
    const char *dir = getenv("SIAMESE_DATA_DIR");
    if (!dir || !*dir) dir = SIAMESE_DATA_DIR_DEFAULT;
    const char *path = tu_path(dir, relative);
    if (access(path, F_OK) != 0) {
        /* Printed too because Criterion shows skip messages only with --verbose. */
        fprintf(stderr,
                "SKIP: data set missing: %s. Put the shared data sets (their list: "
                "shared/data/README.md) in ../shared/data beside the checkout, or set "
                "SIAMESE_DATA_DIR to their folder\n",
                path);
        cr_skip_test("data set missing: %s (set SIAMESE_DATA_DIR)", path);
    }
    return path;
}

char *tu_make_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    char *path = malloc(4096);
    if (!path) return NULL;
    snprintf(path, 4096, "%s/siamese-test-XXXXXX", base);
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmtree(const char *path) {
    if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_temp;

void tu_temp_init(void) {
    tu_temp = tu_make_temp_dir();
    cr_assert_not_null(tu_temp);
}

void tu_temp_fini(void) {
    tu_rmtree(tu_temp);
    free(tu_temp);
    tu_temp = NULL;
}

int tu_count_entries_containing(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

double tu_max_rel_err_f(const float *a, const float *b, size_t n) {
    double scale = 1e-30, diff = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs((double)b[i]));
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
    }
    return diff / scale;
}

double tu_max_rel_err_d(const double *a, const double *b, size_t n) {
    double scale = 1e-300, diff = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(b[i]));
        diff = fmax(diff, fabs(a[i] - b[i]));
    }
    return diff / scale;
}

double tu_rel_l2_f(const float *a, const float *ref, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return sqrt(d / (r > 0 ? r : 1));
}

unsigned char *tu_read_file(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    if (buf && fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) {
        buf[len] = 0;
        if (size) *size = (size_t)len;
    }
    return buf;
}

void tu_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * (float)((sm_splitmix64(&seed) >> 40) * (1.0 / 16777216.0));
}

void tu_band_batch(float *images, int *classes, int n, int per_class, int h, int w, uint64_t seed) {
    size_t img = (size_t)h * w;
    for (int i = 0; i < n; i++) {
        int c = i / per_class;
        classes[i] = c;
        tu_fill_uniform(images + i * img, img, 0.0f, 0.3f, seed * 100 + (uint64_t)i);
        for (int x = 0; x < w; x++) {
            images[i * img + (size_t)(2 * c) * w + x] += 0.7f;
            images[i * img + (size_t)(2 * c + 1) * w + x] += 0.7f;
        }
    }
}

void tu_fill_uniform_d(double *v, size_t n, double lo, double hi, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * ((sm_splitmix64(&seed) >> 11) * (1.0 / 9007199254740992.0));
}

siamese_model_params tu_model_params(const char *arch, int c, int h, int w, uint64_t seed) {
    siamese_model_params p = siamese_model_default_params();
    p.arch = arch;
    p.channels = c;
    p.height = h;
    p.width = w;
    p.seed = seed;
    return p;
}

siamese_model *tu_create_model(const siamese_model_params *p) {
    siamese_model *m = NULL;
    siamese_status st = siamese_model_create(p, &m);
    cr_assert_eq(st, SIAMESE_OK, "create %s: %s", p->arch,
                 m ? siamese_model_errmsg(m) : "no handle");
    return m;
}

/* Every test of this program skipped (e.g. its data set is missing): main exits with 77, which
 * CMake's SKIP_RETURN_CODE turns into "Skipped" in ctest rather than "Passed". */
static int all_tests_skipped;

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
    all_tests_skipped = stats->nb_tests > 0 && stats->tests_skipped == stats->nb_tests;
}

/* Criterion's own main, plus the exit code 77 when everything was skipped. */
int main(int argc, char *argv[]) {
    struct criterion_test_set *tests = criterion_initialize();
    int result = 0;
    if (criterion_handle_args(argc, argv, true)) result = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    if (result == 0 && all_tests_skipped) return TU_EXIT_SKIPPED;
    return result;
}
