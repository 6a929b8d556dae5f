/* Helpers for the face-api tests: where scripts/deps.sh --face-api put the package, the synthetic
 * images the fixture scripts in tests/ref feed both networks, and the numbers they wrote. */
#ifndef SM_FACEAPI_FIXTURES_H
#define SM_FACEAPI_FIXTURES_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "test_util.h"

/* The npm cache folder deps.sh extracts the package's model files into (SIAMESE_FACEAPI_DIR
 * overrides it); skips the test when manifest is not in it. */
static inline const char *faf_dir(const char *manifest) {
    static char path[4096];
    const char *env = getenv("SIAMESE_FACEAPI_DIR");
    const char *cache = getenv("XDG_CACHE_HOME");
    if (env && env[0]) snprintf(path, sizeof path, "%s", env);
    else if (cache && cache[0]) snprintf(path, sizeof path, "%s/siamese/npm/face-api", cache);
    else snprintf(path, sizeof path, "%s/.cache/siamese/npm/face-api", getenv("HOME"));
    char file[4200];
    snprintf(file, sizeof file, "%s/%s", path, manifest);
    struct stat st;
    if (stat(file, &st) != 0)
        cr_skip_test("no %s at %s (run scripts/deps.sh --face-api)", manifest, path);
    return path;
}

/* n RGB side x side images of uint8 pixels, as our loader scales them (/ 255): image k, channel
 * c, row y, column i is ((y * (m[0] + k) + i * (m[1] + m[2] * k) + c * m[3] + k * m[4]) * m[5] +
 * i * y) % 256, the formula of the fixture script with its constants m. */
static inline void faf_images(const int m[6], int n, int side, float *x) {
    for (int k = 0; k < n; k++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < side; y++)
                for (int i = 0; i < side; i++) {
                    long v = ((long)(y * (m[0] + k) + i * (m[1] + m[2] * k) + c * m[3] + k * m[4]) *
                                  m[5] +
                              (long)i * y) %
                             256;
                    x[((k * 3 + c) * side + y) * side + i] = (float)v / 255.0f;
                }
}

/* The first n numbers of a fixture file after its comment line. */
static inline void faf_read_numbers(const char *fixture, double *out, int n) {
    FILE *f = fopen(tu_source_path(fixture), "r");
    cr_assert_not_null(f, "cannot read %s", fixture);
    char line[512];
    cr_assert_not_null(fgets(line, sizeof line, f)); /* the comment line */
    for (int i = 0; i < n; i++)
        cr_assert_eq(fscanf(f, "%lf", &out[i]), 1, "%s: number %d", fixture, i);
    fclose(f);
}

#endif
