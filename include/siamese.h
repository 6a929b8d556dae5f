/* libsiamese public API: Siamese convolutional networks trained by contrastive loss, on oneDNN.
 *
 * Conventions: every handle is opaque; functions return a siamese_status; a handle keeps the
 * message of its last error (siamese_*_errmsg); *_default_params() fills a params struct with
 * the reference recipe's settings; *_free(NULL) is a no-op. The library never prints and never
 * exits. Randomness comes only from the seeds passed in params. */
#ifndef SIAMESE_H
#define SIAMESE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status and version */

typedef enum siamese_status {
    SIAMESE_OK = 0,
    SIAMESE_ERR_INVALID_ARG, /* a parameter is out of range or NULL */
    SIAMESE_ERR_NOMEM,       /* an allocation failed */
    SIAMESE_ERR_IO,          /* a file could not be opened, read or written */
    SIAMESE_ERR_FORMAT,      /* a file's contents are malformed (model, image, manifest) */
    SIAMESE_ERR_SPEC,        /* an architecture description does not parse */
    SIAMESE_ERR_SHAPE,       /* shapes do not fit (layer geometry, tensor in a model file) */
    SIAMESE_ERR_BACKEND,     /* oneDNN refused a primitive */
    SIAMESE_ERR_LIMIT,       /* a configured limit (image size, pixels) was exceeded */
    SIAMESE_ERR_NUMERIC,     /* NaN or Inf in a loss or gradient */
    SIAMESE_ERR_DATA,        /* a dataset has too few classes or no usable pairs */
    SIAMESE_ERR_INTERRUPTED, /* stopped on request */
    SIAMESE_ERR_UNSUPPORTED  /* valid but not supported by this build or CPU */
} siamese_status;

/* A short English description of a status ("bad file format"). Never NULL. */
const char *siamese_status_str(siamese_status status);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *siamese_version(void);

/* ---------------------------------------------------------------- distances */

typedef enum siamese_metric {
    SIAMESE_METRIC_EUCLIDEAN = 0, /* PyTorch pairwise_distance: ||a - b + 1e-6||_2 */
    SIAMESE_METRIC_COSINE,        /* 1 - cos(a, b) */
    SIAMESE_METRIC_CORRELATION    /* 1 - Pearson r(a, b) */
} siamese_metric;

/* "euclidean", "cosine", "correlation". */
const char *siamese_metric_name(siamese_metric metric);
/* Parses a metric name; returns SIAMESE_ERR_INVALID_ARG for an unknown name. */
siamese_status siamese_metric_parse(const char *name, siamese_metric *out);

/* The dissimilarity of two embeddings of length dim under metric. */
double siamese_distance(siamese_metric metric, const float *a, const float *b, int dim);

/* ---------------------------------------------------------------- models */

typedef struct siamese_model siamese_model;

typedef struct siamese_model_params {
    const char *arch;     /* preset name ("seed", "mnist", "omniglot") or architecture text */
    int channels;         /* input geometry; 0 = the preset's own */
    int height;
    int width;
    float margin;         /* contrastive margin, default 2.0 */
    siamese_metric metric; /* default SIAMESE_METRIC_EUCLIDEAN */
    uint64_t seed;        /* initialization seed: the same seed gives the same model */
    int threads;          /* 0 = all cores */
} siamese_model_params;

siamese_model_params siamese_model_default_params(void);

/* Creates a freshly initialized model (PyTorch default initialization from params->seed).
 * On failure *out may hold a handle carrying only the error message (read it with
 * siamese_model_errmsg, then free it), or NULL when memory ran out. */
siamese_status siamese_model_create(const siamese_model_params *params, siamese_model **out);

/* Loads a model written by siamese_model_save (or by PyTorch's safetensors with our
 * metadata). Nothing is half-loaded: on failure *out is as for siamese_model_create. */
siamese_status siamese_model_load(const char *path, siamese_model **out);

/* Writes the model atomically (temporary file, fsync, rename) as safetensors. */
siamese_status siamese_model_save(siamese_model *model, const char *path);

void siamese_model_free(siamese_model *model);

/* The message of the last error on this handle ("" when none). Never NULL for a non-NULL handle. */
const char *siamese_model_errmsg(const siamese_model *model);

/* Geometry of the images the model takes and the length of its embeddings. */
int siamese_model_channels(const siamese_model *model);
int siamese_model_height(const siamese_model *model);
int siamese_model_width(const siamese_model *model);
int siamese_model_embedding_dim(const siamese_model *model);
size_t siamese_model_param_count(const siamese_model *model);
/* The architecture in canonical text form. */
const char *siamese_model_arch(const siamese_model *model);
float siamese_model_margin(const siamese_model *model);
siamese_metric siamese_model_metric(const siamese_model *model);
/* The decision threshold stored with the model, or a negative value when it has none. */
float siamese_model_threshold(const siamese_model *model);
void siamese_model_set_threshold(siamese_model *model, float threshold);

/* Embeds n images, images: [n, channels, height, width] floats, out: [n, embedding_dim]. */
siamese_status siamese_model_embed(siamese_model *model, const float *images, int n, float *out);

/* ---------------------------------------------------------------- training */

typedef struct siamese_trainer siamese_trainer;

typedef struct siamese_trainer_params {
    float learning_rate; /* Adam, default 5e-4 */
    float beta1;         /* 0.9 */
    float beta2;         /* 0.999 */
    float eps;           /* 1e-8 */
    float weight_decay;  /* 0 */
    int max_pairs;       /* largest batch of pairs a step will get, default 32 */
} siamese_trainer_params;

siamese_trainer_params siamese_trainer_default_params(void);

/* A trainer updates model in place; the model must outlive it. */
siamese_status siamese_trainer_create(siamese_model *model, const siamese_trainer_params *params,
                                      siamese_trainer **out);
void siamese_trainer_free(siamese_trainer *trainer);
const char *siamese_trainer_errmsg(const siamese_trainer *trainer);

/* One optimization step on n pairs: a, b: [n, C, H, W]; labels: [n], 0 = similar, 1 = dissimilar.
 * Both branches run as one batch of 2n images. *loss receives the mean contrastive loss.
 * Returns SIAMESE_ERR_NUMERIC, leaving the parameters untouched, if the loss or a gradient is
 * not finite. */
siamese_status siamese_trainer_step(siamese_trainer *trainer, const float *a, const float *b,
                                    const float *labels, int n, float *loss);

/* The mean loss and per-pair distances of n pairs without updating anything. */
siamese_status siamese_trainer_evaluate(siamese_trainer *trainer, const float *a, const float *b,
                                        const float *labels, int n, float *loss, float *distances);

/* ---------------------------------------------------------------- evaluation */

/* Pair distances d[n] with labels y[n] (0 similar, 1 dissimilar): the area under the ROC curve
 * for "dissimilar when d > t" (ties count one half). Returns NaN unless both labels occur. */
double siamese_roc_auc(const float *distances, const float *labels, int n);

/* The threshold t maximizing accuracy of "dissimilar when d > t" (midway between neighbouring
 * distances) and that accuracy. Returns SIAMESE_ERR_INVALID_ARG when n < 1. */
siamese_status siamese_best_threshold(const float *distances, const float *labels, int n,
                                      float *threshold, float *accuracy);

/* ==== IMAGE API (issue 3) ==== */

/* An 8-bit image: rows top to bottom, pixels interleaved (HWC). channels: 1 = grey (Pillow "L"),
 * 3 = RGB; a decode without conversion (channels option 0) may also give 2 = grey+alpha ("LA")
 * or 4 = RGBA. data holds width * height * channels bytes and is owned by the struct. */
typedef struct siamese_image {
    int width;
    int height;
    int channels;
    uint8_t *data;
} siamese_image;

/* How to decode, convert and resize. Default (siamese_image_default_options) = the recipe:
 * RGB, 256x256, exact path, limits 16384 per side and 2^28 pixels. */
typedef struct siamese_image_options {
    int max_side;       /* largest accepted width or height in the file (default 16384) */
    int64_t max_pixels; /* largest accepted width * height in the file (default 2^28) */
    int channels;       /* 1 = Pillow convert("L"), 3 = convert("RGB"), 0 = as decoded (1-4) */
    int width;          /* > 0 with height > 0: resize exactly like Pillow resize((width, height), */
    int height;         /* BILINEAR); both 0: keep the decoded size */
    int fast_jpeg;      /* nonzero: a JPEG at least 2x the target in both sides is decoded with
                           DCT scaling first (each pixel within +-3 levels of the exact path) */
} siamese_image_options;

siamese_image_options siamese_image_default_options(void);

/* Decodes a JPEG, PNG, PGM/PPM/PBM, WebP or GIF (first frame) file, detected from its bytes,
 * then converts and resizes as options say (NULL = defaults). On failure out is left empty
 * ({0, 0, 0, NULL}) and, when errmsg is not NULL, errmsg receives a message naming the file and
 * the reason (truncated to errmsg_size). Errors: SIAMESE_ERR_IO (cannot read),
 * SIAMESE_ERR_FORMAT (empty, truncated, corrupt, not an image), SIAMESE_ERR_LIMIT (too large),
 * SIAMESE_ERR_NOMEM, SIAMESE_ERR_INVALID_ARG. */
siamese_status siamese_image_load(const char *path, const siamese_image_options *options,
                                  siamese_image *out, char *errmsg, size_t errmsg_size);
/* The same from an encoded file held in memory. */
siamese_status siamese_image_decode(const void *data, size_t size,
                                    const siamese_image_options *options, siamese_image *out,
                                    char *errmsg, size_t errmsg_size);

/* Pillow-exact convert: channels 1 = convert("L"), 3 = convert("RGB"). out is a new image. */
siamese_status siamese_image_convert(const siamese_image *image, int channels, siamese_image *out);
/* Pillow-exact resize((width, height), BILINEAR) (antialiased). out is a new image. */
siamese_status siamese_image_resize(const siamese_image *image, int width, int height,
                                    siamese_image *out);

/* ToTensor: out[c][y][x] = data[y][x][c] / 255, then, when mean and std are not NULL,
 * (value - mean[c]) / std[c]. out holds channels * height * width floats; nothing is allocated. */
siamese_status siamese_image_to_tensor(const siamese_image *image, const float *mean,
                                       const float *std, float *out);

/* Frees the pixels and empties the struct. NULL and empty images are fine. */
void siamese_image_free(siamese_image *image);

/* ==== END IMAGE API ==== */

/* ==== DATASET API (issue 3) ==== */

/* ==== END DATASET API ==== */

#ifdef __cplusplus
}
#endif

#endif
