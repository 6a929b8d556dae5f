/* resnet18 speed against PyTorch in one run: inference, a full training step, and a step with
 * everything but layer4 and fc frozen (no weight gradients there, batchnorm on running
 * statistics), fp32 on the same number of threads on both sides (default: all cores; Debian's
 * torch would start with 1 here); PyTorch's peer is bench/torch_resnet_speed.py.
 *
 *   bench_resnet [--batch N] [--steps N] [--side S] [--threads T] [--describe 0|1] [--profile 0|1]
 *                [--mode infer|train|train-frozen]
 *
 * --mode times that step only (default: all three).
 * --describe 1 prints oneDNN's implementation of every step of the inference and training plans
 * (a "ref" kernel there is the first thing to look at) and exits. --profile 1 prints, for each
 * mode, the mean seconds per step spent in every layer, forward and backward, and no PyTorch.
 * Prints the median wall-clock and CPU seconds of each (CPU seconds count every thread of the
 * process, so they are the steadier number on a loaded machine) and the ratios PyTorch / ours. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

#include "nn/arch.h"
#include "nn/net.h"

typedef struct options {
    int batch, steps, side, threads, describe, profile;
    const char *mode; /* "infer", "train", "train-frozen", or NULL: all three */
} options;

/* Median seconds of a step, wall clock and CPU time of the whole process. */
typedef struct timing {
    double wall, cpu;
} timing;

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Layers before layer4 (the stem, layer1-3) frozen: params and batchnorm statistics. */
static void freeze_before_layer4(sm_net *net) {
    const sm_arch *a = sm_net_arch(net);
    for (int i = 0; i < a->n_layers; i++) {
        if (strncmp(a->layers[i].name, "layer4", 6) == 0) break;
        sm_net_freeze_layer(net, i, 1, 1);
    }
}

/* Mean seconds per step of each layer (forward, backward), the busiest first; the last slot of
 * fwd / bwd is the network's input and output reorders. */
static void print_profile(const sm_net *net, const double *fwd, const double *bwd, int steps) {
    const sm_arch *a = sm_net_arch(net);
    double total_f = 0, total_b = 0;
    for (int i = 0; i <= a->n_layers; i++) {
        total_f += fwd[i] / steps;
        total_b += bwd[i] / steps;
    }
    printf("  total: forward %.3f s, backward %.3f s\n", total_f, total_b);
    for (int i = 0; i <= a->n_layers; i++) {
        if (fwd[i] + bwd[i] < 1e-3 * steps) continue;
        const char *name = i < a->n_layers ? a->layers[i].name : "(input/output)";
        printf("  %3d %-26s fwd %.4f s  bwd %.4f s\n", i, name, fwd[i] / steps, bwd[i] / steps);
    }
}

/* Median seconds of one step: mode 0 inference, 1 training step, 2 frozen training step. */
static timing time_ours(const options *o, int mode) {
    sm_shape in;
    const char *text = sm_arch_preset_text("resnet18", &in);
    sm_arch *arch = malloc(sizeof *arch);
    sm_err err;
    sm_err_clear(&err);
    sm_net *net = NULL;
    if (!arch || sm_arch_parse(text, (sm_shape){3, o->side, o->side}, arch, &err) ||
        sm_net_create(arch, o->batch, &net, &err)) {
        fprintf(stderr, "bench_resnet: %s\n", err.msg);
        exit(1);
    }
    free(arch);
    const sm_param_table *t = sm_net_table(net);
    float *params = sm_net_params_write(net);
    for (size_t i = 0; i < t->n_params; i++) params[i] = 0.01f * (float)((i % 7) - 3);
    for (int i = 0; i < t->n; i++)
        if (t->t[i].slot == SM_SLOT_RUNNING_VAR)
            for (size_t k = 0; k < t->t[i].count; k++) sm_net_buffers(net)[t->t[i].offset + k] = 1;
    if (mode == 2) freeze_before_layer4(net);
    if (o->describe) {
        static char text[1 << 16];
        sm_net_describe(net, o->batch, mode != 0, text, sizeof text, &err);
        printf("%s", text);
        sm_net_free(net);
        return (timing){0, 0};
    }
    size_t nx = (size_t)o->batch * 3 * o->side * o->side, ne = (size_t)o->batch * 128;
    float *x = calloc(nx, sizeof *x), *e = calloc(ne, sizeof *e), *de = calloc(ne, sizeof *de);
    for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 255) / 255.0f;
    for (size_t i = 0; i < ne; i++) de[i] = 1e-3f * (float)((i % 5) - 2);
    double times[64], cpu[64];
    int n = o->steps < 64 ? o->steps : 64;
    double *fwd = calloc((size_t)sm_net_arch(net)->n_layers + 1, sizeof *fwd);
    double *bwd = calloc((size_t)sm_net_arch(net)->n_layers + 1, sizeof *bwd);
    for (int s = -1; s < n; s++) { /* one warm-up step builds the plan */
        if (s == 0 && o->profile) sm_net_set_timers(net, fwd, bwd);
        /* training: the trainable layers' weights changed, as after an optimizer step (the
         * network re-lays their kernels' copies; the frozen layers' stay) */
        if (mode != 0) sm_net_params_write_trainable(net);
        double t0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
        if (sm_net_forward(net, x, o->batch, mode != 0, e, &err) ||
            (mode != 0 && sm_net_backward(net, de, &err))) {
            fprintf(stderr, "bench_resnet: %s\n", err.msg);
            exit(1);
        }
        if (s >= 0) {
            times[s] = clock_seconds(CLOCK_MONOTONIC) - t0;
            cpu[s] = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
        }
    }
    if (o->profile) print_profile(net, fwd, bwd, n);
    free(fwd);
    free(bwd);
    free(x);
    free(e);
    free(de);
    sm_net_free(net);
    return (timing){median(times, n), median(cpu, n)};
}

/* The peer's "torch result median_seconds=S" and "median_cpu_seconds=C" lines, or -1. */
static timing time_torch(const options *o, const char *mode) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/bench/torch_resnet_speed.py --mode %s --batch %d --steps %d "
             "--side %d --threads %d",
             SIAMESE_SOURCE_DIR, mode, o->batch, o->steps, o->side, o->threads);
    timing t = {-1, -1};
    FILE *p = popen(cmd, "r");
    if (!p) return t;
    char line[512];
    static const char wall[] = "torch result median_seconds=",
                      cpu[] = "torch result median_cpu_seconds=";
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, wall, sizeof wall - 1) == 0) t.wall = atof(line + sizeof wall - 1);
        if (strncmp(line, cpu, sizeof cpu - 1) == 0) t.cpu = atof(line + sizeof cpu - 1);
    }
    pclose(p);
    return t;
}

static int usage(void) {
    fprintf(stderr, "usage: bench_resnet [--batch N] [--steps N] [--side S] [--threads T] "
                    "[--describe 0|1] [--profile 0|1] [--mode infer|train|train-frozen]\n");
    return 2;
}

int main(int argc, char **argv) {
    options o = {8, 5, 224, omp_get_max_threads(), 0, 0, NULL};
    if (argc % 2 == 0) return usage(); /* options come in pairs: a lone word (--help) is none */
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batch") == 0) o.batch = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--steps") == 0) o.steps = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--side") == 0) o.side = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0) o.threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--describe") == 0) o.describe = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--profile") == 0) o.profile = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--mode") == 0) o.mode = argv[i + 1];
        else return usage();
    }
    if (o.batch < 1 || o.steps < 1 || o.side < 32 || o.threads < 1) return 2;
    omp_set_num_threads(o.threads);
    if (o.describe) {
        time_ours(&o, 1);
        return 0;
    }
    static const char *modes[] = {"infer", "train", "train-frozen"};
    int only = -1;
    for (int m = 0; m < 3 && o.mode; m++)
        if (strcmp(o.mode, modes[m]) == 0) only = m;
    if (o.mode && only < 0) return usage();
    printf("resnet18, %d images of 3x%dx%d, fp32, %d threads on both sides, median of %d steps\n",
           o.batch, o.side, o.side, o.threads, o.steps);
    for (int m = 0; m < 3; m++) {
        if (only >= 0 && m != only) continue;
        if (o.profile) {
            printf("%s:\n", modes[m]);
            time_ours(&o, m);
            continue;
        }
        timing ours = time_ours(&o, m), torch = time_torch(&o, modes[m]);
        printf("%-13s wall: ours %.3f s  pytorch %.3f s  pytorch/ours %.2fx  (%.1f images/s)\n",
               modes[m], ours.wall, torch.wall, torch.wall > 0 ? torch.wall / ours.wall : 0.0,
               o.batch / ours.wall);
        printf("%-13s CPU:  ours %.3f s  pytorch %.3f s  pytorch/ours %.2fx\n", "", ours.cpu,
               torch.cpu, torch.cpu > 0 ? torch.cpu / ours.cpu : 0.0);
        fflush(stdout);
    }
    return 0;
}
