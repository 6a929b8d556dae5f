/* Training progress: one redrawn line on a terminal (at most 10 per second), plain lines at the
 * logging interval otherwise, or one JSON object per event with --json. */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double cli_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(progress *p, progress_mode mode) {
    memset(p, 0, sizeof *p);
    p->mode = mode;
    p->terminal = isatty(fileno(stderr));
}

static void format_duration(double seconds, char *buf, size_t size) {
    long s = seconds > 0 && isfinite(seconds) ? (long)(seconds + 0.5) : 0;
    if (s >= 3600) snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    else snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

void progress_finish(progress *p) {
    if (p->line_open) fputc('\n', stderr);
    p->line_open = 0;
}

static void draw_step_line(progress *p, const siamese_train_event *e) {
    double t = cli_now_seconds();
    if (t - p->last_draw < 0.1 && e->batch + 1 < e->batches) return;
    p->last_draw = t;
    char eta[32];
    format_duration(e->eta, eta, sizeof eta);
    fprintf(stderr, "\r\033[Kepoch %d/%d  batch %d/%d  %.2f pairs/s  loss %.4f  ETA %s",
            e->epoch + 1, e->epochs, e->batch + 1, e->batches, e->pairs_per_second, (double)e->loss,
            eta);
    fflush(stderr);
    p->line_open = 1;
}

static void print_log_line(const siamese_train_event *e) {
    fprintf(stderr, "epoch %d/%d, batch %d/%d: loss %.6f (%.2f pairs/s)\n", e->epoch + 1, e->epochs,
            e->batch + 1, e->batches, (double)e->loss, e->pairs_per_second);
}

void progress_format_auc(float auc, char *out, size_t size) {
    if (isfinite(auc)) snprintf(out, size, "ROC AUC %.4f", (double)auc);
    else snprintf(out, size, "ROC AUC n/a (the test pairs are all of one kind)");
}

static void print_epoch_line(const siamese_train_event *e) {
    char elapsed[32];
    format_duration(e->elapsed, elapsed, sizeof elapsed);
    char val[96] = "";
    if (isfinite(e->val_auc) && isfinite(e->val_oneshot))
        snprintf(val, sizeof val, ", validation ROC AUC %.4f, one-shot %.4f", (double)e->val_auc,
                 (double)e->val_oneshot);
    else if (isfinite(e->val_auc))
        snprintf(val, sizeof val, ", validation ROC AUC %.4f", (double)e->val_auc);
    char auc[64];
    progress_format_auc(e->test_auc, auc, sizeof auc);
    fprintf(stderr,
            "epoch %d/%d done: train loss %.4f, test loss %.4f, test %s, accuracy %.3f "
            "at threshold %.4f%s [%s, data wait %.1f%%, loop overhead %.1f%%]\n",
            e->epoch + 1, e->epochs, (double)e->loss, (double)e->test_loss, auc,
            (double)e->test_accuracy, (double)e->threshold, val, elapsed,
            e->elapsed > 0 ? 100.0 * e->data_wait / e->elapsed : 0.0,
            e->loop_time > 0 ? 100.0 * (1 - e->step_time / e->loop_time) : 0.0);
}

/* The library's JSON line for the event, the same as metrics.jsonl's. */
static void print_json_event(const siamese_train_event *e) {
    char line[8192];
    int n = siamese_train_event_json(e, line, sizeof line);
    if (n >= 0 && (size_t)n < sizeof line) {
        printf("%s\n", line);
    } else if (n > 0) { /* a long message */
        char *big = malloc((size_t)n + 1);
        if (big && siamese_train_event_json(e, big, (size_t)n + 1) == n) printf("%s\n", big);
        free(big);
    }
    fflush(stdout);
}

void progress_event(void *user, const siamese_train_event *e) {
    progress *p = user;
    if (e->kind == SIAMESE_EVENT_EPOCH) {
        p->last_epoch = *e;
        p->have_epoch = 1;
    }
    if (e->kind == SIAMESE_EVENT_WARNING) p->warnings++;
    if (e->kind == SIAMESE_EVENT_DATA) {
        p->data = *e;
        p->data.files_listed = 0;
        p->data.skipped_names = p->data.skipped_reasons = NULL;
        p->have_data = 1;
    }
    if (p->mode == PROGRESS_JSON) {
        if (e->kind != SIAMESE_EVENT_STEP) print_json_event(e);
        return;
    }
    if (e->kind == SIAMESE_EVENT_WARNING) {
        progress_finish(p);
        fprintf(stderr, "warning: %s\n", e->message);
        return;
    }
    if (p->mode == PROGRESS_QUIET) return;
    switch (e->kind) {
    case SIAMESE_EVENT_STEP:
        if (p->terminal) draw_step_line(p, e);
        break;
    case SIAMESE_EVENT_LOG:
        if (!p->terminal) print_log_line(e);
        break;
    case SIAMESE_EVENT_EPOCH:
        progress_finish(p);
        print_epoch_line(e);
        break;
    case SIAMESE_EVENT_INFO:
        progress_finish(p);
        fprintf(stderr, "%s\n", e->message);
        break;
    case SIAMESE_EVENT_DATA:
        progress_finish(p);
        fprintf(stderr, "data: %d files, %d usable, %d skipped\n", e->files, e->files_usable,
                e->files_skipped);
        break;
    default:
        break;
    }
}
