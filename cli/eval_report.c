/* 'siamese eval --report FILE': the evaluation's results and embedded sets handed to
 * siamese_report_eval. */
#include "eval_report.h"

#include <stdio.h>

int eval_write_report(const char *path, const eval_results *r, const eval_report_data *d) {
    siamese_report_eval_input in = {
        .model_path = r->model_path,
        .data_path = r->data_path,
        .data_kind = r->data_kind,
        .metric = r->metric,
        .images = r->images,
        .classes = r->classes,
        .skipped = r->skipped,
        .pairs_dropped = r->pairs_dropped,
        .bootstrap = r->bootstrap,
        .distances = d->distances,
        .labels = d->labels,
        .n_pairs = r->verification ? d->n : 0,
        .verification = r->verification,
        .fewshot = r->fewshot,
        .way = r->way,
        .shot = r->shot,
        .retrieval = r->retrieval,
        .lake = r->lake,
        .query_path = r->query_path,
        .dataset = d->set ? d->set->ds : NULL,
        .embeddings = d->set && d->set->ds ? &d->set->emb : NULL,
        .pair_a = d->rows_a,
        .pair_b = d->rows_b,
        .query_dataset = d->query_set && d->query_set->ds ? d->query_set->ds : NULL,
        .query_embeddings = d->query_set && d->query_set->ds ? &d->query_set->emb : NULL,
        .distance_metric = d->metric,
        .channels = siamese_model_channels(d->model),
        .height = siamese_model_height(d->model),
        .width = siamese_model_width(d->model)};
    char msg[1024];
    if (siamese_report_eval(path, &in, msg, sizeof msg) != SIAMESE_OK) {
        fprintf(stderr, "siamese eval: %s\n", msg);
        return 0;
    }
    return 1;
}
