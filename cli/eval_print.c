/* 'siamese eval' output: a table for people, one JSON object for programs. */
#include "eval_print.h"

#include <math.h>

#include "similarity.h"

/* One metric of a protocol as both outputs name it: the table's label, the JSON key, and the
 * distance threshold it was read at (threshold_key NULL and threshold NaN: none). */
typedef struct metric_row {
    const char *label, *key;
    siamese_interval value;
    const char *threshold_key;
    double threshold;
} metric_row;

#define N_VERIFICATION_ROWS 6 /* the last, the model's threshold, only when the model has one */
#define N_RETRIEVAL_ROWS 7

static void verification_rows(const siamese_verification *v, metric_row *rows) {
    const metric_row all[N_VERIFICATION_ROWS] = {
        {"ROC AUC", "auc", v->auc, NULL, NAN},
        {"EER", "eer", v->eer, "eer_threshold", v->eer_threshold},
        {"TAR @ FAR 1%", "tar_at_far_1e-2", v->tar_far_1, "tar_at_far_1e-2_threshold",
         v->tar_far_1_threshold},
        {"TAR @ FAR 0.1%", "tar_at_far_1e-3", v->tar_far_01, "tar_at_far_1e-3_threshold",
         v->tar_far_01_threshold},
        {"accuracy, best threshold", "accuracy_best", v->accuracy_best, "best_threshold",
         v->best_threshold},
        {"accuracy, model thresh.", "accuracy_model", v->accuracy_model, "model_threshold",
         v->model_threshold},
    };
    for (int i = 0; i < N_VERIFICATION_ROWS; i++) rows[i] = all[i];
}

static void retrieval_rows(const siamese_retrieval *q, metric_row *rows) {
    const metric_row all[N_RETRIEVAL_ROWS] = {
        {"Recall@1", "recall_at_1", q->recall_1, NULL, NAN},
        {"Recall@5", "recall_at_5", q->recall_5, NULL, NAN},
        {"Recall@10", "recall_at_10", q->recall_10, NULL, NAN},
        {"precision@5", "precision_at_5", q->precision_5, NULL, NAN},
        {"precision@10", "precision_at_10", q->precision_10, NULL, NAN},
        {"R-precision", "r_precision", q->r_precision, NULL, NAN},
        {"MAP@R", "map_at_r", q->map_at_r, NULL, NAN},
    };
    for (int i = 0; i < N_RETRIEVAL_ROWS; i++) rows[i] = all[i];
}

/* "0.9512  [0.9480, 0.9543]", or the value alone without an interval. */
static void print_interval(FILE *out, const char *name, siamese_interval v) {
    fprintf(out, "  %-24s", name);
    if (isnan(v.value)) {
        fprintf(out, "     n/a");
        return;
    }
    fprintf(out, "%8.4f", v.value);
    if (!isnan(v.low)) fprintf(out, "  [%.4f, %.4f]", v.low, v.high);
    else fprintf(out, "                  ");
}

static void print_threshold(FILE *out, double t) {
    if (!isnan(t)) fprintf(out, "  at distance %.6g", t);
    fputc('\n', out);
}

/* One line a row: the value, its interval and the threshold it was read at. */
static void print_rows(FILE *out, const metric_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        print_interval(out, rows[i].label, rows[i].value);
        print_threshold(out, rows[i].threshold);
    }
}

static void table_verification(FILE *out, const eval_results *r) {
    const siamese_verification *v = r->verification;
    fprintf(out, "\nverification: %d pairs (%d similar, %d dissimilar)", v->pairs, v->similar,
            v->dissimilar);
    if (r->pairs_dropped) fprintf(out, ", %d dropped (image skipped)", r->pairs_dropped);
    fprintf(out, "; %s distance; similar when d <= t\n", r->metric);
    metric_row rows[N_VERIFICATION_ROWS];
    verification_rows(v, rows);
    int model_row = !isnan(v->model_threshold);
    print_rows(out, rows, N_VERIFICATION_ROWS - 1 + model_row);
    if (!model_row && r->threshold_metric)
        fprintf(out, "  (the model's threshold is for %s distances, not %s)\n", r->threshold_metric,
                r->metric);
    else if (!model_row) fprintf(out, "  (the model stores no threshold)\n");
}

static void table_fewshot(FILE *out, const eval_results *r) {
    const siamese_fewshot *f = r->fewshot;
    fprintf(out, "\n%d-way %d-shot: %d episodes, %d queries, %d classes", r->way, r->shot,
            f->episodes, f->queries, f->classes_used);
    if (f->classes_excluded)
        fprintf(out, " (%d with too few images left out)", f->classes_excluded);
    fputc('\n', out);
    print_interval(out, "accuracy", f->accuracy);
    fputc('\n', out);
}

static void table_retrieval(FILE *out, const eval_results *r) {
    const siamese_retrieval *q = r->retrieval;
    if (r->query_path)
        fprintf(out, "\nretrieval: %d queries of %s against DATA", q->queries, r->query_path);
    else fprintf(out, "\nretrieval: %d queries, each against the rest", q->queries);
    if (q->queries_skipped)
        fprintf(out, " (%d without another image of their class left out)", q->queries_skipped);
    fputc('\n', out);
    metric_row rows[N_RETRIEVAL_ROWS];
    retrieval_rows(q, rows);
    print_rows(out, rows, N_RETRIEVAL_ROWS);
}

static void table_lake(FILE *out, const eval_results *r) {
    const siamese_lake_runs *l = r->lake;
    fprintf(out, "\none-shot runs (Lake et al.): %d runs, %d images embedded", l->run_count,
            l->images);
    if (l->skipped_images) fprintf(out, ", %d skipped", l->skipped_images);
    fputc('\n', out);
    for (int i = 0; i < l->run_count; i++)
        fprintf(out, "  %-10s %3d/%-3d %6.1f%%\n", l->runs[i].name, l->runs[i].correct,
                l->runs[i].total,
                l->runs[i].total ? 100.0 * l->runs[i].correct / l->runs[i].total : 0.0);
    fprintf(out, "  %-10s %3d/%-3d %6.1f%%  (20-way one-shot accuracy)\n", "overall", l->correct,
            l->total, 100.0 * l->accuracy);
    if (l->skipped) fprintf(out, "  %d test images not scored (did not decode)\n", l->skipped);
}

void eval_print_table(FILE *out, const eval_results *r) {
    fprintf(out, "model %s\ndata  %s", r->model_path, r->data_path);
    if (r->lake) fprintf(out, " (one-shot runs)\n");
    else if (r->held_out)
        fprintf(out, " (%s, the %d images held out by %s, %d classes, %d skipped)\n", r->data_kind,
                r->images, r->held_out, r->classes, r->skipped);
    else
        fprintf(out, " (%s, %d images embedded, %d classes, %d skipped)\n", r->data_kind, r->images,
                r->classes, r->skipped);
    if (r->bootstrap > 0 && (r->verification || r->retrieval))
        fprintf(out, "intervals: 95%% bootstrap, %d resamples", r->bootstrap);
    if (r->fewshot)
        fprintf(out, "%sfew-shot: 95%% over episodes",
                r->bootstrap > 0 && (r->verification || r->retrieval) ? "; " : "");
    if ((r->bootstrap > 0 && (r->verification || r->retrieval)) || r->fewshot) fputc('\n', out);
    if (r->verification) table_verification(out, r);
    if (r->fewshot) table_fewshot(out, r);
    if (r->retrieval) table_retrieval(out, r);
    if (r->lake) table_lake(out, r);
    fprintf(out, "\ntime: %.2f s (embedding %.2f s)\n", r->total_seconds, r->embed_seconds);
    if (r->png_dir) fprintf(out, "pictures in %s\n", r->png_dir);
}

/* ---- JSON */

static void json_number(FILE *out, double v) {
    if (isfinite(v)) fprintf(out, "%.10g", v);
    else fputs("null", out);
}

static void json_interval(FILE *out, const char *name, siamese_interval v, int comma) {
    fprintf(out, "\"%s\":{\"value\":", name);
    json_number(out, v.value);
    fputs(",\"low\":", out);
    json_number(out, v.low);
    fputs(",\"high\":", out);
    json_number(out, v.high);
    fprintf(out, "}%s", comma ? "," : "");
}

static void json_key_number(FILE *out, const char *name, double v, int comma) {
    fprintf(out, "\"%s\":", name);
    json_number(out, v);
    if (comma) fputc(',', out);
}

/* "key":{interval},"threshold_key":t a row, comma-separated. */
static void json_rows(FILE *out, const metric_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        int last = i == n - 1;
        json_interval(out, rows[i].key, rows[i].value, !last || rows[i].threshold_key);
        if (rows[i].threshold_key)
            json_key_number(out, rows[i].threshold_key, rows[i].threshold, !last);
    }
}

static void json_verification(FILE *out, const eval_results *r) {
    const siamese_verification *v = r->verification;
    fprintf(out,
            ",\"verification\":{\"pairs\":%d,\"similar\":%d,\"dissimilar\":%d,"
            "\"pairs_dropped\":%d,",
            v->pairs, v->similar, v->dissimilar, r->pairs_dropped);
    metric_row rows[N_VERIFICATION_ROWS];
    verification_rows(v, rows);
    json_rows(out, rows, N_VERIFICATION_ROWS);
    fputc('}', out);
}

static void json_fewshot(FILE *out, const eval_results *r) {
    const siamese_fewshot *f = r->fewshot;
    fprintf(out,
            ",\"fewshot\":{\"way\":%d,\"shot\":%d,\"episodes\":%d,\"queries\":%d,\"correct\":%d,"
            "\"classes_used\":%d,\"classes_excluded\":%d,",
            r->way, r->shot, f->episodes, f->queries, f->correct, f->classes_used,
            f->classes_excluded);
    json_interval(out, "accuracy", f->accuracy, 0);
    fputc('}', out);
}

static void json_retrieval(FILE *out, const eval_results *r) {
    const siamese_retrieval *q = r->retrieval;
    fprintf(out, ",\"retrieval\":{\"queries\":%d,\"queries_skipped\":%d,", q->queries,
            q->queries_skipped);
    if (r->query_path) {
        fputs("\"query_data\":", out);
        cli_json_string(out, r->query_path);
        fputc(',', out);
    }
    metric_row rows[N_RETRIEVAL_ROWS];
    retrieval_rows(q, rows);
    json_rows(out, rows, N_RETRIEVAL_ROWS);
    fputc('}', out);
}

static void json_lake(FILE *out, const eval_results *r) {
    const siamese_lake_runs *l = r->lake;
    fprintf(out,
            ",\"oneshot_runs\":{\"runs\":%d,\"correct\":%d,\"total\":%d,\"accuracy\":%.10g,"
            "\"images\":%d,\"skipped_images\":%d,\"not_scored\":%d,\"per_run\":[",
            l->run_count, l->correct, l->total, l->accuracy, l->images, l->skipped_images,
            l->skipped);
    for (int i = 0; i < l->run_count; i++) {
        fprintf(out, "%s{\"run\":", i ? "," : "");
        cli_json_string(out, l->runs[i].name);
        fprintf(out, ",\"correct\":%d,\"total\":%d}", l->runs[i].correct, l->runs[i].total);
    }
    fputs("]}", out);
}

void eval_print_json(FILE *out, const eval_results *r) {
    fputs("{\"model\":", out);
    cli_json_string(out, r->model_path);
    fputs(",\"data\":", out);
    cli_json_string(out, r->data_path);
    if (r->held_out) {
        fputs(",\"held_out\":", out);
        cli_json_string(out, r->held_out);
    }
    fputs(",\"kind\":", out);
    cli_json_string(out, r->lake ? "oneshot_runs" : r->data_kind);
    fputs(",\"metric\":", out);
    cli_json_string(out, r->metric);
    fprintf(out, ",\"images\":%d,\"classes\":%d,\"skipped\":%d,\"bootstrap\":%d", r->images,
            r->classes, r->skipped, r->bootstrap);
    fprintf(out, ",\"embed_seconds\":%.4f,\"seconds\":%.4f", r->embed_seconds, r->total_seconds);
    if (r->verification) json_verification(out, r);
    if (r->fewshot) json_fewshot(out, r);
    if (r->retrieval) json_retrieval(out, r);
    if (r->lake) json_lake(out, r);
    if (r->png_dir) {
        fputs(",\"png_dir\":", out);
        cli_json_string(out, r->png_dir);
    }
    fputs("}\n", out);
}
