/* Helpers shared by the Criterion tests: fixture and data paths, temp folders, relative errors,
 * random data, small models. */
#ifndef SM_TEST_UTIL_H
#define SM_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "siamese.h"

/* "dir/relative" in a static buffer from a ring of 16 (valid for the next 15 path calls). */
const char *tu_path(const char *dir, const char *relative);
/* Path of a file under the source tree ("tests/fixtures/x"), like tu_path. */
const char *tu_source_path(const char *relative);
/* Path of <shared data>/<relative>: $SIAMESE_DATA_DIR, else the folder CMake found. When the
 * path does not exist the calling test is skipped (cr_skip_test) with a message naming it. */
const char *tu_data_path(const char *relative);
/* Exit code of a test program whose tests were all skipped (ctest SKIP_RETURN_CODE). */
#define TU_EXIT_SKIPPED 77
/* Creates a fresh temporary folder and returns its path (malloc'd); tu_rmtree removes it. */
char *tu_make_temp_dir(void);
void tu_rmtree(const char *path);
/* A fresh temporary folder for every test of a suite: TestSuite(name, .init = tu_temp_init,
 * .fini = tu_temp_fini) makes and removes it; tu_temp is its path meanwhile. */
extern char *tu_temp;
void tu_temp_init(void);
void tu_temp_fini(void);
/* The number of entries in folder dir whose name contains part (asserts dir opens). */
int tu_count_entries_containing(const char *dir, const char *part);
/* max_i |a_i - b_i| / max(max_i |b_i|, tiny): the relative error used for parity checks. */
double tu_max_rel_err_f(const float *a, const float *b, size_t n);
double tu_max_rel_err_d(const double *a, const double *b, size_t n);
/* sqrt(sum (a_i - ref_i)^2 / sum ref_i^2): the relative L2 error of a against ref (ref all 0:
 * the plain L2 distance). */
double tu_rel_l2_f(const float *a, const float *ref, size_t n);
/* Reads a whole file (malloc'd, NUL-terminated); NULL on failure. */
unsigned char *tu_read_file(const char *path, size_t *size);
/* Deterministic pseudo-random floats in [lo, hi). */
void tu_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t seed);
void tu_fill_uniform_d(double *v, size_t n, double lo, double hi, uint64_t seed);
/* A labelled batch of n grey h x w images, per_class images a class in order: class c is a
 * bright horizontal band at rows 2c and 2c + 1 over noise in [0, 0.3) drawn from seed. */
void tu_band_batch(float *images, int *classes, int n, int per_class, int h, int w, uint64_t seed);
/* Default model params with the given architecture, input shape (0 = the preset's) and seed. */
siamese_model_params tu_model_params(const char *arch, int c, int h, int w, uint64_t seed);
/* siamese_model_create that asserts success (the message names the architecture). */
siamese_model *tu_create_model(const siamese_model_params *p);

#endif
