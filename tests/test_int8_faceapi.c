/* int8 inference of face-api's face network with its aligner (the dlib ResNet, 150x150 aligned
 * chips): calibrated on AT&T training/ photos through the aligner, its embeddings of testing/
 * photos within 5% (relative L2, each) of fp32's and its distances within 0.03 of fp32's; the
 * calibration survives a model file. Skips without the face-api package or AT&T.
 * ctest-label: data */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faceapi_fixtures.h"
#include "siamese.h"
#include "test_util.h"

#define SUBJECTS 3 /* testing/ subjects s5..s7 */
#define PHOTOS 5   /* photos 1..5 of each */
#define N (SUBJECTS * PHOTOS)
#define DIM 128

TestSuite(int8_faceapi, .init = tu_temp_init, .fini = tu_temp_fini);

static siamese_model *aligned_faceapi(void) {
    const char *dir = faf_dir("face_landmark_68_model-weights_manifest.json");
    faf_dir("face_recognition_model-weights_manifest.json");
    siamese_model *m = NULL;
    cr_assert_eq(siamese_model_import_faceapi(dir, &m), SIAMESE_OK, "%s",
                 m ? siamese_model_errmsg(m) : "");
    cr_assert_eq(siamese_model_attach_faceapi_aligner(m, dir), SIAMESE_OK, "%s",
                 siamese_model_errmsg(m));
    siamese_model_set_threads(m, 1);
    return m;
}

/* The embeddings of the N testing/ photos at the model's current precision. */
static void embed_testing(siamese_model *m, float *emb) {
    size_t img = (size_t)3 * 150 * 150;
    float *x = malloc(img * sizeof(float));
    for (int s = 0; s < SUBJECTS; s++)
        for (int k = 0; k < PHOTOS; k++) {
            char rel[64], msg[512];
            snprintf(rel, sizeof rel, "att_faces/testing/s%d/%d.pgm", 5 + s, 1 + k);
            cr_assert_eq(siamese_model_load_input(m, tu_data_path(rel), x, msg, sizeof msg),
                         SIAMESE_OK, "%s", msg);
            cr_assert_eq(siamese_model_embed(m, x, 1, emb + (size_t)(s * PHOTOS + k) * DIM),
                         SIAMESE_OK, "%s", siamese_model_errmsg(m));
        }
    free(x);
}

static double l2(const float *a, const float *b) {
    double d = 0;
    for (int i = 0; i < DIM; i++) d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(d);
}

Test(int8_faceapi, aligned_network_within_tolerance_of_fp32) {
    siamese_model *m = aligned_faceapi();
    cr_assert_eq(siamese_model_width(m), 150);
    const char *training = tu_data_path("att_faces/training");
    tu_data_path("att_faces/testing/s5/1.pgm");
    siamese_dataset *ds = NULL;
    siamese_dataset_params dp = siamese_dataset_default_params();
    cr_assert_eq(siamese_dataset_open(training, &dp, &ds), SIAMESE_OK, "%s",
                 ds ? siamese_dataset_errmsg(ds) : "");
    static float f32[N * DIM], i8[N * DIM], back[N * DIM];
    embed_testing(m, f32);
    siamese_quantize_params qp = siamese_quantize_default_params();
    qp.images = 74; /* 2 photos of each of the 37 subjects */
    qp.batch = 16;
    cr_assert_eq(siamese_model_quantize(m, ds, &qp), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    cr_assert_eq(siamese_model_int8_images(m), 74);
    cr_assert_eq(siamese_model_set_precision(m, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8,
                 "%s", siamese_model_errmsg(m));
    embed_testing(m, i8);
    double worst = 0, worst_d = 0;
    for (int i = 0; i < N; i++) {
        double e = l2(i8 + i * DIM, f32 + i * DIM) / l2(f32 + i * DIM, (float[DIM]){0});
        worst = e > worst ? e : worst;
        for (int j = 0; j < i; j++) {
            double d = fabs(l2(i8 + i * DIM, i8 + j * DIM) - l2(f32 + i * DIM, f32 + j * DIM));
            worst_d = d > worst_d ? d : worst_d;
        }
    }
    cr_log_info("[int8_faceapi] worst relative L2 %.4f, worst distance change %.4f", worst,
                worst_d);
    cr_assert_lt(worst, 0.05, "an int8 embedding %.4f (relative L2) from fp32's", worst);
    cr_assert_gt(worst, 0.0, "int8 gave exactly fp32's values: not quantised?");
    cr_assert_lt(worst_d, 0.03, "a distance moved by %.4f (same-person distances ~0.3-0.5)",
                 worst_d);
    /* the calibration (with the aligner) survives a model file */
    const char *path = tu_path(tu_temp, "faceapi_int8.safetensors");
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    siamese_model *again = NULL;
    cr_assert_eq(siamese_model_load(path, &again), SIAMESE_OK, "%s",
                 again ? siamese_model_errmsg(again) : "");
    siamese_model_set_threads(again, 1);
    cr_assert(siamese_model_aligns_faces(again));
    cr_assert_eq(siamese_model_set_precision(again, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8,
                 "%s", siamese_model_errmsg(again));
    embed_testing(again, back);
    cr_assert_arr_eq(back, i8, sizeof i8, "int8 embeddings differ after save and load");
    siamese_model_free(again);
    siamese_dataset_free(ds);
    siamese_model_free(m);
}
