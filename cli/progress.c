/* Training progress: one redrawn line on a terminal (at most 10 per second), plain lines at the
 * logging interval otherwise, or one JSON object per event with --json. */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "similarity.h"

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
    double t = sm_now_seconds();
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

static void print_epoch_line(const siamese_train_event *e) {
    char elapsed[32];
    format_duration(e->elapsed, elapsed, sizeof elapsed);
    fprintf(stderr,
            "epoch %d/%d done: train loss %.4f, test loss %.4f, test ROC AUC %.4f, accuracy %.3f "
            "at threshold %.4f [%s, data wait %.1f%%]\n",
            e->epoch + 1, e->epochs, (double)e->loss, (double)e->test_loss, (double)e->test_auc,
            (double)e->test_accuracy, (double)e->threshold, elapsed,
            e->elapsed > 0 ? 100.0 * e->data_wait / e->elapsed : 0.0);
}

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
    }
    return "event";
}

static void print_json_number(const char *key, double v) {
    if (isfinite(v)) printf(",\"%s\":%.9g", key, v);
    else printf(",\"%s\":null", key);
}

static void print_json_event(const siamese_train_event *e) {
    printf("{\"event\":\"%s\"", event_name(e->kind));
    if (e->message) {
        printf(",\"message\":");
        cli_json_string(stdout, e->message);
    } else {
        printf(",\"epoch\":%d,\"epochs\":%d,\"batch\":%d,\"batches\":%d,\"step\":%lld", e->epoch,
               e->epochs, e->batch, e->batches, (long long)e->step);
        print_json_number("loss", e->loss);
        if (e->kind == SIAMESE_EVENT_EPOCH) {
            print_json_number("test_loss", e->test_loss);
            print_json_number("test_auc", e->test_auc);
            print_json_number("test_accuracy", e->test_accuracy);
            print_json_number("threshold", e->threshold);
        }
        print_json_number("pairs_per_sec", e->pairs_per_second);
        print_json_number("elapsed", e->elapsed);
        print_json_number("eta", e->eta);
        print_json_number("data_wait", e->data_wait);
    }
    printf("}\n");
    fflush(stdout);
}

void progress_event(void *user, const siamese_train_event *e) {
    progress *p = user;
    if (e->kind == SIAMESE_EVENT_EPOCH) {
        p->last_epoch = *e;
        p->have_epoch = 1;
    }
    if (e->kind == SIAMESE_EVENT_WARNING) p->warnings++;
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
    default:
        break;
    }
}
