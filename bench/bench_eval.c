/* Benchmark of 'siamese eval's targets on this machine (not a test): Lake's 20 one-shot runs
 * (800 images, omniglot preset) under 5 s; a 10,000-image retrieval evaluation with a 64-d
 * embedding (MNIST t10k, mnist preset) under 30 s; verification of 100,000 pairs drawn from those
 * 10,000 images costing no more than their embedding plus 1 s. Medians of --reps runs, each with
 * its ratio to the target. Weights are freshly initialized: speed does not depend on them.
 * Usage: bench_eval [--reps R] [--data DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "siamese.h"

typedef struct bench_opts {
    int reps;
    const char *data;
} bench_opts;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void print_machine(void) {
    char line[256], cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *colon = strchr(line, ':');
            if (colon) snprintf(cpu, sizeof cpu, "%s", colon + 2);
            cpu[strcspn(cpu, "\n")] = 0;
            break;
        }
    if (f) fclose(f);
    f = fopen("/proc/loadavg", "r");
    char load[128] = "?";
    if (f && fgets(load, sizeof load, f)) load[strcspn(load, "\n")] = 0;
    if (f) fclose(f);
    printf("cpu: %s (%d online), load average: %s\n", cpu, (int)sysconf(_SC_NPROCESSORS_ONLN),
           load);
}

static siamese_model *preset(const char *name) {
    siamese_model_params p = siamese_model_default_params();
    p.arch = name;
    siamese_model *m = NULL;
    if (siamese_model_create(&p, &m) != SIAMESE_OK) {
        fprintf(stderr, "bench_eval: cannot create the %s preset\n", name);
        exit(1);
    }
    return m;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A measured span: wall and process CPU seconds. */
typedef struct span {
    double wall, cpu;
} span;

static span span_start(void) { return (span){sm_now_seconds(), cpu_seconds()}; }

static span span_since(span start) {
    return (span){sm_now_seconds() - start.wall, cpu_seconds() - start.cpu};
}

/* Medians of the wall and CPU seconds of n spans. */
static span median_span(const span *v, int n) {
    double *w = malloc((size_t)n * sizeof *w), *c = malloc((size_t)n * sizeof *c);
    for (int i = 0; i < n; i++) w[i] = v[i].wall, c[i] = v[i].cpu;
    span m = {median(w, n), median(c, n)};
    free(w);
    free(c);
    return m;
}

/* Wall time against the target, and the process CPU time: on a shared machine the CPU seconds
 * divided by the cores say what an idle machine would take. */
static void report(const char *what, span m, double target) {
    printf("%-58s %8.3f s (cpu %7.3f s)  target %6.2f s  ratio %.2f %s\n", what, m.wall, m.cpu,
           target, m.wall / target, m.wall <= target ? "ok" : "MISSED");
}

/* Lake's runs: unzip all_runs.zip once, then score it R times. */
static void bench_lake(const bench_opts *o) {
    char zip[1024], dir[] = "/tmp/bench_eval_XXXXXX", cmd[2200];
    snprintf(zip, sizeof zip, "%s/omniglot/all_runs.zip", o->data);
    if (!mkdtemp(dir)) return;
    snprintf(cmd, sizeof cmd, "unzip -q '%s' -d '%s'", zip, dir);
    if (system(cmd) != 0) {
        printf("lake runs: skipped (cannot unzip %s)\n", zip);
        return;
    }
    siamese_model *m = preset("omniglot");
    span *t = calloc((size_t)o->reps, sizeof *t);
    for (int r = 0; r < o->reps; r++) {
        siamese_lake_runs res;
        char msg[512];
        span s = span_start();
        siamese_embed_params ep = siamese_embed_default_params();
        ep.batch_size = 1024; /* as siamese eval picks for 105 x 105 images */
        if (siamese_eval_lake_runs(m, dir, &ep, &res, msg, sizeof msg) != SIAMESE_OK) {
            printf("lake runs: %s\n", msg);
            break;
        }
        t[r] = span_since(s);
        siamese_lake_runs_free(&res);
    }
    report("Lake's 20 runs (800 images, omniglot preset), median", median_span(t, o->reps), 5.0);
    free(t);
    siamese_model_free(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_eval: cannot remove %s\n", dir);
}

/* 100,000 pairs of rows: half similar (same label), half dissimilar, from a fixed generator. */
static void draw_pairs(const siamese_embeddings *e, int n, int *a, int *b, float *y) {
    uint64_t s = 42;
    for (int i = 0; i < n;) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int x = (int)((s >> 33) % (uint64_t)e->count);
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int z = (int)((s >> 33) % (uint64_t)e->count);
        int want_similar = i % 2 == 0;
        if (x == z || (e->labels[x] == e->labels[z]) != want_similar) continue;
        a[i] = x, b[i] = z, y[i] = want_similar ? 0.0f : 1.0f;
        i++;
    }
}

static void bench_mnist(const bench_opts *o) {
    char path[1024];
    snprintf(path, sizeof path, "%s/mnist/t10k-images-idx3-ubyte.gz", o->data);
    siamese_dataset *ds = NULL;
    if (siamese_dataset_open(path, NULL, &ds) != SIAMESE_OK) {
        printf("mnist: skipped (%s)\n", ds ? siamese_dataset_errmsg(ds) : path);
        siamese_dataset_free(ds);
        return;
    }
    siamese_model *m = preset("mnist");
    enum { PAIRS = 100000 };
    int *a = malloc(PAIRS * sizeof *a), *b = malloc(PAIRS * sizeof *b);
    float *y = malloc(PAIRS * sizeof *y), *d = malloc(PAIRS * sizeof *d);
    span *te = calloc((size_t)o->reps, sizeof *te), *tr = calloc((size_t)o->reps, sizeof *tr);
    span *tv = calloc((size_t)o->reps, sizeof *tv);
    int *self = malloc(10000 * sizeof *self);
    siamese_embed_params ep = siamese_embed_default_params();
    ep.batch_size = 1024; /* as siamese eval picks for 28 x 28 images */
    for (int i = 0; i < 10000; i++) self[i] = i;
    for (int r = 0; r < o->reps; r++) {
        siamese_embeddings e;
        char msg[512];
        span s = span_start();
        if (siamese_embed_dataset(m, ds, &ep, &e, msg, sizeof msg) != SIAMESE_OK) {
            printf("mnist: %s\n", msg);
            break;
        }
        te[r] = span_since(s);
        siamese_retrieval ret;
        s = span_start();
        siamese_retrieval_params rp = siamese_retrieval_default_params();
        if (siamese_eval_retrieval(e.vectors, e.labels, e.count, e.vectors, e.labels, e.count,
                                   e.dim, self, &rp, &ret, msg, sizeof msg) != SIAMESE_OK)
            printf("retrieval: %s\n", msg);
        tr[r] = span_since(s);
        draw_pairs(&e, PAIRS, a, b, y);
        s = span_start();
        siamese_eval_pair_distances(SIAMESE_METRIC_EUCLIDEAN, e.vectors, e.dim, a, b, PAIRS, d);
        siamese_verification v;
        siamese_verification_params vp = siamese_verification_default_params(); /* 1000 resamples */
        siamese_eval_verification(d, y, PAIRS, &vp, &v);
        tv[r] = span_since(s);
        if (r == 0)
            printf("(MNIST t10k, untrained mnist preset: R@1 %.3f, MAP@R %.3f, AUC %.3f over %d "
                   "queries and %d pairs)\n",
                   ret.recall_1.value, ret.map_at_r.value, v.auc.value, ret.queries, v.pairs);
        siamese_embeddings_free(&e);
    }
    span me = median_span(te, o->reps), mr = median_span(tr, o->reps);
    span mv = median_span(tv, o->reps), all = {me.wall + mr.wall, me.cpu + mr.cpu};
    report("embed 10,000 MNIST images (mnist preset, 64-d), median", me, 30.0);
    report("retrieval on them (k-NN all vs all, 1000 resamples), median", mr, 30.0);
    report("10,000-image retrieval evaluation in all, median", all, 30.0);
    report("verification of 100,000 pairs beyond the embedding, median", mv, 1.0);
    free(a), free(b), free(y), free(d), free(te), free(tr), free(tv), free(self);
    siamese_model_free(m);
    siamese_dataset_free(ds);
}

int main(int argc, char **argv) {
    bench_opts o = {3, SIAMESE_DATA_DIR_DEFAULT};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) o.data = argv[++i];
        else {
            fprintf(stderr, "usage: bench_eval [--reps R] [--data DIR]\n");
            return 2;
        }
    }
    if (o.reps < 1) o.reps = 1;
    print_machine();
    bench_lake(&o);
    bench_mnist(&o);
    return 0;
}
