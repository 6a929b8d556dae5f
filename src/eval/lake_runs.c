/* Lake's Omniglot one-shot runs (run01..run20, each with training/, test/ and class_labels.txt):
 * every test image goes to the nearest training image of its run; right when that is the one
 * its line of class_labels.txt names. Per run and overall 20-way one-shot accuracy. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/errors.h"
#include "base/fileio.h"
#include "base/util.h"
#include "siamese.h"

#define MAX_LABELS_BYTES (1 << 20)

/* A run folder: training/ holding image files directly (one per class) and test/. A data set
 * split into training/<class>/ and test/<class>/ folders is not one. */
static int has_run_layout(const char *dir) {
    char *train = sm_path_join(dir, "training"), *test = sm_path_join(dir, "test");
    int yes = train && test && sm_is_dir(train) && sm_is_dir(test);
    sm_dir_list files;
    if (yes && sm_list_dir(train, 0, &files, NULL) == SIAMESE_OK) {
        yes = files.count > 0;
        sm_dir_list_free(&files);
    } else {
        yes = 0;
    }
    free(train);
    free(test);
    return yes;
}

int siamese_lake_runs_detect(const char *path) {
    if (!path || !sm_is_dir(path)) return 0;
    if (has_run_layout(path)) return 1;
    sm_dir_list dirs;
    if (sm_list_dir(path, 1, &dirs, NULL) != SIAMESE_OK) return 0;
    int found = 0;
    for (int i = 0; i < dirs.count && !found; i++) {
        char *sub = sm_path_join(path, dirs.names[i]);
        found = sub && has_run_layout(sub);
        free(sub);
    }
    sm_dir_list_free(&dirs);
    return found;
}

void siamese_lake_runs_free(siamese_lake_runs *r) {
    if (!r) return;
    for (int i = 0; i < r->run_count; i++) free(r->runs[i].name);
    free(r->runs);
    memset(r, 0, sizeof *r);
}

/* One line of class_labels.txt, its two files resolved. */
typedef struct trial {
    int run;
    char *test;   /* resolved path of the test image */
    char *answer; /* resolved path of the training image it belongs to */
} trial;

typedef struct lake_job {
    trial *trials;
    int n_trials, cap_trials;
    char **run_dirs; /* [runs] */
    sm_err err;
} lake_job;

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A path of class_labels.txt: relative to the runs folder ("run01/test/item01.png", as Lake
 * writes them), else to the run folder itself. NULL when neither names a file. */
static char *resolve(const char *root, const char *run_dir, const char *token) {
    char *p = sm_path_join(root, token);
    if (p && file_exists(p)) return p;
    free(p);
    p = sm_path_join(run_dir, token);
    if (p && file_exists(p)) return p;
    free(p);
    const char *slash = strchr(token, '/');
    if (!slash) return NULL;
    p = sm_path_join(run_dir, slash + 1);
    if (p && file_exists(p)) return p;
    free(p);
    return NULL;
}

static siamese_status add_trial(lake_job *job, int run, char *test, char *answer) {
    if (sm_grow((void **)&job->trials, &job->cap_trials, job->n_trials + 1, sizeof *job->trials))
        return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    job->trials[job->n_trials++] = (trial){run, test, answer};
    return SIAMESE_OK;
}

/* Reads one line's two tokens into a and b (NUL-terminated in place); returns how many. */
static int split_line(char *line, char **a, char **b, char **extra) {
    char *tok[3] = {NULL, NULL, NULL};
    int n = 0;
    for (char *p = line; *p && n < 3;) {
        while (*p && isspace((unsigned char)*p)) *p++ = 0;
        if (!*p) break;
        tok[n++] = p;
        while (*p && !isspace((unsigned char)*p)) p++;
    }
    *a = tok[0], *b = tok[1], *extra = tok[2];
    return n;
}

static siamese_status read_labels(lake_job *job, const char *root, int run) {
    const char *run_dir = job->run_dirs[run];
    char *path = sm_path_join(run_dir, "class_labels.txt");
    if (!path) return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    unsigned char *text = NULL;
    size_t size = 0;
    siamese_status st = SIAMESE_OK;
    if (!file_exists(path))
        st = sm_fail(&job->err, SIAMESE_ERR_IO,
                     "%s: missing (a one-shot run folder needs class_labels.txt naming the "
                     "training image of every test image)",
                     path);
    else st = sm_read_file_max(path, MAX_LABELS_BYTES, &text, &size, &job->err);
    int line_no = 0, lines = 0;
    for (char *line = (char *)text; st == SIAMESE_OK && line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        line_no++;
        char *a, *b, *extra;
        int n = split_line(line, &a, &b, &extra);
        if (n != 0 && n != 2) {
            st = sm_fail(&job->err, SIAMESE_ERR_FORMAT,
                         "%s:%d: expected 'test_image training_image', got %d fields", path,
                         line_no, n);
            break;
        }
        if (n == 2) {
            char *test = resolve(root, run_dir, a),
                 *answer = test ? resolve(root, run_dir, b) : NULL;
            if (!test || !answer) {
                st = sm_fail(&job->err, SIAMESE_ERR_IO, "%s:%d: %s not found", path, line_no,
                             test ? b : a);
                free(test);
                break;
            }
            st = add_trial(job, run, test, answer);
            if (st != SIAMESE_OK) free(test), free(answer);
            lines++;
        }
        line = next;
    }
    if (st == SIAMESE_OK && lines == 0)
        st = sm_fail(&job->err, SIAMESE_ERR_FORMAT, "%s: no test lines", path);
    free(text);
    free(path);
    return st;
}

/* The run folders: path itself when it is one run, else its subfolders that are runs. *root
 * receives the folder class_labels.txt paths are relative to. */
static siamese_status find_runs(lake_job *job, const char *path, char **root, int *count) {
    *count = 0;
    if (has_run_layout(path)) {
        job->run_dirs = malloc(sizeof(char *));
        *root = sm_folder_of(path);
        if (!job->run_dirs || !*root || !(job->run_dirs[0] = sm_strdup(path)))
            return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
        *count = 1;
        return SIAMESE_OK;
    }
    sm_dir_list dirs;
    siamese_status st = sm_list_dir(path, 1, &dirs, &job->err);
    if (st != SIAMESE_OK) return st;
    job->run_dirs = calloc((size_t)dirs.count + 1, sizeof(char *));
    *root = sm_strdup(path);
    if (!job->run_dirs || !*root) st = sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    for (int i = 0; st == SIAMESE_OK && i < dirs.count; i++) {
        char *sub = sm_path_join(path, dirs.names[i]);
        if (!sub) st = sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
        else if (has_run_layout(sub)) job->run_dirs[(*count)++] = sub;
        else free(sub);
    }
    sm_dir_list_free(&dirs);
    if (st == SIAMESE_OK && *count == 0)
        st = sm_fail(&job->err, SIAMESE_ERR_DATA,
                     "%s: no one-shot run folders (each with training/, test/ and "
                     "class_labels.txt)",
                     path);
    return st;
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct image paths of all trials, sorted. */
static siamese_status distinct_paths(lake_job *job, char ***out, int *n) {
    char **all = malloc((size_t)(2 * job->n_trials + 1) * sizeof(char *));
    if (!all) return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    int m = 0;
    for (int i = 0; i < job->n_trials; i++) {
        all[m++] = job->trials[i].test;
        all[m++] = job->trials[i].answer;
    }
    qsort(all, (size_t)m, sizeof(char *), compare_paths);
    int k = 0;
    for (int i = 0; i < m; i++)
        if (k == 0 || strcmp(all[k - 1], all[i]) != 0) all[k++] = all[i];
    *out = all;
    *n = k;
    return SIAMESE_OK;
}

/* The index of path in the sorted distinct paths. */
static int index_of(char **paths, int n, const char *path) {
    char **hit = bsearch(&path, paths, (size_t)n, sizeof(char *), compare_paths);
    return hit ? (int)(hit - paths) : -1;
}

static int compare_ints(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The candidates of run r: its training images named in class_labels.txt, sorted, distinct. */
static int run_candidates(const lake_job *job, int r, char **paths, int n_paths, int *cand) {
    int n = 0;
    for (int i = 0; i < job->n_trials; i++)
        if (job->trials[i].run == r) cand[n++] = index_of(paths, n_paths, job->trials[i].answer);
    qsort(cand, (size_t)n, sizeof *cand, compare_ints);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || cand[k - 1] != cand[i]) cand[k++] = cand[i];
    return k;
}

/* Scores run r by Lake's rule: the nearest candidate (the first in sorted order on a tie) is
 * the answer; right when it is the training image the test image's line names. */
static void score_run(const lake_job *job, int r, const siamese_embeddings *e,
                      siamese_metric metric, char **paths, const int *rows, int n_paths, int *cand,
                      siamese_oneshot_run *out, int *skipped) {
    int n_cand = run_candidates(job, r, paths, n_paths, cand);
    for (int i = 0; i < job->n_trials; i++) {
        const trial *t = &job->trials[i];
        if (t->run != r) continue;
        int q = rows[index_of(paths, n_paths, t->test)];
        if (q < 0) {
            (*skipped)++;
            continue;
        }
        int best = -1;
        double best_d = 0;
        for (int c = 0; c < n_cand; c++) {
            if (rows[cand[c]] < 0) continue;
            double d = siamese_distance(metric, e->vectors + (size_t)q * e->dim,
                                        e->vectors + (size_t)rows[cand[c]] * e->dim, e->dim);
            if (best < 0 || d < best_d) best = cand[c], best_d = d;
        }
        out->total++;
        out->correct += best >= 0 && !strcmp(paths[best], t->answer);
    }
}

/* rows[i] = the embedding row of paths[i], -1 when it did not decode (rows keep input order). */
static void match_rows(const siamese_embeddings *e, char **paths, int n, int *rows) {
    int r = 0;
    for (int i = 0; i < n; i++) rows[i] = r < e->count && !strcmp(e->names[r], paths[i]) ? r++ : -1;
}

static void job_free(lake_job *job, int runs) {
    for (int i = 0; i < job->n_trials; i++) free(job->trials[i].test), free(job->trials[i].answer);
    free(job->trials);
    for (int i = 0; job->run_dirs && i < runs; i++) free(job->run_dirs[i]);
    free(job->run_dirs);
}

static siamese_status alloc_result(lake_job *job, int runs, siamese_lake_runs *out) {
    out->runs = calloc((size_t)runs, sizeof *out->runs);
    if (!out->runs) return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    out->run_count = runs;
    for (int r = 0; r < runs; r++) {
        const char *slash = strrchr(job->run_dirs[r], '/');
        out->runs[r].name = sm_strdup(slash && slash[1] ? slash + 1 : job->run_dirs[r]);
        if (!out->runs[r].name) return sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    return SIAMESE_OK;
}

/* Embeds the distinct images once and scores every run. */
static siamese_status embed_and_score(lake_job *job, siamese_model *model,
                                      const siamese_embed_params *params, siamese_lake_runs *out) {
    char **paths = NULL;
    int n = 0;
    siamese_status st = distinct_paths(job, &paths, &n);
    if (st != SIAMESE_OK) return st;
    siamese_embeddings e;
    st = siamese_embed_files(model, (const char *const *)paths, n, params, &e, job->err.msg,
                             sizeof job->err.msg);
    int *rows = st == SIAMESE_OK ? malloc((size_t)n * sizeof *rows) : NULL;
    int *cand = st == SIAMESE_OK ? malloc((size_t)n * sizeof *cand) : NULL;
    if (st == SIAMESE_OK && (!rows || !cand))
        st = sm_fail(&job->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) {
        match_rows(&e, paths, n, rows);
        out->images = e.count;
        out->skipped_images = e.skipped;
        for (int r = 0; r < out->run_count; r++) {
            score_run(job, r, &e, siamese_model_metric(model), paths, rows, n, cand, &out->runs[r],
                      &out->skipped);
            out->correct += out->runs[r].correct;
            out->total += out->runs[r].total;
        }
        out->accuracy = out->total > 0 ? (double)out->correct / out->total : 0;
    }
    siamese_embeddings_free(&e);
    free(rows);
    free(cand);
    free(paths);
    return st;
}

siamese_status siamese_eval_lake_runs(siamese_model *model, const char *path,
                                      const siamese_embed_params *params, siamese_lake_runs *out,
                                      char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "Lake's runs: no output given");
    memset(out, 0, sizeof *out);
    lake_job job;
    memset(&job, 0, sizeof job);
    char *root = NULL;
    int runs = 0;
    siamese_status st = SIAMESE_OK;
    if (!model || !path) st = sm_fail(&job.err, SIAMESE_ERR_INVALID_ARG, "no model or path");
    else if (!sm_is_dir(path))
        st = sm_fail(&job.err, SIAMESE_ERR_IO, "%s: not a folder of one-shot runs", path);
    if (st == SIAMESE_OK) st = find_runs(&job, path, &root, &runs);
    for (int r = 0; st == SIAMESE_OK && r < runs; r++) st = read_labels(&job, root, r);
    if (st == SIAMESE_OK) st = alloc_result(&job, runs, out);
    if (st == SIAMESE_OK) st = embed_and_score(&job, model, params, out);
    job_free(&job, runs);
    free(root);
    if (st != SIAMESE_OK) siamese_lake_runs_free(out);
    return sm_err_out(&job.err, st, errmsg, errmsg_size);
}
