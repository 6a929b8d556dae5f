/* Training-time augmentation (internal): random affine, resized crop, flip, elastic distortion
 * and brightness/contrast jitter on 8-bit images, each sample drawn from its own seed. */
#ifndef SM_AUGMENT_H
#define SM_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "siamese.h"

/* What to draw for each sample. All zero (sm_augment_none) changes nothing. */
typedef struct sm_augment {
    double rotate;             /* degrees: angle uniform in [-rotate, rotate] */
    double shear;              /* shear factors x and y, each uniform in [-shear, shear] */
    double scale_lo, scale_hi; /* scale factors x and y, each uniform in [lo, hi]; 0 = off */
    double translate;          /* pixels: shifts x and y, each uniform in [-t, t] */
    double flip;               /* probability of a horizontal flip */
    double brightness;         /* factor uniform in [1 - b, 1 + b] */
    double contrast;           /* factor uniform in [1 - c, 1 + c], around the mean grey */
    double crop_lo, crop_hi;   /* random resized crop: area fraction in [lo, hi]; 0 = off */
    /* elastic distortion (Simard, Steinkraus & Platt 2003): a field of displacements, each
     * uniform in [-1, 1], smoothed by a Gaussian of standard deviation elastic_sigma pixels and
     * scaled by elastic_alpha pixels; alpha 0 = off */
    double elastic_alpha, elastic_sigma;
} sm_augment;

sm_augment sm_augment_none(void);

/* Parses a spec: comma-separated presets ("koch", "photo", "none") and terms ("rotate=10",
 * "shear=0.3", "scale=0.8:1.2", "translate=2", "flip" or "flip=P", "brightness=0.2",
 * "contrast=0.2", "crop=0.08:1", "elastic=34:4" for ALPHA:SIGMA with ALPHA in [0, 1000]
 * pixels, 0 = off, and SIGMA in [0.5, 100] pixels); later terms override earlier ones. NULL or
 * "" = none.
 * SIAMESE_ERR_INVALID_ARG with a message naming the term when one is unknown or out of range. */
siamese_status sm_augment_parse(const char *spec, sm_augment *out, sm_err *err);

/* 1 when aug changes nothing. */
int sm_augment_is_identity(const sm_augment *aug);

/* The seed of one sample: (seed, epoch, index in the epoch, side 0/1 of a pair). */
uint64_t sm_augment_sample_seed(uint64_t seed, int epoch, int64_t index, int side);

/* The floats of scratch sm_augment_apply needs for a width x height image: 0 unless aug has an
 * elastic term (its displacement field, a blur plane, the Gaussian kernel and edge weights). */
size_t sm_augment_scratch_floats(const sm_augment *aug, int width, int height);

/* Writes src augmented with the draws of sample_seed into dst (same size and channels, its own
 * pixels, allocated by the caller). Geometry samples src bilinearly at the mapped point, edges
 * extended; the identity spec copies bytes unchanged. scratch holds
 * sm_augment_scratch_floats(aug, width, height) floats, one buffer per thread, so a training step
 * allocates nothing; NULL (fine when that is 0) leaves out the elastic term. After the call
 * scratch[0, w*h) and scratch[w*h, 2*w*h) hold that sample's displacements dx and dy (pixels,
 * row-major): output pixel (x, y) samples where the affine-distorted image has (x + dx, y + dy),
 * i.e. the elastic distortion acts last. */
void sm_augment_apply(const sm_augment *aug, uint64_t sample_seed, const siamese_image *src,
                      siamese_image *dst, float *scratch);

#endif
