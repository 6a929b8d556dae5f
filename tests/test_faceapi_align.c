/* Face alignment with face-api's landmark network (npm @vladmandic/face-api, fetched by
 * scripts/deps.sh --face-api): the network's outputs, an AT&T photo's landmarks and its face chip
 * match an independent PyTorch reimplementation (tests/fixtures/faceapi/landmarks.txt and
 * chip_s1_1.pgm, made by tests/ref/make_faceapi_landmark_fixtures.py), a model with an aligner
 * keeps it through save and load, and the similarity fit recovers a known transform.
 * ctest-label: data */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faceapi_fixtures.h"
#include "image/image.h"
#include "model/face_align.h"
#include "siamese.h"
#include "test_util.h"

#define N_IMAGES 3
#define SIDE SM_LANDMARK_SIDE
#define OUTPUTS (2 * SM_LANDMARKS)
#define CHIP 150

TestSuite(faceapi_align, .init = tu_temp_init, .fini = tu_temp_fini);

/* The npm cache folder deps.sh extracts the package's model files into; skips without the
 * landmark network. */
static const char *faceapi_dir(void) {
    return faf_dir("face_landmark_68_model-weights_manifest.json");
}

/* tests/ref/make_faceapi_landmark_fixtures.py's image formula. */
static const int image_formula[6] = {5, 11, 3, 31, 71, 29};

/* The fixture: N_IMAGES rows of 136 raw outputs, then the photo's 68 points. */
static void read_reference(double *raw, double *points) {
    static double all[N_IMAGES * OUTPUTS + OUTPUTS];
    faf_read_numbers("tests/fixtures/faceapi/landmarks.txt", all, N_IMAGES * OUTPUTS + OUTPUTS);
    memcpy(raw, all, sizeof(double) * N_IMAGES * OUTPUTS);
    memcpy(points, all + N_IMAGES * OUTPUTS, sizeof(double) * OUTPUTS);
}

static siamese_model *landmark_model(void) {
    siamese_model *lm = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_import_faceapi_landmarks(faceapi_dir(), &lm, &err), SIAMESE_OK, "%s", err.msg);
    return lm;
}

static sm_image load_native(const char *path) {
    sm_image_options opts = siamese_image_default_options();
    opts.width = opts.height = 0;
    opts.channels = 0;
    sm_image img = {0};
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_image_load_file(path, &opts, &img, &err), SIAMESE_OK, "%s", err.msg);
    return img;
}

Test(faceapi_align, landmark_network_matches_the_pytorch_reference) {
    siamese_model *lm = landmark_model();
    cr_assert_eq(siamese_model_embedding_dim(lm), OUTPUTS);
    float *x = malloc(sizeof *x * N_IMAGES * 3 * SIDE * SIDE), out[N_IMAGES * OUTPUTS];
    double raw[N_IMAGES * OUTPUTS], points[OUTPUTS], worst = 0;
    faf_images(image_formula, N_IMAGES, SIDE, x);
    read_reference(raw, points);
    cr_assert_eq(siamese_model_embed(lm, x, N_IMAGES, out), SIAMESE_OK, "%s",
                 siamese_model_errmsg(lm));
    for (int i = 0; i < N_IMAGES * OUTPUTS; i++) worst = fmax(worst, fabs(out[i] - raw[i]));
    cr_log_info("face-api landmarks: max |ours - PyTorch| = %.3g (fractions of the input)", worst);
    cr_assert_lt(worst, 1e-5, "max abs difference %.3g", worst);
    free(x);
    siamese_model_free(lm);
}

/* A 92x112 grey AT&T photo: its landmarks within 0.01 pixel of the reference, its chip within 1
 * grey level of Pillow's affine transform everywhere, and equal almost everywhere. */
Test(faceapi_align, att_photo_landmarks_and_chip_match_the_reference) {
    const char *photo = tu_data_path("att_faces/training/s1/1.pgm");
    siamese_model *lm = landmark_model();
    double raw[N_IMAGES * OUTPUTS], want[OUTPUTS], worst = 0;
    read_reference(raw, want);
    sm_image img = load_native(photo);
    float points[OUTPUTS];
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_face_landmarks(lm, &img, 1, points, &err), SIAMESE_OK, "%s", err.msg);
    for (int i = 0; i < OUTPUTS; i++) worst = fmax(worst, fabs(points[i] - want[i]));
    cr_log_info("landmarks of s1/1.pgm: max |ours - PyTorch| = %.3g pixel", worst);
    cr_assert_lt(worst, 0.01, "max difference %.3g pixel", worst);

    sm_image ref = load_native(tu_source_path("tests/fixtures/faceapi/chip_s1_1.pgm"));
    cr_assert_eq(ref.width, CHIP);
    sm_image chip = {0};
    cr_assert_eq(sm_image_alloc(&chip, CHIP, CHIP, 1, &err), SIAMESE_OK);
    double m[6];
    sm_face_chip_transform(points, CHIP, m);
    sm_face_chip_sample(&img, m, &chip);
    int most = 0;
    double sum = 0;
    for (int i = 0; i < CHIP * CHIP; i++) {
        int d = abs((int)chip.data[i] - (int)ref.data[i]);
        most = d > most ? d : most;
        sum += d;
    }
    cr_log_info("chip of s1/1.pgm: max %d, mean %.3f grey levels from Pillow's", most,
                sum / (CHIP * CHIP));
    cr_assert_leq(most, 1, "a chip pixel differs by %d levels", most);
    cr_assert_lt(sum / (CHIP * CHIP), 0.01);
    sm_image_free(&chip);
    sm_image_free(&ref);
    sm_image_free(&img);
    siamese_model_free(lm);
}

/* The second pass (landmarks found again on the chip, mapped back) corrects the first by a
 * little: on s1/1.pgm by less than 3 pixels on average (1.5 measured), but not by nothing. */
Test(faceapi_align, refined_landmarks_stay_close_to_the_first_ones) {
    const char *photo = tu_data_path("att_faces/training/s1/1.pgm");
    siamese_model *lm = landmark_model();
    sm_image img = load_native(photo);
    float first[OUTPUTS], refined[OUTPUTS];
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_face_landmarks(lm, &img, 1, first, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_face_align_points(lm, &img, 1, CHIP, refined, &err), SIAMESE_OK, "%s", err.msg);
    double moved = 0;
    for (int k = 0; k < SM_LANDMARKS; k++)
        moved += hypot(refined[2 * k] - first[2 * k], refined[2 * k + 1] - first[2 * k + 1]);
    moved /= SM_LANDMARKS;
    cr_log_info("the second pass moved the landmarks of s1/1.pgm by %.3f pixel on average", moved);
    cr_assert_gt(moved, 0.01);
    cr_assert_lt(moved, 3.0);
    sm_image_free(&img);
    siamese_model_free(lm);
}

/* Points made by a known similarity transform of the mean face give back exactly that map. */
Test(faceapi_align, similarity_fit_recovers_a_known_transform) {
    float points[OUTPUTS] = {0}, chip_points[OUTPUTS] = {0};
    double m0[6];
    /* the mean face's chip positions, from the identity-like fit of a 150 chip onto itself */
    for (int k = 17; k < SM_LANDMARKS; k++) { /* any points: fit a chip, then map them */
        chip_points[2 * k] = (float)(20 + (k * 37) % 110);
        chip_points[2 * k + 1] = (float)(15 + (k * 53) % 120);
    }
    sm_face_chip_transform(chip_points, CHIP, m0); /* chip -> these points */
    /* rotate by 30 degrees, scale 0.5, shift (7, -3): the fit must compose the same way */
    double c = 0.5 * cos(0.5235987755982988), s = 0.5 * sin(0.5235987755982988); /* 30 degrees */
    for (int k = 17; k < SM_LANDMARKS; k++) {
        double x = chip_points[2 * k], y = chip_points[2 * k + 1];
        points[2 * k] = (float)(c * x - s * y + 7);
        points[2 * k + 1] = (float)(s * x + c * y - 3);
    }
    double m[6];
    sm_face_chip_transform(points, CHIP, m);
    /* m = T o m0 where T is the known transform */
    double want[6] = {c * m0[0] - s * m0[3], c * m0[1] - s * m0[4], c * m0[2] - s * m0[5] + 7,
                      s * m0[0] + c * m0[3], s * m0[1] + c * m0[4], s * m0[2] + c * m0[5] - 3};
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(m[i], want[i], 1e-4, "m[%d] = %g, want %g", i, m[i], want[i]);
}

/* The aligner travels with the model file and every embedding of a photo goes through it. */
Test(faceapi_align, aligner_survives_save_and_load) {
    const char *photo = tu_data_path("att_faces/training/s1/1.pgm");
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_import_faceapi(faceapi_dir(), &model), SIAMESE_OK, "%s",
                 siamese_model_errmsg(model));
    cr_assert_eq(siamese_model_aligns_faces(model), 0);
    siamese_embeddings plain = {0}, aligned = {0}, loaded = {0};
    const char *paths[1] = {photo};
    cr_assert_eq(siamese_embed_files(model, paths, 1, NULL, &plain, NULL, 0), SIAMESE_OK);
    cr_assert_eq(siamese_model_attach_faceapi_aligner(model, faceapi_dir()), SIAMESE_OK, "%s",
                 siamese_model_errmsg(model));
    cr_assert_eq(siamese_model_aligns_faces(model), 1);
    cr_assert_eq(siamese_embed_files(model, paths, 1, NULL, &aligned, NULL, 0), SIAMESE_OK);
    double moved = 0;
    for (int i = 0; i < aligned.dim; i++)
        moved += (aligned.vectors[i] - plain.vectors[i]) * (aligned.vectors[i] - plain.vectors[i]);
    cr_assert_gt(sqrt(moved), 0.05, "aligning changed the embedding by only %g", sqrt(moved));
    /* one file as an input tensor (compare's path) is the same chip */
    float *x = malloc(sizeof *x * 3 * CHIP * CHIP), one[128];
    char why[256];
    cr_assert_eq(siamese_model_load_input(model, photo, x, why, sizeof why), SIAMESE_OK, "%s", why);
    cr_assert_eq(siamese_model_embed(model, x, 1, one), SIAMESE_OK);
    for (int i = 0; i < aligned.dim; i++)
        cr_assert_float_eq(one[i], aligned.vectors[i], 1e-6, "dimension %d", i);
    cr_assert_neq(siamese_model_load_input(model, "/nonexistent.png", x, why, sizeof why),
                  SIAMESE_OK);
    cr_assert_not_null(strstr(why, "/nonexistent.png"), "%s", why);
    free(x);
    char path[4200];
    snprintf(path, sizeof path, "%s/face_aligned.safetensors", tu_temp);
    cr_assert_eq(siamese_model_save(model, path), SIAMESE_OK, "%s", siamese_model_errmsg(model));
    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK, "%s", siamese_model_errmsg(back));
    cr_assert_eq(siamese_model_aligns_faces(back), 1);
    cr_assert_eq(siamese_embed_files(back, paths, 1, NULL, &loaded, NULL, 0), SIAMESE_OK);
    cr_assert_eq(memcmp(aligned.vectors, loaded.vectors, sizeof(float) * (size_t)aligned.dim), 0);
    siamese_embeddings_free(&plain);
    siamese_embeddings_free(&aligned);
    siamese_embeddings_free(&loaded);
    siamese_model_free(back);
    siamese_model_free(model);
}

/* A photo 8 times larger (736x896, more than 4 chips a side: shrunk before alignment) embeds
 * close to the original. */
Test(faceapi_align, a_large_photo_is_shrunk_and_still_aligned) {
    const char *photo = tu_data_path("att_faces/training/s1/1.pgm");
    sm_image img = load_native(photo), big = {0};
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_image_resize(&img, img.width * 8, img.height * 8, &big, &err), SIAMESE_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s/big.pgm", tu_temp);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fprintf(f, "P5\n%d %d\n255\n", big.width, big.height);
    cr_assert_eq(fwrite(big.data, 1, (size_t)big.width * big.height, f),
                 (size_t)big.width * big.height);
    fclose(f);
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_import_faceapi(faceapi_dir(), &model), SIAMESE_OK);
    cr_assert_eq(siamese_model_attach_faceapi_aligner(model, faceapi_dir()), SIAMESE_OK);
    const char *paths[2] = {photo, path};
    siamese_embeddings e = {0};
    cr_assert_eq(siamese_embed_files(model, paths, 2, NULL, &e, NULL, 0), SIAMESE_OK);
    cr_assert_eq(e.count, 2);
    double d = siamese_distance(SIAMESE_METRIC_EUCLIDEAN, e.vectors, e.vectors + e.dim, e.dim);
    cr_log_info("the photo and its 8x enlargement: distance %.4f", d);
    cr_assert_lt(d, 0.15, "distance %g (the same person's photos sit at 0.3-0.55)", d);
    siamese_embeddings_free(&e);
    siamese_model_free(model);
    sm_image_free(&big);
    sm_image_free(&img);
}

Test(faceapi_align, a_model_that_is_not_for_faces_is_refused) {
    siamese_model_params p = tu_model_params("mnist", 1, 28, 20, 1);
    siamese_model *model = tu_create_model(&p);
    cr_assert_eq(siamese_model_attach_faceapi_aligner(model, "/nonexistent"),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_not_null(strstr(siamese_model_errmsg(model), "square"), "%s",
                       siamese_model_errmsg(model));
    siamese_model_free(model);
}
