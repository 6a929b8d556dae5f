/* Learning-rate schedules: linear warmup, then constant, step decay or cosine annealing. */
#include <math.h>

#include "base/util.h"
#include "siamese.h"

static const char *const schedule_names[] = {
    [SIAMESE_LR_CONSTANT] = "constant", [SIAMESE_LR_STEP] = "step", [SIAMESE_LR_COSINE] = "cosine"};
#define N_SCHEDULES ((int)(sizeof schedule_names / sizeof schedule_names[0]))

const char *siamese_lr_schedule_name(siamese_lr_schedule schedule) {
    return sm_name_of(schedule_names, N_SCHEDULES, (int)schedule);
}

siamese_status siamese_lr_schedule_parse(const char *name, siamese_lr_schedule *out) {
    int i = sm_name_index(name, schedule_names, N_SCHEDULES);
    if (i < 0 || !out) return SIAMESE_ERR_INVALID_ARG;
    *out = (siamese_lr_schedule)i;
    return SIAMESE_OK;
}

double siamese_lr_at(siamese_lr_schedule schedule, double lr, int64_t step, int64_t total_steps,
                     int64_t warmup_steps, int64_t step_every, double gamma) {
    if (step < 0) step = 0;
    if (warmup_steps > 0 && step < warmup_steps) return lr * (double)(step + 1) / warmup_steps;
    int64_t after = step - (warmup_steps > 0 ? warmup_steps : 0);
    if (schedule == SIAMESE_LR_STEP && step_every > 0)
        return lr * pow(gamma, (double)(after / step_every));
    if (schedule == SIAMESE_LR_COSINE) {
        int64_t span = total_steps - (warmup_steps > 0 ? warmup_steps : 0) - 1;
        if (span <= 0) return lr;
        double t = after >= span ? 1.0 : (double)after / span;
        return lr * 0.5 * (1.0 + cos(3.14159265358979323846 * t));
    }
    return lr;
}
