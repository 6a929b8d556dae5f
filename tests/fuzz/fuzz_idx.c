/* Fuzzes IDX files (MNIST-style, raw or gzip) through sm_idx_read as an images file (3
 * dimensions) and as a labels file (1 dimension). */
#include "data/dataset.h"
#include "fuzz_common.h"

static void read_as(const char *path, int ndims) {
    int dims[3] = {0, 0, 0};
    uint8_t *pixels = NULL;
    sm_err err = {0};
    siamese_status st = sm_idx_read(path, ndims, dims, &pixels, &err);
    if (st == SIAMESE_ERR_NOMEM) abort(); /* a header must not make a small file exhaust memory */
    if (st == SIAMESE_OK) {
        size_t n = 1;
        for (int i = 0; i < ndims; i++) {
            if (dims[i] < 0) abort();
            n *= (size_t)dims[i];
        }
        volatile uint8_t sum = 0; /* touch every byte: ASan checks the payload's size */
        for (size_t i = 0; i < n; i++) sum += pixels[i];
        (void)sum;
    }
    free(pixels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_input_file("train-images-idx3-ubyte", data, size);
    read_as(path, 3);
    read_as(path, 1);
    return 0;
}
