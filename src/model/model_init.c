/* Weights by name into an existing model: a torchvision state_dict (or any model file) as the start of fine-tuning, strict for the backbone, the head left to its initialization, a face aligner (align.*) taken along. */
#include <stdio.h>
#include <string.h>

#include "model/face_align.h"
#include "model/face_align_io.h"
#include "model/model.h"

/* The head: the tensors of the last layer with parameters (the embedding layer, "fc"). */
static int is_head(const sm_arch *arch, const sm_tensor_info *info) {
    return info->layer == sm_arch_head_layer(arch);
}

/* The input normalisation layer (model.h) is ours, not a backbone's: a torchvision state_dict
 * lacks it, and it keeps its values then. */
static int may_be_left(const sm_arch *arch, const sm_tensor_info *info) {
    return is_head(arch, info) || info->layer == sm_model_input_layer(arch);
}

static int same_shape(const sm_st_tensor *t, const sm_tensor_info *info) {
    int same = t->ndim == info->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == info->dims[d];
    return same;
}

/* Mismatches, collected into one message: "'a' is missing; 'b' has shape [..] ..." */
typedef struct mismatch_list {
    char text[SM_ERRMSG_MAX];
    size_t len;
    int count;
} mismatch_list;

static void add_mismatch(mismatch_list *m, const char *fmt, const char *name, const char *extra) {
    m->count++;
    if (m->len >= sizeof m->text - 1) return;
    char item[200];
    snprintf(item, sizeof item, fmt, name, extra);
    int n =
        snprintf(m->text + m->len, sizeof m->text - m->len, "%s%s", m->count > 1 ? "; " : "", item);
    if (n > 0) m->len += (size_t)n;
}

static void describe_tensor_mismatch(mismatch_list *m, const sm_tensor_info *info,
                                     const sm_st_tensor *t) {
    char got[96], want[96], both[200];
    if (!t) {
        add_mismatch(m, "'%s' is missing%s", info->name, "");
    } else if (!sm_dtype_fits_role(t->dtype, info->role)) {
        add_mismatch(m, "'%s' has dtype %s", info->name, sm_dtype_name(t->dtype));
    } else {
        sm_format_shape(got, sizeof got, t->ndim, t->shape);
        sm_format_shape(want, sizeof want, info->ndim, info->dims);
        snprintf(both, sizeof both, "%s, the architecture needs %s", got, want);
        add_mismatch(m, "'%s' has shape %s", info->name, both);
    }
}

static int tensor_fits(const sm_tensor_info *info, const sm_st_tensor *t) {
    return t && sm_dtype_fits_role(t->dtype, info->role) && same_shape(t, info);
}

/* Appends name to the comma-separated list out (truncated quietly when full). */
static void list_append(char *out, size_t size, const char *name) {
    if (!out || !size) return;
    size_t len = strlen(out);
    if (len + 1 < size) snprintf(out + len, size - len, "%s%s", len ? ", " : "", name);
}

/* Every backbone tensor fits, and the file has nothing the model lacks; else one message. */
static siamese_status check_names(const char *path, const sm_st_file *file,
                                  const siamese_model *model, sm_err *err) {
    const sm_param_table *table = sm_net_table(model->net);
    mismatch_list m = {{0}, 0, 0};
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *info = &table->t[i];
        const sm_st_tensor *t = sm_safetensors_find(file, info->name);
        if (!may_be_left(&model->arch, info) && !tensor_fits(info, t))
            describe_tensor_mismatch(&m, info, t);
    }
    for (int i = 0; i < sm_safetensors_count(file); i++) {
        const char *name = sm_safetensors_get(file, i)->name;
        if (!strncmp(name, SM_ALIGN_PREFIX, strlen(SM_ALIGN_PREFIX))) continue; /* read below */
        if (sm_param_table_find(table, name) < 0)
            add_mismatch(&m, "'%s' is not part of the architecture%s", name, "");
    }
    if (m.count == 0) return SIAMESE_OK;
    return sm_fail(err, SIAMESE_ERR_SHAPE, "%s: %d tensor%s not match the architecture: %s%s", path,
                   m.count, m.count == 1 ? " does" : "s do", m.text,
                   m.len >= sizeof m.text - 1 ? " ..." : "");
}

/* The file's face aligner, if it has one, replaces the model's (kept as it was on failure). */
static siamese_status take_aligner(siamese_model *model, const char *path, const sm_st_file *file,
                                   sm_err *err) {
    if (!sm_safetensors_meta(file, "align")) return SIAMESE_OK;
    siamese_model *had = model->aligner;
    model->aligner = NULL;
    siamese_status st = sm_align_read(model, path, file, err);
    if (st != SIAMESE_OK) model->aligner = had;
    else siamese_model_free(had);
    return st;
}

siamese_status siamese_model_init_from(siamese_model *model, const char *path, char *left,
                                       size_t left_size) {
    if (!model) return SIAMESE_ERR_INVALID_ARG;
    if (left && left_size) left[0] = '\0';
    sm_err err;
    sm_err_clear(&err);
    if (model->n_members)
        return sm_ensemble_refuse(model, "init weights", "take pretrained weights");
    if (!path || !model->net)
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "init weights: %s",
                       path ? "the model holds no network" : "no path");
    sm_st_file *file = NULL;
    siamese_status st = sm_safetensors_read(path, &file, &err);
    if (st == SIAMESE_OK && sm_file_is_ensemble(file))
        st = sm_fail(&err, SIAMESE_ERR_UNSUPPORTED,
                     "%s: an ensemble of networks, not one network's weights (use one of its "
                     "members' files)",
                     path);
    if (st == SIAMESE_OK) st = check_names(path, file, model, &err);
    if (st == SIAMESE_OK) st = take_aligner(model, path, file, &err);
    if (st == SIAMESE_OK) {
        const sm_param_table *table = sm_net_table(model->net);
        for (int i = 0; i < table->n; i++) {
            const sm_tensor_info *info = &table->t[i];
            const sm_st_tensor *t = sm_safetensors_find(file, info->name);
            if (tensor_fits(info, t)) sm_st_copy_to_net(t, model->net, info);
            else if (is_head(&model->arch, info)) list_append(left, left_size, info->name);
        }
    }

    sm_safetensors_free(file);
    if (st != SIAMESE_OK) model->err = err;
    return st;
}
