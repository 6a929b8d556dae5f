/* Training on face chips (issue 13): the training loader of a model with a face aligner caches
 * each AT&T photo's aligned chip, and the tensor it feeds is bitwise the one the commands embed
 * (siamese_model_load_input: compare, verify; siamese_embed_dataset: eval, embed, index, with the
 * same embeddings), and not the photo merely resized. Skips without AT&T's testing/ subjects or
 * without face-api's package (scripts/deps.sh --face-api).
 * ctest-label: data */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader_chips.h"
#include "data/loader_labelled.h"
#include "faceapi_fixtures.h"
#include "model/align_loader.h"
#include "siamese.h"
#include "test_util.h"

TestSuite(align_train_chips);

/* face-api's network with its landmark network as the aligner, one thread. */
static siamese_model *aligned_model(void) {
    const char *dir = faf_dir("face_landmark_68_model-weights_manifest.json");
    faf_dir("face_recognition_model-weights_manifest.json");
    siamese_model *m = NULL;
    cr_assert_eq(siamese_model_import_faceapi(dir, &m), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    cr_assert_eq(siamese_model_attach_faceapi_aligner(m, dir), SIAMESE_OK, "%s",
                 siamese_model_errmsg(m));
    siamese_model_set_threads(m, 1);
    return m;
}

static siamese_dataset *open_faces(void) {
    siamese_dataset *ds = NULL;
    const char *path = tu_data_path("att_faces/testing");
    cr_assert_eq(siamese_dataset_open(path, NULL, &ds), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    return ds;
}

/* Every image of ds, in order, as one batch of the training loader (P x K mode, no augmentation);
 * with the model's face chips when chips is not NULL. Returns the [n, C, H, W] tensors. */
static float *loader_batch(siamese_dataset *ds, siamese_model *m, const sm_loader_chips *chips,
                           int n) {
    int *images = malloc((size_t)n * sizeof *images),
        *classes = malloc((size_t)n * sizeof *classes);
    cr_assert(images && classes);
    for (int i = 0; i < n; i++) images[i] = i, classes[i] = siamese_dataset_image_class(ds, i);
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = siamese_model_channels(m);
    p.height = siamese_model_height(m);
    p.width = siamese_model_width(m);
    p.batch_size = n;
    p.prefetch = 0;
    siamese_loader *ld = NULL;
    cr_assert_eq(sm_loader_create_labelled(ds, images, classes, n, &p, chips, &ld), SIAMESE_OK,
                 "%s", siamese_loader_errmsg(ld));
    cr_assert_eq(siamese_loader_start_epoch(ld, 0), SIAMESE_OK);
    siamese_batch batch;
    cr_assert_eq(siamese_loader_next(ld, &batch), SIAMESE_OK, "%s", siamese_loader_errmsg(ld));
    cr_assert_eq(batch.n, n);
    size_t floats = (size_t)n * p.channels * p.height * p.width;
    float *out = malloc(floats * sizeof *out);
    cr_assert_not_null(out);
    memcpy(out, batch.images, floats * sizeof *out);
    siamese_loader_free(ld);
    free(images);
    free(classes);
    return out;
}

Test(align_train_chips, training_sees_the_chip_the_commands_embed) {
    siamese_model *m = aligned_model();
    siamese_dataset *ds = open_faces();
    int n = siamese_dataset_image_count(ds);
    cr_assert_eq(n, 30, "att_faces/testing holds %d images, not 30", n);
    size_t image_floats =
        (size_t)siamese_model_channels(m) * siamese_model_height(m) * siamese_model_width(m);
    sm_loader_chips chips;
    memset(&chips, 0, sizeof chips);
    sm_align_loader_chips(m, &chips);
    cr_assert_not_null(chips.make, "a model with an aligner gives the loader its chips");
    float *trained = loader_batch(ds, m, &chips, n);
    float *resized = loader_batch(ds, m, NULL, n);

    /* compare and verify: siamese_model_load_input, photo by photo */
    float *single = malloc(image_floats * sizeof *single);
    cr_assert_not_null(single);
    for (int i = 0; i < n; i++) {
        char msg[512];
        const char *path = siamese_dataset_image_path(ds, i);
        cr_assert_eq(siamese_model_load_input(m, path, single, msg, sizeof msg), SIAMESE_OK, "%s",
                     msg);
        cr_assert(!memcmp(single, trained + (size_t)i * image_floats, image_floats * sizeof(float)),
                  "%s: the training loader's chip differs from the one the commands embed", path);
        cr_assert(memcmp(single, resized + (size_t)i * image_floats, image_floats * sizeof(float)),
                  "%s: the chip equals the photo resized (nothing aligned)", path);
    }

    /* eval, embed, index: siamese_embed_dataset gives the embeddings of the training tensors */
    siamese_embed_params ep = siamese_embed_default_params();
    ep.batch_size = n;
    ep.threads = 1;
    siamese_embeddings e;
    char msg[512];
    cr_assert_eq(siamese_embed_dataset(m, ds, &ep, &e, msg, sizeof msg), SIAMESE_OK, "%s", msg);
    cr_assert_eq(e.count, n);
    float *vectors = malloc((size_t)n * e.dim * sizeof *vectors);
    cr_assert_not_null(vectors);
    cr_assert_eq(siamese_model_embed(m, trained, n, vectors), SIAMESE_OK);
    for (int i = 0; i < n; i++)
        cr_assert(!memcmp(vectors + (size_t)i * e.dim, e.vectors + (size_t)i * e.dim,
                          (size_t)e.dim * sizeof(float)),
                  "%s: eval's embedding differs from the training chip's", e.names[i]);
    siamese_embeddings_free(&e);
    free(vectors);
    free(single);
    free(trained);
    free(resized);
    siamese_dataset_free(ds);
    siamese_model_free(m);
}

Test(align_train_chips, chips_that_do_not_fit_the_cache_are_refused_naming_the_option) {
    siamese_model *m = aligned_model();
    siamese_dataset *ds = open_faces();
    sm_loader_chips chips;
    memset(&chips, 0, sizeof chips);
    sm_align_loader_chips(m, &chips);
    int images[4] = {0, 1, 2, 3}, classes[4] = {0, 0, 0, 0};
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = 3;
    p.height = p.width = siamese_model_width(m);
    p.batch_size = 4;
    p.prefetch = 0;
    p.cache_bytes = (size_t)2 * 3 * p.width * p.width; /* two chips */
    siamese_loader *ld = NULL;
    cr_assert_eq(sm_loader_create_labelled(ds, images, classes, 4, &p, &chips, &ld),
                 SIAMESE_ERR_LIMIT);
    cr_assert(strstr(siamese_loader_errmsg(ld), "raise cache_bytes") != NULL, "%s",
              siamese_loader_errmsg(ld));
    cr_assert(strstr(siamese_loader_errmsg(ld), "--") == NULL, "%s", siamese_loader_errmsg(ld));
    siamese_loader_free(ld);
    siamese_dataset_free(ds);
    siamese_model_free(m);
}

Test(align_train_chips, a_model_without_aligner_gives_no_chips) {
    siamese_model_params mp = siamese_model_default_params();
    mp.arch = "conv(4,k=3) relu linear(8)";
    mp.channels = 1;
    mp.height = mp.width = 16;
    siamese_model *m = NULL;
    cr_assert_eq(siamese_model_create(&mp, &m), SIAMESE_OK);
    sm_loader_chips chips;
    memset(&chips, 0, sizeof chips);
    sm_align_loader_chips(m, &chips);
    cr_assert_null(chips.make);
    siamese_model_free(m);
}
