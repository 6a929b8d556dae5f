/* No hidden process-wide state: a model's thread count holds only during its own calls, and the
 * caller's OpenMP setting is the same after every call as before it. */
#include <criterion/criterion.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "siamese.h"
#include "test_util.h"

#define ARCH "conv(4,k=3) relu maxpool(2) linear(8)"

static int threads_seen; /* omp_get_max_threads() inside the training run's callback */

static void on_event(void *user, const siamese_train_event *e) {
    (void)user;
    if (e->kind == SIAMESE_EVENT_STEP) threads_seen = omp_get_max_threads();
}

Test(threads, model_calls_leave_the_callers_setting) {
    int before = omp_get_max_threads();
    int other = before + 1; /* differs from the caller's setting on any machine */
    siamese_model_params p = tu_model_params(ARCH, 1, 8, 8, 5);
    p.threads = other;
    siamese_model *model = tu_create_model(&p);
    cr_assert_eq(omp_get_max_threads(), before, "create changed the caller's thread count");
    float images[2 * 64], out[2 * 8], b[64], labels[1] = {0}, loss, d[1];
    tu_fill_uniform(images, 2 * 64, 0, 1, 9);
    cr_assert_eq(siamese_model_embed(model, images, 2, out), SIAMESE_OK);
    cr_assert_eq(omp_get_max_threads(), before, "embed changed the caller's thread count");
    siamese_model_set_threads(model, other + 1);
    cr_assert_eq(omp_get_max_threads(), before, "set_threads changed the caller's thread count");
    siamese_trainer *trainer = NULL;
    cr_assert_eq(siamese_trainer_create(model, NULL, &trainer), SIAMESE_OK);
    tu_fill_uniform(b, 64, 0, 1, 10);
    cr_assert_eq(siamese_trainer_step(trainer, images, b, labels, 1, &loss), SIAMESE_OK);
    cr_assert_eq(siamese_trainer_evaluate(trainer, images, b, labels, 1, &loss, d), SIAMESE_OK);
    cr_assert_eq(omp_get_max_threads(), before, "the trainer changed the caller's thread count");
    siamese_trainer_free(trainer);
    siamese_model_free(model);
}

Test(threads, a_run_computes_with_its_threads_and_restores_the_callers) {
    char *dir = tu_make_temp_dir();
    for (int c = 0; c < 3; c++) /* 3 classes of 4 tiny grey images */
        for (int j = 0; j < 4; j++) {
            char rel[64];
            snprintf(rel, sizeof rel, "c%d", c);
            mkdir(tu_path(dir, rel), 0777);
            snprintf(rel, sizeof rel, "c%d/%d.pgm", c, j);
            FILE *fp = fopen(tu_path(dir, rel), "wb");
            cr_assert_not_null(fp);
            fprintf(fp, "P5\n8 8\n255\n");
            for (int k = 0; k < 64; k++) fputc((c * 37 + j * 11 + k * 5) & 255, fp);
            fclose(fp);
        }
    int before = omp_get_max_threads();
    siamese_train_params p = siamese_train_default_params();
    p.arch = ARCH;
    p.channels = 1;
    p.height = p.width = 8;
    p.epochs = 1;
    p.batch_size = 4;
    p.threads = before + 1;
    p.callback = on_event;
    char err[512];
    cr_assert_eq(siamese_train(dir, tu_path(dir, "run"), &p, err, sizeof err), SIAMESE_OK, "%s",
                 err);
    cr_assert_eq(threads_seen, before + 1, "the run computed with %d threads, not its %d",
                 threads_seen, before + 1);
    cr_assert_eq(omp_get_max_threads(), before, "the run changed the caller's thread count");
    tu_rmtree(dir);
    free(dir);
}
