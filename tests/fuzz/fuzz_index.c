/* Fuzzes index files (embeddings, items, labels, class names, model fingerprint) through
 * siamese_index_open, then reads every row, runs one search, and saves and reopens it. */
#include "fuzz_common.h"
#include "siamese.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_input_file("gallery.index", data, size);
    siamese_index *index = NULL;
    if (siamese_index_open(path, &index) == SIAMESE_OK) {
        int n = siamese_index_count(index), dim = siamese_index_dim(index);
        if (n < 0 || dim < 1) abort();
        volatile float sum = 0;
        for (int r = 0; r < n; r++) {
            const float *v = siamese_index_vector(index, r);
            for (int j = 0; j < dim; j++) sum += v[j];
            if (!siamese_index_item(index, r)) abort();
            (void)siamese_index_label(index, r);
        }
        for (int c = 0; c < siamese_index_class_count(index); c++)
            (void)siamese_index_class_name(index, c);
        if (n > 0 && dim <= 4096) {
            float q[4096] = {0};
            int ids[3];
            float dist[3];
            (void)siamese_index_search(index, q, 1, 3, NULL, ids, dist);
        }
        /* what we read we write, and read back the same */
        char again[512];
        fz_path(again, sizeof again, "again.index");
        siamese_index *back = NULL;
        if (siamese_index_save(index, again) != SIAMESE_OK ||
            siamese_index_open(again, &back) != SIAMESE_OK || siamese_index_count(back) != n ||
            siamese_index_dim(back) != dim)
            abort();
        siamese_index_free(back);
    }
    siamese_index_free(index);
    return 0;
}
