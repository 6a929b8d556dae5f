/* Precision chosen by measurement: times the model's forward pass in fp32 and bf16 once and caches
 * the faster per CPU model and network in the user's cache folder (a small text file). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnnl.h>

#include "base/fileio.h"
#include "base/util.h"
#include "model/model.h"
#include "nn/net.h"

#define PROBE_BATCH_MAX 8      /* images per timed forward: a fraction of a second */
#define PROBE_REPEATS 3        /* timed forwards per precision at least (the fastest counts) */
#define PROBE_MIN_SECONDS 0.02 /* ... and more, up to 100, until this much CPU time is spent */
#define BF16_MIN_GAIN 0.05     /* bf16 only when at least 5% faster: fp32 is the exact one */
#define CACHE_MAX_ENTRIES 64   /* the newest entries are kept */
#define CACHE_MAX_BYTES 65536  /* a larger file is not ours: ignored */
#define CACHE_FILE "precision.tsv"

/* "AMD EPYC (family 25, model 17)": the model name and numbers from /proc/cpuinfo. */
static void cpu_model(char *buf, size_t size) {
    char line[256], name[128] = "unknown CPU";
    int family = -1, model = -1;
    FILE *fp = fopen("/proc/cpuinfo", "r");
    while (fp && fgets(line, sizeof line, fp)) {
        if (sscanf(line, "model name : %127[^\n]", name) == 1) continue;
        if (family < 0 && sscanf(line, "cpu family : %d", &family) == 1) continue;
        if (model < 0) sscanf(line, "model : %d", &model);
        if (line[0] == '\n') break; /* the first processor is enough */
    }
    if (fp) fclose(fp);
    snprintf(buf, size, "%s (family %d, model %d)", name, family, model);
    for (char *c = buf; *c; c++)
        if (*c == '\t' || *c == '\n') *c = ' ';
}

static uint64_t fnv1a(uint64_t h, const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The cache key: CPU, oneDNN's ISA, library version, network text, input geometry and batch. */
static uint64_t cache_key(const siamese_model *m, const char *cpu, int batch) {
    char extra[128];
    snprintf(extra, sizeof extra, "|isa %d|%s|%dx%dx%d|batch %d", (int)dnnl_get_effective_cpu_isa(),
             siamese_version(), m->arch.input.c, m->arch.input.h, m->arch.input.w, batch);
    return fnv1a(fnv1a(fnv1a(14695981039346656037ULL, cpu), m->arch_text), extra);
}

/* $XDG_CACHE_HOME/siamese or ~/.cache/siamese (malloc'd), NULL when neither is known. */
static char *cache_folder(void) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/') return sm_path_join(xdg, "siamese");
    if (!home || home[0] != '/') return NULL;
    char *dot = sm_path_join(home, ".cache");
    char *folder = dot ? sm_path_join(dot, "siamese") : NULL;
    free(dot);
    return folder;
}

/* One cache line: "KEY<TAB>CHOICE<TAB>FP32_S<TAB>BF16_S<TAB>BATCH<TAB>CPU". 1 when well formed. */
static int parse_line(const char *line, uint64_t *key, siamese_precision_choice *c) {
    char text[512], choice[8], cpu[sizeof c->cpu];
    size_t len = strcspn(line, "\n");
    if (len >= sizeof text) return 0;
    memcpy(text, line, len); /* one line only: the scan's whitespace never reaches the next */
    text[len] = '\0';
    unsigned long long k = 0;
    if (sscanf(text, "%16llx\t%7[a-z0-9]\t%lf\t%lf\t%d\t%127[^\n]", &k, choice, &c->fp32_seconds,
               &c->bf16_seconds, &c->batch, cpu) != 6)
        return 0;
    if (siamese_precision_parse(choice, &c->precision) != SIAMESE_OK ||
        c->precision == SIAMESE_PRECISION_AUTO || !(c->fp32_seconds > 0) ||
        !(c->bf16_seconds > 0) || c->batch < 1)
        return 0;
    snprintf(c->cpu, sizeof c->cpu, "%s", cpu);
    *key = k;
    return 1;
}

/* The cache's text (malloc'd, NUL-terminated) or NULL when there is none or it cannot be read. */
static char *read_cache(const char *path) {
    unsigned char *data = NULL;
    size_t size = 0;
    sm_err err = {0};
    if (sm_read_file_max(path, CACHE_MAX_BYTES, &data, &size, &err) != SIAMESE_OK) return NULL;
    return (char *)data;
}

/* Finds key in the cache text; 1 and *out filled when present and well formed. */
static int cache_lookup(const char *text, uint64_t key, siamese_precision_choice *out) {
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        uint64_t k = 0;
        siamese_precision_choice c = {0};
        if (parse_line(line, &k, &c) && k == key) {
            *out = c;
            return 1;
        }
    }
    return 0;
}

static void write_entry(FILE *fp, uint64_t key, const siamese_precision_choice *c) {
    fprintf(fp, "%016llx\t%s\t%.17g\t%.17g\t%d\t%s\n", (unsigned long long)key,
            siamese_precision_name(c->precision), c->fp32_seconds, c->bf16_seconds, c->batch,
            c->cpu);
}

/* Rewrites the cache atomically: the well-formed old entries with other keys (the newest
 * CACHE_MAX_ENTRIES - 1), then this one. 1 when written. */
static int cache_store(const char *folder, const char *path, const char *old, uint64_t key,
                       const siamese_precision_choice *c) {
    sm_err err = {0};
    if (sm_make_dirs(folder, &err) != SIAMESE_OK) return 0;
    sm_atomic_file af;
    if (sm_atomic_open(&af, path, &err) != SIAMESE_OK) return 0;
    fprintf(af.fp, "# siamese --precision auto: key choice fp32_seconds bf16_seconds batch cpu\n");
    int lines = 0;
    for (const char *l = old; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        uint64_t k = 0;
        siamese_precision_choice e = {0};
        if (parse_line(l, &k, &e) && k != key) lines++;
    }
    for (const char *l = old; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        uint64_t k = 0;
        siamese_precision_choice e = {0};
        if (parse_line(l, &k, &e) && k != key && lines-- < CACHE_MAX_ENTRIES)
            write_entry(af.fp, k, &e);
    }
    write_entry(af.fp, key, c);
    return sm_atomic_commit(&af, &err) == SIAMESE_OK;
}

/* CPU seconds of the whole process (all threads): the work done, which other programs sharing the
 * cores disturb far less than the wall clock. */
static double cpu_seconds(void) {
    struct timespec t;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0) return sm_now_seconds();
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* CPU seconds of the fastest of the timed forwards of n images (after one untimed forward that
 * builds the plan), in the precision set; < 0 on failure. */
static double time_forward(siamese_model *m, const float *images, int n, float *emb) {
    if (siamese_model_embed(m, images, n, emb) != SIAMESE_OK) return -1;
    double best = -1;
    double spent = 0;
    for (int r = 0; r < 100 && (r < PROBE_REPEATS || spent < PROBE_MIN_SECONDS); r++) {
        double t0 = cpu_seconds();
        if (siamese_model_embed(m, images, n, emb) != SIAMESE_OK) return -1;
        double t = cpu_seconds() - t0;
        spent += t;
        if (best < 0 || t < best) best = t;
    }
    return best;
}

/* bf16 when it was timed and is at least BF16_MIN_GAIN faster, else fp32 (the exact one). */
static siamese_precision faster(double fp32_seconds, double bf16_seconds) {
    return bf16_seconds > 0 && bf16_seconds < (1.0 - BF16_MIN_GAIN) * fp32_seconds
               ? SIAMESE_PRECISION_BF16
               : SIAMESE_PRECISION_FP32;
}

/* Times fp32 and bf16 on a zero batch of n images; leaves the model in fp32. */
static siamese_status measure(siamese_model *m, int n, siamese_precision_choice *c) {
    size_t per = (size_t)m->arch.input.c * m->arch.input.h * m->arch.input.w;
    float *images = calloc((size_t)n * per, sizeof(float));
    float *emb = malloc((size_t)n * (size_t)sm_arch_embedding_dim(&m->arch) * sizeof(float));
    siamese_status st = images && emb ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
    if (st == SIAMESE_OK) {
        sm_net_set_bf16(m->net, 0);
        c->fp32_seconds = time_forward(m, images, n, emb);
        sm_net_set_bf16(m->net, 1);
        c->bf16_seconds = time_forward(m, images, n, emb);
        sm_net_set_bf16(m->net, 0);
        if (c->fp32_seconds < 0 || c->bf16_seconds < 0) st = SIAMESE_ERR_BACKEND;
    }
    free(images);
    free(emb);
    if (st == SIAMESE_ERR_NOMEM) return sm_fail(&m->err, st, "precision auto: out of memory");
    if (st != SIAMESE_OK) sm_err_prefix(&m->err, "precision auto");
    c->precision = faster(c->fp32_seconds, c->bf16_seconds);
    return st;
}

/* An ensemble's choice: its members' times summed, for one precision for all of them. */
static siamese_status choose_for_members(siamese_model *model, int batch,
                                         siamese_precision_choice *out) {
    siamese_status st = SIAMESE_OK;
    out->from_cache = 1;
    for (int i = 0; st == SIAMESE_OK && i < model->n_members; i++) {
        siamese_precision_choice c;
        siamese_model *m = model->members[i];
        st = siamese_precision_choose(m, batch, &c);
        if (st != SIAMESE_OK) {
            sm_fail(&model->err, st, "ensemble member %d: %s", i, m->err.msg);
            break;
        }
        out->fp32_seconds += c.fp32_seconds;
        out->bf16_seconds += c.bf16_seconds;
        out->batch = c.batch;
        out->from_cache &= c.from_cache;
        out->cache_written |= c.cache_written;
        snprintf(out->cpu, sizeof out->cpu, "%s", c.cpu);
    }
    out->precision = faster(out->fp32_seconds, out->bf16_seconds);
    return st;
}

siamese_status siamese_precision_choose(siamese_model *model, int batch,
                                        siamese_precision_choice *out) {
    if (!model || !out) return SIAMESE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!sm_model_ready(model))
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "precision auto: no model loaded");
    if (model->n_members) return choose_for_members(model, batch, out);
    out->batch = batch < 1 ? PROBE_BATCH_MAX : batch > PROBE_BATCH_MAX ? PROBE_BATCH_MAX : batch;
    cpu_model(out->cpu, sizeof out->cpu);
    out->precision = SIAMESE_PRECISION_FP32;
    if (!sm_bf16_supported()) return SIAMESE_OK; /* nothing to compare: fp32, not measured */
    uint64_t key = cache_key(model, out->cpu, out->batch);
    char *folder = cache_folder();
    char *path = folder ? sm_path_join(folder, CACHE_FILE) : NULL;
    char *old = path ? read_cache(path) : NULL;
    siamese_status st = SIAMESE_OK;
    siamese_precision_choice cached = {0};
    if (old && cache_lookup(old, key, &cached)) {
        snprintf(cached.cpu, sizeof cached.cpu, "%s", out->cpu);
        *out = cached;
        out->from_cache = 1;
    } else {
        int was_bf16 = sm_net_bf16(model->net);
        sm_threads_scope threads = sm_model_threads_enter(model);
        st = measure(model, out->batch, out);
        sm_threads_leave(threads);
        sm_net_set_bf16(model->net, was_bf16);
        if (st == SIAMESE_OK && path) out->cache_written = cache_store(folder, path, old, key, out);
    }
    free(old);
    free(path);
    free(folder);
    return st;
}
