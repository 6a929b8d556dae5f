/* Ensembles: several networks judged as one model, embedding an image as their embeddings side by side. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define UNIT_EPS 1e-8 /* as nn/loss.c: a norm is clamped to at least eps */

/* 1 when two face aligners compute the same landmarks: one architecture, bit-identical
 * parameters (and buffers). */
static int same_aligner(const siamese_model *a, const siamese_model *b) {
    const sm_param_table *ta = sm_net_table(a->net), *tb = sm_net_table(b->net);
    return strcmp(a->arch_text, b->arch_text) == 0 && a->arch.input.c == b->arch.input.c &&
           a->arch.input.h == b->arch.input.h && a->arch.input.w == b->arch.input.w &&
           ta->n_params == tb->n_params && ta->n_buffers == tb->n_buffers &&
           !memcmp(sm_net_params(a->net), sm_net_params(b->net), ta->n_params * sizeof(float)) &&
           !memcmp(sm_net_buffers(a->net), sm_net_buffers(b->net), ta->n_buffers * sizeof(float));
}

/* Why member m's face aligner keeps it from joining member 0 (first), or NULL: all members have
 * one and the same, or none has. */
static const char *aligner_unfit(const siamese_model *m, const siamese_model *first) {
    if (!m->aligner != !first->aligner)
        return m->aligner ? "has a face aligner while member 0 has none"
                          : "has no face aligner while member 0 has one";
    if (m->aligner && !same_aligner(m->aligner, first->aligner))
        return "'s face aligner differs from member 0's";
    return NULL;
}

/* Why members cannot form an ensemble, or NULL when they can. */
static const char *members_unfit(siamese_model *const *members, int n, int *bad) {
    for (int i = 0; i < n; i++) {
        *bad = i;
        const siamese_model *m = members[i], *first = members[0];
        if (!m || !m->net) return m && m->n_members ? "is itself an ensemble" : "holds no network";
        for (int j = 0; j < i; j++)
            if (members[j] == m) return "is given twice";
        if (m->arch.input.c != first->arch.input.c || m->arch.input.h != first->arch.input.h ||
            m->arch.input.w != first->arch.input.w)
            return "takes another input geometry than member 0";
        if (m->metric != first->metric) return "has another metric than member 0";
        const char *why = aligner_unfit(m, first);
        if (why) return why;
    }
    return NULL;
}

/* The members' one face aligner (if they have one) becomes the ensemble's: member 0's moves,
 * the others' identical copies are freed. */
static void take_aligner(siamese_model *e, siamese_model *const *members, int n) {
    e->aligner = members[0]->aligner;
    for (int i = 0; i < n; i++) {
        if (i > 0) siamese_model_free(members[i]->aligner);
        members[i]->aligner = NULL;
    }
}

static siamese_status make_ensemble(siamese_model *const *members, int n, siamese_model **out,
                                    sm_err *err) {
    int bad = 0;
    const char *why = members_unfit(members, n, &bad);
    if (why) /* "member 1 has ...", "member 1's ..." */
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "ensemble: member %d%s%s", bad,
                       why[0] == '\'' ? "" : " ", why);
    siamese_model *e = calloc(1, sizeof *e);
    siamese_model **own = calloc((size_t)n, sizeof *own);
    if (!e || !own) {
        free(e);
        free(own);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "ensemble: out of memory");
    }
    double margin = 0;
    for (int i = 0; i < n; i++) {
        own[i] = members[i];
        margin += members[i]->margin;
    }
    e->members = own;
    e->n_members = n;
    e->arch.input = members[0]->arch.input;
    snprintf(e->arch_text, sizeof e->arch_text, "ensemble of %d networks", n);
    e->margin = (float)(margin / n);
    e->metric = members[0]->metric;
    e->threshold = -1.0f;
    e->threads = members[0]->threads;
    take_aligner(e, members, n);
    *out = e;
    return SIAMESE_OK;
}

siamese_status siamese_model_ensemble(siamese_model *const *members, int n, siamese_model **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    sm_err err;
    sm_err_clear(&err);
    siamese_status st =
        !members ? sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "ensemble: no members given")
        : n < 2 || n > SIAMESE_ENSEMBLE_MAX
            ? sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "ensemble: needs 2 to %d members, not %d",
                      SIAMESE_ENSEMBLE_MAX, n)
            : make_ensemble(members, n, out, &err);
    if (st != SIAMESE_OK) *out = sm_model_error_handle(&err);
    return st;
}

int siamese_model_members(const siamese_model *model) { return model ? model->n_members : 0; }

siamese_model *siamese_model_member(siamese_model *model, int i) {
    return model && i >= 0 && i < model->n_members ? model->members[i] : NULL;
}

siamese_status sm_ensemble_refuse(siamese_model *model, const char *context, const char *action) {
    return sm_fail(&model->err, SIAMESE_ERR_UNSUPPORTED,
                   "%s: the model is an ensemble of %d networks, which cannot %s", context,
                   model->n_members, action);
}

/* ---------------------------------------------------------------- embedding */

/* One member's row as the ensemble uses it: unit length under cosine, centred and unit length
 * under correlation, then times scale. */
static void place_row(const float *row, int dim, siamese_metric metric, float scale, float *out) {
    double mean = 0, norm = 0;
    if (metric == SIAMESE_METRIC_CORRELATION) {
        for (int j = 0; j < dim; j++) mean += row[j];
        mean /= dim;
    }
    for (int j = 0; j < dim; j++) norm += (row[j] - mean) * (row[j] - mean);
    double k = metric == SIAMESE_METRIC_EUCLIDEAN ? scale : scale / fmax(sqrt(norm), UNIT_EPS);
    for (int j = 0; j < dim; j++) out[j] = (float)((row[j] - mean) * k);
}

siamese_status sm_ensemble_embed(siamese_model *model, const float *images, int n, float *out) {
    int total = siamese_model_embedding_dim(model), at = 0;
    float scale = (float)(1.0 / sqrt((double)model->n_members));
    siamese_status st = SIAMESE_OK;
    for (int i = 0; st == SIAMESE_OK && i < model->n_members; i++) {
        siamese_model *m = model->members[i];
        int dim = siamese_model_embedding_dim(m);
        float *rows = malloc((size_t)(n ? n : 1) * (size_t)dim * sizeof *rows);
        m->threads = model->threads;
        st = rows ? siamese_model_embed(m, images, n, rows)
                  : sm_fail(&m->err, SIAMESE_ERR_NOMEM, "embed: out of memory");
        if (st != SIAMESE_OK) {
            sm_fail(&model->err, st, "ensemble member %d: %s", i, m->err.msg);
        } else {
            for (int r = 0; r < n; r++)
                place_row(rows + (size_t)r * dim, dim, model->metric, scale,
                          out + (size_t)r * total + at);
        }
        free(rows);
        at += dim;
    }
    return st;
}
