/* Benchmark: exact top-k (siamese_knn, euclidean) over a 1,000,000 x 256 float32 gallery, one
 * query at a time and in batches of 256, against the machine's measured read bandwidth and numpy
 * brute force (bench/numpy_search.py) in the same run; then opening a 1M-row index file (mapped).
 * Usage: bench_search [--rows N] [--dim D] [--k K] [--batch B] [--reps R] [--no-numpy]
 *                     [--no-index-file] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "siamese.h"

#define NUMPY_SCRIPT SIAMESE_SOURCE_DIR "/bench/numpy_search.py"

typedef struct bench_opts {
    int rows, dim, k, batch, reps, numpy, index_file;
} bench_opts;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Standard normal numbers from a counter-based generator (splitmix64 + Box-Muller), filled in
 * parallel: the same values for any thread count. */
static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void fill_normal(float *v, size_t n, uint64_t seed) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((splitmix(seed + i) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (splitmix(seed + i + 1) >> 11) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1));
        v[i] = (float)(r * cos(6.283185307179586 * u2));
        if (i + 1 < n) v[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
}

/* Read bandwidth: the median time of summing the whole buffer on all threads. */
static double read_bandwidth(const float *v, size_t n) {
    double t[5];
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        double start = sm_now_seconds();
        float s = 0;
#pragma omp parallel for simd reduction(+ : s)
        for (size_t i = 0; i < n; i++) s += v[i];
        t[r] = sm_now_seconds() - start;
        sink += s;
    }
    (void)sink;
    return (double)n * sizeof(float) / median(t, 5) / 1e9;
}

static void print_machine(void) {
    char line[512], cpu[256] = "unknown";
    FILE *fp = fopen("/proc/cpuinfo", "r");
    while (fp && fgets(line, sizeof line, fp))
        if (sscanf(line, "model name : %255[^\n]", cpu) == 1) break;
    if (fp) fclose(fp);
    double load[3] = {0};
    fp = fopen("/proc/loadavg", "r");
    if (fp && fscanf(fp, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
    if (fp) fclose(fp);
    printf("cpu:     %s, %d threads\n", cpu, omp_get_max_threads());
    printf("load:    %.2f %.2f %.2f (1, 5, 15 min)\n", load[0], load[1], load[2]);
}

/* Median milliseconds per query of reps searches of nq queries each. */
static double time_search(const bench_opts *o, const float *gallery, const float *queries, int nq,
                          int reps) {
    int *idx = malloc((size_t)nq * o->k * sizeof(int));
    float *dist = malloc((size_t)nq * o->k * sizeof(float));
    double *t = malloc((size_t)reps * sizeof(double));
    for (int r = 0; r < reps; r++) {
        const float *q = queries + (size_t)(r % 16) * nq * o->dim;
        double start = sm_now_seconds();
        if (siamese_knn(SIAMESE_METRIC_EUCLIDEAN, q, nq, gallery, o->rows, o->dim, o->k, NULL, idx,
                        dist) != SIAMESE_OK) {
            fprintf(stderr, "siamese_knn failed\n");
            exit(1);
        }
        t[r] = (sm_now_seconds() - start) * 1e3 / nq;
    }
    double m = median(t, reps);
    free(idx);
    free(dist);
    free(t);
    return m;
}

/* numpy's median ms/query for batches of 1 and of o->batch (0 when it did not run). */
static void run_numpy(const bench_opts *o, double *one, double *many) {
    char cmd[1024], line[256], want[64];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %d %d %d %d %d", NUMPY_SCRIPT, o->rows, o->dim,
             o->k, o->batch, o->reps);
    snprintf(want, sizeof want, "numpy batch%d %%lf", o->batch);
    *one = *many = 0;
    FILE *py = popen(cmd, "r");
    while (py && fgets(line, sizeof line, py)) {
        if (sscanf(line, "numpy batch1 %lf", one) == 1) continue;
        sscanf(line, want, many);
    }
    if (py) pclose(py);
}

/* Writes the gallery as an index file, then times opening it (mapped) and a first search. */
static void bench_index_file(const bench_opts *o, const float *gallery, const float *query) {
    siamese_model_params mp = siamese_model_default_params();
    mp.arch = "linear(256)";
    mp.channels = mp.height = mp.width = 1;
    siamese_model *model = NULL;
    siamese_index *index = NULL;
    if (o->dim != 256 || siamese_model_create(&mp, &model) != SIAMESE_OK ||
        siamese_index_create(model, NULL, &index) != SIAMESE_OK) {
        printf("index:   skipped (needs --dim 256)\n");
        siamese_model_free(model);
        siamese_index_free(index);
        return;
    }
    char **names = malloc((size_t)o->rows * sizeof(char *));
    char *text = malloc((size_t)o->rows * 16);
    for (int i = 0; i < o->rows; i++) {
        names[i] = text + (size_t)i * 16;
        snprintf(names[i], 16, "item%d", i);
    }
    siamese_embeddings e = {
        .count = o->rows, .dim = o->dim, .vectors = (float *)gallery, .names = names};
    char path[] = "/tmp/bench_search_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    double t0 = sm_now_seconds();
    int ok = fd >= 0 && siamese_index_add(index, &e) == SIAMESE_OK &&
             siamese_index_save(index, path) == SIAMESE_OK;
    double t_save = sm_now_seconds() - t0;
    siamese_index_free(index);
    siamese_model_free(model);
    free(names);
    free(text);
    if (!ok) {
        printf("index:   could not write %s\n", path);
        remove(path);
        return;
    }
    index = NULL;
    t0 = sm_now_seconds();
    siamese_status st = siamese_index_open(path, &index);
    double t_open = sm_now_seconds() - t0;
    int idx[16];
    float dist[16];
    t0 = sm_now_seconds();
    if (st == SIAMESE_OK)
        st = siamese_index_search(index, query, 1, o->k < 16 ? o->k : 16, NULL, idx, dist);
    double t_first = sm_now_seconds() - t0;
    printf("index:   add+save %.0f ms, open %.2f ms (mapped), first search %.1f ms%s\n",
           t_save * 1e3, t_open * 1e3, t_first * 1e3, st == SIAMESE_OK ? "" : " (FAILED)");
    siamese_index_free(index);
    remove(path);
}

static bench_opts parse(int argc, char **argv) {
    bench_opts o = {1000000, 256, 10, 256, 9, 1, 1};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-numpy")) o.numpy = 0;
        else if (!strcmp(argv[i], "--no-index-file")) o.index_file = 0;
        else if (i + 1 < argc && !strcmp(argv[i], "--rows")) o.rows = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--dim")) o.dim = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--k")) o.k = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--batch")) o.batch = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps")) o.reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_search [--rows N] [--dim D] [--k K] [--batch B] "
                            "[--reps R] [--no-numpy] [--no-index-file]\n");
            exit(2);
        }
    }
    if (o.rows < 1 || o.dim < 1 || o.k < 1 || o.batch < 1 || o.reps < 1) exit(2);
    return o;
}

int main(int argc, char **argv) {
    bench_opts o = parse(argc, argv);
    size_t n = (size_t)o.rows * o.dim;
    float *gallery = malloc(n * sizeof(float));
    float *queries = malloc((size_t)16 * o.batch * o.dim * sizeof(float));
    if (!gallery || !queries) return fprintf(stderr, "out of memory\n"), 1;
    fill_normal(gallery, n, 1);
    fill_normal(queries, (size_t)16 * o.batch * o.dim, 1ULL << 40);
    print_machine();
    double gb = (double)n * sizeof(float) / 1e9;
    printf("gallery: %d x %d float32 (%.2f GB), top-%d, euclidean\n", o.rows, o.dim, gb, o.k);
    double bw = read_bandwidth(gallery, n);
    printf("memory:  %.1f GB/s read (all threads, median of 5 passes)\n", bw);
    double one = time_search(&o, gallery, queries, 1, o.reps);
    printf("ours:    batch 1:   %8.2f ms/query  (%.1f GB/s, %.0f%% of the measured bandwidth)\n",
           one, gb / (one / 1e3), 100.0 * gb / (one / 1e3) / bw);
    int reps_many = o.reps / 3 > 0 ? o.reps / 3 : 1;
    double many = time_search(&o, gallery, queries, o.batch, reps_many);
    printf("ours:    batch %-4d %8.2f ms/query  (%.1f GFLOP/s in the distance GEMM)\n", o.batch,
           many, 2.0 * o.dim * o.rows / (many / 1e3) / 1e9);
    if (o.numpy) {
        double np_one, np_many;
        run_numpy(&o, &np_one, &np_many);
        if (np_one > 0 && np_many > 0) {
            printf("numpy:   batch 1:   %8.2f ms/query   batch %d: %8.2f ms/query\n", np_one,
                   o.batch, np_many);
            printf("ratio:   numpy / ours = %.2fx (batch 1), %.2fx (batch %d)\n", np_one / one,
                   np_many / many, o.batch);
        } else {
            printf("numpy:   failed to run %s\n", NUMPY_SCRIPT);
        }
    }
    if (o.index_file) bench_index_file(&o, gallery, queries);
    free(gallery);
    free(queries);
    return 0;
}
