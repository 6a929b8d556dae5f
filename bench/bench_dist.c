/* Data-parallel training step under mpirun (issue 16): median step time and the time spent in
 * the gradient sum per step (ms and share of the step), per-layer overlap or one allreduce after
 * backward; without mpirun the one-process step with --threads threads, for the comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "base/util.h"
#include "model/model.h"
#include "nn/net.h"
#include "run/dist.h"
#include "run/trainer.h"
#include "siamese.h"

typedef struct options {
    const char *arch;
    int c, h, w;
    int pairs, steps, warmup, threads, overlap;
} options;

static int parse(int argc, char **argv, options *o) {
    *o = (options){"mnist", 0, 0, 0, 32, 20, 3, 1, 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return 0;
        if (!strcmp(a, "--arch")) o->arch = v;
        else if (!strcmp(a, "--input")) {
            if (sscanf(v, "%dx%dx%d", &o->c, &o->h, &o->w) != 3) return 0;
        } else if (!strcmp(a, "--pairs")) o->pairs = atoi(v);
        else if (!strcmp(a, "--steps")) o->steps = atoi(v);
        else if (!strcmp(a, "--warmup")) o->warmup = atoi(v);
        else if (!strcmp(a, "--threads")) o->threads = atoi(v);
        else if (!strcmp(a, "--overlap")) o->overlap = atoi(v);
        else return 0;
        i++;
    }
    return o->pairs > 0 && o->steps > 0 && o->warmup >= 0 && o->threads > 0;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double load_average(void) {
    double load = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &load) != 1) load = NAN;
    if (f) fclose(f);
    return load;
}

int main(int argc, char **argv) {
    options o;
    if (!parse(argc, argv, &o)) {
        fprintf(stderr,
                "usage: [mpirun -np N] bench_dist [--arch SPEC] [--input CxHxW] [--pairs B]\n"
                "       [--steps N] [--warmup N] [--threads T] [--overlap 0|1]\n");
        return 2;
    }
    siamese_dist_init(&argc, &argv);
    sm_err err;
    sm_err_clear(&err);
    sm_dist *dist = NULL;
    sm_dist_open(o.overlap, &dist, &err);
    int rank = sm_dist_rank(dist), ranks = sm_dist_size(dist);
    siamese_model_params mp = siamese_model_default_params();
    mp.arch = o.arch;
    if (o.c) mp.channels = o.c, mp.height = o.h, mp.width = o.w;
    mp.seed = 1;
    mp.threads = o.threads;
    siamese_model *model = NULL;
    siamese_trainer *trainer = NULL;
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.max_pairs = o.pairs;
    if (siamese_model_create(&mp, &model) != SIAMESE_OK ||
        siamese_trainer_create(model, &tp, &trainer) != SIAMESE_OK) {
        fprintf(stderr, "bench_dist: %s\n", model ? siamese_model_errmsg(model) : "out of memory");
        return 1;
    }
    sm_trainer_set_dist(trainer, dist);
    size_t floats = (size_t)o.pairs * siamese_model_channels(model) * siamese_model_height(model) *
                    siamese_model_width(model);
    float *a = malloc(floats * sizeof(float)), *b = malloc(floats * sizeof(float));
    float *labels = malloc((size_t)o.pairs * sizeof(float));
    sm_rng rng;
    sm_rng_seed(&rng, 3);
    for (size_t i = 0; i < floats; i++)
        a[i] = (float)sm_rng_uniform(&rng), b[i] = (float)sm_rng_uniform(&rng);
    for (int i = 0; i < o.pairs; i++) labels[i] = (float)(i % 2);
    double *step = malloc((size_t)o.steps * sizeof(double));
    double *comm = malloc((size_t)o.steps * sizeof(double));
    for (int s = 0; s < o.warmup + o.steps; s++) {
        sm_dist_reset_comm_seconds(dist);
        double t0 = sm_now_seconds();
        float loss;
        if (siamese_trainer_step(trainer, a, b, labels, o.pairs, &loss) != SIAMESE_OK) {
            fprintf(stderr, "bench_dist: %s\n", siamese_trainer_errmsg(trainer));
            return 1;
        }
        if (s >= o.warmup) {
            step[s - o.warmup] = sm_now_seconds() - t0;
            comm[s - o.warmup] = sm_dist_comm_seconds(dist);
        }
    }
    /* the gradient sum alone, every rank ready (sm_dist_any is a barrier): the transfer itself,
     * without the wait for the slowest rank that the step's number includes */
    double *alone = malloc(10 * sizeof(double));
    size_t n_grads = sm_net_table(model->net)->n_params;
    for (int i = 0; i < 10; i++) {
        sm_dist_any(dist, 0);
        double t0 = sm_now_seconds();
        sm_dist_grads_begin(dist, sm_net_grads(model->net), n_grads, NULL, 0);
        sm_dist_grads_end(dist);
        alone[i] = sm_now_seconds() - t0;
    }
    double alone_ms = 1e3 * median(alone, 10), alone_min_ms = 1e3 * alone[0]; /* sorted */
    free(alone);
    size_t params = siamese_model_param_count(model);
    double step_ms = 1e3 * median(step, o.steps), comm_ms = 1e3 * median(comm, o.steps);
    if (rank == 0)
        printf("%s, input %dx%dx%d, %zu parameters (%.1f MB of gradients), %d pairs a step: %d "
               "rank(s) x %d thread(s)%s: step %.1f ms, gradient sum %.1f ms (%.0f%% of the "
               "step), median of %d steps; the sum alone %.2f ms (fastest %.2f ms); load average "
               "%.1f\n",
               o.arch, siamese_model_channels(model), siamese_model_height(model),
               siamese_model_width(model), params, 4e-6 * (double)params, o.pairs, ranks, o.threads,
               ranks > 1 ? (sm_dist_overlap(dist) ? ", per-layer overlap" : ", one allreduce") : "",
               step_ms, comm_ms, 100 * comm_ms / step_ms, o.steps, alone_ms, alone_min_ms,
               load_average());
    free(step);
    free(comm);
    free(a);
    free(b);
    free(labels);
    siamese_trainer_free(trainer);
    siamese_model_free(model);
    sm_dist_free(dist);
    siamese_dist_finalize();
    return 0;
}
