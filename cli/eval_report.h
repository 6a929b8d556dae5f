/* 'siamese eval --report FILE': the evaluation's results as one self-contained HTML page. */
#ifndef SIAMESE_CLI_EVAL_REPORT_H
#define SIAMESE_CLI_EVAL_REPORT_H

#include "eval_data.h"
#include "eval_print.h"

/* What the page shows beyond the printed results: the verification pairs (n = 0 when none) and
 * the embedded sets, for the galleries. */
typedef struct eval_report_data {
    const float *distances, *labels;
    const int *rows_a, *rows_b; /* embedding rows of each pair */
    int n;
    const eval_set *set;
    const eval_set *query_set; /* --queries, else NULL */
    const siamese_model *model;
    siamese_metric metric;
} eval_report_data;

/* Writes the page. Prints "siamese eval: <message>" and returns 0 on failure. */
int eval_write_report(const char *path, const eval_results *r, const eval_report_data *d);

#endif
