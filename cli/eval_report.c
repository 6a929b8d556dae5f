/* 'siamese eval --report FILE': the evaluation's results handed to siamese_report_eval. */
#include "eval_report.h"

#include <stdio.h>

int eval_write_report(const char *path, const eval_results *r, const float *distances,
                      const float *labels, int n) {
    siamese_report_eval_input in = {
        r->model_path,   r->data_path, r->data_kind, r->metric,
        r->images,       r->classes,   r->skipped,   r->pairs_dropped,
        r->bootstrap,    distances,    labels,       r->verification ? n : 0,
        r->verification, r->fewshot,   r->way,       r->shot,
        r->retrieval,    r->lake,      r->query_path};
    char msg[1024];
    if (siamese_report_eval(path, &in, msg, sizeof msg) != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: %s\n", msg);
        return 0;
    }
    return 1;
}
