/* Image pipeline (internal API): format detection, decoders, Pillow-exact convert and resize, ToTensor. */
#ifndef SM_IMAGE_H
#define SM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "siamese.h"

/* The internal image type is the public one: 8-bit, interleaved, channels 1 (L), 2 (LA),
 * 3 (RGB) or 4 (RGBA). */
typedef siamese_image sm_image;
typedef siamese_image_options sm_image_options;

typedef enum sm_image_format {
    SM_IMAGE_UNKNOWN = 0,
    SM_IMAGE_JPEG,
    SM_IMAGE_PNG,
    SM_IMAGE_PNM, /* PBM/PGM/PPM, binary (P4-P6) or ASCII (P1-P3) */
    SM_IMAGE_WEBP,
    SM_IMAGE_GIF
} sm_image_format;

/* ---- whole pipeline (decode, convert, resize) ---- */

/* Reads path and runs sm_image_load_memory on it. Messages start with the path. */
siamese_status sm_image_load_file(const char *path, const sm_image_options *opts, sm_image *out,
                                  sm_err *err);
/* Detects the format, decodes (honouring the limits and, for JPEG, the fast path), then converts
 * to opts->channels and resizes to opts->width x opts->height. name is used in messages (may be
 * NULL). On failure out is empty and nothing is leaked. */
siamese_status sm_image_load_memory(const uint8_t *data, size_t size, const char *name,
                                    const sm_image_options *opts, sm_image *out, sm_err *err);

/* ---- pieces ---- */

/* The format from the first bytes (magic numbers), SM_IMAGE_UNKNOWN when none matches. */
sm_image_format sm_image_detect(const uint8_t *data, size_t size);
const char *sm_image_format_name(sm_image_format format);

/* Decodes to the file's natural layout (1-4 channels, palette expanded, 16-bit reduced to 8-bit
 * as Pillow does). Only the JPEG decoder looks at opts->width/height/fast_jpeg (DCT scaling). */
siamese_status sm_image_decode(const uint8_t *data, size_t size, const sm_image_options *opts,
                               sm_image *out, sm_err *err);
siamese_status sm_decode_jpeg(const uint8_t *data, size_t size, const sm_image_options *opts,
                              sm_image *out, sm_err *err);
siamese_status sm_decode_png(const uint8_t *data, size_t size, const sm_image_options *opts,
                             sm_image *out, sm_err *err);
siamese_status sm_decode_pnm(const uint8_t *data, size_t size, const sm_image_options *opts,
                             sm_image *out, sm_err *err);
siamese_status sm_decode_webp(const uint8_t *data, size_t size, const sm_image_options *opts,
                              sm_image *out, sm_err *err);
siamese_status sm_decode_gif(const uint8_t *data, size_t size, const sm_image_options *opts,
                             sm_image *out, sm_err *err);

/* Fails with SIAMESE_ERR_LIMIT (or FORMAT for zero sizes) unless width x height fits the limits
 * in opts (NULL = defaults). */
siamese_status sm_image_check_size(int width, int height, const sm_image_options *opts,
                                   sm_err *err);
/* Allocates out->data for width x height x channels with overflow-checked arithmetic. */
siamese_status sm_image_alloc(sm_image *out, int width, int height, int channels, sm_err *err);
void sm_image_free(sm_image *image);

/* Pixel and scratch buffers: malloc plus a small process-wide cache of freed blocks (thread-safe;
 * off under ASan). size at free may be smaller than at allocation, never larger. */
void *sm_pixels_alloc(size_t size);
void sm_pixels_free(void *ptr, size_t size);

/* Pillow-exact convert("L") (channels 1) or convert("RGB") (channels 3) into a new image.
 * Converting to the same channel count copies. */
siamese_status sm_image_convert(const sm_image *src, int channels, sm_image *out, sm_err *err);
/* Pillow-exact resize((width, height), BILINEAR) into a new image (same channels). */
siamese_status sm_image_resize(const sm_image *src, int width, int height, sm_image *out,
                               sm_err *err);
/* Writes src turned counter-clockwise by quarter_turns x 90 degrees into dst (its own pixels,
 * as many as src's, allocated by the caller); an odd count swaps width and height. */
void sm_image_turn(const sm_image *src, int quarter_turns, sm_image *dst);
/* ToTensor (+ optional per-channel normalization) into out[channels * height * width]; never
 * allocates. mean and std are both NULL or both hold image->channels values. */
siamese_status sm_image_to_tensor(const sm_image *image, const float *mean, const float *std,
                                  float *out);
/* The checks sm_image_to_tensor makes, with a message saying which one failed. */
siamese_status sm_image_tensor_check(const sm_image *image, const float *mean, const float *std,
                                     const float *out, sm_err *err);

#endif
