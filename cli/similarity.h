/* Helpers shared by 'siamese test' and 'siamese compare': the model, image tensors, embeddings,
 * verdicts and JSON text (--precision and JSON text also for 'siamese train'). */
#ifndef SIAMESE_CLI_SIMILARITY_H
#define SIAMESE_CLI_SIMILARITY_H

#include <stddef.h>
#include <stdio.h>

#include "siamese.h"

/* How a command computes with a loaded model. */
typedef struct cli_compute {
    int threads;                 /* > 0 sets the model's thread count; 0 = all cores */
    siamese_precision precision; /* bf16 on a CPU without it falls back to fp32 with a notice;
                                    auto: the faster on this CPU, measured once and cached */
    int batch;                   /* images per forward, for auto's measurement (0 = 8) */
    int quiet;                   /* -q: no note of auto's choice, no fallback or speed warning */
} cli_compute;

/* The --precision option of the inference commands (auto by default), one definition for all. */
#define CLI_PRECISION_HELP                                                                         \
    "auto (default: the faster of fp32 and bf16 on this CPU, measured once and cached in "         \
    "~/.cache/siamese), fp32, bf16 (AVX512-BF16; distances differ slightly), or int8 (a "          \
    "model made by 'siamese quantize')"
#define CLI_PRECISION_OPTION(target)                                                               \
    { "precision", 0, CLI_OPT_STRING, (target), "P", CLI_PRECISION_HELP }

/* Parses --precision NAME (NULL = auto). On an unknown name prints "siamese COMMAND: unknown
 * --precision" to stderr and returns 0. */
int cli_parse_precision(const char *command, const char *name, siamese_precision *out);

/* The compute options of the inference commands: compute->threads must be 0 (all cores) or
 * more, and --precision NAME goes to compute->precision as cli_parse_precision parses it. On a
 * bad value prints "siamese COMMAND: ..." naming the option to stderr and returns 0. */
int cli_parse_compute(const char *command, const char *precision, cli_compute *compute);

/* Sets the model's threads and precision. auto prints one line on stderr with the choice and
 * both timings; an explicit bf16 that measures slower than fp32 prints one warning with both
 * (neither when compute->quiet).
 * Returns 0 (after printing why) when int8 is asked of a model without int8 calibration. */
int cli_apply_compute(const char *command, siamese_model *model, const cli_compute *compute);

/* The last step of opening a model for a command: cli_apply_compute, then model goes to *out
 * (returns 1); when that fails the model is freed and *out set to NULL (returns 0). */
int cli_finish_open_model(const char *command, siamese_model *model, const cli_compute *compute,
                          siamese_model **out);

/* Loads the model at path and sets its threads and precision. On failure prints
 * "siamese COMMAND: <message>" to stderr and returns 0. */
int cli_open_model(const char *command, const char *path, const cli_compute *compute,
                   siamese_model **out);

/* Decode options giving the images the model takes: its channels, height and width, resized
 * exactly like Pillow (no fast JPEG path). */
siamese_image_options cli_model_image_options(const siamese_model *model);

/* Floats in one image tensor of the model (channels * height * width). */
size_t cli_model_image_floats(const siamese_model *model);

/* Allocates n image tensors of the model (n * channels * height * width floats), or NULL when
 * the size overflows or memory runs out. */
float *cli_alloc_tensors(const siamese_model *model, size_t n);

/* Embeds n images; *out receives a malloc'd [n, embedding_dim] array. On failure prints
 * "siamese COMMAND: <message>" and returns 0. */
int cli_embed(const char *command, siamese_model *model, const float *images, int n, float **out);

/* "similar" when distance <= threshold, "dissimilar" above it, NULL when threshold < 0 (no
 * threshold known). The rule is the one siamese_best_threshold optimizes. */
const char *cli_verdict(double distance, double threshold);

/* A picture's caption "Dissimilarity: D": two decimals as the recipe's pictures, three
 * significant digits below 0.1 (where two decimals would show 0.00 for every near match). */
void cli_dissimilarity_caption(char *out, size_t size, double distance);

/* Writes text as a JSON string literal (quoted and escaped). */
void cli_json_string(FILE *out, const char *text);

#endif
