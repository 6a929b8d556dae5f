/* ToTensor: uint8 HWC image to float CHW in [0,1], with optional per-channel mean/std. */
#include "image.h"

siamese_status sm_image_to_tensor(const sm_image *image, const float *mean, const float *std,
                                  float *out) {
    if (!image || !image->data || !out || image->width <= 0 || image->height <= 0 ||
        image->channels < 1 || image->channels > 4 || (!mean) != (!std))
        return SIAMESE_ERR_INVALID_ARG;
    const int c_count = image->channels;
    const size_t plane = (size_t)image->width * (size_t)image->height;
    for (int c = 0; c < c_count; c++) {
        if (std && std[c] == 0.0f) return SIAMESE_ERR_INVALID_ARG;
    }
    for (int c = 0; c < c_count; c++) {
        const uint8_t *in = image->data + c;
        float *dst = out + (size_t)c * plane;
        if (mean) {
            /* torchvision: Normalize((x / 255 - mean) / std) applied after ToTensor */
            const float m = mean[c], s = std[c];
            for (size_t i = 0; i < plane; i++)
                dst[i] = ((float)in[i * (size_t)c_count] / 255.0f - m) / s;
        } else {
            for (size_t i = 0; i < plane; i++) dst[i] = (float)in[i * (size_t)c_count] / 255.0f;
        }
    }
    return SIAMESE_OK;
}
