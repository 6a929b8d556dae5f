/* N-way one-shot accuracy on a run's validation classes, scored after every epoch on the same
 * seeded episodes (within one class group when the run holds out whole groups). */
#include "run/val_oneshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threads.h"
#include "data/dataset.h"
#include "data/split.h"
#include "image/image.h"
#include "model/model.h"

/* Whether classes a and b have the same "GROUP/" prefix (classes without one: no group). */
static int same_group(const siamese_dataset *ds, int a, int b) {
    const char *x = ds->class_names[a], *y = ds->class_names[b];
    const char *sx = strchr(x, '/'), *sy = strchr(y, '/');
    if (!sx || !sy) return !sx && !sy;
    return sx - x == sy - y && !memcmp(x, y, (size_t)(sx - x));
}

/* The classes of the validation side with 2+ images, in class order, and each one's group
 * (0, 1, ... in order of appearance); *n_groups receives the number of groups. */
typedef struct val_classes {
    int *cls, *group, *group_size;
    int n, n_groups;
} val_classes;

static void val_classes_free(val_classes *vc) {
    free(vc->cls);
    free(vc->group);
    free(vc->group_size);
}

static siamese_status list_classes(const siamese_dataset *ds, const sm_class_members *m,
                                   val_classes *vc) {
    memset(vc, 0, sizeof *vc);
    vc->cls = malloc((size_t)(ds->n_classes + 1) * sizeof(int));
    vc->group = malloc((size_t)(ds->n_classes + 1) * sizeof(int));
    vc->group_size = calloc((size_t)(ds->n_classes + 1), sizeof(int));
    if (!vc->cls || !vc->group || !vc->group_size) return SIAMESE_ERR_NOMEM;
    for (int c = 0; c < ds->n_classes; c++) {
        if (m->start[c + 1] - m->start[c] < 2) continue;
        if (vc->n == 0 || !same_group(ds, vc->cls[vc->n - 1], c)) vc->n_groups++;
        vc->cls[vc->n] = c;
        vc->group[vc->n++] = vc->n_groups - 1;
        vc->group_size[vc->n_groups - 1]++;
    }
    return SIAMESE_OK;
}

/* Chooses the episode sets and lists the images in set order; returns the image count. */
static int plan_sets(sm_val_oneshot *v, const sm_class_members *m, const val_classes *vc,
                     int *images) {
    int use_groups = 0;
    for (int g = 0; v->grouped && g < vc->n_groups; g++) use_groups += vc->group_size[g] >= v->way;
    v->grouped = use_groups > 0;
    int n = 0, last_group = -1;
    v->n_sets = 0;
    for (int i = 0; i < vc->n; i++) {
        int g = vc->group[i];
        if (v->grouped && vc->group_size[g] < v->way) continue;
        if (v->n_sets == 0 || (v->grouped && g != last_group)) v->set_start[v->n_sets++] = n;
        last_group = g;
        int c = vc->cls[i];
        for (int k = m->start[c]; k < m->start[c + 1]; k++) {
            if (images) images[n] = m->members[k];
            n++;
        }
    }
    v->set_start[v->n_sets] = n;
    return n;
}

/* Image `image` as the loaders give it: resized, or its face chip (chips->make not NULL). */
static siamese_status decode_one(siamese_dataset *ds, int image, const siamese_loader_params *lp,
                                 const sm_loader_chips *chips, sm_image *img, sm_err *err) {
    siamese_image_options opts = siamese_image_default_options();
    opts.channels = lp->channels;
    opts.height = lp->height;
    opts.width = lp->width;
    opts.fast_jpeg = lp->fast_jpeg;
    if (!chips || !chips->make) return sm_ds_decode(ds, image, &opts, img, err);
    sm_image photo = {0, 0, 0, NULL};
    siamese_status st = sm_ds_decode(ds, image, &chips->photo, &photo, err);
    if (st == SIAMESE_OK) st = chips->make(chips->user, &photo, lp->channels, lp->width, img, err);
    sm_image_free(&photo);
    return st;
}

static siamese_status decode_all(sm_val_oneshot *v, siamese_dataset *ds, const int *images,
                                 const siamese_loader_params *lp, const sm_loader_chips *chips,
                                 sm_err *err) {
    for (int i = 0; i < v->n; i++) {
        sm_image img = {0, 0, 0, NULL};
        const char *name = ds->images[images[i]].name;
        siamese_status st = decode_one(ds, images[i], lp, chips, &img, err);
        if (st != SIAMESE_OK) {
            sm_err_prefix(err, "one-shot validation images");
            return st;
        }
        st = sm_image_to_tensor(&img, lp->mean, lp->std, v->tensors + (size_t)i * v->image_floats);
        sm_image_free(&img);
        if (st != SIAMESE_OK)
            return sm_fail(err, st, "one-shot validation images: %s: not a %dx%dx%d tensor", name,
                           lp->channels, lp->height, lp->width);
        v->labels[i] = ds->images[images[i]].class_id;
    }
    return SIAMESE_OK;
}

siamese_status sm_val_oneshot_open(sm_val_oneshot *v, siamese_dataset *ds,
                                   const siamese_split *val_split, const siamese_loader_params *lp,
                                   const sm_loader_chips *chips, int way, int grouped,
                                   uint64_t seed, sm_err *err) {
    memset(v, 0, sizeof *v);
    v->way = way;
    v->grouped = grouped;
    v->seed = seed;
    sm_class_members m;
    val_classes vc;
    memset(&vc, 0, sizeof vc);
    siamese_status st = sm_class_members_build(ds, val_split, 1, &m);
    if (st != SIAMESE_OK) return sm_fail(err, st, "%s", siamese_dataset_errmsg(ds));
    st = list_classes(ds, &m, &vc);
    int *images = NULL;
    if (st == SIAMESE_OK && vc.n < way)
        st = sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                     "%d-way one-shot validation needs %d validation classes with 2 images or "
                     "more; the run holds out %d (hold out more classes or groups, or lower "
                     "val_way)",
                     way, way, vc.n);
    else if (st == SIAMESE_OK) {
        v->set_start = malloc((size_t)(vc.n + 2) * sizeof(int));
        int n = v->set_start ? plan_sets(v, &m, &vc, NULL) : 0;
        images = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
        v->image_floats = (size_t)lp->channels * lp->height * lp->width;
        v->tensors = malloc((size_t)(n > 0 ? n : 1) * v->image_floats * sizeof(float));
        v->labels = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
        if (!v->set_start || !images || !v->tensors || !v->labels) st = SIAMESE_ERR_NOMEM;
        else v->n = plan_sets(v, &m, &vc, images);
    }
    if (st == SIAMESE_ERR_NOMEM) sm_fail(err, st, "out of memory");
    if (st == SIAMESE_OK) st = decode_all(v, ds, images, lp, chips, err);
    free(images);
    val_classes_free(&vc);
    sm_class_members_free(&m);
    if (st != SIAMESE_OK) sm_val_oneshot_free(v);
    return st;
}

siamese_status sm_val_oneshot_score(sm_val_oneshot *v, siamese_model *model, float *accuracy,
                                    sm_err *err) {
    int dim = siamese_model_embedding_dim(model);
    if (!v->vectors) v->vectors = malloc((size_t)v->n * dim * sizeof(float));
    if (!v->vectors) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    siamese_status st = siamese_model_embed(model, v->tensors, v->n, v->vectors);
    if (st != SIAMESE_OK) return sm_fail(err, st, "%s", siamese_model_errmsg(model));
    siamese_fewshot_params fp = siamese_fewshot_default_params();
    fp.way = v->way;
    fp.metric = siamese_model_metric(model);
    fp.episodes = (SM_VAL_ONESHOT_EPISODES + v->n_sets - 1) / v->n_sets;
    long long correct = 0, queries = 0;
    char msg[256];
    sm_threads_scope threads = sm_model_threads_enter(model);
    for (int s = 0; st == SIAMESE_OK && s < v->n_sets; s++) {
        int first = v->set_start[s], count = v->set_start[s + 1] - first;
        fp.seed = v->seed + (uint64_t)s;
        siamese_fewshot out;
        st = siamese_eval_fewshot(v->vectors + (size_t)first * dim, v->labels + first, count, dim,
                                  &fp, &out, msg, sizeof msg);
        if (st != SIAMESE_OK) sm_fail(err, st, "one-shot validation: %s", msg);
        correct += out.correct;
        queries += out.queries;
    }
    sm_threads_leave(threads);
    if (st == SIAMESE_OK) *accuracy = queries ? (float)((double)correct / (double)queries) : 0.0f;
    return st;
}

void sm_val_oneshot_describe(const sm_val_oneshot *v, char *out, size_t size) {
    if (v->grouped)
        snprintf(out, size, "%d-way one-shot within %d group%s (%d images)", v->way, v->n_sets,
                 v->n_sets == 1 ? "" : "s", v->n);
    else
        snprintf(out, size, "%d-way one-shot over all validation classes (%d images)", v->way,
                 v->n);
}

void sm_val_oneshot_free(sm_val_oneshot *v) {
    free(v->tensors);
    free(v->labels);
    free(v->vectors);
    free(v->set_start);
    memset(v, 0, sizeof *v);
}
