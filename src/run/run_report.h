/* The run report's parts: metrics.jsonl read back and drawn, and the model judged on the run's
 * test pairs (data summary, verification, galleries, neighbours). */
#ifndef SM_RUN_REPORT_H
#define SM_RUN_REPORT_H

#include <jansson.h>

#include "report/html.h"
#include "siamese.h"

/* One "log" line of metrics.jsonl. */
typedef struct sm_report_log {
    double step, train_loss, lr, pairs_per_sec, data_wait_fraction;
} sm_report_log;

/* One "epoch" line (epoch counts from 1, as written). */
typedef struct sm_report_epoch {
    int epoch, epochs;
    double step, train_loss, test_loss, test_auc, test_accuracy, threshold, val_loss, val_auc;
    double pairs_per_sec, elapsed, data_wait_fraction;
} sm_report_epoch;

typedef struct sm_report_metrics {
    sm_report_log *logs;
    int n_logs, cap_logs;
    sm_report_epoch *epochs;
    int n_epochs, cap_epochs;
    int unreadable_lines; /* not JSON (a line being written while we read, or damage) */
    json_t *data;         /* the last "data" line: training's account of the files, or NULL */
} sm_report_metrics;

/* Reads metrics.jsonl (a missing file gives no lines, not an error). */
siamese_status sm_report_metrics_read(const char *path, sm_report_metrics *m, sm_err *err);
void sm_report_metrics_free(sm_report_metrics *m);

/* Cards of the last epoch, the charts (loss, ROC AUC and accuracy, learning rate, throughput,
 * data wait), the table of epochs and the files training read and skipped, with reasons. */
void sm_report_metrics_section(sm_html *h, const sm_report_metrics *m, siamese_loss batch_loss);

/* The data summary and the model's section: what the run's data and model show on its test
 * pairs, or a sentence saying what is missing. */
void sm_report_model_section(sm_html *h, const char *run_dir, const json_t *config, int threads);

/* The run's test side as the report sees it: data, split, pairs, model, embeddings, distances. */
typedef struct sm_report_side {
    siamese_dataset *ds;
    siamese_split *split;
    siamese_pairs train, test;
    siamese_model *model;
    int fast_jpeg;
    int *row_of_image; /* [dataset images]: embedding row, -1 = not a usable test image */
    int *images;       /* [n_images] dataset image of each row */
    int n_images, dim, skipped;
    float *vectors;            /* [n_images, dim] */
    float *distances, *labels; /* [n_pairs] usable test pairs */
    int *pair;                 /* [n_pairs] index into test.items */
    int n_pairs;
    double threshold;
    const char *threshold_note;
} sm_report_side;

/* Decoding options for the side's images at width x height (the model's channels). */
siamese_image_options sm_report_side_options(const sm_report_side *t, int width, int height);
int sm_report_similar_count(const siamese_pairs *p);

/* The hardest mistakes at t->threshold (false accepts, else false rejects) and a few test
 * images' nearest neighbours among the test images. */
void sm_report_mistakes(sm_html *h, const sm_report_side *t, int false_accepts);
void sm_report_neighbours(sm_html *h, const sm_report_side *t);

#endif
