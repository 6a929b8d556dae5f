/* libsiamese public API: Siamese convolutional networks trained by contrastive loss, on oneDNN.
 *
 * Conventions: every handle is opaque; functions return a siamese_status; a handle keeps the
 * message of its last error (siamese_*_errmsg); *_default_params() fills a params struct with
 * the reference recipe's settings; *_free(NULL) is a no-op. The library never prints and never
 * exits. Randomness comes only from the seeds passed in params.
 *
 * Threads: each handle is used by one thread at a time; different handles may be used from
 * different threads at once (two models embedding in two threads, each with its own thread
 * count). Functions without a handle (distances, ROC, image decoding, siamese_draw_pairs) are
 * reentrant. No process-wide state changes what a call does: no OpenMP setting outlives a call
 * (a model's or a run's thread count is set on the calling thread for the call and the caller's
 * own setting restored), and the only shared state is thread-safe caching (freed pixel buffers,
 * oneDNN's primitive cache). The library's threads are OpenMP's inside a call and a loader's
 * background thread. Each handle type below has a "Threads:" line.
 *
 * Signals: oneDNN's JIT gemm kernels point the stack pointer into the heap while they run, so a
 * signal handler run on such a thread would corrupt the heap. Calls that run them (embedding,
 * training, k-NN search) therefore block every asynchronous signal (all but SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGABRT and SIGSYS) in the calling thread for the call, restoring its
 * mask after (a held signal is then delivered), and for good in the threads of OpenMP's pool they
 * run on: those are the threads of your own OpenMP parallel regions too, so a signal meant for
 * one of them (pthread_kill, a per-thread timer) waits. A process-directed signal goes to a
 * thread that does not block it, as a sigwait thread of your own (the siamese CLI's way).
 *
 * ABI and versions: the ABI is what a compiled program relies on: the functions declared here,
 * the layout of every struct and the values of every enum and macro. Nothing else is part of it:
 * the library's other symbols are hidden in libsiamese.so and local in libsiamese.a. The soname
 * names the ABI: libsiamese.so.0.MINOR before 1.0 (any minor release may change the ABI), then
 * libsiamese.so.MAJOR; a patch release keeps it. A program runs with the library it was built
 * against or a later one of the same soname. siamese_version() gives the version at run time
 * (this header has no version macros). Structs have no size field (params are passed by pointer
 * and returned by value from *_default_params(), results are filled in), so a release that adds
 * a field is a new soname. Across sonames, source code keeps compiling when it takes each params
 * struct from its *_default_params() (siamese_image_default_options) and sets the fields it
 * means: fields are added at the end and get their defaults there, where an initializer listing
 * every field would leave them 0. Enum values keep their numbers; new ones are added at the end,
 * so give a switch over an enum a default (siamese_status_str says "unknown status" for a code it
 * does not know). Files carry a format and its version: models and checkpoints "siamese/1"
 * (ensembles "siamese/ensemble/1"), indexes "siamese-index" 1, split records "siamese-split" 1. A
 * file of a version this library does not know is refused with an error naming it, never read in
 * part; each format is at its first version, and a release that changes one gives it the next
 * and goes on reading the older. Not promised: message texts; bit-identical numbers (embeddings,
 * a training run from a seed) from one release to another; a run folder's config.json and
 * metrics.jsonl and the precision cache, which carry no version (resume and report a run with
 * the release that started it). */
#ifndef SIAMESE_H
#define SIAMESE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Every public function is exported from the shared library; everything else is hidden. */
#if defined(SIAMESE_BUILDING_LIBRARY) && defined(__GNUC__)
#define SIAMESE_API __attribute__((visibility("default")))
#else
#define SIAMESE_API
#endif

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
    SIAMESE_ERR_UNSUPPORTED, /* valid but not supported by this build or CPU */
    SIAMESE_ERR_EXISTS       /* earlier work is where the output would go: a run folder that
                                holds a run (resume it, choose another, or set overwrite) */
} siamese_status;

/* What each enum's name function (siamese_metric_name, _precision_name, _loss_name,
 * _dataset_kind_name, _split_kind_name, _mining_name, _lr_schedule_name) returns for a value
 * outside its enum: never NULL, never one of the enum's names (its parse function refuses it). */
#define SIAMESE_NAME_UNKNOWN "unknown"

/* A short English description of a status ("bad file format"). Never NULL. */
SIAMESE_API const char *siamese_status_str(siamese_status status);

/* The library version, "MAJOR.MINOR.PATCH". */
SIAMESE_API const char *siamese_version(void);

/* Every file the library writes (models, checkpoints, indexes, embeddings, manifests, pages) is
 * written as PATH.tmp.XXXXXX, fsynced and renamed over PATH, so an interrupted write never
 * leaves a half-written PATH. This removes the temporary files of the writes in progress, for a
 * program about to end on a signal (SIGINT, SIGTERM) that would otherwise leave them behind; the
 * writes themselves then fail. It takes a lock: call it from an ordinary thread (one that waits
 * for signals with sigwait, as the siamese CLI does), not from inside a signal handler. */
SIAMESE_API void siamese_remove_unfinished_writes(void);

/* ---------------------------------------------------------------- distances */

typedef enum siamese_metric {
    SIAMESE_METRIC_EUCLIDEAN = 0, /* PyTorch pairwise_distance: ||a - b + 1e-6||_2 */
    SIAMESE_METRIC_COSINE,        /* 1 - cos(a, b) */
    SIAMESE_METRIC_CORRELATION    /* 1 - Pearson r(a, b) */
} siamese_metric;

/* "euclidean", "cosine", "correlation"; SIAMESE_NAME_UNKNOWN for any other value. */
SIAMESE_API const char *siamese_metric_name(siamese_metric metric);
/* Parses a metric name; returns SIAMESE_ERR_INVALID_ARG for an unknown name. */
SIAMESE_API siamese_status siamese_metric_parse(const char *name, siamese_metric *out);

/* The dissimilarity of two embeddings of length dim under metric. */
SIAMESE_API double siamese_distance(siamese_metric metric, const float *a, const float *b, int dim);

/* ---------------------------------------------------------------- models */

/* Threads: one thread at a time (embedding reuses the model's buffers); a trainer on the model
 * counts as a use. */
typedef struct siamese_model siamese_model;

typedef struct siamese_model_params {
    const char *arch; /* preset name ("seed", "mnist", "omniglot") or architecture text */
    int channels;     /* input geometry; 0 = the preset's own */
    int height;
    int width;
    float margin;          /* contrastive margin, default 2.0 */
    siamese_metric metric; /* default SIAMESE_METRIC_EUCLIDEAN */
    uint64_t seed;         /* initialization seed: the same seed gives the same model */
    int threads;           /* during this model's calls; 0 = all cores (or OMP_NUM_THREADS) */
    int embedding_dim;     /* 0 = the architecture's; D > 0: its last layer, which must be
                              linear (a preset's "fc"), gets D outputs (SIAMESE_ERR_SPEC when
                              it ends in anything else) */
    const char *normalize; /* NULL or "" = none; "imagenet": a first layer "input" (never
                              trained) computes (x - mean) / std with torchvision's ImageNet
                              mean and std, the inputs its pretrained weights expect; saved
                              with the model, so every command applies it (3 channels only) */
} siamese_model_params;

SIAMESE_API siamese_model_params siamese_model_default_params(void);

/* Creates a freshly initialized model (PyTorch default initialization from params->seed).
 * On failure *out may hold a handle carrying only the error message (read it with
 * siamese_model_errmsg, then free it), or NULL when memory ran out. */
SIAMESE_API siamese_status siamese_model_create(const siamese_model_params *params,
                                                siamese_model **out);

/* Loads a model written by siamese_model_save (or by PyTorch's safetensors with our
 * metadata). Nothing is half-loaded: on failure *out is as for siamese_model_create. */
SIAMESE_API siamese_status siamese_model_load(const char *path, siamese_model **out);

/* Writes the model atomically (temporary file, fsync, rename) as safetensors. */
SIAMESE_API siamese_status siamese_model_save(siamese_model *model, const char *path);

SIAMESE_API void siamese_model_free(siamese_model *model);

/* ---- pretrained weights (transfer learning) ---- */

/* Copies the tensors of a safetensors file into the model by name: a torchvision state_dict
 * saved with safetensors.torch.save_file (resnet18/34/50 presets use torchvision's names), or
 * another model's file. Strict for the backbone: every tensor outside the head (the last layer
 * with parameters, "fc") must be there with its shape, and the file may hold nothing the model
 * lacks; otherwise SIAMESE_ERR_SHAPE with one message listing the mismatches, and the model is
 * unchanged. Head tensors missing or of another shape keep their initialization and are listed,
 * comma-separated, in left (may be NULL). A face aligner in the file (a model made with
 * siamese_model_attach_faceapi_aligner: "align.*" tensors) comes with the weights; it never
 * trains, and siamese_train's loaders then feed every image as its aligned face chip. */
SIAMESE_API siamese_status siamese_model_init_from(siamese_model *model, const char *path,
                                                   char *left, size_t left_size);
/* Fine-tuning: frozen = 1 freezes every layer whose parameter prefix is prefix or starts with
 * prefix and '.' ("layer1" matches layer1.0.conv1, not layer10; "" matches all): no weight
 * gradients are computed for it (its entries of the gradient stay 0, so Adam leaves it as it is),
 * no backward runs below the first trainable layer, and a batchnorm among them uses its running
 * statistics in training without updating them. frozen = 0 undoes it (also a text's
 * batchnorm(frozen=1)). Returns the number of layers matched, or -1 (none matched; errmsg). */
SIAMESE_API int siamese_model_freeze(siamese_model *model, const char *prefix, int frozen);

/* The message of the last error on this handle ("" when none). Never NULL for a non-NULL handle. */
SIAMESE_API const char *siamese_model_errmsg(const siamese_model *model);

/* Geometry of the images the model takes and the length of its embeddings. */
SIAMESE_API int siamese_model_channels(const siamese_model *model);
SIAMESE_API int siamese_model_height(const siamese_model *model);
SIAMESE_API int siamese_model_width(const siamese_model *model);
SIAMESE_API int siamese_model_embedding_dim(const siamese_model *model);
SIAMESE_API size_t siamese_model_param_count(const siamese_model *model);
/* The architecture in canonical text form ("ensemble of N networks" for an ensemble: its
 * members' with siamese_model_member). For an ensemble the embedding length and the parameter
 * count are its members' summed. */
SIAMESE_API const char *siamese_model_arch(const siamese_model *model);
SIAMESE_API float siamese_model_margin(const siamese_model *model);
SIAMESE_API siamese_metric siamese_model_metric(const siamese_model *model);
/* The decision threshold stored with the model, or a negative value when it has none. */
SIAMESE_API float siamese_model_threshold(const siamese_model *model);
SIAMESE_API void siamese_model_set_threshold(siamese_model *model, float threshold);
/* The most threads any call takes (OpenMP cannot start tens of thousands: it fails or crashes).
 * Parameter checks refuse larger counts; siamese_model_set_threads takes them as this. */
#define SIAMESE_THREADS_MAX 1024
/* Threads used by this model's computations, set only for the duration of its calls (0 = the
 * caller's OpenMP default: all cores, or OMP_NUM_THREADS; above SIAMESE_THREADS_MAX: that). */
SIAMESE_API void siamese_model_set_threads(siamese_model *model, int threads);

/* Arithmetic of the network's layers. BF16 runs the convolutions on the CPU's AVX512-BF16
 * units (bf16 activations and weight copies, fp32 accumulation); the linear layers, the
 * parameters, the loss and Adam stay fp32. */
typedef enum siamese_precision {
    SIAMESE_PRECISION_FP32 = 0,
    SIAMESE_PRECISION_BF16 = 1,
    SIAMESE_PRECISION_AUTO = 2, /* the faster of the two on this CPU (siamese_precision_choose) */
    SIAMESE_PRECISION_INT8 = 3  /* inference only, on a model made by siamese_model_quantize */
} siamese_precision;

/* "fp32", "bf16", "auto", "int8"; SIAMESE_NAME_UNKNOWN for any other value. */
SIAMESE_API const char *siamese_precision_name(siamese_precision precision);
/* Parses "fp32", "bf16", "auto" or "int8"; SIAMESE_ERR_INVALID_ARG for anything else. */
SIAMESE_API siamese_status siamese_precision_parse(const char *name, siamese_precision *out);
/* 1 when this CPU (as oneDNN sees it) has bf16 kernels. */
SIAMESE_API int siamese_bf16_supported(void);
/* Sets the model's precision and returns the one in effect: FP32 when BF16 is asked for on a
 * CPU without bf16 support (the caller tells the user; the library never prints); AUTO sets the
 * choice of siamese_precision_choose(model, 8, ...) (FP32 if the measurement fails). */
SIAMESE_API siamese_precision siamese_model_set_precision(siamese_model *model,
                                                          siamese_precision precision);
SIAMESE_API siamese_precision siamese_model_precision(const siamese_model *model);

/* ---- Precision chosen by measurement (issue 17) ---- */
/* What siamese_precision_choose decided and why. */
typedef struct siamese_precision_choice {
    siamese_precision precision; /* FP32 or BF16: the faster */
    double fp32_seconds;         /* CPU seconds of one forward of `batch` images; 0 = not timed */
    double bf16_seconds;         /* the same in bf16; 0 = not timed (a CPU without bf16) */
    int batch;                   /* images per timed forward (the batch asked, at most 8) */
    int from_cache;              /* 1: read from the cache file, not measured now */
    int cache_written;           /* 1: the measurement was saved in the cache file */
    char cpu[128];               /* the CPU model the choice belongs to */
} siamese_precision_choice;
/* Times the model's forward pass (all its layers, on a zero batch of min(batch, 8) images; batch
 * < 1 means 8) in fp32 and in bf16 (process CPU seconds, robust to other programs sharing the
 * cores; after one untimed forward, the fastest of at least three) and picks bf16 when it is at
 * least 5% faster, else fp32. The choice is cached per CPU model, oneDNN ISA, library version, network text,
 * input geometry and batch in $XDG_CACHE_HOME/siamese/precision.tsv (or ~/.cache/siamese/), so
 * it is measured once; a cache that cannot be read or written is ignored. On a CPU without bf16:
 * FP32, nothing timed. The model's precision setting is left as it was. */
SIAMESE_API siamese_status siamese_precision_choose(siamese_model *model, int batch,
                                                    siamese_precision_choice *out);

/* Embeds n images, images: [n, channels, height, width] floats, out: [n, embedding_dim]. */
SIAMESE_API siamese_status siamese_model_embed(siamese_model *model, const float *images, int n,
                                               float *out);

/* ---- Ensembles: several networks judged as one model ---- */
/* An ensemble of networks trained apart (say on one --split-seed with different seeds) embeds an
 * image as its members' embeddings side by side, each times 1/sqrt(n): under euclidean its
 * squared distance is the mean of the members' squared distances. Under cosine (correlation) each
 * member's embedding is first scaled to unit length (centred, then scaled), so the ensemble's
 * similarity is the mean of the members'. It loads, saves (one file: the members' tensors as
 * "members.<i>.<name>", a PyTorch state_dict of a ModuleList named members), embeds, calibrates,
 * quantizes (each member) and indexes like one model, with its own threshold; it cannot be
 * trained, frozen, or used as pretrained weights. A face aligner is the ensemble's own, one for
 * all members: every photo becomes one face chip, which each member embeds. It comes from the
 * members (below) or siamese_model_attach_faceapi_aligner on the ensemble, and its file holds it
 * at the top level ("align.*" tensors and metadata, as one model's file), never in a member. */
#define SIAMESE_ENSEMBLE_MAX 16
/* Makes an ensemble of n (2..SIAMESE_ENSEMBLE_MAX) models of one input geometry and metric,
 * none an ensemble. Either none has a face aligner, or all have the same one (one architecture,
 * bit-identical weights: face networks fine-tuned from one imported model with --align); the
 * ensemble then takes it as its own and the members keep none. On success it owns them (they are
 * freed with it); on failure (a member without an aligner, or with another one, is named) they
 * are still the caller's, unchanged, and *out is an error-only handle as for
 * siamese_model_create. The ensemble's margin is the members' mean; it carries no threshold. */
SIAMESE_API siamese_status siamese_model_ensemble(siamese_model *const *members, int n,
                                                  siamese_model **out);
/* The number of members of an ensemble, 0 for one network. */
SIAMESE_API int siamese_model_members(const siamese_model *model);
/* The i-th member of an ensemble (owned by it), or NULL. */
SIAMESE_API siamese_model *siamese_model_member(siamese_model *model, int i);

/* ---------------------------------------------------------------- training */

/* Threads: one thread at a time, and its model is not used elsewhere meanwhile. */
typedef struct siamese_trainer siamese_trainer;

/* The loss of a batch of labelled images (siamese_trainer_params.batch_loss). */
typedef enum siamese_loss {
    SIAMESE_LOSS_CONTRASTIVE = 0, /* per pair: (1 - y) D^2 + y max(0, margin - D)^2, the recipe's */
    SIAMESE_LOSS_TRIPLET /* per triplet of an anchor a, a positive p (a's class) and a negative n:
                            max(0, D(a, p) - D(a, n) + margin) (Schroff et al. 2015), averaged
                            over the triplets with a nonzero loss (Hermans et al. 2017) */
} siamese_loss;

/* "contrastive", "triplet" (SIAMESE_NAME_UNKNOWN for any other value); parse returns
 * SIAMESE_ERR_INVALID_ARG for other names. */
SIAMESE_API const char *siamese_loss_name(siamese_loss loss);
SIAMESE_API siamese_status siamese_loss_parse(const char *name, siamese_loss *out);

typedef struct siamese_trainer_params {
    float learning_rate;          /* Adam, default 5e-4 */
    float beta1;                  /* 0.9 */
    float beta2;                  /* 0.999 */
    float eps;                    /* 1e-8 */
    float weight_decay;           /* 0 */
    int max_pairs;                /* largest batch of pairs a step will get, default 32 */
    float learning_rate_backbone; /* 0 (default) = learning_rate; else the rate of every
                                     parameter but the head's (the last layer with parameters) */
    siamese_loss batch_loss;      /* siamese_trainer_step_batch's loss, CONTRASTIVE (default) or
                                TRIPLET; pairs (siamese_trainer_step, _evaluate) always take
                                the contrastive loss */
} siamese_trainer_params;

SIAMESE_API siamese_trainer_params siamese_trainer_default_params(void);

/* A trainer updates model in place; the model must outlive it. */
SIAMESE_API siamese_status siamese_trainer_create(siamese_model *model,
                                                  const siamese_trainer_params *params,
                                                  siamese_trainer **out);
SIAMESE_API void siamese_trainer_free(siamese_trainer *trainer);
SIAMESE_API const char *siamese_trainer_errmsg(const siamese_trainer *trainer);

/* One optimization step on n pairs: a, b: [n, C, H, W]; labels: [n], 0 = similar, 1 = dissimilar.
 * Both branches run as one batch of 2n images. *loss receives the mean contrastive loss.
 * Returns SIAMESE_ERR_NUMERIC, leaving the parameters untouched, if the loss or a gradient is
 * not finite. */
SIAMESE_API siamese_status siamese_trainer_step(siamese_trainer *trainer, const float *a,
                                                const float *b, const float *labels, int n,
                                                float *loss);

/* The mean loss and per-pair distances of n pairs without updating anything. */
SIAMESE_API siamese_status siamese_trainer_evaluate(siamese_trainer *trainer, const float *a,
                                                    const float *b, const float *labels, int n,
                                                    float *loss, float *distances);

/* ---------------------------------------------------------------- evaluation */

/* Pair distances d[n] with labels y[n] (0 similar, 1 dissimilar): the area under the ROC curve
 * for "dissimilar when d > t" (ties count one half). Returns NaN unless both labels occur (and
 * for NULL arrays). */
SIAMESE_API double siamese_roc_auc(const float *distances, const float *labels, int n);

/* The threshold t maximizing accuracy of "dissimilar when d > t" (midway between neighbouring
 * distances) and that accuracy. Returns SIAMESE_ERR_INVALID_ARG when n < 1. */
SIAMESE_API siamese_status siamese_best_threshold(const float *distances, const float *labels,
                                                  int n, float *threshold, float *accuracy);
/* The same best accuracy, at the centre of the widest span of distances over which it holds
 * (siamese_best_threshold takes the first span that reaches it, midway to the next distance). */
SIAMESE_API siamese_status siamese_best_threshold_centred(const float *distances,
                                                          const float *labels, int n,
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
    int width;     /* > 0 with height > 0: resize exactly like Pillow resize((width, height), */
    int height;    /* BILINEAR); both 0: keep the decoded size */
    int fast_jpeg; /* JPEG DCT-scaled decoding (1/2, 1/4, 1/8) before the exact resize:
                           0 = off (default, Pillow-exact); 1 = only when the scaled image stays
                           >= 16x the target (every sample within +-3 levels of the exact path);
                           2 = whenever it stays >= 2x the target (faster; measured max 16,
                           mean < 2 levels on photos) */
} siamese_image_options;

SIAMESE_API siamese_image_options siamese_image_default_options(void);

/* Decodes a JPEG, PNG, PGM/PPM/PBM, WebP or GIF (first frame) file, detected from its bytes,
 * then converts and resizes as options say (NULL = defaults). On failure out is left empty
 * ({0, 0, 0, NULL}) and, when errmsg is not NULL, errmsg receives a message naming the file and
 * the reason (truncated to errmsg_size). Errors: SIAMESE_ERR_IO (cannot read),
 * SIAMESE_ERR_FORMAT (empty, truncated, corrupt, not an image), SIAMESE_ERR_LIMIT (too large),
 * SIAMESE_ERR_NOMEM, SIAMESE_ERR_INVALID_ARG. */
SIAMESE_API siamese_status siamese_image_load(const char *path,
                                              const siamese_image_options *options,
                                              siamese_image *out, char *errmsg, size_t errmsg_size);
/* The same from an encoded file held in memory. */
SIAMESE_API siamese_status siamese_image_decode(const void *data, size_t size,
                                                const siamese_image_options *options,
                                                siamese_image *out, char *errmsg,
                                                size_t errmsg_size);

/* The three steps below report like siamese_image_load: on failure errmsg (when not NULL)
 * receives the reason, truncated to errmsg_size; on success it is set to "". */

/* Pillow-exact convert: channels 1 = convert("L"), 3 = convert("RGB"). out is a new image. */
SIAMESE_API siamese_status siamese_image_convert(const siamese_image *image, int channels,
                                                 siamese_image *out, char *errmsg,
                                                 size_t errmsg_size);
/* Pillow-exact resize((width, height), BILINEAR) (antialiased). out is a new image. */
SIAMESE_API siamese_status siamese_image_resize(const siamese_image *image, int width, int height,
                                                siamese_image *out, char *errmsg,
                                                size_t errmsg_size);

/* ToTensor: out[c][y][x] = data[y][x][c] / 255, then, when mean and std are not NULL,
 * (value - mean[c]) / std[c]. out holds channels * height * width floats; nothing is allocated. */
SIAMESE_API siamese_status siamese_image_to_tensor(const siamese_image *image, const float *mean,
                                                   const float *std, float *out, char *errmsg,
                                                   size_t errmsg_size);

/* Frees the pixels and empties the struct. NULL and empty images are fine. */
SIAMESE_API void siamese_image_free(siamese_image *image);

/* ---- pictures (issue 9: what 'siamese test' and 'siamese compare --png' draw) */

/* One row of a picture of pairs: two images side by side, a caption above them. */
typedef struct siamese_captioned_pair {
    const siamese_image *first; /* 1 (grey) or 3 (RGB) channels */
    const siamese_image *second;
    const char *caption; /* e.g. "Dissimilarity: 0.73"; NULL = none */
} siamese_captioned_pair;

/* Draws n pairs (1 to 1000) as a PNG, one per row, each with its caption above it (the recipe's
 * imshow of a pair with "Dissimilarity: 0.73"), images scaled to a common cell size. The file
 * is written atomically. On failure errmsg (when not NULL) names the file and the reason. */
SIAMESE_API siamese_status siamese_draw_pairs(const char *path, const siamese_captioned_pair *pairs,
                                              int n, char *errmsg, size_t errmsg_size);

/* ==== END IMAGE API ==== */

/* ==== DATASET API (issue 3) ==== */

/* Where images and pairs come from. Errors of every function that takes a dataset (opening,
 * sampling, making a split or a loader, writing) are kept as the dataset's last error message
 * (siamese_dataset_errmsg); functions on a split or a loader keep theirs on that handle. Bad
 * image files never stop anything: each one produces one warning naming the file and the reason
 * (through params.warning), is skipped and counted.
 * Threads: one thread at a time; a loader's background thread reads the dataset while the loader
 * prepares batches, so meanwhile other threads call no function that takes the dataset. */
typedef struct siamese_dataset siamese_dataset;

typedef enum siamese_dataset_kind {
    SIAMESE_DATASET_AUTO = 0, /* detect from the path (see siamese_dataset_open) */
    SIAMESE_DATASET_FOLDERS,  /* one folder per class: ROOT/<class>/<image> */
    SIAMESE_DATASET_RECIPE,   /* ROOT/similar_all_images + ROOT/dissimilar_all_images */
    SIAMESE_DATASET_MANIFEST, /* TSV file: path_a <TAB> path_b <TAB> label */
    SIAMESE_DATASET_IDX       /* MNIST-style IDX images + labels, raw or gzipped */
} siamese_dataset_kind;

/* Receives one warning line (no trailing newline), e.g. "a/b.jpg: truncated JPEG; skipped".
 * May be called from the loader's background thread. */
typedef void (*siamese_warning_fn)(void *user, const char *message);

typedef struct siamese_dataset_params {
    siamese_dataset_kind kind;  /* default SIAMESE_DATASET_AUTO */
    const char *idx_part;       /* IDX folders: only the files whose name starts with this prefix
                                   ("train", "t10k"); NULL = every part, "train*" parts first */
    siamese_warning_fn warning; /* NULL = warnings are only counted */
    void *warning_user;
} siamese_dataset_params;

SIAMESE_API siamese_dataset_params siamese_dataset_default_params(void);

/* Opens a dataset. Auto-detection: a .tsv/.txt file = manifest; a file named
 * *-images-idx3-ubyte[.gz] = that IDX part; a folder holding similar_all_images = recipe layout;
 * a folder holding *-images-idx3-ubyte[.gz] files = IDX; any other folder = class folders.
 * Class folders: the classes are the subfolders of path that directly hold files; if none does
 * and path holds exactly one folder (Stanford Dogs' Images/), that folder is the root; if it
 * holds several (AT&T's training/ and testing/), their subfolders are the classes, named
 * "training/s1". Classes and files are sorted by name (byte order); hidden files are skipped;
 * files at the root are ignored. IDX classes are the label values, in numeric order.
 * Fails with SIAMESE_ERR_DATA for fewer than two classes (class datasets) or no pairs (pair
 * datasets), SIAMESE_ERR_FORMAT for a malformed manifest line (file and line number) or IDX
 * file; an image file (by its first bytes or its extension) that is not a manifest fails with
 * SIAMESE_ERR_DATA, a message saying what a data set may be. On failure *out may hold a handle carrying only the message (read it, then free it). */
SIAMESE_API siamese_status siamese_dataset_open(const char *path,
                                                const siamese_dataset_params *params,
                                                siamese_dataset **out);
SIAMESE_API void siamese_dataset_free(siamese_dataset *dataset);
SIAMESE_API const char *siamese_dataset_errmsg(const siamese_dataset *dataset);

SIAMESE_API siamese_dataset_kind siamese_dataset_get_kind(const siamese_dataset *dataset);
/* "folders", "recipe", "manifest", "idx" ("auto" for SIAMESE_DATASET_AUTO); SIAMESE_NAME_UNKNOWN
 * for any other value. */
SIAMESE_API const char *siamese_dataset_kind_name(siamese_dataset_kind kind);
/* The path the dataset was opened from. */
SIAMESE_API const char *siamese_dataset_path(const siamese_dataset *dataset);

/* Classes (0 for recipe and manifest datasets, whose pairs carry the labels). */
SIAMESE_API int siamese_dataset_class_count(const siamese_dataset *dataset);
SIAMESE_API const char *siamese_dataset_class_name(const siamese_dataset *dataset, int class_index);

/* Images, sorted by class then name (IDX: file order). The name is the image's key: its path
 * relative to the dataset path (or as written in the manifest), or "<part>#<index>" for IDX. */
SIAMESE_API int siamese_dataset_image_count(const siamese_dataset *dataset);
SIAMESE_API const char *siamese_dataset_image_name(const siamese_dataset *dataset, int image);
/* A path that opens the file, or NULL for an image held in memory (IDX). */
SIAMESE_API const char *siamese_dataset_image_path(const siamese_dataset *dataset, int image);
/* The image's class, or -1 when the dataset has no classes. */
SIAMESE_API int siamese_dataset_image_class(const siamese_dataset *dataset, int image);
/* 0 once the image failed to decode (it was skipped with a warning), else 1. */
SIAMESE_API int siamese_dataset_image_usable(const siamese_dataset *dataset, int image);
/* How many files or entries were skipped with a warning so far. */
SIAMESE_API int siamese_dataset_skipped_count(const siamese_dataset *dataset);

/* Decodes one image (from its file or from memory) converted and resized as options say. */
SIAMESE_API siamese_status siamese_dataset_load_image(siamese_dataset *dataset, int image,
                                                      const siamese_image_options *options,
                                                      siamese_image *out);
/* Decodes every image once (at its natural size) and marks the ones that fail unusable, each
 * with one warning. Fails with SIAMESE_ERR_DATA when fewer than two classes (or no pairs) keep
 * a usable image. */
SIAMESE_API siamese_status siamese_dataset_verify(siamese_dataset *dataset,
                                                  const siamese_image_options *options);

/* ---- pairs */

/* Two images of the dataset (indices) and the label: 0 = similar, 1 = dissimilar. */
typedef struct siamese_pair {
    int a;
    int b;
    int label;
} siamese_pair;

/* A list of pairs owned by the caller; free it with siamese_pairs_free. */
typedef struct siamese_pairs {
    siamese_pair *items;
    int count;
} siamese_pairs;

SIAMESE_API void siamese_pairs_free(siamese_pairs *pairs);

/* Threads: one thread at a time; it reads its dataset, so the dataset's rule applies too. */
typedef struct siamese_split siamese_split;

/* The recipe's pairs. Class datasets: for each class (in order) per_class similar pairs (two
 * distinct images of the class; 2*per_class distinct images when the class has that many) and
 * per_class dissimilar pairs between two distinct classes drawn at random (per_class images from
 * each, as the tutorial does); all similar pairs first, then all dissimilar ones. Recipe and
 * manifest datasets: their own pairs. Only usable images are used; with a split, only the images
 * on side (0 = train, 1 = test). The same seed gives the same pairs. */
SIAMESE_API siamese_status siamese_pairs_recipe(siamese_dataset *dataset,
                                                const siamese_split *split, int side, int per_class,
                                                uint64_t seed, siamese_pairs *out);
/* Online sampling for class datasets: count fresh pairs, alternately similar and dissimilar
 * (shuffled), classes drawn uniformly, seeded by (seed, epoch). */
SIAMESE_API siamese_status siamese_pairs_online(siamese_dataset *dataset,
                                                const siamese_split *split, int side, int count,
                                                uint64_t seed, int epoch, siamese_pairs *out);

/* Writes pairs as a manifest (atomically). Image paths are written relative to the manifest's
 * folder when the image lies below it, else absolute. In-memory (IDX) images cannot be named
 * in a manifest: SIAMESE_ERR_UNSUPPORTED (use the recipe layout). */
SIAMESE_API siamese_status siamese_pairs_write_manifest(siamese_dataset *dataset,
                                                        const siamese_pairs *pairs,
                                                        const char *path);
/* Writes the recipe's folder tree: dir/similar_all_images/similar_{i}_{first,second}<ext> and
 * dir/dissimilar_all_images/dissimilar_{i}_{first,second}<ext> (ext of the source file), as hard
 * links where possible, else copies; IDX images are written as binary PGM. Existing files are
 * not overwritten (SIAMESE_ERR_IO). On failure (a full disk) the files and folders it made are
 * removed again. */
SIAMESE_API siamese_status siamese_pairs_write_recipe_layout(siamese_dataset *dataset,
                                                             const siamese_pairs *pairs,
                                                             const char *dir);

/* ---- splits */

typedef enum siamese_split_kind {
    SIAMESE_SPLIT_PAIRS = 0, /* the recipe's: shuffle the pairs, the first int(f * n) train */
    SIAMESE_SPLIT_IMAGES,    /* each image on one side (per class for class datasets); a pair
                                whose images fall on different sides is dropped */
    SIAMESE_SPLIT_CLASSES    /* each class on one side: test classes never seen in training */
} siamese_split_kind;

/* "pairs", "images", "classes" (SIAMESE_NAME_UNKNOWN for any other value); parse returns
 * SIAMESE_ERR_INVALID_ARG for other names. */
SIAMESE_API const char *siamese_split_kind_name(siamese_split_kind kind);
SIAMESE_API siamese_status siamese_split_kind_parse(const char *name, siamese_split_kind *out);

/* Splits with train fraction train_fraction (0 < f < 1, the recipe's 0.8) from seed.
 * On failure *out holds a split carrying only the message (siamese_split_errmsg; the dataset's
 * errmsg says the same; free it), or NULL when memory ran out.
 * pairs is required for SIAMESE_SPLIT_PAIRS and for recipe/manifest datasets (NULL = their own
 * pairs); for images/classes splits of class datasets it may be NULL, and pairs are then sampled
 * per side with siamese_pairs_recipe / siamese_pairs_online. The split refers to the dataset,
 * which must outlive it. */
SIAMESE_API siamese_status siamese_split_create(siamese_dataset *dataset, siamese_split_kind kind,
                                                const siamese_pairs *pairs, double train_fraction,
                                                uint64_t seed, siamese_split **out);
SIAMESE_API void siamese_split_free(siamese_split *split);
/* The message of the last error on this split ("" when none); never NULL. */
SIAMESE_API const char *siamese_split_errmsg(const siamese_split *split);
SIAMESE_API siamese_split_kind siamese_split_get_kind(const siamese_split *split);
SIAMESE_API uint64_t siamese_split_seed(const siamese_split *split);
SIAMESE_API double siamese_split_train_fraction(const siamese_split *split);
/* 0 = train, 1 = test, -1 = neither or both (pairs splits). */
SIAMESE_API int siamese_split_image_side(const siamese_split *split, int image);
SIAMESE_API int siamese_split_class_side(const siamese_split *split, int class_index);
/* The split's pairs on one side (a copy); SIAMESE_ERR_DATA when it was made without pairs. */
SIAMESE_API siamese_status siamese_split_pairs(const siamese_split *split, int side,
                                               siamese_pairs *out);
/* Records the split (kind, seed, fraction, test classes or images, pairs by image name) as JSON,
 * atomically, and reads it back against the same dataset so a later evaluation uses exactly the
 * same split. Loading fails with SIAMESE_ERR_FORMAT when a name is not in the dataset; *out is
 * then as for siamese_split_create. */
SIAMESE_API siamese_status siamese_split_save(const siamese_split *split, const char *path);
SIAMESE_API siamese_status siamese_split_load(siamese_dataset *dataset, const char *path,
                                              siamese_split **out);

/* ---- loader: batches of pairs as float tensors */

/* Threads: one thread at a time; its background thread is its own (warnings may be delivered
 * from it, see siamese_warning_fn). */
typedef struct siamese_loader siamese_loader;

typedef struct siamese_loader_params {
    int channels; /* 3 = RGB (default), 1 = grey */
    int height;   /* default 256 x 256 (Pillow BILINEAR resize) */
    int width;
    int batch_size; /* pairs per batch, default 32 */
    int shuffle;    /* default 1: a new order every epoch, from (seed, epoch) */
    int drop_last;  /* default 0: the last batch may be smaller */
    uint64_t seed;
    size_t cache_bytes; /* decoded images kept in memory, default 1 GiB; past it, decode again */
    int prefetch;       /* default 1: a background thread prepares the next batch */
    int fast_jpeg;      /* default 0: see siamese_image_options */
    const float *mean;  /* both NULL (default) or channels values each: (x - mean) / std */
    const float *std;
    const char *augment; /* NULL (default) or an augmentation spec (siamese_augment_check),
                            drawn per image from (seed, epoch, position in the epoch, first or
                            second image of the pair) and applied before the tensor */
} siamese_loader_params;

SIAMESE_API siamese_loader_params siamese_loader_default_params(void);

/* One batch: images [2n, C, H, W] (the n first images of the pairs, then the n second images),
 * labels [n] (0 = similar, 1 = dissimilar). Valid until the next siamese_loader_next call. */
typedef struct siamese_batch {
    const float *images;
    const float *first;  /* = images */
    const float *second; /* = images + n * C * H * W */
    const float *labels;
    int n;
} siamese_batch;

/* Decodes and resizes every image of pairs once (into the cache while it fits); images that
 * fail are skipped with a warning and their pairs dropped. SIAMESE_ERR_DATA when no pair is
 * left. The dataset must outlive the loader. On failure *out holds a handle carrying only the
 * message (also copied to the dataset's errmsg), or NULL when memory ran out: free it. */
SIAMESE_API siamese_status siamese_loader_create(siamese_dataset *dataset,
                                                 const siamese_pairs *pairs,
                                                 const siamese_loader_params *params,
                                                 siamese_loader **out);
SIAMESE_API void siamese_loader_free(siamese_loader *loader);
SIAMESE_API const char *siamese_loader_errmsg(const siamese_loader *loader);
SIAMESE_API int siamese_loader_pair_count(const siamese_loader *loader);
SIAMESE_API int siamese_loader_batch_count(const siamese_loader *loader);
/* Starts epoch (0, 1, ...): fixes the order of the pairs and starts preparing batches. */
SIAMESE_API siamese_status siamese_loader_start_epoch(siamese_loader *loader, int epoch);
/* The same, resuming at batch first_batch of the epoch (same order as from its start). */
SIAMESE_API siamese_status siamese_loader_start_epoch_at(siamese_loader *loader, int epoch,
                                                         int first_batch);
/* Replaces the pairs (online sampling: new pairs every epoch). Images not seen before are
 * decoded once (cached while the budget lasts); bad ones are skipped with a warning. Call
 * siamese_loader_start_epoch afterwards. SIAMESE_ERR_DATA when no usable pair is left. */
SIAMESE_API siamese_status siamese_loader_set_pairs(siamese_loader *loader,
                                                    const siamese_pairs *pairs);
/* The next batch of the epoch; batch->n == 0 once the epoch is over. Allocates nothing. */
SIAMESE_API siamese_status siamese_loader_next(siamese_loader *loader, siamese_batch *batch);
/* Seconds spent in siamese_loader_next waiting for data, since creation. */
SIAMESE_API double siamese_loader_wait_seconds(const siamese_loader *loader);
/* CPU seconds spent assembling batches (by the background thread, or without prefetch inside
 * siamese_loader_next), since creation. */
SIAMESE_API double siamese_loader_fill_cpu_seconds(const siamese_loader *loader);
/* Bytes of decoded images held in the cache (never more than cache_bytes). */
SIAMESE_API size_t siamese_loader_cache_bytes(const siamese_loader *loader);
SIAMESE_API int siamese_loader_cached_images(const siamese_loader *loader);

/* ==== END DATASET API ==== */

/* ==== INT8 API (issue 17) ==== */

/* Post-training int8 quantisation: per-output-channel weight scales and activation ranges
 * calibrated on images of a dataset, for conv (ungrouped, padded alike on both sides; batchnorm
 * and scale folded in), relu, maxpool, average pool, flatten, linear and residual blocks (block ...
 * [skip conv] add relu): the seed, mnist, omniglot, faces and resnet presets, face-api's network.
 * A model with a face aligner is calibrated on the aligned face chips it embeds (an ensemble's
 * members on its aligner's chips). The calibration is saved by siamese_model_save as extra
 * tensors "int8.<layer>.input_range" [2] and "int8.<layer>.weight_scale" [out] beside the
 * untouched fp32 weights, and read back by siamese_model_load;
 * siamese_model_set_precision(model, SIAMESE_PRECISION_INT8) then runs siamese_model_embed on
 * oneDNN's int8 kernels. */
#define SIAMESE_QUANTIZE_BATCH_MAX 256
typedef struct siamese_quantize_params {
    int images;                 /* calibration images, spread evenly over the dataset; 256 */
    int batch;                  /* images per forward while calibrating (1..256); 32 */
    siamese_warning_fn warning; /* an image that does not decode is skipped with a warning */
    void *warning_user;
    void (*progress)(void *user, int done, int total); /* NULL = none */
    void *progress_user;
} siamese_quantize_params;

SIAMESE_API siamese_quantize_params siamese_quantize_default_params(void);
/* Calibrates model on dataset (replacing any calibration it had). SIAMESE_ERR_UNSUPPORTED (with
 * the layer named) for an architecture the int8 engine cannot run, SIAMESE_ERR_DATA when no
 * image decodes. The fp32 weights are not changed. */
SIAMESE_API siamese_status siamese_model_quantize(siamese_model *model, siamese_dataset *dataset,
                                                  const siamese_quantize_params *params);
/* Calibration images of the model's int8 calibration, 0 when it has none. */
SIAMESE_API int siamese_model_int8_images(const siamese_model *model);

/* ==== END INT8 API ==== */

/* ---------------------------------------------------------------- embedding sets */

/* Progress of a long computation: done of total items. */
typedef void (*siamese_progress_fn)(void *user, int done, int total);

typedef struct siamese_embed_params {
    int batch_size;             /* images per forward pass, default 64 */
    int threads;                /* decoding threads, 0 = the model's count (else all cores) */
    siamese_warning_fn warning; /* one line per skipped file; NULL = only counted */
    void *warning_user;
    siamese_progress_fn progress; /* NULL = none; called after every batch */
    void *progress_user;
} siamese_embed_params;

SIAMESE_API siamese_embed_params siamese_embed_default_params(void);

/* The embeddings of a set of images, in the order of the dataset (or of the file list), without
 * the images that did not decode. */
typedef struct siamese_embeddings {
    int count, dim;
    float *vectors; /* [count, dim] row-major */
    int *labels;    /* [count] class index, -1 when unknown */
    char **names;   /* [count] dataset image names (keys), or the path as given */
    char **paths;   /* [count] file paths, NULL entries for in-memory (IDX) images */
    int class_count;
    char **class_names; /* [class_count] */
    int skipped;        /* files that did not decode (warned, not embedded) */
    int *image_index;   /* [count] the dataset image of each row; -1 for siamese_embed_files */
} siamese_embeddings;

/* Embeds every usable image of the dataset: each decoded once (in parallel) at the model's input
 * geometry exactly as training's loader does (Pillow-exact resize, no normalization), then
 * batched through siamese_model_embed. Images that fail to decode are warned about, marked
 * unusable in the dataset, counted in skipped and left out; images already unusable are counted
 * too. SIAMESE_ERR_DATA when no image decodes. On failure *out is empty and errmsg (if not NULL)
 * receives a message naming the file and the reason. */
SIAMESE_API siamese_status siamese_embed_dataset(siamese_model *model, siamese_dataset *dataset,
                                                 const siamese_embed_params *params,
                                                 siamese_embeddings *out, char *errmsg,
                                                 size_t errmsg_size);
/* Embeds the listed image files (labels -1, names = paths). */
SIAMESE_API siamese_status siamese_embed_files(siamese_model *model, const char *const *paths,
                                               int n, const siamese_embed_params *params,
                                               siamese_embeddings *out, char *errmsg,
                                               size_t errmsg_size);
/* Frees the members and zeroes the struct; NULL is fine. */
SIAMESE_API void siamese_embeddings_free(siamese_embeddings *e);

/* ==== TRAINING TOOLS API (issue 12) ==== */

/* Checks an augmentation spec: comma-separated presets ("koch": Koch et al.'s affine
 * distortions, "photo": resized crop, flip, brightness and contrast; "none") and terms
 * "rotate=DEG", "shear=S", "scale=LO:HI", "translate=PX", "flip" (or "flip=P"),
 * "brightness=B", "contrast=C", "crop=LO:HI" (area fractions); later terms override earlier
 * ones. SIAMESE_ERR_INVALID_ARG with a message naming the term when one is unknown or out of
 * range (errmsg may be NULL). */
SIAMESE_API siamese_status siamese_augment_check(const char *spec, char *errmsg,
                                                 size_t errmsg_size);

/* Which pairs of a batch of labelled images (P classes x K images) the loss uses. */
typedef enum siamese_mining {
    SIAMESE_MINING_NONE = 0, /* pairs as sampled (recipe and online samplers) */
    SIAMESE_MINING_ALL,      /* every positive and every negative pair of the batch */
    SIAMESE_MINING_HARD,     /* per anchor: its farthest positive and its nearest negative */
    SIAMESE_MINING_SEMIHARD  /* every positive; per anchor the negatives with
                                dp < D < dp + margin (dp: its farthest positive), else its
                                nearest negative */
} siamese_mining;

/* "none", "all", "hard", "semihard" (SIAMESE_NAME_UNKNOWN for any other value); parse returns
 * SIAMESE_ERR_INVALID_ARG for other names. */
SIAMESE_API const char *siamese_mining_name(siamese_mining mining);
SIAMESE_API siamese_status siamese_mining_parse(const char *name, siamese_mining *out);

/* One optimization step on one batch of n labelled images: images [n, C, H, W], classes [n].
 * The network runs once on the n images. Contrastive loss (the default): the pairs of the batch
 * chosen by mining (ALL when NONE) each get the contrastive loss (same class = similar), and the
 * mean over them is backpropagated through the embeddings. Triplet loss: mining chooses the
 * triplets (ALL: every anchor, positive and negative; HARD: per anchor its farthest positive and
 * nearest negative; SEMIHARD: per anchor and positive, the nearest negative farther than the
 * positive, or the farthest negative when none is), and the mean over those with a nonzero loss
 * is backpropagated. n may be at most 2 * max_pairs. *loss receives the mean loss, *pairs
 * (optional) the number of pairs (contrastive) or of triplets with a nonzero loss (triplet) used
 * (INT_MAX when more). SIAMESE_ERR_NUMERIC as siamese_trainer_step. */
SIAMESE_API siamese_status siamese_trainer_step_batch(siamese_trainer *trainer, const float *images,
                                                      const int *classes, int n,
                                                      siamese_mining mining, float *loss,
                                                      int *pairs);

/* The learning rate over a run of total_steps steps: warmup_steps of linear warmup from
 * lr / warmup_steps, then CONSTANT, STEP (times gamma every step_every steps after warmup) or
 * COSINE (half a cosine from lr down to 0 at the last step). */
typedef enum siamese_lr_schedule {
    SIAMESE_LR_CONSTANT = 0,
    SIAMESE_LR_STEP,
    SIAMESE_LR_COSINE
} siamese_lr_schedule;

/* "constant", "step", "cosine" (SIAMESE_NAME_UNKNOWN for any other value); parse returns
 * SIAMESE_ERR_INVALID_ARG for other names. */
SIAMESE_API const char *siamese_lr_schedule_name(siamese_lr_schedule schedule);
SIAMESE_API siamese_status siamese_lr_schedule_parse(const char *name, siamese_lr_schedule *out);

/* The learning rate of step (0-based) under the schedule. */
SIAMESE_API double siamese_lr_at(siamese_lr_schedule schedule, double lr, int64_t step,
                                 int64_t total_steps, int64_t warmup_steps, int64_t step_every,
                                 double gamma);

/* ==== END TRAINING TOOLS API ==== */

/* ---------------------------------------------------------------- training runs */

/* What a training run reports to its caller (the library never prints). */
typedef enum siamese_event_kind {
    SIAMESE_EVENT_STEP,       /* after every training step */
    SIAMESE_EVENT_LOG,        /* every log_every steps of an epoch (the recipe's loss print) */
    SIAMESE_EVENT_EPOCH,      /* after an epoch's evaluation on the test pairs */
    SIAMESE_EVENT_CHECKPOINT, /* a checkpoint was written (message = its path) */
    SIAMESE_EVENT_WARNING,    /* a skipped file or another notice (message) */
    SIAMESE_EVENT_INFO,       /* a line about the setup (message) */
    SIAMESE_EVENT_DATA        /* before training: every file of the data set accounted for */
} siamese_event_kind;

typedef struct siamese_train_event {
    siamese_event_kind kind;
    int epoch; /* 0-based here; 1-based on the console, in metrics.jsonl and in --json */
    int epochs;
    int batch;           /* 0-based batch of the epoch (1-based where printed, like epoch) */
    int batches;         /* batches per epoch */
    int64_t step;        /* training steps since the start of the run */
    float loss;          /* this step's training loss (EPOCH: the epoch's mean) */
    float test_loss;     /* EPOCH: mean loss over the test pairs */
    float test_auc;      /* EPOCH: ROC AUC of the test distances */
    float test_accuracy; /* EPOCH: accuracy at the best threshold */
    float threshold;     /* EPOCH: that threshold */
    double pairs_per_second;
    double elapsed;   /* seconds since the run (or the resumed run) started */
    double eta;       /* seconds left, estimated */
    double data_wait; /* seconds spent waiting for data so far */
    const char *message;
    float val_loss; /* EPOCH with validation classes: mean loss over their pairs, else NaN */
    float val_auc;  /* EPOCH with validation classes: ROC AUC of their pairs, else NaN */
    float lr;       /* STEP, LOG: the learning rate of this step */
    /* DATA: each file was decoded as training decodes it, before any pair was drawn (pairs come
     * from usable images only); files = usable + skipped. The first skipped files are listed
     * with their reasons (at most SIAMESE_DATA_LISTED). */
    int files, files_usable, files_skipped, files_listed;
    const char *const *skipped_names;   /* [files_listed] names in the data set */
    const char *const *skipped_reasons; /* [files_listed] why each was skipped */
    /* EPOCH of a run with val_way > 0: N-way one-shot accuracy on the validation classes
     * (the same seeded episodes every epoch), else NaN */
    float val_oneshot;
    /* STEP, LOG, EPOCH: where the run's seconds went so far (like elapsed and data_wait, over
     * every session of a resumed run). loop_time: the training loop (waiting for batches, the
     * steps, the work between them); step_time: the part of it inside the training step
     * (forward, backward, update), so 1 - step_time / loop_time is the loop's overhead, and
     * step_cpu the process's CPU seconds meanwhile (every thread: the step's, and the loader's
     * working beside it); eval_time: the evaluations after each epoch; save_time: models,
     * checkpoints and plots; loader_cpu: CPU seconds spent assembling batches (the loader's
     * background thread works beside the steps, on the same cores). */
    double loop_time, step_time, eval_time, save_time, loader_cpu, step_cpu;
} siamese_train_event;
#define SIAMESE_DATA_LISTED 100

/* Threads: called on the thread running siamese_train, except WARNING events about skipped
 * files, which may come from the loader's background thread. */
typedef void (*siamese_train_callback)(void *user, const siamese_train_event *event);

/* The event as one line of JSON (no newline), exactly as metrics.jsonl and 'siamese train --json'
 * write it: {"event":"log"|"epoch"|"step"|..., "epoch", "epochs", "batch", "batches", "step",
 * "train_loss", on STEP and LOG "lr", on EPOCH "test_loss", "test_auc", "test_accuracy",
 * "threshold" (and "val_loss", "val_auc" in runs with validation classes, "val_oneshot" when
 * val_way > 0), then
 * "pairs_per_sec", "elapsed", "eta", "data_wait", "data_wait_fraction", "loop_time",
 * "step_time", "loop_overhead" (1 - step_time / loop_time), "step_cpu", "eval_time",
 * "save_time", "loader_cpu"}, or {"event", "message"}
 * for events with a message. epoch and batch count from 1 there, as the console prints them;
 * numbers that are not finite are null. Returns the length of the line like snprintf (>= size:
 * truncated), or -1 when memory runs out. */
SIAMESE_API int siamese_train_event_json(const siamese_train_event *event, char *buf, size_t size);

typedef struct siamese_train_params {
    const char *arch;            /* preset or architecture text, default "seed" */
    int channels, height, width; /* 0 = the preset's input */
    siamese_metric metric;
    float margin;                /* 2.0 */
    float learning_rate;         /* 5e-4 */
    float weight_decay;          /* 0 */
    int batch_size;              /* pairs per batch, 32 */
    int epochs;                  /* 100 */
    uint64_t seed;               /* every random choice of the run */
    int threads;                 /* for the whole run, decoding included; 0 = all cores */
    const char *sampler;         /* "recipe" (fixed pairs) or "online" (fresh pairs every epoch) */
    int per_class;               /* recipe sampler: similar and dissimilar pairs per class, 3 */
    int pairs_per_epoch;         /* online sampler: pairs per epoch (test pairs: a fifth of it) */
    siamese_split_kind split;    /* SIAMESE_SPLIT_PAIRS, the recipe's 80/20 */
    double train_fraction;       /* 0.8 */
    int log_every;               /* steps between LOG events and metrics lines, 10 */
    size_t cache_bytes;          /* decoded-image cache, 1 GiB */
    int fast_jpeg;               /* DCT-scaled JPEG decoding for large sources */
    siamese_precision precision; /* FP32 (default) or BF16; BF16 on a CPU without it: FP32 and
                                    a WARNING event */
    siamese_train_callback callback;
    void *callback_user;
    /* when *stop becomes nonzero (e.g. set by a signal handler), the run saves a checkpoint
     * after the current step and returns SIAMESE_ERR_INTERRUPTED. Signal handlers are safe:
     * the library holds asynchronous signals off its threads while oneDNN's kernels run (their
     * gemm points the stack pointer into the heap, oneDNN issue 4845), so a handler runs between
     * them, a step later at most */
    const volatile sig_atomic_t *stop;
    int overwrite; /* 0: refuse a run folder that already holds a run (config.json) with
                      SIAMESE_ERR_EXISTS */
    /* training tools (issue 12); the defaults keep the recipe exactly */
    const char *augment;   /* augmentation spec for training images (siamese_augment_check),
                             NULL = none; test and validation images are never augmented */
    int pk_classes;        /* sampler "pk": P classes x K images per batch (batch_size is */
    int pk_images;         /* unused), default 16 x 4; an epoch is one pass over the images */
    siamese_mining mining; /* sampler "pk": which pairs of each batch (NONE = ALL); other
                              samplers: NONE only */
    siamese_loss loss;     /* CONTRASTIVE (the recipe's); TRIPLET needs sampler "pk" and uses
                              margin as the triplet margin (siamese_trainer_step_batch) */
    siamese_lr_schedule lr_schedule; /* CONSTANT */
    int warmup_steps;                /* linear warmup steps, 0 */
    int lr_step_epochs;              /* STEP: epochs between decays, 0 = a third of the run */
    float lr_gamma;                  /* STEP: factor at each decay, 0.1 */
    int patience;        /* stop after this many epochs without a better model, 0 = never */
    double val_fraction; /* > 0: this share of the training classes is held out; the best
                            model and patience then follow their validation AUC, not the test
                            pairs' (needs a split over images or classes) */
    double val_groups;   /* > 0 (instead of val_fraction): hold out whole groups of classes, the
                            top-level folders of DATA/GROUP/CLASS/ (Omniglot's alphabets): a
                            share of the groups in (0, 1), or a whole count >= 1 */
    /* fine-tuning (issue 13): kept in config.json, so a resumed run freezes the same layers */
    const char *init;      /* safetensors weights copied by name into the new model before the first
                           step (siamese_model_init_from; the head may be left), NULL = none */
    const char *freeze;    /* comma-separated parameter prefixes frozen for the whole run
                           (siamese_model_freeze: no weight gradients, batchnorm on running
                           statistics), NULL = none */
    const char *normalize; /* NULL = none, "imagenet" (siamese_model_params') */
    int embedding_dim;     /* 0 = the architecture's; else siamese_model_params' */
    float learning_rate_backbone; /* 0 = learning_rate; else the backbone's rate (everything
                                     but the head), following the same schedule */
    int val_way; /* 0 = the best model and patience follow the validation pairs' ROC AUC; N >= 2:
                    N-way one-shot accuracy on the validation classes instead (1000 episodes from
                    the seed, the same every epoch; with val_groups, each episode's classes come
                    from one group with >= N classes, as Lake's Omniglot runs do) */
    int class_rotations; /* sampler "pk": 0 or 1 = off; 2 or 4 = each training class also
                            appears turned by 180 degrees (2) or by 90, 180 and 270 (4, square
                            inputs only), each turn a class of its own (Omniglot's usual class
                            augmentation): in a batch, a class's K images share one turn drawn
                            from the seed; validation and test images are never turned */
    float ema_decay;     /* 0 = off (default); in (0, 1): an exponential moving average of
                            the parameters and batchnorm running statistics, from the run's
                            starting weights, updated after every step t (1, 2, ...) as
                            avg = d * avg + (1 - d) * weights, d = min(ema_decay, (1 + t) /
                            (10 + t)); each epoch's evaluation (test and validation numbers, the
                            best model, patience) and best/model.safetensors use the average,
                            the weights train on as without it; checkpoints hold both */
    uint64_t split_seed; /* 0 = seed; else the seed of the data's split alone: which pairs,
                            images or classes train, test and validate, and the test and
                            validation pairs drawn from them. Runs of different seeds then
                            share one split and differ only in how they train (an ensemble;
                            a recipe's spread over seeds on fixed held-out data) */
} siamese_train_params;

SIAMESE_API siamese_train_params siamese_train_default_params(void);

/* The settings' own checks, the ones siamese_train makes before it touches any file or data:
 * SIAMESE_OK, or SIAMESE_ERR_INVALID_ARG with errmsg (if not NULL) naming the setting and the
 * reason (an out-of-range batch, a sampler the split cannot feed, ...). A command line can tell
 * its user's mistakes from failures of the run with it. */
SIAMESE_API siamese_status siamese_train_params_check(const siamese_train_params *params,
                                                      char *errmsg, size_t errmsg_size);

/* The model a run with these settings trains: its architecture, input geometry, embedding size,
 * input normalisation, distance, margin, seed and threads (one source for siamese_train and for
 * callers that check the network before a run starts). */
SIAMESE_API siamese_model_params siamese_train_model_params(const siamese_train_params *params);

/* Trains on the dataset at data_path and writes into run_dir (created if missing, with any
 * missing parent folders):
 * model.safetensors (last), best.safetensors (best test ROC AUC), checkpoint.safetensors
 * (every epoch and on interrupt), metrics.jsonl, loss.png, config.json and split.json.
 * The dataset is opened first: one that does not open (missing, an empty folder, a file that is
 * no dataset) is refused before run_dir is made and before the network is built.
 * On failure errmsg (if not NULL) receives a message naming the file and the reason. */
SIAMESE_API siamese_status siamese_train(const char *data_path, const char *run_dir,
                                         const siamese_train_params *params, char *errmsg,
                                         size_t errmsg_size);

/* Continues the run in run_dir exactly where its checkpoint stopped, with the settings in its
 * config.json; callback, callback_user, stop and threads are taken from params (may be NULL),
 * and params->epochs, when > 0, replaces the recorded number of epochs (to extend the run, or to
 * end it sooner; a total at or below the epochs already done is refused with
 * SIAMESE_ERR_INVALID_ARG, every file of the run unchanged). run_dir must exist: it is never
 * made. A run that has done all its epochs (no new total) trains nothing and returns
 * SIAMESE_OK, its files' contents unchanged (its loss plot is drawn again, as a run killed
 * before drawing it needs). */
SIAMESE_API siamese_status siamese_train_resume(const char *run_dir,
                                                const siamese_train_params *params, char *errmsg,
                                                size_t errmsg_size);

/* The pairs the run in run_dir used on one side (0 = train, 1 = test) of split: the split's own
 * pairs when it holds them (pairs splits, pair datasets), else drawn again exactly as the run
 * drew them from the settings in run_dir/config.json (an online run's train pairs: those of its
 * first epoch). dataset and split are the run's (siamese_split_load of run_dir/split.json).
 * Lets a finished run's test pairs be found again. On failure errmsg names the file or the
 * reason. */
SIAMESE_API siamese_status siamese_train_side_pairs(const char *run_dir, siamese_dataset *dataset,
                                                    const siamese_split *split, int side,
                                                    siamese_pairs *out, char *errmsg,
                                                    size_t errmsg_size);

/* ---------------------------------------------------------------- evaluation protocols */

/* A metric with its 95% bootstrap interval (low = high = NaN when no interval was computed). */
typedef struct siamese_interval {
    double value, low, high;
} siamese_interval;

typedef struct siamese_verification_params {
    float model_threshold; /* also score "similar when d <= model_threshold"; < 0 = none (-1) */
    int bootstrap;         /* resamples of the pairs for the intervals, 0 = none; default 1000 */
    uint64_t seed;         /* of the resamples */
} siamese_verification_params;

SIAMESE_API siamese_verification_params siamese_verification_default_params(void);

/* Verification of pair distances: a pair is called similar when d <= t. TAR (true accept rate)
 * = similar pairs accepted / similar pairs, FAR = dissimilar pairs accepted / dissimilar pairs,
 * both at thresholds t on the distinct distances. */
typedef struct siamese_verification {
    int pairs, similar, dissimilar;
    siamese_interval auc;        /* as siamese_roc_auc */
    siamese_interval eer;        /* FAR = 1 - TAR, linearly interpolated between ROC points */
    double eer_threshold;        /* (the point before the first distance sits at that distance) */
    siamese_interval tar_far_1;  /* the largest TAR with FAR <= 1% */
    double tar_far_1_threshold;  /* the largest distance giving it; NaN when none */
    siamese_interval tar_far_01; /* ... FAR <= 0.1% */
    double tar_far_01_threshold;
    siamese_interval accuracy_best; /* as siamese_best_threshold */
    double best_threshold;
    siamese_interval accuracy_model; /* at params.model_threshold; NaN when none */
    double model_threshold;
} siamese_verification;

/* Scores n pair distances with labels (0 = similar, 1 = dissimilar). SIAMESE_ERR_INVALID_ARG for
 * n < 1, SIAMESE_ERR_DATA unless both labels occur, SIAMESE_ERR_NUMERIC for a NaN distance. */
SIAMESE_API siamese_status siamese_eval_verification(const float *distances, const float *labels,
                                                     int n,
                                                     const siamese_verification_params *params,
                                                     siamese_verification *out);
/* Distances of pairs of rows of an embedding set: out[i] = distance(vectors[a[i]], vectors[b[i]])
 * under metric, on all cores. */
SIAMESE_API siamese_status siamese_eval_pair_distances(siamese_metric metric, const float *vectors,
                                                       int dim, const int *a, const int *b, int n,
                                                       float *out);

typedef struct siamese_fewshot_params {
    int way;               /* classes per episode, default 5 */
    int shot;              /* support images per class, default 1 */
    int queries;           /* query images per class and episode, default 1 */
    int episodes;          /* default 1000 */
    uint64_t seed;         /* of the episodes */
    siamese_metric metric; /* default SIAMESE_METRIC_EUCLIDEAN (give the model's) */
} siamese_fewshot_params;

SIAMESE_API siamese_fewshot_params siamese_fewshot_default_params(void);

typedef struct siamese_fewshot {
    int episodes, queries, correct;
    int classes_used;          /* classes with at least shot + queries images */
    int classes_excluded;      /* classes with fewer (never drawn) */
    siamese_interval accuracy; /* mean over episodes, +-1.96 standard errors */
} siamese_fewshot;

/* n-way k-shot accuracy of an embedding set (rows with label < 0 are ignored): each episode
 * draws way classes, then shot support and queries query images of each (seeded, independent
 * of the thread count); a query goes to the nearest support image (shot 1) or the nearest class
 * mean (shot > 1), a tie to the class drawn first. SIAMESE_ERR_INVALID_ARG for bad parameters,
 * SIAMESE_ERR_DATA when fewer than way classes have shot + queries images; errmsg says which. */
SIAMESE_API siamese_status siamese_eval_fewshot(const float *vectors, const int *labels, int n,
                                                int dim, const siamese_fewshot_params *params,
                                                siamese_fewshot *out, char *errmsg,
                                                size_t errmsg_size);

/* Lake et al.'s one-shot runs (Omniglot all_runs: run01..run20, each with training/, test/ and
 * class_labels.txt whose lines read "run01/test/item01.png run01/training/class08.png"). */
typedef struct siamese_oneshot_run {
    char *name; /* "run01" */
    int correct, total;
} siamese_oneshot_run;

typedef struct siamese_lake_runs {
    int run_count;
    siamese_oneshot_run *runs;
    int correct, total; /* over all runs */
    double accuracy;    /* correct / total */
    int images;         /* distinct images embedded */
    int skipped_images; /* files that did not decode */
    int skipped;        /* test images not scored (they did not decode) */
} siamese_lake_runs;

/* 1 when path is one run folder (training/ and test/) or holds run folders. */
SIAMESE_API int siamese_lake_runs_detect(const char *path);
/* Scores the runs exactly as Lake's classification demo does: for each line of a run's
 * class_labels.txt, the test image goes to the nearest (model metric) of the run's training
 * images named in that file (sorted by path, the first wins a tie); right when it is the one on
 * its line. Paths in the file are relative to the runs folder (else to the run folder). Every
 * image is embedded once. A run without class_labels.txt or naming a missing file fails
 * (SIAMESE_ERR_IO, errmsg names the file). */
SIAMESE_API siamese_status siamese_eval_lake_runs(siamese_model *model, const char *path,
                                                  const siamese_embed_params *params,
                                                  siamese_lake_runs *out, char *errmsg,
                                                  size_t errmsg_size);
SIAMESE_API void siamese_lake_runs_free(siamese_lake_runs *r);

typedef struct siamese_retrieval_params {
    siamese_metric metric; /* default SIAMESE_METRIC_EUCLIDEAN (give the model's) */
    int bootstrap;         /* resamples of the queries for the intervals, 0 = none; 1000 */
    uint64_t seed;
} siamese_retrieval_params;

SIAMESE_API siamese_retrieval_params siamese_retrieval_default_params(void);

/* Means over the queries that have at least one relevant gallery item (same label), with the
 * definitions of Musgrave et al. 2020, as pytorch-metric-learning: Recall@k = a relevant item
 * among the k nearest; precision@k = relevant items among the k nearest / k; R-precision =
 * relevant among the R nearest / R (R = relevant items in the gallery); MAP@R = (1/R) times the
 * sum of precision@i over the relevant ranks i <= R. Ties rank the lower gallery index first. */
typedef struct siamese_retrieval {
    int queries;                                    /* queries scored */
    int queries_skipped;                            /* queries with no relevant gallery item */
    siamese_interval recall_1, recall_5, recall_10; /* recall_1 = precision@1 */
    siamese_interval precision_5, precision_10;
    siamese_interval r_precision, map_at_r;
} siamese_retrieval;

/* Ranks the gallery for each query with siamese_knn (exclude[q] = a gallery row to skip for
 * query q, such as the query itself, or -1; NULL = none) and scores it. */
SIAMESE_API siamese_status siamese_eval_retrieval(const float *queries, const int *query_labels,
                                                  int nq, const float *gallery,
                                                  const int *gallery_labels, int ng, int dim,
                                                  const int *exclude,
                                                  const siamese_retrieval_params *params,
                                                  siamese_retrieval *out, char *errmsg,
                                                  size_t errmsg_size);

/* Writes dir/roc.png (TAR against FAR), dir/det.png (log10 FRR against log10 FAR) and
 * dir/distances.png (the similar and dissimilar distance histograms, threshold marked when
 * finite), each atomically; dir is created when missing (its parent must exist). */
SIAMESE_API siamese_status siamese_eval_write_pictures(const float *distances, const float *labels,
                                                       int n, double threshold, const char *dir,
                                                       char *errmsg, size_t errmsg_size);

/* Where the model's threshold came from: "training: best accuracy on the run's test pairs",
 * "calibrate: ..." (saved as __metadata__ "threshold_source"); "" when unknown or when the model
 * has no threshold. siamese_model_set_threshold clears it: set the source after the threshold. */
SIAMESE_API const char *siamese_model_threshold_source(const siamese_model *model);
SIAMESE_API void siamese_model_set_threshold_source(siamese_model *model, const char *source);

/* The threshold t with the largest TAR among those with FAR <= far ("similar when d <= t", t on
 * the distinct distances), and that TAR. *threshold is NaN when no distance qualifies (only
 * "accept nothing" does). SIAMESE_ERR_DATA unless both labels occur. */
SIAMESE_API siamese_status siamese_eval_threshold_at_far(const float *distances,
                                                         const float *labels, int n, double far,
                                                         double *threshold, double *tar);

/* ---------------------------------------------------------------- search */

/* Exact k nearest neighbours of nq queries among ng gallery rows (both row-major [n, dim]) under
 * metric, with exactly siamese_distance's dissimilarities. out_index and out_distance are
 * [nq, k], nearest first, ties broken by the lower gallery index; slots past the available rows
 * hold -1 and INFINITY. exclude (NULL = none) holds one gallery row per query to skip, or -1.
 * Candidates come from a GEMM on all cores; every result is then recomputed exactly and proven
 * (the order equals a brute force). */
SIAMESE_API siamese_status siamese_knn(siamese_metric metric, const float *queries, int nq,
                                       const float *gallery, int ng, int dim, int k,
                                       const int *exclude, int *out_index, float *out_distance);

/* The model's fingerprint: what must match for embeddings to be comparable, as one line
 * "arch=<hash>;weights=<hash>;input=CxHxW;dim=D;metric=<name>". */
SIAMESE_API siamese_status siamese_model_fingerprint(siamese_model *model, char *buf, size_t size);

/* An index: embeddings with their items (absolute file paths, or names of in-memory images), class
 * labels and the fingerprint of the model that made them. A file written by siamese_index_save is
 * safetensors (see src/index/index_file.c for the layout); siamese_index_open maps it, so a large
 * index opens without reading its embeddings, which stay on disk until searched. Updates happen
 * in memory; siamese_index_save writes a new file atomically (the old one stays intact until the
 * rename). Errors are kept as the handle's last message (siamese_index_errmsg), naming the file.
 * Threads: one thread at a time. */
typedef struct siamese_index siamese_index;

/* An empty index for model's embeddings; model_path (may be NULL) is recorded so that queries can
 * later be embedded with the same model. On failure *out may hold a handle with only the message. */
SIAMESE_API siamese_status siamese_index_create(siamese_model *model, const char *model_path,
                                                siamese_index **out);
/* Opens an index file; SIAMESE_ERR_FORMAT (message naming the file) for a truncated or corrupt
 * one. On failure *out may hold a handle with only the message. */
SIAMESE_API siamese_status siamese_index_open(const char *path, siamese_index **out);
SIAMESE_API siamese_status siamese_index_save(siamese_index *index, const char *path);
SIAMESE_API void siamese_index_free(siamese_index *index);
SIAMESE_API const char *siamese_index_errmsg(const siamese_index *index);

SIAMESE_API int siamese_index_count(const siamese_index *index);
SIAMESE_API int siamese_index_dim(const siamese_index *index);
SIAMESE_API siamese_metric siamese_index_metric(const siamese_index *index);
SIAMESE_API const char *siamese_index_fingerprint(const siamese_index *index);
/* The recorded model path, or NULL. */
SIAMESE_API const char *siamese_index_model_path(const siamese_index *index);
/* Row row's item, label (-1 = none) and embedding; NULL / -1 out of range. */
SIAMESE_API const char *siamese_index_item(const siamese_index *index, int row);
SIAMESE_API int siamese_index_label(const siamese_index *index, int row);
SIAMESE_API const float *siamese_index_vector(const siamese_index *index, int row);
SIAMESE_API int siamese_index_class_count(const siamese_index *index);
SIAMESE_API const char *siamese_index_class_name(const siamese_index *index, int class_index);
/* The row of an item (as recorded, or a path that resolves to it), or -1. */
SIAMESE_API int siamese_index_find(siamese_index *index, const char *item);

/* SIAMESE_OK when model made this index; else SIAMESE_ERR_FORMAT with a message saying what
 * differs (architecture, weights, input geometry, embedding length or metric). */
SIAMESE_API siamese_status siamese_index_check_model(siamese_index *index, siamese_model *model);

/* Adds the rows of e (an item already present is replaced); class labels are matched by class
 * name, new classes are appended. A file without a class whose folder path ends with the name
 * of one of the index's classes gets that class (a re-added file keeps its class). */
SIAMESE_API siamese_status siamese_index_add(siamese_index *index, const siamese_embeddings *e);
/* Removes the rows of the n items (unknown items are ignored); *removed (may be NULL) counts them. */
SIAMESE_API siamese_status siamese_index_remove(siamese_index *index, const char *const *items,
                                                int n, int *removed);
/* siamese_knn of nq queries ([nq, siamese_index_dim] floats) against the index's rows with its
 * metric (rows, not items); nq = 0 does nothing, k above the row count leaves the extra slots -1
 * and INFINITY. Refused with SIAMESE_ERR_INVALID_ARG for nq < 0, k < 1, or (nq > 0) NULL queries,
 * out_index or out_distance, the index's message naming the argument (a NULL index has none). */
SIAMESE_API siamese_status siamese_index_search(siamese_index *index, const float *queries, int nq,
                                                int k, const int *exclude, int *out_index,
                                                float *out_distance);
/* Writes prefix.npy (float32 [count, dim], numpy format 1.0) and prefix.paths.txt (one item per
 * line, in row order), each atomically. */
SIAMESE_API siamese_status siamese_index_export_npy(siamese_index *index, const char *prefix);

/* One cell of a picture grid: an image (1 grey or 3 RGB channels; NULL = blank) and the caption
 * drawn above it (NULL = none). */
typedef struct siamese_captioned_image {
    const siamese_image *image;
    const char *caption;
} siamese_captioned_image;

/* Draws rows x cols cells (row-major, at most 10000) as a PNG, each image scaled into a square
 * cell under its caption: e.g. a query, then its neighbours captioned "Dissimilarity: 0.73".
 * Written atomically; on failure errmsg (when not NULL) names the file and the reason. */
SIAMESE_API siamese_status siamese_draw_grid(const char *path, const siamese_captioned_image *cells,
                                             int rows, int cols, char *errmsg, size_t errmsg_size);

/* ---------------------------------------------------------------- reports (issue 14) */

/* One self-contained HTML page (no network, nothing fetched: charts as inline SVG, pictures as
 * JPEG data: URIs), readable on a phone and a wide screen, written atomically. Every string read
 * from a file is escaped. */

/* The report of the training run in run_dir (finished or still running: it shows what exists)
 * into out_html (NULL = run_dir/report.html):
 * the settings (config.json), the data (classes, images, pairs, skipped files), training and
 * test loss per step and epoch, test ROC AUC and accuracy, learning rate, throughput and
 * data-wait share (metrics.jsonl); and, when the run's model (best.safetensors, else
 * model.safetensors) and data can be opened, its verification on the run's test pairs (ROC,
 * DET, distance histograms with the threshold, EER, TAR@FAR), the hardest false accepts and
 * false rejects and a few test images' nearest neighbours. What is missing is said in the page.
 * threads: for embedding the test images, 0 = all cores. On failure errmsg names the file and
 * the reason. */
SIAMESE_API siamese_status siamese_report_run(const char *run_dir, const char *out_html,
                                              int threads, char *errmsg, size_t errmsg_size);

/* The data set of the training run in run_dir, as its report opens it: the "data" text of
 * run_dir/config.json as it is when absolute or when it exists from the current folder, else
 * joined to the first folder above run_dir where it exists (training ran there: "siamese train
 * data -o runs/x"). Written into path (path_size bytes with its NUL). On failure path is "" and
 * errmsg (if not NULL) names the file and the reason: SIAMESE_ERR_IO when config.json cannot be
 * read or the data exists nowhere, SIAMESE_ERR_FORMAT when config.json is not JSON or records no
 * data, SIAMESE_ERR_INVALID_ARG when the path does not fit. */
SIAMESE_API siamese_status siamese_run_data_path(const char *run_dir, char *path, size_t path_size,
                                                 char *errmsg, size_t errmsg_size);

/* What an evaluation computed; NULL members (and n_pairs 0) are sections not run. */
typedef struct siamese_report_eval_input {
    const char *model_path, *data_path, *data_kind, *metric;
    int images, classes, skipped, pairs_dropped, bootstrap;
    const float *distances, *labels; /* [n_pairs] verification pairs, 0 = similar */
    int n_pairs;
    const siamese_verification *verification;
    const siamese_fewshot *fewshot;
    int way, shot;
    const siamese_retrieval *retrieval;
    const siamese_lake_runs *lake;
    const char *query_path; /* retrieval queries from another data set, or NULL */
    /* Galleries (issue 14; dataset NULL = none): the hardest false accepts and false rejects of
     * the verification pairs and a few retrieval queries with their nearest neighbours, as
     * thumbnails decoded from the data sets at the model's input shape (channels x height x
     * width) and shrunk. */
    siamese_dataset *dataset;             /* DATA as embedded */
    const siamese_embeddings *embeddings; /* DATA's rows (image_index: the dataset image) */
    const int *pair_a, *pair_b;           /* [n_pairs] rows of each verification pair, or NULL */
    siamese_dataset *query_dataset;       /* retrieval queries' data set, NULL = DATA */
    const siamese_embeddings *query_embeddings;
    siamese_metric distance_metric; /* of the distances and the neighbour search */
    int channels, height, width;    /* the model's input */
} siamese_report_eval_input;

/* The report of an evaluation: what was evaluated, the verification numbers with their
 * intervals and curves, few-shot, retrieval and Lake's runs numbers with their intervals. */
SIAMESE_API siamese_status siamese_report_eval(const char *out_html,
                                               const siamese_report_eval_input *in, char *errmsg,
                                               size_t errmsg_size);

/* ---- importing pretrained networks ---- */

/* Imports face-api's face recognition network (npm @vladmandic/face-api, folder model/: the dlib
 * ResNet, face_recognition_model-weights_manifest.json and its shards) as a model for 3x150x150
 * RGB faces with 128-d embeddings, Euclidean metric and face-api's threshold 0.6. Its input
 * normalisation ((pixel - mean RGB) / 256) is the network's first layer, a scale named "input",
 * so every command preprocesses as face-api does. A missing shard or a manifest whose weights do
 * not add up fails naming the file; *out is then as for siamese_model_create. */
SIAMESE_API siamese_status siamese_model_import_faceapi(const char *dir, siamese_model **out);
/* Gives a face model (3 or 1 channels, square input) face-api's 68-point landmark network from
 * dir (face_landmark_68_model-weights_manifest.json and its shard) as its face aligner: from then
 * on, and in the file siamese_model_save writes, every image embedded through
 * siamese_embed_dataset / siamese_embed_files or siamese_model_load_input (eval, embed, index, identify, search, verify,
 * compare) is decoded
 * at its own size, its landmarks found (twice: on the photo, then on the chip they give), and
 * landmarks 17..67 mapped onto dlib's mean face by a
 * similarity transform into the chip the dlib network was trained on (150x150, padding 0.25)
 * before embedding; siamese_train from such a model (params.init) trains on the same chips.
 * On an ensemble the aligner is the ensemble's (its members embed the chips it makes).
 * siamese_model_embed itself takes tensors and does not align. Errors as for
 * siamese_model_import_faceapi, in the model's error message. */
SIAMESE_API siamese_status siamese_model_attach_faceapi_aligner(siamese_model *model,
                                                                const char *dir);
/* One image file as the model's input tensor out[channels * height * width] in [0, 1]: decoded,
 * converted and resized to the model's geometry as siamese_embed_files does, or, for a model that
 * aligns faces, aligned into its face chip. On failure errmsg (if not NULL) names the file and
 * the reason. */
SIAMESE_API siamese_status siamese_model_load_input(siamese_model *model, const char *path,
                                                    float *out, char *errmsg, size_t errmsg_size);
/* 1 when the model aligns faces before embedding (siamese_model_attach_faceapi_aligner). */
SIAMESE_API int siamese_model_aligns_faces(const siamese_model *model);

/* ---- past one machine: MPI (issue 16) ---- */

/* Data-parallel training: siamese_train and siamese_train_resume run data-parallel over
 * MPI_COMM_WORLD whenever MPI is initialized (by the caller's MPI_Init, or siamese_dist_init)
 * and it has more than one rank; every rank calls them with the same arguments. Each rank takes
 * a contiguous slice of every global batch (--batch pairs, whatever the number of ranks), the
 * gradients are summed over the ranks (per layer while backward runs) and every rank takes the
 * same Adam step. Rank 0 alone writes the run folder and calls the callback; its stop flag (or
 * any rank's) stops every rank after the current step, with the checkpoint saved. Batchnorm
 * statistics are each rank's own (averaged over the ranks before each evaluation); the P x K
 * sampler is refused. Without MPI in the build, or with one rank, nothing changes. */

/* 1 when this library was built with MPI. */
SIAMESE_API int siamese_dist_available(void);
/* Calls MPI_Init when the process was started by mpirun (or srun) and MPI is not initialized
 * yet; returns the number of ranks (1 without MPI), -1 when MPI_Init failed. */
SIAMESE_API int siamese_dist_init(int *argc, char ***argv);
/* MPI_Finalize when MPI is initialized and not finalized (no-op otherwise). */
SIAMESE_API void siamese_dist_finalize(void);
/* This process's rank in MPI_COMM_WORLD and their number (0 and 1 without MPI). */
SIAMESE_API int siamese_dist_rank(void);
SIAMESE_API int siamese_dist_size(void);
/* Collective: 1 on every rank when ok is nonzero on every rank (ok itself without MPI). */
SIAMESE_API int siamese_dist_all_ok(int ok);

/* Sharded indexes: siamese_index_save_shards writes the index as n files "<path>.<r>" (r = 0 to
 * n - 1), shard r holding the rows [r * count / n, (r + 1) * count / n) in their order; n is 1
 * to min(count, SIAMESE_INDEX_SHARDS_MAX). */
#define SIAMESE_INDEX_SHARDS_MAX 65536
SIAMESE_API siamese_status siamese_index_save_shards(siamese_index *index, const char *path, int n);

/* The merged k nearest neighbours of nq queries over every rank's shard (rank r opened shard r). */
typedef struct siamese_shard_hits {
    int nq, k;
    float *distances; /* [nq, k] nearest first; ties by global row */
    long long *rows;  /* [nq, k] global row (shards in rank order), -1 past the last item */
    char **items;     /* [nq, k] the item of each row (NULL for -1) */
    char **classes;   /* [nq, k] its class name, NULL when it has none */
} siamese_shard_hits;

/* Collective over MPI_COMM_WORLD: every rank calls it with the same nq and k, searches its shard
 * for the same queries and rank 0 receives the merged top k (the other ranks' out stays empty).
 * The result equals the search of the unsharded index. Without MPI (or one rank) it is the plain
 * search of index. nq = 0 does nothing (out, which may then be NULL, stays empty). Refused with
 * SIAMESE_ERR_INVALID_ARG, out left empty, for nq < 0, k < 1, or (nq > 0) NULL queries or out, the
 * index's message naming the argument as siamese_index_search's does ("sharded search: no out
 * given (nq 3, k 5)"; a NULL index has none); a refusal on one rank is one on every rank, the
 * others' message saying another rank refused its arguments, so no rank waits for the others. */
SIAMESE_API siamese_status siamese_index_search_shards(siamese_index *index, const float *queries,
                                                       int nq, int k, siamese_shard_hits *out);
SIAMESE_API void siamese_shard_hits_free(siamese_shard_hits *hits);

#ifdef __cplusplus
}
#endif

#endif
