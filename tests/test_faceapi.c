/* siamese_model_import_faceapi: face-api's face recognition network (npm @vladmandic/face-api,
 * fetched by scripts/deps.sh --face-api) embeds as an independent PyTorch reimplementation does
 * (tests/fixtures/faceapi, made by tests/ref/make_faceapi_fixtures.py), and a face-api folder with
 * a missing shard or a manifest that does not add up fails naming the file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faceapi_fixtures.h"
#include "siamese.h"
#include "test_util.h"

#define N_IMAGES 3
#define SIDE 150
#define DIM 128

TestSuite(faceapi, .init = tu_temp_init, .fini = tu_temp_fini);

#define RECOGNITION_MANIFEST "face_recognition_model-weights_manifest.json"

/* tests/ref/make_faceapi_fixtures.py's image formula. */
static const int image_formula[6] = {7, 13, 2, 29, 101, 37};

Test(faceapi, embeddings_match_the_pytorch_reference) {
    const char *dir = faf_dir(RECOGNITION_MANIFEST);
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_import_faceapi(dir, &model), SIAMESE_OK, "%s",
                 siamese_model_errmsg(model));
    cr_assert_eq(siamese_model_embedding_dim(model), DIM);
    cr_assert_eq(siamese_model_height(model), SIDE);
    float *x = malloc(sizeof *x * N_IMAGES * 3 * SIDE * SIDE), emb[N_IMAGES * DIM];
    double ref[N_IMAGES * DIM], worst = 0;
    faf_images(image_formula, N_IMAGES, SIDE, x);
    faf_read_numbers("tests/fixtures/faceapi/embeddings.txt", ref, N_IMAGES * DIM);
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

/* A face-api folder with tiny_manifest and, unless shard is NULL, a shard of size bytes. */
static void write_folder(const char *shard, size_t size) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", tu_temp, RECOGNITION_MANIFEST);
    write_text(path, tiny_manifest, strlen(tiny_manifest));
    if (!shard) return;
    snprintf(path, sizeof path, "%s/face_recognition_model.bin", tu_temp);
    write_text(path, shard, size);
}

Test(faceapi, a_missing_shard_is_named) {
    write_folder(NULL, 0);
    expect_failure("face_recognition_model.bin");
}

Test(faceapi, a_manifest_that_does_not_add_up_is_named) {
    write_folder("0123456789", 10); /* 10 bytes for 32768 values */
    expect_failure("weights_manifest.json: the weights do not add up");
}

Test(faceapi, a_complete_but_foreign_manifest_is_refused) {
    char *zeros = calloc(256 * 128, 1);
    write_folder(zeros, 256 * 128);
    free(zeros);
    expect_failure("no weight 'conv32_down/conv/filters'");
}
