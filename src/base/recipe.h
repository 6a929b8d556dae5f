/* The reference recipe's defaults and the library's limits: the one place each value is written.
 * The *_default_params() functions, the parameter checks and the file readers use these names;
 * the CLI reads them through the public *_default_params() (see DESIGN.md for the recipe). */
#ifndef SM_RECIPE_H
#define SM_RECIPE_H

#include <stddef.h>
#include <stdint.h>

/* ---- the recipe: the PyTorch tutorial the "seed" preset reproduces */

#define SM_RECIPE_ARCH "seed"         /* the tutorial's SiameseNetwork */
#define SM_RECIPE_CHANNELS 3          /* RGB ... */
#define SM_RECIPE_HEIGHT 256          /* ... resized to 256x256 */
#define SM_RECIPE_WIDTH 256           /*     (Pillow BILINEAR, scaled to [0, 1]) */
#define SM_RECIPE_MARGIN 2.0f         /* contrastive margin */
#define SM_RECIPE_LEARNING_RATE 5e-4f /* Adam */
#define SM_RECIPE_BATCH_SIZE 32       /* pairs per batch */
#define SM_RECIPE_EPOCHS 100
#define SM_RECIPE_PER_CLASS 3        /* similar and dissimilar pairs drawn per class */
#define SM_RECIPE_TRAIN_FRACTION 0.8 /* 80/20 split over pairs */
#define SM_RECIPE_LOG_EVERY 10       /* batches between loss prints */

/* Adam's other settings: PyTorch's defaults, which the recipe keeps. */
#define SM_ADAM_BETA1 0.9f
#define SM_ADAM_BETA2 0.999f
#define SM_ADAM_EPS 1e-8f

/* ---- defaults beyond the recipe */

#define SM_DEFAULT_SAMPLER "recipe"              /* fixed pairs; "online" draws new ones */
#define SM_DEFAULT_PAIRS_PER_EPOCH 10000         /* online sampler */
#define SM_DEFAULT_CACHE_BYTES ((size_t)1 << 30) /* decoded images kept in memory: 1 GiB */
#define SM_DEFAULT_PK_CLASSES 16                 /* sampler "pk": P classes ... */
#define SM_DEFAULT_PK_IMAGES 4                   /* ... x K images per batch */
#define SM_DEFAULT_LR_GAMMA 0.1f                 /* step schedule: factor at each decay */

/* torchvision's ImageNet input normalisation (--normalize imagenet): (x - mean) / std on RGB
 * in [0, 1], what its pretrained weights expect */
#define SM_IMAGENET_MEAN                                                                           \
    { 0.485f, 0.456f, 0.406f }
#define SM_IMAGENET_STD                                                                            \
    { 0.229f, 0.224f, 0.225f }

/* ---- limits */

#define SM_IMAGE_MAX_SIDE 16384                /* width or height of an image read or drawn */
#define SM_IMAGE_MAX_PIXELS ((int64_t)1 << 28) /* width * height of an image read */
#define SM_MAX_BATCH_SIZE 65536                /* pairs per training or loader batch */
#define SM_MAX_BATCH_IMAGES 65536              /* images per engine call (P x K at most) */
#define SM_PK_MAX 4096                         /* P (classes) or K (images) of a P x K batch */
#define SM_MAX_EMBEDDING_DIM 65536             /* --embedding-dim: outputs of the new head */

#endif
