/* metrics.jsonl (one JSON object per logged batch and per epoch) and the loss history behind loss.png. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/fileio.h"
#include "nn/loss.h"
#include "report/plot.h"
#include "run/run.h"

/* Room for n + 1 entries in the parallel arrays a and b (capacity *cap). */
static siamese_status grow_pair(double **a, double **b, int n, int *cap) {
    int cap_b = *cap;
    if (sm_grow((void **)b, &cap_b, n + 1, sizeof **b) ||
        sm_grow((void **)a, cap, n + 1, sizeof **a))
        return SIAMESE_ERR_NOMEM;
    return SIAMESE_OK;
}

siamese_status sm_history_add_log(sm_train_history *h, double step, double loss) {
    if (grow_pair(&h->log_step, &h->log_loss, h->n_log, &h->cap_log) != SIAMESE_OK)
        return SIAMESE_ERR_NOMEM;
    h->log_step[h->n_log] = step;
    h->log_loss[h->n_log++] = loss;
    return SIAMESE_OK;
}

siamese_status sm_history_add_epoch(sm_train_history *h, double step, double loss) {
    if (grow_pair(&h->epoch_step, &h->epoch_loss, h->n_epoch, &h->cap_epoch) != SIAMESE_OK)
        return SIAMESE_ERR_NOMEM;
    h->epoch_step[h->n_epoch] = step;
    h->epoch_loss[h->n_epoch++] = loss;
    return SIAMESE_OK;
}

void sm_history_free(sm_train_history *h) {
    free(h->log_step);
    free(h->log_loss);
    free(h->epoch_step);
    free(h->epoch_loss);
    memset(h, 0, sizeof *h);
}

siamese_status sm_history_plot(const sm_train_history *h, siamese_loss batch_loss, const char *path,
                               sm_err *err) {
    sm_plot_series series[2] = {
        {"training loss", h->log_step, h->log_loss, h->n_log, 0},
        {"test loss (per epoch)", h->epoch_step, h->epoch_loss, h->n_epoch, 1}};
    return sm_plot_lines(path, sm_loss_chart_title(batch_loss), "training step", "loss", series,
                         h->n_epoch ? 2 : 1, err);
}

/* ---------------------------------------------------------------- events as JSON */

static const char *event_name(siamese_event_kind kind) {
    switch (kind) {
    case SIAMESE_EVENT_STEP:
        return "step";
    case SIAMESE_EVENT_LOG:
        return "log";
    case SIAMESE_EVENT_EPOCH:
        return "epoch";
    case SIAMESE_EVENT_CHECKPOINT:
        return "checkpoint";
    case SIAMESE_EVENT_WARNING:
        return "warning";
    case SIAMESE_EVENT_INFO:
        return "info";
    case SIAMESE_EVENT_DATA:
        return "data";
    }
    return "event";
}

/* A number, or null when it is not finite (JSON has no NaN). */
static int set_number(json_t *o, const char *key, double v) {
    return json_object_set_new(o, key, isfinite(v) ? json_real(v) : json_null());
}

/* A JSON string of text that may not be UTF-8 (a file name): then said so instead. */
static json_t *text(const char *s) {
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_string("(not UTF-8 text)");
}

/* DATA: the counts and the skipped files with their reasons. */
static int set_data(json_t *o, const siamese_train_event *e) {
    int bad = json_object_set_new(o, "files", json_integer(e->files));
    bad |= json_object_set_new(o, "usable", json_integer(e->files_usable));
    bad |= json_object_set_new(o, "skipped", json_integer(e->files_skipped));
    json_t *list = json_array();
    for (int i = 0; list && i < e->files_listed; i++) {
        json_t *f = json_object();
        bad |= !f || json_object_set_new(f, "file", text(e->skipped_names[i])) ||
               json_object_set_new(f, "reason", text(e->skipped_reasons[i])) ||
               json_array_append_new(list, f);
    }
    return bad | (list ? json_object_set_new(o, "skipped_files", list) : 1);
}

/* Where the run's seconds went: the training loop, the step inside it and the loop's overhead,
 * the CPU seconds of the steps, evaluation, saving, and the CPU seconds of assembling batches. */
static int set_times(json_t *o, const siamese_train_event *e) {
    int bad = set_number(o, "loop_time", e->loop_time);
    bad |= set_number(o, "step_time", e->step_time);
    bad |=
        set_number(o, "loop_overhead", e->loop_time > 0 ? 1.0 - e->step_time / e->loop_time : 0.0);
    bad |= set_number(o, "step_cpu", e->step_cpu);
    bad |= set_number(o, "eval_time", e->eval_time);
    bad |= set_number(o, "save_time", e->save_time);
    return bad | set_number(o, "loader_cpu", e->loader_cpu);
}

/* The one serializer behind metrics.jsonl and 'siamese train --json' (see siamese.h). */
static json_t *event_to_json(const siamese_train_event *e) {
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = json_object_set_new(o, "event", json_string(event_name(e->kind)));
    if (e->kind == SIAMESE_EVENT_DATA) {
        bad |= set_data(o, e);
        return bad ? (json_decref(o), NULL) : o;
    }
    if (e->message) {
        bad |= json_object_set_new(o, "message", json_string(e->message));
        return bad ? (json_decref(o), NULL) : o;
    }
    bad |= json_object_set_new(o, "epoch", json_integer(e->epoch + 1)); /* 1-based, as printed */
    bad |= json_object_set_new(o, "epochs", json_integer(e->epochs));
    bad |= json_object_set_new(o, "batch", json_integer(e->batch + 1));
    bad |= json_object_set_new(o, "batches", json_integer(e->batches));
    bad |= json_object_set_new(o, "step", json_integer((json_int_t)e->step));
    bad |= set_number(o, "train_loss", e->loss);
    if (e->kind == SIAMESE_EVENT_STEP || e->kind == SIAMESE_EVENT_LOG)
        bad |= set_number(o, "lr", e->lr);
    if (e->kind == SIAMESE_EVENT_EPOCH) {
        bad |= set_number(o, "test_loss", e->test_loss);
        bad |= set_number(o, "test_auc", e->test_auc);
        bad |= set_number(o, "test_accuracy", e->test_accuracy);
        bad |= set_number(o, "threshold", e->threshold);
        if (isfinite(e->val_loss) || isfinite(e->val_auc)) { /* runs with validation classes */
            bad |= set_number(o, "val_loss", e->val_loss);
            bad |= set_number(o, "val_auc", e->val_auc);
            if (isfinite(e->val_oneshot)) /* --val-way N: N-way one-shot accuracy */
                bad |= set_number(o, "val_oneshot", e->val_oneshot);
        }
    }
    bad |= set_number(o, "pairs_per_sec", e->pairs_per_second);
    bad |= set_number(o, "elapsed", e->elapsed);
    bad |= set_number(o, "eta", e->eta);
    bad |= set_number(o, "data_wait", e->data_wait);
    bad |= set_number(o, "data_wait_fraction", e->elapsed > 0 ? e->data_wait / e->elapsed : 0.0);
    bad |= set_times(o, e);
    return bad ? (json_decref(o), NULL) : o;
}

/* The event's JSON line in a malloc'd string, or NULL when memory runs out. */
static char *event_line(const siamese_train_event *e) {
    json_t *o = event_to_json(e);
    char *line =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    return line;
}

int siamese_train_event_json(const siamese_train_event *event, char *buf, size_t size) {
    if (!event) return -1;
    char *line = event_line(event);
    if (!line) return -1;
    int n = snprintf(buf, size, "%s", line);
    free(line);
    return n;
}

/* ---------------------------------------------------------------- metrics.jsonl */

siamese_status sm_metrics_write_event(sm_metrics_file *m, const siamese_train_event *event,
                                      sm_err *err) {
    char *line = event_line(event);
    if (!line) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", m->path);
    int ok = fputs(line, m->fp) >= 0 && fputc('\n', m->fp) != EOF && fflush(m->fp) == 0;
    free(line);
    return ok ? SIAMESE_OK : sm_fail(err, SIAMESE_ERR_IO, "%s: %s", m->path, strerror(errno));
}

/* Keeps a line of an earlier session when it lies within the checkpoint; refills history. */
static int keep_line(const char *line, int64_t keep_up_to_step, sm_train_history *h) {
    json_t *o = json_loads(line, 0, NULL);
    if (!o) return 0;
    /* runs written before the shared serializer have "type" and "batch" for "event" and "log" */
    const char *type = json_string_value(json_object_get(o, "event"));
    if (!type) type = json_string_value(json_object_get(o, "type"));
    json_int_t step = json_integer_value(json_object_get(o, "step"));
    int keep = type && step <= keep_up_to_step;
    if (keep && (!strcmp(type, "log") || !strcmp(type, "batch")))
        keep =
            sm_history_add_log(h, (double)step,
                               json_number_value(json_object_get(o, "train_loss"))) == SIAMESE_OK;
    else if (keep && !strcmp(type, "epoch")) {
        json_t *tl = json_object_get(o, "test_loss");
        keep = sm_history_add_epoch(h, (double)step,
                                    json_is_number(tl) ? json_number_value(tl) : NAN) == SIAMESE_OK;
    }
    json_decref(o);
    return keep;
}

/* Rewrites metrics.jsonl with only the lines up to keep_up_to_step (atomically). */
static siamese_status truncate_metrics(const char *path, int64_t keep_up_to_step,
                                       sm_train_history *h, sm_err *err) {
    unsigned char *data = NULL;
    size_t size = 0;
    siamese_status st = sm_read_file(path, &data, &size, err);
    if (st != SIAMESE_OK) return st;
    sm_atomic_file af;
    st = sm_atomic_open(&af, path, err);
    for (char *line = (char *)data; st == SIAMESE_OK && line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (keep_line(line, keep_up_to_step, h) && fprintf(af.fp, "%s\n", line) < 0) {
            st = sm_atomic_fail(&af, err);
        }
        line = next;
    }
    if (st == SIAMESE_OK) st = sm_atomic_commit(&af, err);
    free(data);
    return st;
}

siamese_status sm_metrics_open(sm_metrics_file *m, const char *path, int64_t keep_up_to_step,
                               sm_train_history *history, sm_err *err) {
    if (strlen(path) >= sizeof m->path)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: path too long", path);
    strcpy(m->path, path);
    if (keep_up_to_step >= 0) {
        siamese_status st = truncate_metrics(path, keep_up_to_step, history, err);
        if (st != SIAMESE_OK && st != SIAMESE_ERR_IO) return st;
    }
    m->fp = fopen(path, keep_up_to_step >= 0 ? "a" : "w");
    if (!m->fp) return sm_fail(err, SIAMESE_ERR_IO, "%s: %s", path, strerror(errno));
    return SIAMESE_OK;
}

void sm_metrics_close(sm_metrics_file *m) {
    if (m->fp) fclose(m->fp);
    m->fp = NULL;
}
