/* Helpers shared by the Criterion tests: fixtures, temp folders, relative errors, random data. */
#ifndef SM_TEST_UTIL_H
#define SM_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Path of a file under the source tree ("tests/fixtures/x") in a static buffer per call slot. */
const char *tu_source_path(const char *relative);
/* Path of ../shared/data/<relative> (SIAMESE_DATA_DIR overrides the data folder). */
const char *tu_data_path(const char *relative);
/* Creates a fresh temporary folder and returns its path (malloc'd); tu_rmtree removes it. */
char *tu_make_temp_dir(void);
void tu_rmtree(const char *path);
/* max_i |a_i - b_i| / max(max_i |b_i|, tiny): the relative error used for parity checks. */
double tu_max_rel_err_f(const float *a, const float *b, size_t n);
double tu_max_rel_err_d(const double *a, const double *b, size_t n);
/* Reads a whole file (malloc'd, NUL-terminated); NULL on failure. */
unsigned char *tu_read_file(const char *path, size_t *size);
/* Deterministic pseudo-random floats in [lo, hi). */
void tu_fill_uniform(float *v, size_t n, float lo, float hi, uint64_t seed);
void tu_fill_uniform_d(double *v, size_t n, double lo, double hi, uint64_t seed);

#endif
