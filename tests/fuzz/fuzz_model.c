/* Fuzzes model files (safetensors: header JSON, metadata, tensor table, data) through
 * siamese_model_load; what loads must save and load back the same, and embed one image when
 * the input is small. */
#include "fuzz_common.h"
#include "siamese.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_input_file("model.safetensors", data, size);
    siamese_model *m = NULL;
    if (siamese_model_load(path, &m) == SIAMESE_OK) {
        int c = siamese_model_channels(m), h = siamese_model_height(m), w = siamese_model_width(m);
        int dim = siamese_model_embedding_dim(m);
        if (c < 1 || h < 1 || w < 1 || dim < 1) abort();
        /* what we read we write, and read back the same */
        char again[512];
        fz_path(again, sizeof again, "again.safetensors");
        siamese_model *back = NULL;
        if (siamese_model_save(m, again) != SIAMESE_OK || siamese_model_load(again, &back)) abort();
        if (strcmp(siamese_model_arch(m), siamese_model_arch(back)) ||
            siamese_model_param_count(m) != siamese_model_param_count(back) ||
            siamese_model_metric(m) != siamese_model_metric(back))
            abort();
        siamese_model_free(back);
        if ((int64_t)c * h * w <= 4096 && dim <= 4096) {
            float *img = calloc((size_t)c * h * w, sizeof *img), *emb = malloc(dim * sizeof *emb);
            if (!img || !emb) abort();
            (void)siamese_model_embed(m, img, 1, emb);
            free(img);
            free(emb);
        }
    }
    siamese_model_free(m);
    return 0;
}
