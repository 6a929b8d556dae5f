/* metrics.jsonl (one JSON object per logged batch and per epoch) and the loss history behind loss.png. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "report/plot.h"
#include "run/run.h"

static siamese_status grow_pair(double **a, double **b, int n, int *cap) {
    if (n < *cap) return SIAMESE_OK;
    int new_cap = *cap ? 2 * *cap : 256;
    double *na = realloc(*a, (size_t)new_cap * sizeof **a);
    if (!na) return SIAMESE_ERR_NOMEM;
    *a = na;
    double *nb = realloc(*b, (size_t)new_cap * sizeof **b);
    if (!nb) return SIAMESE_ERR_NOMEM;
    *b = nb;
    *cap = new_cap;
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

siamese_status sm_history_plot(const sm_train_history *h, const char *path, sm_err *err) {
    sm_plot_series series[2] = {
        {"training loss", h->log_step, h->log_loss, h->n_log, 0},
        {"test loss (per epoch)", h->epoch_step, h->epoch_loss, h->n_epoch, 1}};
    return sm_plot_lines(path, "Contrastive loss", "training step", "loss", series,
                         h->n_epoch ? 2 : 1, err);
}

/* ---------------------------------------------------------------- metrics.jsonl */

static json_t *event_to_json(const siamese_train_event *e) {
    json_t *o = json_object();
    if (!o) return NULL;
    int is_epoch = e->kind == SIAMESE_EVENT_EPOCH;
    json_object_set_new(o, "type", json_string(is_epoch ? "epoch" : "batch"));
    json_object_set_new(o, "epoch", json_integer(e->epoch));
    if (!is_epoch) json_object_set_new(o, "batch", json_integer(e->batch));
    json_object_set_new(o, "step", json_integer((json_int_t)e->step));
    json_object_set_new(o, "train_loss", isfinite(e->loss) ? json_real(e->loss) : json_null());
    if (is_epoch) {
        json_object_set_new(o, "test_loss",
                            isfinite(e->test_loss) ? json_real(e->test_loss) : json_null());
        json_object_set_new(o, "test_auc",
                            isfinite(e->test_auc) ? json_real(e->test_auc) : json_null());
        json_object_set_new(o, "test_accuracy", json_real(e->test_accuracy));
        json_object_set_new(o, "threshold", json_real(e->threshold));
    }
    json_object_set_new(o, "pairs_per_sec", json_real(e->pairs_per_second));
    json_object_set_new(o, "elapsed", json_real(e->elapsed));
    json_object_set_new(o, "data_wait", json_real(e->data_wait));
    json_object_set_new(o, "data_wait_fraction",
                        json_real(e->elapsed > 0 ? e->data_wait / e->elapsed : 0.0));
    return o;
}

siamese_status sm_metrics_write_event(sm_metrics_file *m, const siamese_train_event *event,
                                      sm_err *err) {
    json_t *o = event_to_json(event);
    char *line =
        o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8)) : NULL;
    json_decref(o);
    if (!line) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", m->path);
    int ok = fputs(line, m->fp) >= 0 && fputc('\n', m->fp) != EOF && fflush(m->fp) == 0;
    free(line);
    return ok ? SIAMESE_OK : sm_fail(err, SIAMESE_ERR_IO, "%s: %s", m->path, strerror(errno));
}

/* Keeps a line of an earlier session when it lies within the checkpoint; refills history. */
static int keep_line(const char *line, int64_t keep_up_to_step, sm_train_history *h) {
    json_t *o = json_loads(line, 0, NULL);
    if (!o) return 0;
    const char *type = json_string_value(json_object_get(o, "type"));
    json_int_t step = json_integer_value(json_object_get(o, "step"));
    int keep = type && step <= keep_up_to_step;
    if (keep && !strcmp(type, "batch"))
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
            sm_atomic_abort(&af);
            st = sm_fail(err, SIAMESE_ERR_IO, "%s: write failed", path);
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
