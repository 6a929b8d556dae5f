/* Fuzzes pairs manifests ("path_a <TAB> path_b <TAB> label" lines) through siamese_dataset_open,
 * then walks the images and pairs it holds. */
#include "fuzz_common.h"
#include "siamese.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_input_file("pairs.tsv", data, size);
    siamese_dataset_params p = siamese_dataset_default_params();
    p.kind = SIAMESE_DATASET_MANIFEST;
    siamese_dataset *ds = NULL;
    if (siamese_dataset_open(path, &p, &ds) == SIAMESE_OK) {
        int n = siamese_dataset_image_count(ds);
        for (int i = 0; i < n; i++)
            if (!siamese_dataset_image_name(ds, i) || !siamese_dataset_image_path(ds, i)) abort();
        siamese_pairs pairs = {0};
        if (siamese_pairs_recipe(ds, NULL, 0, 3, 1, &pairs) == SIAMESE_OK) {
            for (int i = 0; i < pairs.count; i++)
                if (pairs.items[i].a < 0 || pairs.items[i].a >= n || pairs.items[i].b < 0 ||
                    pairs.items[i].b >= n)
                    abort();
        }
        siamese_pairs_free(&pairs);
    } else {
        (void)siamese_dataset_errmsg(ds);
    }
    siamese_dataset_free(ds);
    return 0;
}
