/* What 'siamese eval' and 'siamese calibrate' share: a dataset embedded once (with a progress
 * line on a terminal) and the verification pairs drawn from it, as distances and labels. */
#ifndef SIAMESE_CLI_EVAL_DATA_H
#define SIAMESE_CLI_EVAL_DATA_H

#include <stdint.h>

#include "siamese.h"

typedef struct eval_set {
    siamese_dataset *ds;
    siamese_embeddings emb;
    int *row_of_image; /* [dataset images]: the embedding row, -1 when not embedded */
    double embed_seconds;
    int stored_pairs;        /* pair datasets: their pairs before any image was skipped */
    siamese_split *held_out; /* eval_set_hold_out's split: pairs are drawn on its test side */
} eval_set;

/* The --held-out option of eval and calibrate, one definition for both. */
#define CLI_HELD_OUT_OPTION(target)                                                                \
    {                                                                                              \
        "held-out", 0, CLI_OPT_STRING, (target), "SPLIT",                                          \
            "only the images a training run held out: the test side of its split.json (SPLIT), "   \
            "which "                                                                               \
            "must be of DATA; pairs are drawn among them"                                          \
    }

/* Images per forward pass when none is given: up to 1024, within 128 MB of input tensors. */
int eval_auto_batch(const siamese_model *model);

/* Opens data_path and embeds every image (batch 0 = eval_auto_batch). Prints "siamese COMMAND: <message>" and returns 0 on
 * failure. quiet: no progress line, no warnings echo (they are still counted). */
int eval_set_open(const char *command, siamese_model *model, const char *data_path, int batch,
                  int threads, int quiet, eval_set *out);
void eval_set_free(eval_set *s);
/* Keeps only the images a training run held out: the test side of the split recorded at
 * split_path (a run's split.json, made on the same dataset), for validation data without a copy
 * of it. The pairs are then drawn on that side (the recipe's draw, as the trainer's are).
 * Prints "siamese COMMAND: <message>" and returns 0 on failure: a split of another dataset, a
 * split of pairs (it holds out no images), a dataset without classes. */
int eval_set_hold_out(const char *command, eval_set *s, const char *split_path);
/* The classes with at least one embedded image (of the held-out ones, after eval_set_hold_out). */
int eval_set_classes(const eval_set *s);

typedef struct eval_pair_options {
    int per_class; /* class datasets: similar and dissimilar pairs per class (the recipe's) */
    int all_pairs; /* class datasets: every similar pair and as many dissimilar ones */
    uint64_t seed;
} eval_pair_options;

/* The verification pairs of the set: a pair dataset's own (pairs with an image that did not
 * decode are dropped and counted in *dropped), else drawn as options say. distances/labels are
 * malloc'd [*n]. Prints a message and returns 0 on failure (no pairs, memory). */
int eval_set_pairs(const char *command, eval_set *s, siamese_metric metric,
                   const eval_pair_options *o, float **distances, float **labels, int *n,
                   int *dropped);
/* eval_set_pairs, also giving each pair's two embedding rows (malloc'd [*n] each). */
int eval_set_pair_rows(const char *command, eval_set *s, siamese_metric metric,
                       const eval_pair_options *o, float **distances, float **labels, int *n,
                       int *dropped, int **rows_a, int **rows_b);

#endif
