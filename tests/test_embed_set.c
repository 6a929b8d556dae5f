/* Embedding sets: a dataset's and a file list's embeddings equal one-by-one embedding, bad files
 * are warned about and counted, batches and progress, bad parameters. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static char *tmp;
static siamese_model *model;

/* 3 classes x 4 PGM images of varying sizes, and one file in class c1 that is not an image. */
static void setup(void) {
    tmp = tu_make_temp_dir();
    cr_assert_not_null(tmp);
    for (int c = 0; c < 3; c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "c%d", c);
        df_mkdir(tmp, rel);
        for (int j = 0; j < 4; j++) {
            snprintf(rel, sizeof rel, "c%d/%d.pgm", c, j);
            df_write_pgm(tmp, rel, 9 + j, 7 + c, (unsigned)(c * 10 + j));
        }
    }
    df_write_text(tmp, "c1/2b.pgm", "not an image");
    siamese_model_params p = tu_model_params("conv(3,k=3) relu linear(5)", 1, 8, 8, 7);
    model = tu_create_model(&p);
}

static void teardown(void) {
    siamese_model_free(model);
    tu_rmtree(tmp);
    free(tmp);
}

/* The embedding of one file, computed the plain way. */
static void embed_one(const char *path, float *out) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = 1;
    o.width = o.height = 8;
    siamese_image img;
    cr_assert_eq(siamese_image_load(path, &o, &img, NULL, 0), SIAMESE_OK, "%s", path);
    float t[64];
    cr_assert_eq(siamese_image_to_tensor(&img, NULL, NULL, t, NULL, 0), SIAMESE_OK);
    siamese_image_free(&img);
    cr_assert_eq(siamese_model_embed(model, t, 1, out), SIAMESE_OK);
}

static void count_progress(void *user, int done, int total) {
    int *last = user;
    cr_assert(done > last[0] && done <= total);
    last[0] = done;
    last[1] = total;
    last[2]++;
}

TestSuite(embed_set, .init = setup, .fini = teardown);

Test(embed_set, dataset_rows_equal_single_embeddings_and_skip_bad_files) {
    df_warnings w;
    siamese_dataset *ds = df_open(tmp, NULL, SIAMESE_OK);
    memset(&w, 0, sizeof w);
    siamese_embed_params p = siamese_embed_default_params();
    cr_assert_eq(p.batch_size, 64);
    p.batch_size = 5; /* three batches, the bad file in the second */
    p.warning = df_collect;
    p.warning_user = &w;
    int progress[3] = {0, 0, 0};
    p.progress = count_progress;
    p.progress_user = progress;
    siamese_embeddings e;
    char msg[256];
    cr_assert_eq(siamese_embed_dataset(model, ds, &p, &e, msg, sizeof msg), SIAMESE_OK, "%s", msg);
    cr_assert_eq(e.count, 12);
    cr_assert_eq(e.dim, 5);
    cr_assert_eq(e.skipped, 1);
    cr_assert_eq(w.count, 1);
    cr_assert(strstr(w.last, "2b.pgm") && strstr(w.last, "skipped"), "%s", w.last);
    cr_assert_eq(progress[0], 13);
    cr_assert_eq(progress[1], 13);
    cr_assert_eq(progress[2], 3);
    cr_assert_eq(e.class_count, 3);
    cr_assert_str_eq(e.class_names[2], "c2");
    cr_assert_eq(siamese_dataset_skipped_count(ds), 1);
    for (int i = 0; i < e.count; i++) {
        cr_assert_eq(e.labels[i], i / 4);
        char rel[64];
        snprintf(rel, sizeof rel, "c%d/%d.pgm", i / 4, i % 4);
        cr_assert_str_eq(e.names[i], rel);
        cr_assert_str_eq(e.paths[i], tu_path(tmp, rel));
        cr_assert_str_eq(siamese_dataset_image_name(ds, e.image_index[i]), rel);
        float want[5];
        embed_one(e.paths[i], want);
        cr_assert(tu_max_rel_err_f(e.vectors + (size_t)i * 5, want, 5) < 1e-5, "row %d", i);
    }
    siamese_embeddings_free(&e);
    cr_assert_eq(e.count, 0);
    cr_assert_null(e.vectors);
    siamese_embeddings_free(&e);
    siamese_embeddings_free(NULL);

    /* a second pass: the image now known unusable is counted, not warned again */
    memset(progress, 0, sizeof progress);
    cr_assert_eq(siamese_embed_dataset(model, ds, &p, &e, msg, sizeof msg), SIAMESE_OK);
    cr_assert_eq(e.count, 12);
    cr_assert_eq(e.skipped, 1);
    cr_assert_eq(w.count, 1);
    cr_assert_eq(progress[1], 12);
    siamese_embeddings_free(&e);
    siamese_dataset_free(ds);
}

Test(embed_set, files_keep_their_order_and_paths) {
    const char *paths[4];
    char store[4][512];
    const char *rels[4] = {"c2/1.pgm", "c1/2b.pgm", "c0/0.pgm", "c2/1.pgm"};
    for (int i = 0; i < 4; i++) {
        snprintf(store[i], sizeof store[i], "%s", tu_path(tmp, rels[i]));
        paths[i] = store[i];
    }
    siamese_embeddings e;
    char msg[256];
    cr_assert_eq(siamese_embed_files(model, paths, 4, NULL, &e, msg, sizeof msg), SIAMESE_OK);
    cr_assert_eq(e.count, 3);
    cr_assert_eq(e.skipped, 1);
    cr_assert_eq(e.class_count, 0);
    const int rows[3] = {0, 2, 3};
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(e.names[i], paths[rows[i]]);
        cr_assert_str_eq(e.paths[i], paths[rows[i]]);
        cr_assert_eq(e.labels[i], -1);
        cr_assert_eq(e.image_index[i], -1);
        float want[5];
        embed_one(paths[rows[i]], want);
        cr_assert(tu_max_rel_err_f(e.vectors + (size_t)i * 5, want, 5) < 1e-5);
    }
    cr_assert_eq(memcmp(e.vectors, e.vectors + 10, 5 * sizeof(float)), 0, "same file, same row");
    siamese_embeddings_free(&e);
}

Test(embed_set, bad_arguments_and_nothing_decodable) {
    siamese_embeddings e;
    char msg[256];
    siamese_embed_params p = siamese_embed_default_params();
    p.batch_size = 0;
    const char *paths[1] = {tu_path(tmp, "c1/2b.pgm")};
    cr_assert_eq(siamese_embed_files(model, paths, 1, &p, &e, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "batch size"), "%s", msg);
    cr_assert_eq(siamese_embed_files(model, paths, 0, NULL, &e, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_embed_files(model, paths, 1, NULL, &e, msg, sizeof msg), SIAMESE_ERR_DATA);
    cr_assert(strstr(msg, "no image"), "%s", msg);
    cr_assert_eq(e.count, 0);
    cr_assert_null(e.vectors);
    cr_assert_eq(siamese_embed_dataset(model, NULL, NULL, &e, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    memset(msg, 'Z', sizeof msg); /* no output: refused, and said so */
    cr_assert_eq(siamese_embed_files(model, paths, 1, NULL, NULL, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "no output"), "%.40s", msg);
}

/* A model whose load failed has no input geometry: embedding with it, or loading an image as its
 * input, is refused (it used to write whole images past the buffers: ASan's heap- and
 * stack-buffer-overflow). */
Test(embed_set, a_model_that_failed_to_load_is_refused) {
    siamese_model *failed = NULL;
    cr_assert_neq(siamese_model_load(tu_path(tmp, "no_such_model.safetensors"), &failed),
                  SIAMESE_OK);
    cr_assert_not_null(failed);
    siamese_embeddings e;
    char msg[256];
    const char *paths[1] = {tu_path(tmp, "c1/2b.pgm")};
    cr_assert_eq(siamese_embed_files(failed, paths, 1, NULL, &e, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "failed to load"), "%s", msg);
    cr_assert_eq(e.count, 0);
    siamese_dataset *ds = NULL;
    cr_assert_eq(siamese_dataset_open(tmp, NULL, &ds), SIAMESE_OK);
    cr_assert_eq(siamese_embed_dataset(failed, ds, NULL, &e, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "failed to load"), "%s", msg);
    siamese_dataset_free(ds);
    float input[16] = {0};
    cr_assert_eq(siamese_model_load_input(failed, paths[0], input, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "failed to load"), "%s", msg);
    memset(msg, 'Z', sizeof msg);
    cr_assert_eq(siamese_model_load_input(model, NULL, input, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "no image path"), "%.40s", msg);
    siamese_model_free(failed);
    float d = 0.5f;
    cr_assert(isnan(siamese_roc_auc(NULL, NULL, 5))); /* a crash before */
    cr_assert(isnan(siamese_roc_auc(&d, NULL, 5)));
}
