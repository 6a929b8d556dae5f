/* siamese_report_run: one self-contained HTML page of a training run folder, finished or still
 * running: its settings, its training curves and what its model does on its test pairs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/json_file.h"
#include "base/util.h"
#include "report/html.h"
#include "run/run_report.h"
#include "siamese.h"

/* Units of the settings that have one. */
static const char *setting_unit(const char *key) {
    static const char *const units[][2] = {
        {"input", "channels x height x width"},
        {"batch_size", "pairs per step"},
        {"epochs", "epochs"},
        {"per_class", "similar and dissimilar pairs per class"},
        {"pairs_per_epoch", "pairs"},
        {"log_every", "steps"},
        {"cache_bytes", "bytes"},
        {"warmup_steps", "steps"},
        {"lr_step_epochs", "epochs"},
        {"patience", "epochs"},
        {"train_fraction", "of the pairs or images"},
        {"val_fraction", "of the training classes"},
        {"val_groups", "of the class groups (share < 1, else a count)"},
        {"pk_classes", "classes per batch"},
        {"pk_images", "images per class and batch"},
        {"class_rotations", "turns of each training class (0, 1 = none)"},
        {"threads", "(0 = all cores)"},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(units[i][0], key)) return units[i][1];
    return NULL;
}

/* A setting as text: strings as they are, reals to 6 significant digits (config.json holds
 * floats widened to double: 0.0005 reads 0.000500000024), the rest as JSON. */
static char *setting_text(const json_t *value) {
    if (json_is_string(value)) return sm_strdup(json_string_value(value));
    if (json_is_real(value)) {
        char text[64];
        snprintf(text, sizeof text, "%.6g", json_real_value(value));
        return sm_strdup(text);
    }
    return json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
}

static void settings_section(sm_html *h, const json_t *config) {
    sm_html_raw(h, "<h2 id=\"settings\">Settings</h2>");
    if (!config) {
        sm_html_raw(h, "<p class=\"note\">config.json is missing or not JSON.</p>\n");
        return;
    }
    sm_html_raw(h, "<div class=\"scroll\"><table class=\"kv\" id=\"config\">");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)config, key, value) {
        char *text = setting_text(value);
        sm_html_raw(h, "<tr><td>");
        sm_html_text(h, key);
        sm_html_raw(h, "</td><td>");
        sm_html_text(h, text);
        const char *unit = setting_unit(key);
        if (unit && !json_is_null(value)) {
            sm_html_raw(h, " ");
            sm_html_text(h, unit);
        }
        sm_html_raw(h, "</td></tr>");
        free(text);
    }
    sm_html_raw(h, "</table></div>\n");
}

static int file_exists(const char *dir, const char *name) {
    char *path = sm_path_join(dir, name);
    struct stat info;
    int there = path && stat(path, &info) == 0;
    free(path);
    return there;
}

/* The run's batch loss from config.json (contrastive when missing or unknown: older runs). */
static siamese_loss config_loss(const json_t *config) {
    siamese_loss loss = SIAMESE_LOSS_CONTRASTIVE;
    const char *name = json_string_value(json_object_get(config, "loss"));
    if (name && siamese_loss_parse(name, &loss) != SIAMESE_OK) loss = SIAMESE_LOSS_CONTRASTIVE;
    return loss;
}

static void header(sm_html *h, const char *run_dir, const sm_report_metrics *m) {
    sm_html_raw(h, "<h1>Training run ");
    sm_html_text(h, run_dir);
    sm_html_raw(h, "</h1><p class=\"note\" id=\"status\">");
    const sm_report_epoch *last = m->n_epochs ? &m->epochs[m->n_epochs - 1] : NULL;
    if (last && last->epoch >= last->epochs)
        sm_html_printf(h, "Finished: %d of %d epochs.", last->epoch, last->epochs);
    else if (last)
        sm_html_printf(h, "In progress or stopped: %d of %d epochs done.", last->epoch,
                       last->epochs);
    else sm_html_raw(h, "In progress: no epoch finished yet.");
    char when[64];
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) && strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm))
        sm_html_printf(h, " Report written %s by siamese %s.", when, siamese_version());
    sm_html_raw(h, "</p><p class=\"note\">Sections: <a href=\"#settings\">settings</a> &middot; "
                   "<a href=\"#training\">training</a> &middot; <a href=\"#data-summary\">data</a> "
                   "&middot; <a href=\"#model\">model on the test pairs</a> &middot; "
                   "<a href=\"#mistakes\">where it fails</a></p>\n");
}

static siamese_status write_report(const char *run_dir, const char *out_html, int threads,
                                   sm_err *err) {
    if (!file_exists(run_dir, "config.json") && !file_exists(run_dir, "metrics.jsonl"))
        return sm_fail(err, SIAMESE_ERR_IO,
                       "%s: not a training run folder (no config.json, no metrics.jsonl)", run_dir);
    char *config_path = sm_path_join(run_dir, "config.json");
    char *metrics_path = sm_path_join(run_dir, "metrics.jsonl");
    json_t *config = NULL;
    sm_err config_err; /* a missing or broken config.json is said in the page */
    if (config_path) sm_json_read_file(config_path, 0, &config, &config_err);
    sm_report_metrics m;
    siamese_status st = metrics_path ? sm_report_metrics_read(metrics_path, &m, err)
                                     : sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) {
        sm_html h = {0};
        sm_html_begin(&h, "siamese training run report");
        header(&h, run_dir, &m);
        settings_section(&h, json_is_object(config) ? config : NULL);
        sm_report_metrics_section(&h, &m, config_loss(config));
        sm_report_model_section(&h, run_dir, config, threads);
        sm_html_end(&h);
        st = sm_html_save(&h, out_html, err);
        sm_html_free(&h);
        sm_report_metrics_free(&m);
    }
    json_decref(config);
    free(config_path);
    free(metrics_path);
    return st;
}

siamese_status siamese_report_run(const char *run_dir, const char *out_html, int threads,
                                  char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    char *default_out = NULL;
    if (!run_dir || threads < 0) {
        sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "a run report needs a run folder");
    } else {
        if (!out_html) out_html = default_out = sm_path_join(run_dir, "report.html");
        if (!out_html) sm_fail(&err, SIAMESE_ERR_NOMEM, "out of memory");
        else write_report(run_dir, out_html, threads, &err);
    }
    free(default_out);
    return sm_err_out(&err, err.status, errmsg, errmsg_size);
}
