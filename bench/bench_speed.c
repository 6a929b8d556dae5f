/* Side-by-side speed of a preset network (the seed network by default) against its PyTorch peer: training and inference throughput, peak memory, and the fraction of the machine's peak. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
#include "model/model.h"
#include "nn/arch.h"
#include "nn/net.h"
#include "nn/qnet.h"
#include "siamese.h"

typedef struct options {
    int steps, warmup;             /* ours */
    int torch_steps, torch_warmup; /* PyTorch (about 10x slower) */
    int pairs;
    int layers;       /* per-layer timings */
    int impls;        /* oneDNN implementation of every step */
    int torch;        /* run the PyTorch peer */
    int threads;      /* 0 = every core (or OMP_NUM_THREADS) */
    const char *arch; /* preset: seed, mnist, omniglot, ... */
    const char *precision;
    const char *child; /* "train" / "infer": this process is a measured child */
} options;

static void usage(void) {
    fprintf(
        stderr,
        "usage: bench_speed [--arch PRESET] [--steps N] [--warmup N] [--torch-steps N]\n"
        "                   [--torch-warmup N] [--pairs B] [--threads T]\n"
        "                   [--precision fp32|bf16|auto|int8] [--layers] [--impls] [--no-torch]\n"
        "Times a preset network's training step (B pairs = 2B images, contrastive loss, Adam;\n"
        "default the seed network on 3x256x256) and its inference (2B images, no gradients)\n"
        "against the same network in PyTorch (seed: the recipe's code; mnist, omniglot: the\n"
        "preset's layers, trained as our step does), each in a\n"
        "process of its own for its peak memory, then the machine's FMA peak and a large\n"
        "oneDNN convolution, and prints a table (GFLOP/s also per CPU-second against the FMA\n"
        "probe's per CPU-second peak: comparable under load). --threads T runs both sides and\n"
        "the probes on T threads. First it prints the CPU and what --precision\n"
        "auto chooses on it with both timings (with --impls, the oneDNN implementation of every\n"
        "inference step in fp32 and in bf16).\n"
        "int8: training runs in fp32; inference runs in int8 (calibrated on the random input\n"
        "images) and once more in fp32, side by side.\n");
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){5, 2, 3, 1, 32, 0, 0, 1, 0, "seed", "fp32", NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--steps") && more) o->steps = atoi(argv[++i]);
        else if (!strcmp(a, "--warmup") && more) o->warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--torch-steps") && more) o->torch_steps = atoi(argv[++i]);
        else if (!strcmp(a, "--torch-warmup") && more) o->torch_warmup = atoi(argv[++i]);
        else if (!strcmp(a, "--pairs") && more) o->pairs = atoi(argv[++i]);
        else if (!strcmp(a, "--precision") && more) o->precision = argv[++i];
        else if (!strcmp(a, "--arch") && more) o->arch = argv[++i];
        else if (!strcmp(a, "--threads") && more) o->threads = atoi(argv[++i]);
        else if (!strcmp(a, "--child") && more) o->child = argv[++i];
        else if (!strcmp(a, "--layers")) o->layers = 1;
        else if (!strcmp(a, "--impls")) o->impls = 1;
        else if (!strcmp(a, "--no-torch")) o->torch = 0;
        else {
            usage();
            return -1;
        }
    }
    if (o->steps < 1 || o->warmup < 0 || o->torch_steps < 1 || o->torch_warmup < 0 ||
        o->pairs < 1 || o->threads < 0 || !sm_arch_preset_text(o->arch, NULL) ||
        (strcmp(o->precision, "fp32") && strcmp(o->precision, "bf16") &&
         strcmp(o->precision, "auto") && strcmp(o->precision, "int8"))) {
        usage();
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- clocks, medians */

static double clock_seconds(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_seconds(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static long peak_rss_kb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* ---------------------------------------------------------------- work counts */

/* Multiply-adds of one layer's forward for n images (conv and linear only). */
static double layer_macs(const sm_layer *l, int n) {
    if (l->kind == SM_LAYER_CONV2D)
        return (double)n * l->out_shape.c * l->out_shape.h * l->out_shape.w * l->in.c * l->kh *
               l->kw;
    if (l->kind == SM_LAYER_LINEAR) return (double)n * l->in.c * l->in.h * l->in.w * l->out;
    return 0.0;
}

/* FLOPs of a forward, and of a training step: forward, backward-weights, and backward-data for
 * every parameter layer but the first (no gradient for the input images). */
static double forward_flops(const sm_arch *a, int n) {
    double f = 0.0;
    for (int i = 0; i < a->n_layers; i++) f += 2.0 * layer_macs(&a->layers[i], n);
    return f;
}

static double step_flops(const sm_arch *a, int n) {
    double total = 0.0;
    int seen = 0;
    for (int i = 0; i < a->n_layers; i++) {
        double m = layer_macs(&a->layers[i], n);
        total += (seen ? 6.0 : 4.0) * m;
        if (m > 0.0) seen = 1;
    }
    return total;
}

/* ---------------------------------------------------------------- the measured children */

static siamese_precision precision_of(const options *o) {
    siamese_precision p = SIAMESE_PRECISION_FP32;
    siamese_precision_parse(o->precision, &p);
    return p;
}

/* The precision of the conv probe: bf16 or fp32 (int8 is measured on the whole network). */
static const char *conv_precision(const options *o) {
    return precision_of(o) == SIAMESE_PRECISION_BF16 ? "bf16" : "fp32";
}

static siamese_model *make_model(const options *o) {
    siamese_model_params mp = siamese_model_default_params();
    mp.seed = 1;
    mp.arch = o->arch;
    mp.threads = o->threads;
    siamese_model *m = NULL;
    if (siamese_model_create(&mp, &m) != SIAMESE_OK) {
        fprintf(stderr, "bench_speed: %s\n", m ? siamese_model_errmsg(m) : "out of memory");
        siamese_model_free(m);
        return NULL;
    }
    siamese_precision want = precision_of(o);
    if (want == SIAMESE_PRECISION_INT8) return m; /* set after calibration (use_int8) */
    siamese_precision got = siamese_model_set_precision(m, want);
    if (want == SIAMESE_PRECISION_AUTO) printf("precision auto: %s\n", siamese_precision_name(got));
    else if (got != want) printf("notice: this CPU has no bf16 support; computing in fp32\n");
    return m;
}

static float *random_images(size_t count, uint64_t seed) {
    float *v = malloc(count * sizeof *v);
    if (!v) return NULL;
    sm_rng rng;
    sm_rng_seed(&rng, seed);
    for (size_t i = 0; i < count; i++) v[i] = (float)sm_rng_uniform(&rng);
    return v;
}

/* int8: calibrates m on the n images (the ranges of every conv / linear input) and sets int8. */
static int use_int8(siamese_model *m, const float *images, int n) {
    sm_err err;
    sm_err_clear(&err);
    sm_qnet *f32 = NULL;
    float *emb = malloc((size_t)n * (size_t)siamese_model_embedding_dim(m) * sizeof *emb);
    m->quant = sm_quant_create(&m->arch);
    siamese_status st = emb && m->quant ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
    if (st == SIAMESE_OK)
        st = sm_qnet_create(&m->arch, sm_net_table(m->net), sm_net_params(m->net),
                            sm_net_buffers(m->net), NULL, &f32, &err);
    if (st == SIAMESE_OK) st = sm_qnet_forward(f32, images, n, emb, &err);
    if (st == SIAMESE_OK) sm_qnet_observe(f32, m->quant);
    sm_qnet_free(f32);
    free(emb);
    if (st == SIAMESE_OK &&
        siamese_model_set_precision(m, SIAMESE_PRECISION_INT8) == SIAMESE_PRECISION_INT8)
        return 1;
    fprintf(stderr, "bench_speed: int8: %s\n", err.msg[0] ? err.msg : siamese_model_errmsg(m));
    return 0;
}

/* The per-layer CPU seconds of a step (sm_net_set_timers), their GFLOP/s and share of the step;
 * "other" is the step's CPU time outside the layers (input copy, loss, checks, Adam). The first
 * parameter layer's backward has no data gradient (the images need none). */
static void print_layers(const sm_arch *a, const double *fwd, const double *bwd, int steps, int n,
                         double step_cpu) {
    printf(
        "\nper-layer CPU seconds per step (mean of %d; a relu after a conv or batchnorm is fused "
        "into it; io = the input and output reorders):\n",
        steps);
    printf("  %-3s %-10s %-6s %9s %9s %9s %9s %7s\n", "#", "kind", "name", "forward", "backward",
           "fwd GF/s", "bwd GF/s", "% step");
    double tf = 0, tb = 0;
    int seen_params = 0;
    for (int i = 0; i <= a->n_layers; i++) {
        double f = fwd[i] / steps, b = bwd ? bwd[i] / steps : 0.0;
        double m = i < a->n_layers ? layer_macs(&a->layers[i], n) : 0.0;
        double bflops = 2.0 * m * (seen_params ? 2.0 : 1.0);
        if (m > 0.0) seen_params = 1;
        tf += f;
        tb += b;
        if (f == 0.0 && b == 0.0) continue;
        printf("  %-3d %-10s %-6s %9.4f %9.4f %9.1f %9.1f %6.1f%%\n", i,
               i < a->n_layers ? sm_layer_kind_name(a->layers[i].kind) : "io",
               i < a->n_layers ? a->layers[i].name : "", f, b, f > 0 ? 2.0 * m / f * 1e-9 : 0.0,
               b > 0 ? bflops / b * 1e-9 : 0.0, 100.0 * (f + b) / step_cpu);
    }
    printf("  layers total  %16.4f %9.4f %29.1f%%\n", tf, tb, 100.0 * (tf + tb) / step_cpu);
    if (bwd)
        printf("  other (input copy, loss, finite check, Adam): %.4f = %.1f%%\n",
               step_cpu - tf - tb, 100.0 * (step_cpu - tf - tb) / step_cpu);
}

static void print_impls(siamese_model *m, int n, int training) {
    sm_err err;
    sm_err_clear(&err);
    if (m->qnet) { /* int8 */
        size_t need = sm_qnet_describe(m->qnet, n, NULL, 0, &err);
        char *buf = need ? malloc(need + 1) : NULL;
        if (buf && sm_qnet_describe(m->qnet, n, buf, need + 1, &err)) printf("%s", buf);
        free(buf);
        return;
    }
    size_t need = sm_net_describe(m->net, n, training, NULL, 0, &err);
    char *buf = need ? malloc(need + 1) : NULL;
    if (buf && sm_net_describe(m->net, n, training, buf, need + 1, &err)) printf("%s", buf);
    free(buf);
}

/* The CPU, what --precision auto chooses for the seed network at this batch with both timings,
 * and with --impls the oneDNN implementation of every inference step in fp32 and in bf16. */
static void print_precision_choice(const options *o) {
    options fp32 = *o;
    fp32.precision = "fp32";
    siamese_model *m = make_model(&fp32);
    if (!m) return;
    int n = 2 * o->pairs;
    siamese_precision_choice c;
    if (siamese_precision_choose(m, n, &c) != SIAMESE_OK) {
        printf("precision auto: %s\n", siamese_model_errmsg(m));
    } else {
        printf("CPU: %s; oneDNN bf16 kernels: %s\n", c.cpu,
               siamese_bf16_supported() ? "yes" : "no");
        if (c.bf16_seconds > 0)
            printf(
                "precision auto: %s (forward of %d images in CPU time: fp32 %.1f ms, bf16 %.1f ms, "
                "bf16/fp32 = %.2f; %s)\n",
                siamese_precision_name(c.precision), c.batch, 1e3 * c.fp32_seconds,
                1e3 * c.bf16_seconds, c.bf16_seconds / c.fp32_seconds,
                c.from_cache ? "from the cache" : "measured now");
        else printf("precision auto: fp32 (no bf16 kernels on this CPU: nothing to compare)\n");
    }
    for (int bf16 = 0; o->impls && bf16 <= siamese_bf16_supported(); bf16++) {
        siamese_model_set_precision(m, bf16 ? SIAMESE_PRECISION_BF16 : SIAMESE_PRECISION_FP32);
        printf("oneDNN implementations, inference of %d images, %s:\n", n, bf16 ? "bf16" : "fp32");
        print_impls(m, n, 0);
    }
    siamese_model_free(m);
}

/* Runs warm-up + timed steps of one kind in this process and prints a "result" line. */
static int run_child(const options *o) {
    int training = !strcmp(o->child, "train");
    siamese_model *m = make_model(o);
    if (!m) return 1;
    int B = o->pairs, n = 2 * B;
    size_t img =
        (size_t)siamese_model_channels(m) * siamese_model_height(m) * siamese_model_width(m);
    float *images = random_images((size_t)n * img, 7);
    float *labels = malloc((size_t)B * sizeof *labels);
    float *emb = malloc((size_t)n * (size_t)siamese_model_embedding_dim(m) * sizeof *emb);
    int L = m->arch.n_layers;
    double *tf = calloc((size_t)L + 1, sizeof *tf), *tb = calloc((size_t)L + 1, sizeof *tb);
    double *times = calloc((size_t)o->steps, sizeof *times);
    double *cpus = calloc((size_t)o->steps, sizeof *cpus);
    siamese_trainer *t = NULL;
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.max_pairs = B;
    int rc = 1;
    if (!images || !labels || !emb || !tf || !tb || !times || !cpus) goto done;
    for (int i = 0; i < B; i++) labels[i] = (float)(i % 2);
    if (!training && precision_of(o) == SIAMESE_PRECISION_INT8 && !use_int8(m, images, n))
        goto done;
    if (training && siamese_trainer_create(m, &tp, &t) != SIAMESE_OK) {
        fprintf(stderr, "bench_speed: %s\n", t ? siamese_trainer_errmsg(t) : "out of memory");
        goto done;
    }
    if (o->impls) print_impls(m, n, training);
    for (int i = 0; i < o->warmup + o->steps; i++) {
        if (i == o->warmup && o->layers && m->qnet) sm_qnet_set_timers(m->qnet, tf);
        if (i == o->warmup && o->layers && !m->qnet)
            sm_net_set_timers(m->net, tf, training ? tb : NULL);
        double s = now(), c = cpu_now();
        float loss = 0.0f;
        siamese_status st =
            training ? siamese_trainer_step(t, images, images + (size_t)B * img, labels, B, &loss)
                     : siamese_model_embed(m, images, n, emb);
        if (st != SIAMESE_OK) {
            fprintf(stderr, "bench_speed: %s\n",
                    training ? siamese_trainer_errmsg(t) : siamese_model_errmsg(m));
            goto done;
        }
        if (i < o->warmup) continue;
        times[i - o->warmup] = now() - s;
        cpus[i - o->warmup] = cpu_now() - c;
        printf("  ours %s step %d: %.3f s (cpu %.3f s)%s%.4f\n", o->child, i - o->warmup + 1,
               times[i - o->warmup], cpus[i - o->warmup], training ? " loss " : " emb[0] ",
               training ? loss : emb[0]);
        fflush(stdout);
    }
    sm_net_set_timers(m->net, NULL, NULL);
    sm_qnet_set_timers(m->qnet, NULL);
    double med = median(times, o->steps), cmed = median(cpus, o->steps);
    if (o->layers) print_layers(&m->arch, tf, training ? tb : NULL, o->steps, n, cmed);
    printf("result median_seconds=%.5f median_cpu_seconds=%.5f maxrss_kb=%ld\n", med, cmed,
           peak_rss_kb());
    rc = 0;
done:
    siamese_trainer_free(t);
    siamese_model_free(m);
    free(images);
    free(labels);
    free(emb);
    free(tf);
    free(tb);
    free(times);
    free(cpus);
    return rc;
}

/* ---------------------------------------------------------------- running the children */

typedef struct measured {
    double seconds, cpu_seconds;
    long maxrss_kb;
    int ok;
} measured;

static void parse_result_line(const char *line, measured *r) {
    const char *s = strstr(line, "median_seconds=");
    const char *c = strstr(line, "median_cpu_seconds=");
    const char *k = strstr(line, "maxrss_kb=");
    if (!s || !c || !k) return;
    r->seconds = atof(s + strlen("median_seconds="));
    r->cpu_seconds = atof(c + strlen("median_cpu_seconds="));
    r->maxrss_kb = atol(k + strlen("maxrss_kb="));
    r->ok = r->seconds > 0;
}

/* Runs argv in a process of its own, echoing its output, and reads its "result" line. */
static measured run_measured(char *const argv[]) {
    measured r = {0, 0, 0, 0};
    int fd[2];
    if (pipe(fd) != 0) return r;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return r;
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[1024];
    while (in && fgets(line, sizeof line, in)) {
        if (!strncmp(line, "result ", 7) || !strncmp(line, "torch result ", 13))
            parse_result_line(line, &r);
        else fputs(line, stdout);
        fflush(stdout);
    }
    if (in) fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) r.ok = 0;
    return r;
}

static measured run_ours(const options *o, const char *kind) {
    char steps[16], warmup[16], pairs[16], threads[16];
    snprintf(steps, sizeof steps, "%d", o->steps);
    snprintf(warmup, sizeof warmup, "%d", o->warmup);
    snprintf(pairs, sizeof pairs, "%d", o->pairs);
    snprintf(threads, sizeof threads, "%d", o->threads);
    char *argv[20] = {
        "/proc/self/exe", "--child", (char *)kind,    "--steps",     steps,
        "--warmup",       warmup,    "--pairs",       pairs,         "--threads",
        threads,          "--arch",  (char *)o->arch, "--precision", (char *)o->precision};
    int k = 15;
    if (o->layers) argv[k++] = "--layers";
    if (o->impls) argv[k++] = "--impls";
    argv[k] = NULL;
    return run_measured(argv);
}

static measured run_torch(const options *o, const char *kind) {
    char script[1024], steps[16], warmup[16], pairs[16], threads[16];
    snprintf(script, sizeof script, "%s/bench/torch_speed.py", SIAMESE_SOURCE_DIR);
    snprintf(steps, sizeof steps, "%d", o->torch_steps);
    snprintf(warmup, sizeof warmup, "%d", o->torch_warmup);
    snprintf(pairs, sizeof pairs, "%d", o->pairs);
    snprintf(threads, sizeof threads, "%d", o->threads);
    char *argv[] = {"/usr/bin/python3", script,  "--mode",   (char *)kind,
                    "--steps",          steps,   "--warmup", warmup,
                    "--batch",          pairs,   "--arch",   (char *)o->arch,
                    "--threads",        threads, NULL};
    return run_measured(argv);
}

/* ---------------------------------------------------------------- the machine's peak */

#define FMA_CHAINS 12

/* iters rounds of FMA_CHAINS independent AVX-512 FMA chains (fp32, 16 lanes, 2 FLOPs each). */
__attribute__((target("avx512f"))) static float fma_chains(long iters) {
    __m512 acc[FMA_CHAINS];
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_set1_ps((float)k * 1e-3f);
    const __m512 mul = _mm512_set1_ps(0.999999f), add = _mm512_set1_ps(1e-6f);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_fmadd_ps(acc[k], mul, add);
    __m512 s = acc[0];
    for (int k = 1; k < FMA_CHAINS; k++) s = _mm512_add_ps(s, acc[k]);
    return _mm512_reduce_add_ps(s);
}

/* The same with AVX512-BF16 dot products (vdpbf16ps: 32 bf16 multiply-adds per instruction). */
__attribute__((target("avx512f,avx512bf16"))) static float bf16_chains(long iters) {
    __m512 acc[FMA_CHAINS];
    for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_set1_ps((float)k * 1e-3f);
    const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < FMA_CHAINS; k++) acc[k] = _mm512_dpbf16_ps(acc[k], a, a);
    __m512 s = acc[0];
    for (int k = 1; k < FMA_CHAINS; k++) s = _mm512_add_ps(s, acc[k]);
    return _mm512_reduce_add_ps(s);
}

typedef struct peak {
    double gflops;     /* every thread at once, wall clock */
    double cpu_gflops; /* per CPU-second (one core's peak, undisturbed by other processes) */
} peak;

/* Best GFLOP/s of kernel on every thread at once; flops_per_iter counts one thread's round. */
static peak peak_probe(float (*kernel)(long), double flops_per_iter) {
    long iters = 1 << 20;
    peak best = {0.0, 0.0};
    for (int round = 0; round < 5; round++) {
        double t0 = now(), c0 = cpu_now();
        float sink = 0.0f;
#pragma omp parallel reduction(+ : sink)
        sink += kernel(iters);
        double dt = now() - t0, dc = cpu_now() - c0;
        if (sink == 12345.0f) printf(" ");
        double flops = omp_get_max_threads() * (double)iters * flops_per_iter;
        if (flops / dt * 1e-9 > best.gflops) best.gflops = flops / dt * 1e-9;
        if (flops / dc * 1e-9 > best.cpu_gflops) best.cpu_gflops = flops / dc * 1e-9;
        if (dt < 0.3) iters *= 2, round--;
    }
    return best;
}

/* GFLOP/s of a large oneDNN convolution: the seed network's cnn2 (256 -> 256 channels, 5x5,
 * 31x31 input) forward on 2B images (at most 64), median of 3 after a warm-up. */
static double conv_probe(const options *o) {
    sm_arch arch;
    sm_err err;
    sm_err_clear(&err);
    sm_shape in = {256, 31, 31};
    if (sm_arch_parse("conv(256,k=5)", in, &arch, &err) != SIAMESE_OK) return -1.0;
    int n = 2 * o->pairs < 64 ? 2 * o->pairs : 64;
    sm_net *net = NULL;
    if (sm_net_create(&arch, n, &net, &err) != SIAMESE_OK) return -1.0;
    if (precision_of(o) == SIAMESE_PRECISION_BF16) sm_net_set_bf16(net, 1);
    size_t count = (size_t)n * in.c * in.h * in.w;
    float *x = random_images(count, 3);
    float *y = malloc((size_t)n * 256 * 27 * 27 * sizeof *y);
    double t[3], result = -1.0;
    if (x && y && sm_net_forward(net, x, n, 0, y, &err) == SIAMESE_OK) {
        int k = 0;
        for (; k < 3; k++) {
            double s = now();
            if (sm_net_forward(net, x, n, 0, y, &err) != SIAMESE_OK) break;
            t[k] = now() - s;
        }
        if (k == 3) result = forward_flops(&arch, n) / median(t, 3) * 1e-9;
    }
    free(x);
    free(y);
    sm_net_free(net);
    return result;
}

/* ---------------------------------------------------------------- the table */

typedef struct results {
    measured train, infer, torch_train, torch_infer;
    measured infer_fp32; /* --precision int8: the same inference in fp32 */
    peak fma, bf16;
    double conv;
} results;

/* Two decimals, four below 10 (a small network's CPU seconds). */
static void print_ratio_row(const char *what, double ours, double theirs, const char *fmt_unit) {
    printf("%-26s %12.*f", what, ours < 10 ? 4 : 2, ours);
    if (theirs > 0) printf(" %12.*f %9.2fx", theirs < 10 ? 4 : 2, theirs, ours / theirs);
    else printf(" %12s %10s", "-", "-");
    printf("  %s\n", fmt_unit);
}

/* The PyTorch peer builds these presets (bench/torch_speed.py). */
static int torch_has_preset(const char *arch) {
    return !strcmp(arch, "seed") || !strcmp(arch, "mnist") || !strcmp(arch, "omniglot");
}

static void print_load(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    char line[128] = "?";
    if (f && fgets(line, sizeof line, f)) line[strcspn(line, "\n")] = '\0';
    if (f) fclose(f);
    printf("load average: %s\n", line);
}

static void print_table(const options *o, const sm_arch *arch, const results *r) {
    int n = 2 * o->pairs;
    double tflops = step_flops(arch, n), iflops = forward_flops(arch, n);
    const measured *tt = &r->torch_train, *ti = &r->torch_infer;
    printf("\n== siamese %s vs PyTorch 1.13 fp32, %s network, %d pairs (%d images of %dx%dx%d), "
           "%d threads ==\n",
           o->precision, o->arch, o->pairs, n, arch->input.c, arch->input.h, arch->input.w,
           omp_get_max_threads());
    printf("%-26s %12s %12s %10s\n", "", "ours", "pytorch", "ratio");
    print_ratio_row("train pairs/s", r->train.ok ? o->pairs / r->train.seconds : 0,
                    tt->ok ? o->pairs / tt->seconds : 0, "(median step, wall clock)");
    print_ratio_row("train pairs per CPU-s", r->train.ok ? o->pairs / r->train.cpu_seconds : 0,
                    tt->ok ? o->pairs / tt->cpu_seconds : 0, "(median step, CPU time)");
    print_ratio_row("train CPU-s per step", r->train.cpu_seconds, tt->ok ? tt->cpu_seconds : 0,
                    "(ratio = ours / pytorch)");
    print_ratio_row("inference embeddings/s", r->infer.ok ? n / r->infer.seconds : 0,
                    ti->ok ? n / ti->seconds : 0, "(median batch, no gradients)");
    print_ratio_row("inference CPU-s per batch", r->infer.cpu_seconds, ti->ok ? ti->cpu_seconds : 0,
                    "(ratio = ours / pytorch)");
    print_ratio_row("train peak RSS MiB", r->train.maxrss_kb / 1024.0,
                    tt->ok ? tt->maxrss_kb / 1024.0 : 0, "(ratio = ours / pytorch)");
    print_ratio_row("inference peak RSS MiB", r->infer.maxrss_kb / 1024.0,
                    ti->ok ? ti->maxrss_kb / 1024.0 : 0, "(ratio = ours / pytorch)");
    if (r->infer_fp32.ok && r->infer.ok)
        printf("%-26s %12.2f %12.2f %9.2fx  (int8 / fp32, median batch, same process setup)\n",
               "int8 vs fp32 embeddings/s", n / r->infer.seconds, n / r->infer_fp32.seconds,
               r->infer_fp32.seconds / r->infer.seconds);
    double tg = r->train.ok ? tflops / r->train.seconds * 1e-9 : 0;
    double ig = r->infer.ok ? iflops / r->infer.seconds * 1e-9 : 0;
    printf("%-26s %12.1f  = %.0f%% of FMA peak %.0f GFLOP/s\n", "train GFLOP/s", tg,
           100.0 * tg / r->fma.gflops, r->fma.gflops);
    printf("%-26s %12.1f  = %.0f%% of FMA peak\n", "inference GFLOP/s", ig,
           100.0 * ig / r->fma.gflops);
    double tc = r->train.ok ? tflops / r->train.cpu_seconds * 1e-9 : 0;
    double ic = r->infer.ok ? iflops / r->infer.cpu_seconds * 1e-9 : 0;
    printf("%-26s %12.1f  = %.1f%% of the FMA peak per CPU-second %.1f GFLOP/s\n",
           "train GFLOP per CPU-s", tc, 100.0 * tc / r->fma.cpu_gflops, r->fma.cpu_gflops);
    printf("%-26s %12.1f  = %.1f%% of the FMA peak per CPU-second\n", "inference GFLOP per CPU-s",
           ic, 100.0 * ic / r->fma.cpu_gflops);
    printf("%-26s %12.1f  = %.0f%% of FMA peak (%s)\n", "large oneDNN conv GFLOP/s", r->conv,
           100.0 * r->conv / r->fma.gflops, conv_precision(o));
    if (r->bf16.gflops > 0)
        printf("%-26s %12.1f  (train = %.0f%% of it)\n", "bf16 dot-product peak", r->bf16.gflops,
               100.0 * tg / r->bf16.gflops);
    print_load();
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o)) return 2;
    if (o.threads > 0) omp_set_num_threads(o.threads);
    if (o.child) return run_child(&o);

    sm_shape input;
    const char *text = sm_arch_preset_text(o.arch, &input);
    sm_arch arch;
    sm_err err;
    sm_err_clear(&err);
    if (sm_arch_parse(text, input, &arch, &err) != SIAMESE_OK) {
        fprintf(stderr, "bench_speed: %s\n", err.msg);
        return 1;
    }
    int n = 2 * o.pairs;
    printf("%s network: %s\n%d pairs = %d images of %dx%dx%d per step, %d threads, %s\n", o.arch,
           text, o.pairs, n, input.c, input.h, input.w, omp_get_max_threads(), o.precision);
    printf("work: %.3f GFLOP per training step, %.3f GFLOP per inference batch (conv and linear "
           "multiply-adds x 2)\n",
           step_flops(&arch, n) * 1e-9, forward_flops(&arch, n) * 1e-9);
    print_load();

    printf("\n-- precision\n");
    print_precision_choice(&o);

    results r;
    memset(&r, 0, sizeof r);
    printf("\n-- ours, training (own process)\n");
    r.train = run_ours(&o, "train");
    printf("\n-- ours, inference (own process)\n");
    r.infer = run_ours(&o, "infer");
    if (precision_of(&o) == SIAMESE_PRECISION_INT8) {
        options fp32 = o;
        fp32.precision = "fp32";
        printf("\n-- ours, inference in fp32 for the int8 comparison (own process)\n");
        r.infer_fp32 = run_ours(&fp32, "infer");
    }
    if (o.torch && !torch_has_preset(o.arch)) {
        printf("\n(no PyTorch peer for the %s preset)\n", o.arch);
        o.torch = 0;
    }
    if (o.torch) {
        printf("\n-- PyTorch, training (own process)\n");
        r.torch_train = run_torch(&o, "train");
        printf("\n-- PyTorch, inference (own process)\n");
        r.torch_infer = run_torch(&o, "infer");
    }
    printf("\n-- machine peak\n");
    r.fma = peak_probe(fma_chains, FMA_CHAINS * 16 * 2);
    printf("AVX-512 FMA probe, %d threads: %.1f GFLOP/s (%.1f per CPU-second)\n",
           omp_get_max_threads(), r.fma.gflops, r.fma.cpu_gflops);
    if (__builtin_cpu_supports("avx512bf16")) {
        r.bf16 = peak_probe(bf16_chains, FMA_CHAINS * 32 * 2);
        printf("AVX512-BF16 dot-product probe: %.1f GFLOP/s (%.1f per CPU-second)\n", r.bf16.gflops,
               r.bf16.cpu_gflops);
    }
    r.conv = conv_probe(&o);
    printf("oneDNN conv 256->256 5x5 on %dx256x31x31 (%s): %.1f GFLOP/s\n", n < 64 ? n : 64,
           conv_precision(&o), r.conv);
    print_table(&o, &arch, &r);
    return r.train.ok && r.infer.ok && (!o.torch || (r.torch_train.ok && r.torch_infer.ok)) ? 0 : 1;
}
