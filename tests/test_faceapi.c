/* siamese_model_import_faceapi: face-api's face recognition network (npm @vladmandic/face-api,
 * fetched by scripts/deps.sh --face-api) embeds as an independent PyTorch reimplementation does
 * (tests/fixtures/faceapi, made by tests/ref/make_faceapi_fixtures.py), and a face-api folder with
 * a missing shard or a manifest that does not add up fails naming the file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "siamese.h"
#include "test_util.h"

#define N_IMAGES 3
#define SIDE 150
#define DIM 128

TestSuite(faceapi, .init = tu_temp_init, .fini = tu_temp_fini);

/* The npm cache folder deps.sh extracts the package's model files into. */
static const char *faceapi_dir(void) {
    static char path[4096];
    const char *env = getenv("SIAMESE_FACEAPI_DIR");
    if (env && env[0]) return env;
    const char *cache = getenv("XDG_CACHE_HOME");
    if (cache && cache[0]) snprintf(path, sizeof path, "%s/siamese/npm/face-api", cache);
    else snprintf(path, sizeof path, "%s/.cache/siamese/npm/face-api", getenv("HOME"));
    return path;
}

/* The fixture's images: uint8 pixels from an integer formula, as our loader scales them. */
static void make_images(float *x) {
    for (int k = 0; k < N_IMAGES; k++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < SIDE; y++)
                for (int i = 0; i < SIDE; i++) {
                    long v = ((long)(y * (7 + k) + i * (13 + 2 * k) + c * 29 + k * 101) * 37 +
                              (long)i * y) %
                             256;
                    x[((k * 3 + c) * SIDE + y) * SIDE + i] = (float)v / 255.0f;
                }
}

static void read_reference(double *ref) {
    FILE *f = fopen(tu_source_path("tests/fixtures/faceapi/embeddings.txt"), "r");
    cr_assert_not_null(f);
    char line[256];
    cr_assert_not_null(fgets(line, sizeof line, f)); /* the comment line */
    for (int i = 0; i < N_IMAGES * DIM; i++) cr_assert_eq(fscanf(f, "%lf", &ref[i]), 1);
    fclose(f);
}

Test(faceapi, embeddings_match_the_pytorch_reference) {
    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/face_recognition_model-weights_manifest.json",
             faceapi_dir());
    struct stat st;
    if (stat(manifest, &st) != 0)
        cr_skip_test("no face-api package at %s (run scripts/deps.sh --face-api)", faceapi_dir());
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_import_faceapi(faceapi_dir(), &model), SIAMESE_OK, "%s",
                 siamese_model_errmsg(model));
    cr_assert_eq(siamese_model_embedding_dim(model), DIM);
    cr_assert_eq(siamese_model_height(model), SIDE);
    float *x = malloc(sizeof *x * N_IMAGES * 3 * SIDE * SIDE), emb[N_IMAGES * DIM];
    double ref[N_IMAGES * DIM], worst = 0;
    make_images(x);
    read_reference(ref);
    cr_assert_eq(siamese_model_embed(model, x, N_IMAGES, emb), SIAMESE_OK, "%s",
                 siamese_model_errmsg(model));
    for (int i = 0; i < N_IMAGES * DIM; i++) worst = fmax(worst, fabs(emb[i] - ref[i]));
    cr_log_info("face-api embeddings: max |ours - PyTorch| = %.3g", worst);
    cr_assert_lt(worst, 1e-4, "max abs difference %.3g", worst);
    /* saved and loaded, it embeds the same */
    char path[4200];
    snprintf(path, sizeof path, "%s/face.safetensors", tu_temp);
    cr_assert_eq(siamese_model_save(model, path), SIAMESE_OK);
    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK, "%s", siamese_model_errmsg(back));
    float emb2[N_IMAGES * DIM];
    cr_assert_eq(siamese_model_embed(back, x, N_IMAGES, emb2), SIAMESE_OK);
    cr_assert_eq(memcmp(emb, emb2, sizeof emb), 0);
    siamese_model_free(back);
    siamese_model_free(model);
    free(x);
}

static void write_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static const char tiny_manifest[] =
    "[{\"paths\": [\"face_recognition_model.bin\"], \"weights\": [{\"name\": \"fc\", \"shape\": "
    "[256, 128], \"dtype\": \"float32\", \"quantization\": {\"dtype\": \"uint8\", \"scale\": "
    "0.001, \"min\": -0.1}}]}]";

static void expect_failure(const char *naming) {
    siamese_model *model = NULL;
    cr_assert_neq(siamese_model_import_faceapi(tu_temp, &model), SIAMESE_OK);
    cr_assert_not_null(model);
    cr_assert_not_null(strstr(siamese_model_errmsg(model), naming), "message: %s",
                       siamese_model_errmsg(model));
    siamese_model_free(model);
}

Test(faceapi, a_missing_shard_is_named) {
    char path[4200];
    snprintf(path, sizeof path, "%s/face_recognition_model-weights_manifest.json", tu_temp);
    write_text(path, tiny_manifest, strlen(tiny_manifest));
    expect_failure("face_recognition_model.bin");
}

Test(faceapi, a_manifest_that_does_not_add_up_is_named) {
    char path[4200];
    snprintf(path, sizeof path, "%s/face_recognition_model-weights_manifest.json", tu_temp);
    write_text(path, tiny_manifest, strlen(tiny_manifest));
    snprintf(path, sizeof path, "%s/face_recognition_model.bin", tu_temp);
    write_text(path, "0123456789", 10); /* 10 bytes for 32768 values */
    expect_failure("weights_manifest.json: the weights do not add up");
}

Test(faceapi, a_complete_but_foreign_manifest_is_refused) {
    char path[4200];
    snprintf(path, sizeof path, "%s/face_recognition_model-weights_manifest.json", tu_temp);
    write_text(path, tiny_manifest, strlen(tiny_manifest));
    snprintf(path, sizeof path, "%s/face_recognition_model.bin", tu_temp);
    char *zeros = calloc(256 * 128, 1);
    write_text(path, zeros, 256 * 128);
    free(zeros);
    expect_failure("no weight 'conv32_down/conv/filters'");
}
