/* Fuzzes split.json through siamese_split_load against a small class-folder dataset (classes
 * a, b, c of four empty files each, made once), then reads every side back. */
#include <sys/stat.h>

#include "fuzz_common.h"
#include "siamese.h"

/* The dataset the splits refer to: root/{a,b,c}/{1,2,3,4}.png (empty files; never decoded). */
static siamese_dataset *dataset(void) {
    static siamese_dataset *ds;
    if (ds) return ds;
    char root[512], path[700];
    fz_path(root, sizeof root, "classes");
    mkdir(root, 0700);
    for (const char *c = "abc"; *c; c++) {
        snprintf(path, sizeof path, "%s/%c", root, *c);
        mkdir(path, 0700);
        for (int i = 1; i <= 4; i++) {
            snprintf(path, sizeof path, "%s/%c/%d.png", root, *c, i);
            FILE *f = fopen(path, "wb");
            if (!f) abort();
            fclose(f);
        }
    }
    if (siamese_dataset_open(root, NULL, &ds) != SIAMESE_OK) abort();
    return ds;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    siamese_dataset *ds = dataset();
    const char *path = fz_input_file("split.json", data, size);
    siamese_split *split = NULL;
    if (siamese_split_load(ds, path, &split) == SIAMESE_OK) {
        int n = siamese_dataset_image_count(ds);
        for (int i = 0; i < n; i++) {
            int side = siamese_split_image_side(split, i);
            if (side < -1 || side > 1) abort();
        }
        for (int side = 0; side < 2; side++) {
            siamese_pairs pairs = {0};
            if (siamese_split_pairs(split, side, &pairs) == SIAMESE_OK)
                for (int i = 0; i < pairs.count; i++)
                    if (pairs.items[i].a < 0 || pairs.items[i].a >= n || pairs.items[i].b < 0 ||
                        pairs.items[i].b >= n)
                        abort();
            siamese_pairs_free(&pairs);
        }
    }
    siamese_split_free(split);
    return 0;
}
