/* 'siamese eval --report FILE': the evaluation's results as one self-contained HTML page. */
#ifndef SIAMESE_CLI_EVAL_REPORT_H
#define SIAMESE_CLI_EVAL_REPORT_H

#include "eval_print.h"

/* Writes the page (distances and labels: the verification pairs, n = 0 when none). Prints
 * "siamese eval: <message>" and returns 0 on failure. */
int eval_write_report(const char *path, const eval_results *r, const float *distances,
                      const float *labels, int n);

#endif
