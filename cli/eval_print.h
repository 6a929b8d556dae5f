/* 'siamese eval' output: the readable table and the one JSON object, from the protocols' results. */
#ifndef SIAMESE_CLI_EVAL_PRINT_H
#define SIAMESE_CLI_EVAL_PRINT_H

#include <stdio.h>

#include "siamese.h"

/* Everything one evaluation produced; a protocol's pointer is NULL when it was not run. */
typedef struct eval_results {
    const char *model_path, *data_path, *data_kind;
    const char *metric;
    const char *threshold_metric; /* the metric of the model's own threshold, or NULL: none */
    int images, classes, skipped;
    double embed_seconds, total_seconds;
    int bootstrap;
    const siamese_verification *verification;
    int pairs_dropped;
    const siamese_fewshot *fewshot;
    int way, shot;
    const siamese_retrieval *retrieval;
    const siamese_lake_runs *lake;
    const char *png_dir;    /* pictures written there, or NULL */
    const char *query_path; /* retrieval queries from another data set, or NULL */
    const char *held_out;   /* the split whose held-out images of DATA were scored, or NULL */
} eval_results;

void eval_print_table(FILE *out, const eval_results *r);
void eval_print_json(FILE *out, const eval_results *r);

#endif
