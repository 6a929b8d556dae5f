/* Fuzzes every image format through the real path: detect, decode within small size caps,
 * convert to grey and RGB, antialiased resize, to-tensor; and the JPEG DCT-scaled fast path. */
#include "fuzz_common.h"
#include "siamese.h"

/* Convert + resize + to-tensor of a decoded image, as the loader does. */
static void convert_and_resize(const siamese_image *img, int channels, int w, int h) {
    siamese_image conv = {0}, small = {0};
    char msg[256];
    if (siamese_image_convert(img, channels, &conv, msg, sizeof msg) == SIAMESE_OK &&
        siamese_image_resize(&conv, w, h, &small, msg, sizeof msg) == SIAMESE_OK) {
        float *t = malloc((size_t)small.width * small.height * small.channels * sizeof *t);
        if (!t) abort();
        if (siamese_image_to_tensor(&small, NULL, NULL, t, msg, sizeof msg) != SIAMESE_OK) abort();
        free(t);
    }
    siamese_image_free(&conv);
    siamese_image_free(&small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char msg[256];
    siamese_image_options o = siamese_image_default_options();
    o.max_side = 1024; /* caps small enough that fuzzed headers cannot ask for gigabytes */
    o.max_pixels = 1 << 18;
    o.channels = 0;
    o.width = o.height = 0;
    siamese_image img = {0};
    if (siamese_image_decode(data, size, &o, &img, msg, sizeof msg) == SIAMESE_OK) {
        if (img.channels < 1 || img.channels > 4 || img.width < 1 || img.height < 1 ||
            img.width > o.max_side || img.height > o.max_side)
            abort();
        convert_and_resize(&img, 1, 17, 13);
        convert_and_resize(&img, 3, 5, 40);
    } else if (img.data || img.width || img.height) {
        abort(); /* a failure must leave the image empty */
    }
    siamese_image_free(&img);

    o.channels = 3;
    o.width = o.height = 24;
    o.fast_jpeg = 2;
    siamese_image fast = {0};
    if (siamese_image_decode(data, size, &o, &fast, msg, sizeof msg) == SIAMESE_OK &&
        (fast.width != 24 || fast.height != 24 || fast.channels != 3))
        abort();
    siamese_image_free(&fast);
    return 0;
}
