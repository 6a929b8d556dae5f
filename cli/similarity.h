/* Helpers shared by 'siamese test' and 'siamese compare': the model, image tensors, embeddings,
 * verdicts and JSON text (the last also for train's --json progress). */
#ifndef SIAMESE_CLI_SIMILARITY_H
#define SIAMESE_CLI_SIMILARITY_H

#include <stddef.h>
#include <stdio.h>

#include "siamese.h"

/* Loads the model at path (threads > 0 sets its thread count). On failure prints
 * "siamese COMMAND: <message>" to stderr and returns 0. */
int cli_open_model(const char *command, const char *path, int threads, siamese_model **out);

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

/* Writes text as a JSON string literal (quoted and escaped). */
void cli_json_string(FILE *out, const char *text);

#endif
