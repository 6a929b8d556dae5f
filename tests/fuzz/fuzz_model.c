/* Fuzzes model files (safetensors: header JSON, metadata, tensor table, data) through
 * siamese_model_load, then embeds one image with what loaded when the input is small. */
#include "fuzz_common.h"
#include "siamese.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_input_file("model.safetensors", data, size);
    siamese_model *m = NULL;
    if (siamese_model_load(path, &m) == SIAMESE_OK) {
        int c = siamese_model_channels(m), h = siamese_model_height(m), w = siamese_model_width(m);
        int dim = siamese_model_embedding_dim(m);
        if (c < 1 || h < 1 || w < 1 || dim < 1) abort();
        (void)siamese_model_arch(m);
        (void)siamese_model_param_count(m);
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
