/* The embedded dataset and its verification pairs, shared by 'siamese eval' and 'calibrate'. */
#include "eval_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "progress.h"

typedef struct eval_progress {
    const char *command;
    int terminal;
    int quiet;
} eval_progress;

static void print_warning(void *user, const char *message) {
    const eval_progress *p = user;
    if (p->quiet) return;
    if (p->terminal) fputs("\r\033[K", stderr);
    fprintf(stderr, "siamese %s: warning: %s\n", p->command, message);
}

static void draw_progress(void *user, int done, int total) {
    const eval_progress *p = user;
    if (!p->terminal || p->quiet) return;
    fprintf(stderr, "\r\033[Kembedding %d/%d images", done, total);
    if (done == total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

static int open_dataset(const char *command, const char *path, eval_progress *prog,
                        siamese_dataset **out) {
    siamese_dataset_params dp = siamese_dataset_default_params();
    dp.warning = print_warning;
    dp.warning_user = prog;
    siamese_status st = siamese_dataset_open(path, &dp, out);
    if (st == SIAMESE_OK) return 1;
    const char *msg = *out ? siamese_dataset_errmsg(*out) : "";
    fprintf(stderr, "siamese %s: %s\n", command, *msg ? msg : siamese_status_str(st));
    siamese_dataset_free(*out);
    *out = NULL;
    return 0;
}

int eval_auto_batch(const siamese_model *model) {
    size_t floats = (size_t)siamese_model_channels(model) * (size_t)siamese_model_height(model) *
                    (size_t)siamese_model_width(model);
    size_t fit = ((size_t)32 << 20) / (floats ? floats : 1); /* 32 Mi floats = 128 MB */
    return fit > 1024 ? 1024 : fit < 16 ? 16 : (int)fit;
}

/* row_of_image from the embedding rows: each dataset image's row, -1 when it has none. */
static void map_rows(eval_set *s) {
    for (int i = 0; i < siamese_dataset_image_count(s->ds); i++) s->row_of_image[i] = -1;
    for (int r = 0; r < s->emb.count; r++) s->row_of_image[s->emb.image_index[r]] = r;
}

int eval_set_open(const char *command, siamese_model *model, const char *data_path, int batch,
                  int threads, int quiet, eval_set *out) {
    memset(out, 0, sizeof *out);
    eval_progress prog = {command, isatty(2), quiet};
    if (!open_dataset(command, data_path, &prog, &out->ds)) return 0;
    if (siamese_dataset_class_count(out->ds) == 0) { /* count the pairs before any skip */
        siamese_pairs stored = {NULL, 0};
        if (siamese_pairs_recipe(out->ds, NULL, 0, 1, 0, &stored) == SIAMESE_OK)
            out->stored_pairs = stored.count;
        siamese_pairs_free(&stored);
    }
    siamese_embed_params ep = siamese_embed_default_params();
    ep.batch_size = batch > 0 ? batch : eval_auto_batch(model);
    ep.threads = threads;
    ep.warning = print_warning;
    ep.warning_user = &prog;
    ep.progress = draw_progress;
    ep.progress_user = &prog;
    char msg[1024];
    double t0 = cli_now_seconds();
    siamese_status st = siamese_embed_dataset(model, out->ds, &ep, &out->emb, msg, sizeof msg);
    out->embed_seconds = cli_now_seconds() - t0;
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s: %s\n", command, data_path, msg);
        eval_set_free(out);
        return 0;
    }
    int images = siamese_dataset_image_count(out->ds);
    out->row_of_image = malloc((size_t)(images > 0 ? images : 1) * sizeof(int));
    if (!out->row_of_image) {
        fprintf(stderr, "siamese %s: out of memory\n", command);
        eval_set_free(out);
        return 0;
    }
    map_rows(out);
    return 1;
}

/* Moves row from to row to (to < from, row to already emptied); row from keeps no strings. */
static void move_row(siamese_embeddings *e, int to, int from) {
    if (to == from) return;
    memcpy(e->vectors + (size_t)to * e->dim, e->vectors + (size_t)from * e->dim,
           (size_t)e->dim * sizeof *e->vectors);
    e->labels[to] = e->labels[from];
    e->image_index[to] = e->image_index[from];
    e->names[to] = e->names[from];
    e->paths[to] = e->paths[from];
    e->names[from] = e->paths[from] = NULL;
}

/* Drops the embedding rows of images outside the split's test side. */
static void keep_test_side(eval_set *s) {
    siamese_embeddings *e = &s->emb;
    int kept = 0;
    for (int r = 0; r < e->count; r++) {
        if (siamese_split_image_side(s->held_out, e->image_index[r]) != 1) {
            free(e->names[r]);
            free(e->paths[r]);
            e->names[r] = e->paths[r] = NULL;
            continue;
        }
        move_row(e, kept++, r);
    }
    e->count = kept;
    map_rows(s);
}

int eval_set_hold_out(const char *command, eval_set *s, const char *split_path) {
    const char *data = siamese_dataset_path(s->ds);
    if (siamese_dataset_class_count(s->ds) == 0) {
        fprintf(stderr, "siamese %s: --held-out: %s has no classes to hold images out of\n",
                command, data);
        return 0;
    }
    siamese_status st = siamese_split_load(s->ds, split_path, &s->held_out);
    if (st != SIAMESE_OK) {
        int other_data = st == SIAMESE_ERR_FORMAT; /* a name not in DATA: another dataset's */
        fprintf(stderr, "siamese %s: --held-out: %s%s%s%s\n", command,
                s->held_out ? siamese_split_errmsg(s->held_out) : siamese_status_str(st),
                other_data ? " (it must be the split of a run trained on " : "",
                other_data ? data : "", other_data ? ")" : "");
        return 0;
    }
    if (siamese_split_get_kind(s->held_out) == SIAMESE_SPLIT_PAIRS) {
        fprintf(stderr,
                "siamese %s: --held-out: %s splits pairs, so it holds out no images (train with "
                "--split images or --split classes)\n",
                command, split_path);
        return 0;
    }
    keep_test_side(s);
    if (s->emb.count < 2) {
        fprintf(stderr, "siamese %s: --held-out: %s holds out %d usable image(s) of %s\n", command,
                split_path, s->emb.count, data);
        return 0;
    }
    return 1;
}

int eval_set_classes(const eval_set *s) {
    const siamese_embeddings *e = &s->emb;
    unsigned char *seen = calloc((size_t)e->class_count + 1, 1);
    int classes = 0;
    for (int r = 0; seen && r < e->count; r++) {
        int label = e->labels[r];
        if (label < 0 || label >= e->class_count || seen[label]) continue;
        seen[label] = 1;
        classes++;
    }
    int counted = seen != NULL;
    free(seen);
    return counted ? classes : e->class_count;
}

void eval_set_free(eval_set *s) {
    if (!s) return;
    siamese_split_free(s->held_out);
    siamese_embeddings_free(&s->emb);
    siamese_dataset_free(s->ds);
    free(s->row_of_image);
    memset(s, 0, sizeof *s);
}

/* Row pairs (a[i], b[i], label[i]) being collected. */
typedef struct row_pairs {
    int *a, *b;
    float *label;
    int n, cap;
} row_pairs;

static int push(row_pairs *p, int a, int b, int label) {
    int cap_b = p->cap, cap_label = p->cap; /* three arrays, one capacity */
    if (!cli_grow((void **)&p->b, &cap_b, p->n + 1, sizeof *p->b) ||
        !cli_grow((void **)&p->label, &cap_label, p->n + 1, sizeof *p->label) ||
        !cli_grow((void **)&p->a, &p->cap, p->n + 1, sizeof *p->a))
        return 0;
    p->a[p->n] = a, p->b[p->n] = b, p->label[p->n] = (float)label;
    p->n++;
    return 1;
}

/* splitmix64 step: the CLI's own small seeded generator for dissimilar draws. */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Every similar pair of rows, then as many dissimilar ones drawn at random (seeded). */
static int all_pairs(const siamese_embeddings *e, uint64_t seed, row_pairs *p) {
    for (int i = 0; i < e->count; i++)
        for (int j = i + 1; j < e->count; j++)
            if (e->labels[i] >= 0 && e->labels[i] == e->labels[j] && !push(p, i, j, 0)) return 0;
    int similar = p->n, tries = 0;
    uint64_t state = seed ^ 0x414c4c5041495253ull; /* "ALLPAIRS" */
    while (p->n < 2 * similar && tries++ < 100 * similar + 1000) {
        int a = (int)(next_random(&state) % (uint64_t)e->count);
        int b = (int)(next_random(&state) % (uint64_t)e->count);
        if (e->labels[a] < 0 || e->labels[b] < 0 || e->labels[a] == e->labels[b]) continue;
        if (!push(p, a, b, 1)) return 0;
    }
    return 1;
}

/* Dataset pairs (stored or the recipe's draw) mapped to embedding rows. */
static int dataset_pairs(const char *command, eval_set *s, const eval_pair_options *o, row_pairs *p,
                         int *dropped) {
    siamese_pairs pairs = {NULL, 0};
    siamese_status st = siamese_pairs_recipe(s->ds, s->held_out, s->held_out ? 1 : 0, o->per_class,
                                             o->seed, &pairs);
    if (st != SIAMESE_OK) {
        fprintf(stderr, "siamese %s: %s\n", command, siamese_dataset_errmsg(s->ds));
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < pairs.count && ok; i++) {
        int a = s->row_of_image[pairs.items[i].a], b = s->row_of_image[pairs.items[i].b];
        if (a < 0 || b < 0) (*dropped)++;
        else ok = push(p, a, b, pairs.items[i].label);
    }
    if (s->stored_pairs > pairs.count) *dropped += s->stored_pairs - pairs.count;
    siamese_pairs_free(&pairs);
    if (!ok) fprintf(stderr, "siamese %s: out of memory for the pairs\n", command);
    return ok;
}

int eval_set_pairs(const char *command, eval_set *s, siamese_metric metric,
                   const eval_pair_options *o, float **distances, float **labels, int *n,
                   int *dropped) {
    return eval_set_pair_rows(command, s, metric, o, distances, labels, n, dropped, NULL, NULL);
}

int eval_set_pair_rows(const char *command, eval_set *s, siamese_metric metric,
                       const eval_pair_options *o, float **distances, float **labels, int *n,
                       int *dropped, int **rows_a, int **rows_b) {
    row_pairs p = {NULL, NULL, NULL, 0, 0};
    *dropped = 0;
    *distances = *labels = NULL;
    *n = 0;
    int classes = siamese_dataset_class_count(s->ds) > 0;
    int ok = classes && o->all_pairs ? all_pairs(&s->emb, o->seed, &p)
                                     : dataset_pairs(command, s, o, &p, dropped);
    if (!ok && classes && o->all_pairs) fprintf(stderr, "siamese %s: out of memory\n", command);
    if (ok && p.n == 0) {
        fprintf(stderr, "siamese %s: %s: no usable pairs\n", command, siamese_dataset_path(s->ds));
        ok = 0;
    }
    float *d = ok ? malloc((size_t)p.n * sizeof *d) : NULL;
    if (ok && !d) {
        fprintf(stderr, "siamese %s: out of memory\n", command);
        ok = 0;
    }
    if (ok) {
        siamese_eval_pair_distances(metric, s->emb.vectors, s->emb.dim, p.a, p.b, p.n, d);
        *distances = d;
        *labels = p.label;
        *n = p.n;
        p.label = NULL;
        if (rows_a) *rows_a = p.a, p.a = NULL;
        if (rows_b) *rows_b = p.b, p.b = NULL;
    }
    free(p.a);
    free(p.b);
    free(p.label);
    return ok;
}
