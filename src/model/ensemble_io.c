/* An ensemble's file: each member's tensors and metadata under "members.<i>.", the ensemble's own settings and face aligner ("align.*") beside them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "model/face_align.h"
#include "model/face_align_io.h"
#include "model/model.h"
#include "model/safetensors.h"

#define PREFIX_MAX 32 /* "members.15." */

/* ---------------------------------------------------------------- save */

/* The ensemble's file content: its members' parts renamed, its face aligner's tensors (if any),
 * and strings it owns. */
typedef struct ensemble_parts {
    sm_model_parts *members;
    sm_st_tensor *tensors;
    sm_st_meta *meta;
    char **strings; /* every renamed name and key */
    int n, n_meta, n_strings;
    sm_model_meta top;   /* the ensemble's own: format, members, input, embedding_dim, ... */
    sm_st_tensor *align; /* face_align_io.c's, names and input text in align_keep */
    char *align_keep;
    int n_align;
    sm_st_meta align_meta[SM_ALIGN_META];
} ensemble_parts;

static void free_parts(ensemble_parts *e, int n_members) {
    for (int i = 0; e->members && i < n_members; i++) sm_model_parts_free(&e->members[i]);
    for (int i = 0; i < e->n_strings; i++) free(e->strings[i]);
    free(e->members);
    free(e->tensors);
    free(e->meta);
    free(e->strings);
    free(e->align);
    free(e->align_keep);
}

/* prefix + text, kept in e->strings; NULL when out of memory. */
static const char *renamed(ensemble_parts *e, const char *prefix, const char *text) {
    size_t size = strlen(prefix) + strlen(text) + 1;
    char *s = malloc(size);
    if (!s) return NULL;
    snprintf(s, size, "%s%s", prefix, text);
    e->strings[e->n_strings++] = s;
    return s;
}

static int add_member(ensemble_parts *e, int i, const sm_model_parts *p) {
    char prefix[PREFIX_MAX];
    snprintf(prefix, sizeof prefix, SM_ENSEMBLE_PREFIX "%d.", i);
    for (int t = 0; t < p->n; t++) {
        sm_st_tensor *dst = &e->tensors[e->n++];
        *dst = p->tensors[t];
        if (!(dst->name = renamed(e, prefix, p->tensors[t].name))) return -1;
    }
    for (int m = 0; m < p->n_meta; m++) {
        sm_st_meta *dst = &e->meta[e->n_meta++];
        dst->value = p->meta[m].value;
        if (!(dst->key = renamed(e, prefix, p->meta[m].key))) return -1;
    }
    return 0;
}

/* The ensemble's own metadata and face aligner at the top level of its file, as one model's file
 * holds them. */
static void add_top(ensemble_parts *e) {
    for (int i = 0; i < e->top.n; i++) e->meta[e->n_meta++] = e->top.entries[i];
    for (int i = 0; i < e->n_align; i++) e->tensors[e->n++] = e->align[i];
    for (int i = 0; e->n_align && i < SM_ALIGN_META; i++) e->meta[e->n_meta++] = e->align_meta[i];
}

static siamese_status describe_members(siamese_model *model, ensemble_parts *e, sm_err *err) {
    siamese_status st =
        sm_align_tensors(model, &e->align, &e->n_align, e->align_meta, &e->align_keep, err);
    if (st != SIAMESE_OK) return st;
    sm_model_metadata(model, &e->top);
    int k = model->n_members, n = e->n_align, n_meta = e->top.n + SM_ALIGN_META;
    e->members = calloc((size_t)k, sizeof *e->members);
    if (!e->members) return sm_fail(err, SIAMESE_ERR_NOMEM, "ensemble save: out of memory");
    for (int i = 0; i < k; i++) {
        if (model->members[i]->aligner) /* given one after joining: its file could not load */
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                           "ensemble save: member %d has a face aligner of its own; give it to "
                           "the ensemble instead",
                           i);
        st = sm_model_describe(model->members[i], &e->members[i], err);
        if (st != SIAMESE_OK) return st;
        n += e->members[i].n;
        n_meta += e->members[i].n_meta;
    }
    e->tensors = calloc((size_t)n + 1, sizeof *e->tensors);
    e->meta = calloc((size_t)n_meta, sizeof *e->meta);
    e->strings = calloc((size_t)(n + n_meta), sizeof *e->strings);
    if (!e->tensors || !e->meta || !e->strings)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "ensemble save: out of memory");
    add_top(e);
    for (int i = 0; i < k; i++)
        if (add_member(e, i, &e->members[i]) != 0)
            return sm_fail(err, SIAMESE_ERR_NOMEM, "ensemble save: out of memory");
    return SIAMESE_OK;
}

siamese_status sm_ensemble_save(siamese_model *model, const char *path, sm_err *err) {
    ensemble_parts e;
    memset(&e, 0, sizeof e);
    siamese_status st = describe_members(model, &e, err);
    if (st == SIAMESE_OK) st = sm_safetensors_write(path, e.tensors, e.n, e.meta, e.n_meta, err);
    free_parts(&e, model->n_members);
    return st;
}

/* ---------------------------------------------------------------- load */

int sm_file_is_ensemble(const sm_st_file *file) {
    const char *format = sm_safetensors_meta(file, "format");
    return format && strcmp(format, SM_ENSEMBLE_FORMAT) == 0;
}

static siamese_status bad(sm_err *err, const char *path, const char *what, const char *value) {
    return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: the ensemble's %s%s%s%s", path, what,
                   value ? " '" : "", value ? value : "", value ? "'" : "");
}

/* Member number of a tensor name "members.<i>.<rest>", or -1. */
static int member_of(const char *name) {
    size_t skip = strlen(SM_ENSEMBLE_PREFIX);
    if (strncmp(name, SM_ENSEMBLE_PREFIX, skip) != 0) return -1;
    const char *dot = strchr(name + skip, '.');
    int i;
    if (!dot || sm_parse_int_n(name + skip, (size_t)(dot - name - skip), 0,
                               SIAMESE_ENSEMBLE_MAX - 1, &i) != 0)
        return -1;
    return i;
}

/* Every tensor is a member's, or the ensemble's face aligner's when the file says it has one. */
static siamese_status check_names(const char *path, const sm_st_file *file, int k, sm_err *err) {
    int aligns = sm_safetensors_meta(file, "align") != NULL;
    for (int i = 0; i < sm_safetensors_count(file); i++) {
        const char *name = sm_safetensors_get(file, i)->name;
        int m = member_of(name);
        if (aligns && !strncmp(name, SM_ALIGN_PREFIX, strlen(SM_ALIGN_PREFIX))) continue;
        if (m < 0 || m >= k)
            return sm_fail(err, SIAMESE_ERR_SHAPE,
                           "%s: tensor '%s' belongs to no member of the "
                           "ensemble of %d",
                           path, name, k);
    }
    return SIAMESE_OK;
}

/* Member i from its view of the file, loaded as one model is. */
static siamese_status load_member(const char *path, const sm_st_file *file, int i,
                                  sm_model_loader load_one, siamese_model **out, sm_err *err) {
    char prefix[PREFIX_MAX], label[SM_ERRMSG_MAX / 2];
    snprintf(prefix, sizeof prefix, SM_ENSEMBLE_PREFIX "%d.", i);
    snprintf(label, sizeof label, "%.400s, member %d", path, i);
    sm_st_file *view = NULL;
    siamese_status st = sm_safetensors_view(file, prefix, &view, err);
    if (st == SIAMESE_OK && sm_file_is_ensemble(view))
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: an ensemble inside an ensemble", label);
    if (st == SIAMESE_OK && sm_align_in_file(view))
        st = sm_fail(err, SIAMESE_ERR_FORMAT,
                     "%s: a face aligner inside a member (an ensemble's is at its top level)",
                     label);
    if (st == SIAMESE_OK) st = load_one(label, view, out, err);
    sm_safetensors_free(view);
    return st;
}

/* The ensemble's settings from the file's own metadata, checked against its members. */
static siamese_status read_top(const char *path, const sm_st_file *file, siamese_model *e,
                               sm_err *err) {
    const char *metric = sm_safetensors_meta(file, "metric");
    siamese_metric m;
    if (!metric || siamese_metric_parse(metric, &m) != SIAMESE_OK || m != e->metric)
        return bad(err, path, "metric is not its members'", metric);
    const char *dim = sm_safetensors_meta(file, "embedding_dim");
    int d;
    if (!dim || sm_parse_int(dim, 1, 1 << 30, &d) != 0 || d != siamese_model_embedding_dim(e))
        return bad(err, path, "embedding_dim is not its members' summed", dim);
    const char *threshold = sm_safetensors_meta(file, "threshold");
    if (threshold && sm_meta_float(threshold, &e->threshold) != 0)
        return bad(err, path, "threshold is not a number:", threshold);
    const char *source = sm_safetensors_meta(file, "threshold_source");
    if (source && e->threshold >= 0)
        snprintf(e->threshold_source, sizeof e->threshold_source, "%s", source);
    return SIAMESE_OK;
}

siamese_status sm_ensemble_from_file(const char *path, const sm_st_file *file,
                                     sm_model_loader load_one, siamese_model **out, sm_err *err) {
    *out = NULL;
    const char *count = sm_safetensors_meta(file, "members");
    int k = 0;
    if (!count || sm_parse_int(count, 2, SIAMESE_ENSEMBLE_MAX, &k) != 0) {
        char what[64];
        snprintf(what, sizeof what, "'members' is not a count from 2 to %d:", SIAMESE_ENSEMBLE_MAX);
        return bad(err, path, what, count);
    }
    siamese_model *members[SIAMESE_ENSEMBLE_MAX] = {0};
    siamese_status st = check_names(path, file, k, err);
    for (int i = 0; st == SIAMESE_OK && i < k; i++)
        st = load_member(path, file, i, load_one, &members[i], err);
    siamese_model *e = NULL;
    if (st == SIAMESE_OK && siamese_model_ensemble(members, k, &e) != SIAMESE_OK) {
        /* members that do not fit together: the file is bad, not the caller's argument */
        st = sm_fail(err, e ? SIAMESE_ERR_FORMAT : SIAMESE_ERR_NOMEM, "%s: %s", path,
                     e ? e->err.msg : "out of memory");
        siamese_model_free(e);
        e = NULL;
    }
    if (st != SIAMESE_OK) {
        for (int i = 0; i < k; i++) siamese_model_free(members[i]);
        return st;
    }
    st = read_top(path, file, e, err);
    if (st == SIAMESE_OK) st = sm_align_read(e, path, file, err);
    if (st != SIAMESE_OK) {
        siamese_model_free(e);
        return st;
    }
    *out = e;
    return SIAMESE_OK;
}
