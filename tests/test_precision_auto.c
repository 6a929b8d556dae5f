/* --precision auto: parsing, the measured choice and its cache file (written, reused, a corrupt or
 * unwritable cache ignored), and fp32 without timing on a CPU without bf16. Every test points
 * XDG_CACHE_HOME at its own temporary folder, so no user's cache is read or written. */
#include <criterion/criterion.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "siamese.h"
#include "test_util.h"

/* A small conv network: a measurement of a few milliseconds. */
#define ARCH "conv(8,k=5,s=2) relu maxpool(2,s=2) conv(16,k=3) relu flatten linear(8)"

static char cache_file[4096];

/* A fresh temporary XDG_CACHE_HOME (the folder is returned, malloc'd) and the model. */
static char *fresh_cache(siamese_model **model) {
    char *dir = tu_make_temp_dir();
    cr_assert_not_null(dir);
    cr_assert_eq(setenv("XDG_CACHE_HOME", dir, 1), 0);
    snprintf(cache_file, sizeof cache_file, "%s/siamese/precision.tsv", dir);
    siamese_model_params mp = tu_model_params(ARCH, 1, 32, 32, 5);
    *model = tu_create_model(&mp);
    return dir;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

Test(precision_auto, parses_and_names_auto) {
    siamese_precision p = SIAMESE_PRECISION_FP32;
    cr_assert_eq(siamese_precision_parse("auto", &p), SIAMESE_OK);
    cr_assert_eq(p, SIAMESE_PRECISION_AUTO);
    cr_assert_str_eq(siamese_precision_name(SIAMESE_PRECISION_AUTO), "auto");
    cr_assert_eq(siamese_precision_parse("AUTO", &p), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_precision_parse("", &p), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_precision_parse(NULL, &p), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_precision_choose(NULL, 8, NULL), SIAMESE_ERR_INVALID_ARG);
}

Test(precision_auto, measures_once_then_reads_the_cache, .timeout = 120) {
    if (!siamese_bf16_supported()) cr_skip_test("this CPU has no bf16 kernels");
    siamese_model *m = NULL;
    char *dir = fresh_cache(&m);
    siamese_precision_choice a, b;
    cr_assert_eq(siamese_precision_choose(m, 32, &a), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    cr_assert(a.precision == SIAMESE_PRECISION_FP32 || a.precision == SIAMESE_PRECISION_BF16);
    cr_assert_gt(a.fp32_seconds, 0);
    cr_assert_gt(a.bf16_seconds, 0);
    cr_assert_eq(a.batch, 8, "the probe batch is at most 8");
    cr_assert_eq(a.from_cache, 0);
    cr_assert_eq(a.cache_written, 1);
    cr_assert(exists(cache_file), "no cache file at %s", cache_file);
    cr_assert(a.precision == SIAMESE_PRECISION_FP32 || a.bf16_seconds < a.fp32_seconds);
    cr_assert_eq(siamese_model_precision(m), SIAMESE_PRECISION_FP32, "choose changed the model");

    cr_assert_eq(siamese_precision_choose(m, 32, &b), SIAMESE_OK);
    cr_assert_eq(b.from_cache, 1, "the second choice was measured again");
    cr_assert_eq(b.precision, a.precision);
    cr_assert_float_eq(b.fp32_seconds, a.fp32_seconds, 1e-6 * a.fp32_seconds + 1e-12);
    cr_assert_float_eq(b.bf16_seconds, a.bf16_seconds, 1e-6 * a.bf16_seconds + 1e-12);

    /* another batch is another network setting: measured, and both entries kept */
    cr_assert_eq(siamese_precision_choose(m, 2, &b), SIAMESE_OK);
    cr_assert_eq(b.from_cache, 0);
    cr_assert_eq(b.batch, 2);
    cr_assert_eq(siamese_precision_choose(m, 8, &b), SIAMESE_OK);
    cr_assert_eq(b.from_cache, 1, "the batch-2 entry replaced the batch-8 one");

    /* the cache keeps both entries, and AUTO on the model sets the cached choice */
    size_t size = 0;
    char *text = (char *)tu_read_file(cache_file, &size);
    cr_assert_not_null(text);
    cr_assert(strstr(text, "\t8\t") && strstr(text, "\t2\t"), "entries missing: %s", text);
    free(text);
    cr_assert_eq(siamese_model_set_precision(m, SIAMESE_PRECISION_AUTO), a.precision);
    cr_assert_eq(siamese_model_precision(m), a.precision);
    siamese_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

Test(precision_auto, a_corrupt_cache_is_ignored_and_rewritten, .timeout = 120) {
    if (!siamese_bf16_supported()) cr_skip_test("this CPU has no bf16 kernels");
    siamese_model *m = NULL;
    char *dir = fresh_cache(&m);
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/siamese", dir);
    cr_assert_eq(mkdir(folder, 0755), 0);
    FILE *fp = fopen(cache_file, "wb");
    cr_assert_not_null(fp);
    fputs("garbage\n0123456789abcdef\tbf16\tnan\t-1\t8\tcpu\n\x01\x02\xff no newline", fp);
    fclose(fp);
    siamese_precision_choice c;
    cr_assert_eq(siamese_precision_choose(m, 8, &c), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    cr_assert_eq(c.from_cache, 0);
    cr_assert_eq(c.cache_written, 1);
    cr_assert_gt(c.fp32_seconds, 0);
    size_t size = 0;
    char *text = (char *)tu_read_file(cache_file, &size);
    cr_assert_not_null(text);
    cr_assert_null(strstr(text, "garbage"), "the corrupt lines were kept: %s", text);
    free(text);
    cr_assert_eq(siamese_precision_choose(m, 8, &c), SIAMESE_OK);
    cr_assert_eq(c.from_cache, 1);
    siamese_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

Test(precision_auto, an_unwritable_cache_is_ignored, .timeout = 120) {
    if (!siamese_bf16_supported()) cr_skip_test("this CPU has no bf16 kernels");
    siamese_model *m = NULL;
    char *dir = fresh_cache(&m);
    /* a file where the cache folder should be: neither readable nor writable as a cache */
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/siamese", dir);
    FILE *fp = fopen(folder, "wb");
    cr_assert_not_null(fp);
    fclose(fp);
    siamese_precision_choice c;
    cr_assert_eq(siamese_precision_choose(m, 8, &c), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    cr_assert_eq(c.cache_written, 0);
    cr_assert_eq(c.from_cache, 0);
    cr_assert(c.precision == SIAMESE_PRECISION_FP32 || c.precision == SIAMESE_PRECISION_BF16);
    cr_assert_gt(c.bf16_seconds, 0);
    siamese_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

/* oneDNN limited to AVX2, as on a CPU without bf16: fp32, nothing timed, no cache written. */
Test(precision_auto, fp32_without_timing_when_the_cpu_has_no_bf16, .timeout = 120) {
    cr_assert_eq(dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2), dnnl_success);
    cr_assert_eq(siamese_bf16_supported(), 0);
    siamese_model *m = NULL;
    char *dir = fresh_cache(&m);
    siamese_precision_choice c;
    cr_assert_eq(siamese_precision_choose(m, 8, &c), SIAMESE_OK);
    cr_assert_eq(c.precision, SIAMESE_PRECISION_FP32);
    cr_assert_eq(c.fp32_seconds, 0);
    cr_assert_eq(c.bf16_seconds, 0);
    cr_assert_eq(c.cache_written, 0);
    cr_assert(!exists(cache_file), "a cache was written without a measurement");
    cr_assert_eq(siamese_model_set_precision(m, SIAMESE_PRECISION_AUTO), SIAMESE_PRECISION_FP32);
    siamese_model_free(m);
    tu_rmtree(dir);
    free(dir);
}
