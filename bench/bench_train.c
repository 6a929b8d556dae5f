/* Times training steps of the exact seed network (batch 32 pairs of 3x256x256) against the reference PyTorch step. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adam.h"
#include "arch.h"
#include "init.h"
#include "loss.h"
#include "net.h"
#include "rng.h"

typedef struct options {
    int steps, warmup, pairs;
    int layers;   /* print per-layer timings */
    int impls;    /* print the oneDNN implementation of every step */
    int torch;    /* also time the PyTorch reference step */
    const char *arch_text;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_train [--steps N] [--warmup N] [--pairs B] [--layers] [--impls]\n"
            "                   [--no-torch] [--arch TEXT]\n"
            "Times forward + contrastive loss + backward + Adam on the seed network at B pairs\n"
            "(2B images of 3x256x256) and the recipe's PyTorch step, and prints both.\n");
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){5, 2, 32, 0, 0, 1, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--steps") && i + 1 < argc) o->steps = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && i + 1 < argc) o->warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--pairs") && i + 1 < argc) o->pairs = atoi(argv[++i]);
        else if (!strcmp(a, "--arch") && i + 1 < argc) o->arch_text = argv[++i];
        else if (!strcmp(a, "--layers")) o->layers = 1;
        else if (!strcmp(a, "--impls")) o->impls = 1;
        else if (!strcmp(a, "--no-torch")) o->torch = 0;
        else {
            usage();
            return -1;
        }
    }
    if (o->steps < 1 || o->warmup < 0 || o->pairs < 1) {
        usage();
        return -1;
    }
    return 0;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Multiply-adds of one layer's forward for n images (conv and linear only). */
static double layer_macs(const sm_layer *l, int n)
{
    if (l->kind == SM_LAYER_CONV2D)
        return (double)n * l->out_shape.c * l->out_shape.h * l->out_shape.w * l->in.c * l->kh *
               l->kw;
    if (l->kind == SM_LAYER_LINEAR)
        return (double)n * l->in.c * l->in.h * l->in.w * l->out;
    return 0.0;
}

/* FLOPs of one training step: forward, backward-weights, and backward-data for every
 * parameter layer but the first (no gradient for the input images). */
static double step_flops(const sm_arch *a, int n, double *fwd_flops)
{
    double fwd = 0.0, bwd = 0.0;
    int seen_param_layer = 0;
    for (int i = 0; i < a->n_layers; i++) {
        double m = layer_macs(&a->layers[i], n);
        fwd += 2.0 * m;
        bwd += 2.0 * m;
        if (m > 0.0 && seen_param_layer) bwd += 2.0 * m;
        if (m > 0.0) seen_param_layer = 1;
    }
    *fwd_flops = fwd;
    return fwd + bwd;
}

/* Runs the PyTorch reference step script; returns its median seconds per step (and CPU
 * seconds through *cpu) or -1. */
static double torch_median_seconds(const options *o, double *cpu)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/bench/torch_train_step.py --steps %d --warmup %d --batch %d",
             SIAMESE_SOURCE_DIR, o->steps, o->warmup, o->pairs);
    FILE *p = popen(cmd, "r");
    if (!p) return -1.0;
    char line[512];
    double med = -1.0;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        fflush(stdout);
        const char *m = strstr(line, "median_seconds=");
        if (m) med = atof(m + strlen("median_seconds="));
        const char *c = strstr(line, "median_cpu_seconds=");
        if (c) *cpu = atof(c + strlen("median_cpu_seconds="));
    }
    if (pclose(p) != 0) return -1.0;
    return med;
}

typedef struct trainer {
    sm_net *net;
    sm_adam adam;
    int pairs, dim;
    float *images, *emb, *demb, *labels;
} trainer;

static int trainer_init(trainer *t, const sm_arch *arch, int pairs)
{
    memset(t, 0, sizeof *t);
    sm_err err;
    sm_err_clear(&err);
    if (sm_net_create(arch, 2 * pairs, &t->net, &err) != SIAMESE_OK) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return -1;
    }
    const sm_param_table *table = sm_net_table(t->net);
    sm_rng rng;
    sm_rng_seed(&rng, 1);
    sm_init_params(table, arch, &rng, sm_net_params(t->net), sm_net_buffers(t->net),
                   sm_net_counters(t->net));
    if (sm_adam_init(&t->adam, table->n_params, 5e-4f, 0.9f, 0.999f, 1e-8f, 0.0f) != 0) return -1;
    t->pairs = pairs;
    t->dim = sm_arch_embedding_dim(arch);
    size_t img = (size_t)arch->input.c * arch->input.h * arch->input.w;
    t->images = malloc((size_t)2 * pairs * img * sizeof(float));
    t->emb = malloc((size_t)2 * pairs * t->dim * sizeof(float));
    t->demb = malloc((size_t)2 * pairs * t->dim * sizeof(float));
    t->labels = malloc((size_t)pairs * sizeof(float));
    if (!t->images || !t->emb || !t->demb || !t->labels) return -1;
    for (size_t i = 0; i < 2 * (size_t)pairs * img; i++) t->images[i] = (float)sm_rng_uniform(&rng);
    for (int i = 0; i < pairs; i++) t->labels[i] = (float)sm_rng_below(&rng, 2);
    return 0;
}

static void trainer_free(trainer *t)
{
    sm_net_free(t->net);
    sm_adam_free(&t->adam);
    free(t->images);
    free(t->emb);
    free(t->demb);
    free(t->labels);
}

/* One training step: both branches as one batch of 2B images, loss, backward, Adam. */
static int train_step(trainer *t, double *loss)
{
    sm_err err;
    sm_err_clear(&err);
    int B = t->pairs, D = t->dim;
    sm_net_zero_grads(t->net);
    if (sm_net_forward(t->net, t->images, 2 * B, 1, t->emb, &err) != SIAMESE_OK) goto fail;
    *loss = sm_contrastive_loss(SIAMESE_METRIC_EUCLIDEAN, 2.0, B, D, t->emb,
                                t->emb + (size_t)B * D, t->labels, NULL, t->demb,
                                t->demb + (size_t)B * D);
    if (sm_net_backward(t->net, t->demb, &err) != SIAMESE_OK) goto fail;
    sm_adam_step(&t->adam, sm_net_params(t->net), sm_net_grads(t->net));
    return 0;
fail:
    fprintf(stderr, "bench_train: %s\n", err.msg);
    return -1;
}

static void print_layers(const sm_arch *a, const double *fwd, const double *bwd, int steps,
                         double pairs_images)
{
    printf("\nper-layer seconds per step (relu after conv is fused into the conv):\n");
    printf("  %-3s %-10s %-8s %10s %10s %10s %10s\n", "#", "kind", "name", "forward", "backward",
           "fwd GF/s", "bwd GF/s");
    double tf = 0, tb = 0;
    for (int i = 0; i <= a->n_layers; i++) {
        double f = fwd[i] / steps, b = bwd[i] / steps;
        tf += f;
        tb += b;
        if (f == 0.0 && b == 0.0) continue;
        const char *kind = "io";
        const char *name = "";
        double m = 0.0;
        if (i < a->n_layers) {
            static const char *kinds[] = {"conv2d", "relu", "maxpool2d", "linear", "flatten",
                                          "batchnorm"};
            kind = kinds[a->layers[i].kind];
            name = a->layers[i].name;
            m = layer_macs(&a->layers[i], (int)pairs_images);
        }
        double bwd_flops = 2.0 * m * (i == 0 ? 1.0 : 2.0);
        printf("  %-3d %-10s %-8s %10.4f %10.4f %10.1f %10.1f\n", i, kind, name, f, b,
               f > 0 ? 2.0 * m / f * 1e-9 : 0.0, b > 0 ? bwd_flops / b * 1e-9 : 0.0);
    }
    printf("  total%*s %10.4f %10.4f\n", 16, "", tf, tb);
}

int main(int argc, char **argv)
{
    options o;
    if (parse_options(argc, argv, &o)) return 2;
    sm_shape input;
    const char *text = sm_arch_preset_text("seed", &input);
    if (o.arch_text) text = o.arch_text;
    sm_arch arch;
    sm_err err;
    sm_err_clear(&err);
    if (sm_arch_parse(text, input, &arch, &err) != SIAMESE_OK) {
        fprintf(stderr, "bench_train: %s\n", err.msg);
        return 1;
    }
    int n_img = 2 * o.pairs;
    double fwd_flops, flops = step_flops(&arch, n_img, &fwd_flops);
    printf("network: %s\ninput %dx%dx%d, %d pairs = %d images per step, %d threads\n", text,
           input.c, input.h, input.w, o.pairs, n_img, omp_get_max_threads());
    printf("work per step: %.1f GFLOP (forward %.1f)\n", flops * 1e-9, fwd_flops * 1e-9);

    trainer t;
    double t0 = now();
    if (trainer_init(&t, &arch, o.pairs)) return 1;
    if (o.impls) {
        size_t need = sm_net_describe(t.net, n_img, 1, NULL, 0, &err);
        char *buf = malloc(need + 1);
        if (buf && sm_net_describe(t.net, n_img, 1, buf, need + 1, &err)) printf("%s", buf);
        free(buf);
    }
    double loss = 0.0;
    for (int i = 0; i < o.warmup; i++)
        if (train_step(&t, &loss)) return 1;
    printf("set-up and %d warm-up steps: %.2f s\n", o.warmup, now() - t0);

    int L = arch.n_layers;
    double *tf = calloc((size_t)L + 1, sizeof *tf), *tb = calloc((size_t)L + 1, sizeof *tb);
    double *times = calloc((size_t)o.steps, sizeof *times);
    double *cpus = calloc((size_t)o.steps, sizeof *cpus);
    if (!tf || !tb || !times || !cpus) return 1;
    if (o.layers) sm_net_set_timers(t.net, tf, tb);
    for (int i = 0; i < o.steps; i++) {
        double s = now(), c = cpu_now();
        if (train_step(&t, &loss)) return 1;
        times[i] = now() - s;
        cpus[i] = cpu_now() - c;
        printf("step %d: %.3f s (cpu %.3f s) loss %.4f\n", i + 1, times[i], cpus[i], loss);
        fflush(stdout);
    }
    double med = median(times, o.steps), cmed = median(cpus, o.steps);
    double ours = o.pairs / med;
    if (o.layers) print_layers(&arch, tf, tb, o.steps, n_img);
    trainer_free(&t);

    printf("\nours:  median %.3f s/step, %.2f pairs/s, %.1f GFLOP/s (cpu %.3f s/step)\n", med,
           ours, flops / med * 1e-9, cmed);
    if (o.torch) {
        double tcpu = -1.0, tmed = torch_median_seconds(&o, &tcpu);
        if (tmed > 0) {
            double theirs = o.pairs / tmed;
            printf("torch: median %.3f s/step, %.2f pairs/s, %.1f GFLOP/s (cpu %.3f s/step)\n",
                   tmed, theirs, flops / tmed * 1e-9, tcpu);
            printf("ratio (ours / torch pairs/s): %.2fx", ours / theirs);
            if (tcpu > 0 && cmed > 0) printf("; cpu-time ratio (torch / ours): %.2fx", tcpu / cmed);
            printf("\n");
        } else {
            printf("torch: reference step failed to run\n");
        }
    }
    free(tf);
    free(tb);
    free(times);
    free(cpus);
    return 0;
}
