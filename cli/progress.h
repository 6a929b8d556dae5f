/* Training progress for humans and machines: a redrawn terminal line, plain log lines, or JSON. */
#ifndef SIAMESE_CLI_PROGRESS_H
#define SIAMESE_CLI_PROGRESS_H

#include "siamese.h"

/* Monotonic seconds (the one clock of the CLI's timings and progress lines). */
double cli_now_seconds(void);

typedef enum progress_mode { PROGRESS_AUTO, PROGRESS_QUIET, PROGRESS_JSON } progress_mode;

typedef struct progress {
    progress_mode mode;
    int terminal;     /* stderr is a terminal: redraw one line */
    double last_draw; /* monotonic seconds of the last redraw */
    int line_open;    /* a redrawn line is on screen without its newline */
    siamese_train_event last_epoch;
    int have_epoch;
    int warnings;
    siamese_train_event data; /* the DATA event's counts (lists not kept), when have_data */
    int have_data;
} progress;

void progress_init(progress *p, progress_mode mode);
/* The siamese_train_callback: user is a progress *. */
void progress_event(void *user, const siamese_train_event *event);
/* "ROC AUC 0.9731", or, when the test pairs are all of one kind (no AUC), a note saying so. */
void progress_format_auc(float auc, char *out, size_t size);
/* Ends a redrawn line before other output. */
void progress_finish(progress *p);

#endif
