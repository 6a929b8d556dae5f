/* The evaluation report: one self-contained HTML page of what 'siamese eval' computed. */
#include <math.h>
#include <stdio.h>

#include "report/html.h"
#include "report/report_sections.h"
#include "siamese.h"

static void kv_row(sm_html *h, const char *key, const char *value) {
    sm_html_raw(h, "<tr><td>");
    sm_html_text(h, key);
    sm_html_raw(h, "</td><td>");
    sm_html_text(h, value ? value : "n/a");
    sm_html_raw(h, "</td></tr>");
}

static void kv_int(sm_html *h, const char *key, int value) {
    char text[32];
    snprintf(text, sizeof text, "%d", value);
    kv_row(h, key, text);
}

static void write_settings(sm_html *h, const siamese_report_eval_input *in) {
    sm_html_raw(h, "<h2 id=\"settings\">What was evaluated</h2><div class=\"scroll\">"
                   "<table class=\"kv\">");
    kv_row(h, "model", in->model_path);
    kv_row(h, "data", in->data_path);
    kv_row(h, "data kind", in->data_kind);
    if (in->query_path) kv_row(h, "retrieval queries from", in->query_path);
    kv_row(h, "metric", in->metric);
    kv_int(h, "images embedded", in->images);
    kv_int(h, "classes", in->classes);
    kv_int(h, "files skipped (did not decode)", in->skipped);
    if (in->pairs_dropped) kv_int(h, "pairs dropped (an image did not decode)", in->pairs_dropped);
    kv_int(h, "bootstrap resamples for the 95% intervals", in->bootstrap);
    kv_row(h, "library", siamese_version());
    sm_html_raw(h, "</table></div>\n");
}

siamese_status siamese_report_eval(const char *out_html, const siamese_report_eval_input *in,
                                   char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    if (!out_html || !in) {
        sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "an evaluation report needs a file and results");
    } else {
        sm_html h = {0};
        sm_html_begin(&h, "siamese evaluation");
        sm_html_raw(&h, "<h1>Evaluation of ");
        sm_html_text(&h, in->model_path);
        sm_html_raw(&h, "</h1><p class=\"note\">on ");
        sm_html_text(&h, in->data_path);
        sm_html_raw(&h, "</p>");
        write_settings(&h, in);
        if (in->verification && in->distances && in->labels && in->n_pairs > 0) {
            const siamese_verification *v = in->verification;
            sm_html_raw(&h, "<h2 id=\"verification\">Verification</h2>");
            int model_t = isfinite(v->model_threshold) && v->model_threshold >= 0;
            sm_report_verification(&h, in->distances, in->labels, in->n_pairs, v,
                                   model_t ? v->model_threshold : v->best_threshold,
                                   model_t ? "model threshold" : "best threshold");
        }
        if (in->fewshot) sm_report_fewshot(&h, in->fewshot, in->way, in->shot);
        if (in->retrieval) sm_report_retrieval(&h, in->retrieval);
        if (in->lake) sm_report_lake(&h, in->lake);
        sm_html_end(&h);
        sm_html_save(&h, out_html, &err);
        sm_html_free(&h);
    }
    if (errmsg && errmsg_size) snprintf(errmsg, errmsg_size, "%s", err.status ? err.msg : "");
    return err.status;
}
