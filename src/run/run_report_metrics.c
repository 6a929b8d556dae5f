/* The run report's training curves: metrics.jsonl read back (log and epoch lines), drawn as
 * charts, the last epoch as cards and every epoch as a table row. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/fileio.h"
#include "nn/loss.h"
#include "report/report_sections.h"
#include "report/svg.h"
#include "run/run_report.h"

#define MAX_METRICS_BYTES ((size_t)1 << 30)

/* A number of the line, NaN when missing or null. */
static double number(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int add_log(sm_report_metrics *m, const json_t *o) {
    if (sm_grow((void **)&m->logs, &m->cap_logs, m->n_logs + 1, sizeof *m->logs)) return 0;
    m->logs[m->n_logs++] =
        (sm_report_log){number(o, "step"), number(o, "train_loss"), number(o, "lr"),
                        number(o, "pairs_per_sec"), number(o, "data_wait_fraction")};
    return 1;
}

static int add_epoch(sm_report_metrics *m, const json_t *o) {
    if (sm_grow((void **)&m->epochs, &m->cap_epochs, m->n_epochs + 1, sizeof *m->epochs)) return 0;
    sm_report_epoch *e = &m->epochs[m->n_epochs++];
    e->epoch = (int)json_integer_value(json_object_get(o, "epoch"));
    e->epochs = (int)json_integer_value(json_object_get(o, "epochs"));
    e->step = number(o, "step");
    e->train_loss = number(o, "train_loss");
    e->test_loss = number(o, "test_loss");
    e->test_auc = number(o, "test_auc");
    e->test_accuracy = number(o, "test_accuracy");
    e->threshold = number(o, "threshold");
    e->val_loss = number(o, "val_loss");
    e->val_auc = number(o, "val_auc");
    e->pairs_per_sec = number(o, "pairs_per_sec");
    e->elapsed = number(o, "elapsed");
    e->data_wait_fraction = number(o, "data_wait_fraction");
    return 1;
}

/* One line; 0 when memory ran out. Lines that are not JSON are counted and skipped. */
static int read_line(sm_report_metrics *m, const char *line) {
    json_t *o = json_loads(line, 0, NULL);
    if (!o) {
        m->unreadable_lines += line[0] != '\0';
        return 1;
    }
    /* runs written before the shared serializer say "type" and "batch" for "event" and "log" */
    const char *kind = json_string_value(json_object_get(o, "event"));
    if (!kind) kind = json_string_value(json_object_get(o, "type"));
    int ok = 1;
    if (kind && (!strcmp(kind, "log") || !strcmp(kind, "batch"))) ok = add_log(m, o);
    else if (kind && !strcmp(kind, "epoch")) ok = add_epoch(m, o);
    else if (kind && !strcmp(kind, "data")) { /* the last one: a resumed run checks again */
        json_decref(m->data);
        m->data = json_incref(o);
    }
    json_decref(o);
    return ok;
}

siamese_status sm_report_metrics_read(const char *path, sm_report_metrics *m, sm_err *err) {
    memset(m, 0, sizeof *m);
    unsigned char *data = NULL;
    size_t size = 0;
    struct stat info;
    if (stat(path, &info) != 0 && errno == ENOENT) return SIAMESE_OK;
    siamese_status st = sm_read_file_max(path, MAX_METRICS_BYTES, &data, &size, err);
    if (st != SIAMESE_OK) return st;
    for (char *line = (char *)data; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (!read_line(m, line)) {
            st = sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        line = next;
    }
    free(data);
    return st;
}

void sm_report_metrics_free(sm_report_metrics *m) {
    free(m->logs);
    free(m->epochs);
    json_decref(m->data);
    memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- drawing */

/* Columns of the log and epoch lines as arrays, for the charts. */
typedef struct columns {
    double *step, *loss, *lr, *pps, *wait;                             /* [n_logs] */
    double *e_num, *e_step, *e_train, *e_test, *e_auc, *e_acc, *e_val; /* [n_epochs] */
} columns;

static int columns_fill(columns *c, const sm_report_metrics *m) {
    size_t nl = (size_t)m->n_logs + 1, ne = (size_t)m->n_epochs + 1;
    double **logs[] = {&c->step, &c->loss, &c->lr, &c->pps, &c->wait};
    double **eps[] = {&c->e_num, &c->e_step, &c->e_train, &c->e_test,
                      &c->e_auc, &c->e_acc,  &c->e_val};
    int ok = 1;
    for (size_t i = 0; i < 5; i++) ok &= (*logs[i] = malloc(nl * sizeof(double))) != NULL;
    for (size_t i = 0; i < 7; i++) ok &= (*eps[i] = malloc(ne * sizeof(double))) != NULL;
    if (!ok) return 0;
    for (int i = 0; i < m->n_logs; i++) {
        const sm_report_log *l = &m->logs[i];
        c->step[i] = l->step, c->loss[i] = l->train_loss, c->lr[i] = l->lr;
        c->pps[i] = l->pairs_per_sec, c->wait[i] = l->data_wait_fraction * 100;
    }
    for (int i = 0; i < m->n_epochs; i++) {
        const sm_report_epoch *e = &m->epochs[i];
        c->e_num[i] = e->epoch, c->e_step[i] = e->step, c->e_train[i] = e->train_loss;
        c->e_test[i] = e->test_loss, c->e_auc[i] = e->test_auc, c->e_acc[i] = e->test_accuracy;
        c->e_val[i] = e->val_auc;
    }
    return 1;
}

static void columns_free(columns *c) {
    double *all[] = {c->step,   c->loss,    c->lr,     c->pps,   c->wait,  c->e_num,
                     c->e_step, c->e_train, c->e_test, c->e_auc, c->e_acc, c->e_val};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static int any_finite(const double *v, int n) {
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) return 1;
    return 0;
}

static void draw_charts(sm_html *h, const columns *c, int nl, int ne, siamese_loss batch_loss) {
    sm_html_raw(h, "<div class=\"figs\">");
    sm_svg_series loss[3] = {
        {"training loss (logged steps)", c->step, c->loss, nl, SM_SVG_LINE, 0},
        {"test loss (per epoch)", c->e_step, c->e_test, ne, SM_SVG_LINE_DOTS, 0},
        {"training loss (epoch mean)", c->e_step, c->e_train, ne, SM_SVG_DOTS, 0}};
    sm_svg_chart chart =
        sm_svg_chart_default(sm_loss_chart_title(batch_loss), "training step", "loss");
    sm_svg_draw(h, &chart, loss, 3);
    sm_svg_series quality[3] = {
        {"test ROC AUC", c->e_num, c->e_auc, ne, SM_SVG_LINE_DOTS, 0},
        {"test accuracy (best threshold)", c->e_num, c->e_acc, ne, SM_SVG_LINE_DOTS, 0},
        {"validation ROC AUC", c->e_num, c->e_val, ne, SM_SVG_LINE_DOTS, 0}};
    chart = sm_svg_chart_default("Test ROC AUC and accuracy per epoch", "epoch",
                                 "ROC AUC, accuracy (fraction)");
    chart.integer_x = 1;
    sm_svg_draw(h, &chart, quality, any_finite(c->e_val, ne) ? 3 : 2);
    sm_svg_series lr = {"learning rate", c->step, c->lr, nl, SM_SVG_LINE, 0};
    chart =
        sm_svg_chart_default("Learning rate per training step", "training step", "learning rate");
    if (any_finite(c->lr, nl)) sm_svg_draw(h, &chart, &lr, 1);
    sm_svg_series pps = {"pairs per second", c->step, c->pps, nl, SM_SVG_LINE, 0};
    chart = sm_svg_chart_default("Throughput per training step", "training step",
                                 "pairs per second (pairs/s)");
    sm_svg_draw(h, &chart, &pps, 1);
    sm_svg_series wait = {"time waiting for data", c->step, c->wait, nl, SM_SVG_LINE, 0};
    chart = sm_svg_chart_default("Share of time spent waiting for data", "training step",
                                 "data wait (% of elapsed time)");
    chart.y_min = 0, chart.y_max = 100;
    sm_svg_draw(h, &chart, &wait, 1);
    sm_html_raw(h, "</div>\n");
}

static void cell(sm_html *h, const char *key, const char *fmt, double v, const char *unit) {
    sm_html_printf(h, "<td class=\"n\" data-k=\"%s\">", key);
    sm_html_number(h, fmt, v, unit);
    sm_html_raw(h, "</td>");
}

static void epoch_table(sm_html *h, const sm_report_metrics *m) {
    sm_html_raw(h, "<h3>Every epoch</h3><div class=\"scroll\"><table id=\"epochs\"><tr>"
                   "<th class=\"n\">epoch</th><th class=\"n\">step</th>"
                   "<th class=\"n\">train loss</th><th class=\"n\">test loss</th>"
                   "<th class=\"n\">test ROC AUC</th><th class=\"n\">test accuracy</th>"
                   "<th class=\"n\">threshold</th><th class=\"n\">throughput</th>"
                   "<th class=\"n\">elapsed</th><th class=\"n\">data wait</th></tr>");
    for (int i = 0; i < m->n_epochs; i++) {
        const sm_report_epoch *e = &m->epochs[i];
        sm_html_printf(h, "<tr id=\"epoch-%d\"><td class=\"n\">%d / %d</td>", e->epoch, e->epoch,
                       e->epochs);
        cell(h, "step", "%.0f", e->step, NULL);
        cell(h, "train_loss", "%.4f", e->train_loss, NULL);
        cell(h, "test_loss", "%.4f", e->test_loss, NULL);
        cell(h, "test_auc", "%.4f", e->test_auc, NULL);
        cell(h, "test_accuracy", "%.2f", e->test_accuracy * 100, "%");
        cell(h, "threshold", "%.4f", e->threshold, NULL);
        cell(h, "pairs_per_sec", "%.1f", e->pairs_per_sec, "pairs/s");
        cell(h, "elapsed", "%.1f", e->elapsed, "s");
        cell(h, "data_wait", "%.1f", e->data_wait_fraction * 100, "%");
        sm_html_raw(h, "</tr>");
    }
    sm_html_raw(h, "</table></div>\n");
}

static void last_epoch_cards(sm_html *h, const sm_report_epoch *e) {
    sm_html_printf(h, "<p>After epoch %d of %d (step %.0f):</p><div class=\"cards\">", e->epoch,
                   e->epochs, e->step);
    sm_report_card_value(h, "test ROC AUC", "run-test-auc", e->test_auc, "%.4f", NULL);
    sm_report_card_value(h, "test accuracy", "run-test-accuracy", e->test_accuracy * 100, "%.2f",
                         "%");
    sm_report_card_value(h, "test loss", "run-test-loss", e->test_loss, "%.4f", NULL);
    sm_report_card_value(h, "training loss (epoch mean)", "run-train-loss", e->train_loss, "%.4f",
                         NULL);
    sm_report_card_value(h, "threshold (best accuracy)", "run-threshold", e->threshold, "%.4f",
                         NULL);
    if (isfinite(e->val_auc))
        sm_report_card_value(h, "validation ROC AUC", "run-val-auc", e->val_auc, "%.4f", NULL);
    sm_report_card_value(h, "throughput", "run-throughput", e->pairs_per_sec, "%.1f", "pairs/s");
    sm_report_card_value(h, "elapsed", "run-elapsed", e->elapsed, "%.1f", "s");
    sm_report_card_value(h, "waiting for data", "run-data-wait", e->data_wait_fraction * 100,
                         "%.1f", "%");
    sm_html_raw(h, "</div>\n");
}

/* Training's account of the data set's files (a "data" line; runs before it have none). */
static void files_section(sm_html *h, const json_t *data) {
    sm_html_raw(h, "<h3 id=\"files\">Files read by training</h3>");
    if (!data) {
        sm_report_note(h, "metrics.jsonl has no account of the files (written by runs since "
                          "training checks every file before drawing its pairs).");
        return;
    }
    double files = number(data, "files"), usable = number(data, "usable"),
           skipped = number(data, "skipped");
    sm_html_raw(h, "<div class=\"cards\">");
    sm_report_card_value(h, "files in the data set", "run-files", files, "%.0f", "files");
    sm_report_card_value(h, "usable images", "run-files-usable", usable, "%.0f", "images");
    sm_report_card_value(h, "skipped", "run-files-skipped", skipped, "%.0f", "files");
    sm_html_raw(h, "</div>");
    const json_t *list = json_object_get(data, "skipped_files");
    size_t n = json_array_size(list);
    if (n == 0) return;
    sm_html_raw(h, "<div class=\"scroll\"><table id=\"skipped-files\"><tr><th>file</th>"
                   "<th>why it was skipped</th></tr>");
    for (size_t i = 0; i < n; i++) {
        const json_t *f = json_array_get(list, i);
        sm_html_raw(h, "<tr><td>");
        sm_html_text(h, json_string_value(json_object_get(f, "file")));
        sm_html_raw(h, "</td><td>");
        sm_html_text(h, json_string_value(json_object_get(f, "reason")));
        sm_html_raw(h, "</td></tr>");
    }
    sm_html_raw(h, "</table></div>");
    if (skipped > (double)n)
        sm_report_note(h, "The first %zu skipped files are listed (of %.0f).", n, skipped);
}

void sm_report_metrics_section(sm_html *h, const sm_report_metrics *m, siamese_loss batch_loss) {
    sm_html_raw(h, "<h2 id=\"training\">Training</h2>");
    files_section(h, m->data);
    if (m->n_logs == 0 && m->n_epochs == 0) {
        sm_html_raw(h, "<p class=\"note\">metrics.jsonl holds no logged step yet.</p>\n");
        return;
    }
    if (m->n_epochs > 0) last_epoch_cards(h, &m->epochs[m->n_epochs - 1]);
    else
        sm_html_raw(h, "<p class=\"note\">No epoch has finished yet: test numbers come after "
                       "the first.</p>");
    if (m->unreadable_lines)
        sm_html_printf(h,
                       "<p class=\"note\">%d lines of metrics.jsonl were not JSON and are left "
                       "out.</p>",
                       m->unreadable_lines);
    columns c = {0};
    if (columns_fill(&c, m)) draw_charts(h, &c, m->n_logs, m->n_epochs, batch_loss);
    else h->failed = 1;
    columns_free(&c);
    if (m->n_epochs > 0) epoch_table(h, m);
}
