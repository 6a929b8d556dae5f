/* A model's face aligner in its file: the landmark network's tensors under "align.", its architecture in __metadata__ ('align', 'align_arch', 'align_input'). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/face_align.h"
#include "model/face_align_io.h"
#include "model/model.h"
#include "nn/net.h"

#define NAME_ROOM (SM_NAME_MAX + 32)

siamese_status sm_align_tensors(const siamese_model *model, sm_st_tensor **out, int *n_out,
                                sm_st_meta *meta, char **keep, sm_err *err) {
    *out = NULL;
    *n_out = 0;
    *keep = NULL;
    if (!model->aligner) return SIAMESE_OK;
    const siamese_model *a = model->aligner;
    const sm_param_table *table = sm_net_table(a->net);
    sm_st_tensor *t = calloc((size_t)table->n + 1, sizeof *t);
    char *names = calloc((size_t)table->n + 1, NAME_ROOM);
    if (!t || !names) {
        free(t);
        free(names);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "model save: out of memory");
    }
    const float *params = sm_net_params(a->net);
    for (int i = 0; i < table->n; i++) { /* the landmark network has parameters only */
        const sm_tensor_info *info = &table->t[i];
        char *name = names + (size_t)i * NAME_ROOM;
        snprintf(name, NAME_ROOM, "%s%s", SM_ALIGN_PREFIX, info->name);
        t[i].name = name;
        t[i].dtype = SM_DT_F32;
        t[i].ndim = info->ndim;
        for (int d = 0; d < info->ndim; d++) t[i].shape[d] = info->dims[d];
        t[i].data = params + info->offset;
    }
    char *input = names + (size_t)table->n * NAME_ROOM;
    snprintf(input, NAME_ROOM, "%dx%dx%d", a->arch.input.c, a->arch.input.h, a->arch.input.w);
    meta[0] = (sm_st_meta){"align", SM_ALIGN_KIND};
    meta[1] = (sm_st_meta){"align_arch", a->arch_text};
    meta[2] = (sm_st_meta){"align_input", input};
    *out = t;
    *n_out = table->n;
    *keep = names;
    return SIAMESE_OK;
}

int sm_align_in_file(const sm_st_file *file) {
    if (sm_safetensors_meta(file, "align") || sm_safetensors_meta(file, "align_arch") ||
        sm_safetensors_meta(file, "align_input"))
        return 1;
    for (int i = 0; i < sm_safetensors_count(file); i++)
        if (!strncmp(sm_safetensors_get(file, i)->name, SM_ALIGN_PREFIX, strlen(SM_ALIGN_PREFIX)))
            return 1;
    return 0;
}

static siamese_status bad(sm_err *err, const char *path, const char *what) {
    return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: the face aligner: %s", path, what);
}

static siamese_status copy_tensors(siamese_model *a, const char *path, const sm_st_file *file,
                                   sm_err *err) {
    const sm_param_table *table = sm_net_table(a->net);
    float *params = sm_net_params_write(a->net);
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *info = &table->t[i];
        char name[NAME_ROOM];
        snprintf(name, sizeof name, "%s%s", SM_ALIGN_PREFIX, info->name);
        const sm_st_tensor *t = sm_safetensors_find(file, name);
        int same = t && t->ndim == info->ndim && sm_dtype_fits_role(t->dtype, info->role);
        for (int d = 0; same && d < info->ndim; d++) same = t->shape[d] == info->dims[d];
        if (!same) {
            char what[NAME_ROOM + 64];
            snprintf(what, sizeof what, "tensor '%s' is %s", name,
                     t ? "not the shape or dtype its architecture needs" : "missing");
            return bad(err, path, what);
        }
        sm_st_copy_floats(t, params + info->offset, info->count);
    }
    return SIAMESE_OK;
}

siamese_status sm_align_read(siamese_model *model, const char *path, const sm_st_file *file,
                             sm_err *err) {
    const char *kind = sm_safetensors_meta(file, "align");
    if (!kind) return SIAMESE_OK;
    if (strcmp(kind, SM_ALIGN_KIND) != 0) {
        char what[160];
        snprintf(what, sizeof what, "'align' is '%.64s'; this build knows '%s'", kind,
                 SM_ALIGN_KIND);
        return bad(err, path, what);
    }
    const char *text = sm_safetensors_meta(file, "align_arch");
    const char *input = sm_safetensors_meta(file, "align_input");
    sm_shape shape;
    if (!text || !input || sscanf(input, "%dx%dx%d", &shape.c, &shape.h, &shape.w) != 3)
        return bad(err, path, "'align_arch' or 'align_input' is missing");
    if (shape.c != 3 || shape.h != SM_LANDMARK_SIDE || shape.w != SM_LANDMARK_SIDE)
        return bad(err, path, "'align_input' is not 3x112x112");
    if (model->arch.input.h != model->arch.input.w)
        return bad(err, path, "face chips are square but the model's input is not");
    sm_arch *arch = malloc(sizeof *arch);
    if (!arch) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    siamese_status st = sm_arch_parse(text, shape, arch, err);
    if (st == SIAMESE_OK && sm_arch_embedding_dim(arch) != 2 * SM_LANDMARKS)
        st = bad(err, path, "the landmark network does not give 68 points");
    siamese_model *a = NULL;
    if (st == SIAMESE_OK) {
        a = sm_model_alloc(arch, err);
        if (!a) st = err->status != SIAMESE_OK ? err->status : SIAMESE_ERR_NOMEM;
    }
    free(arch);
    if (st == SIAMESE_OK) st = copy_tensors(a, path, file, err);
    if (st != SIAMESE_OK) {
        siamese_model_free(a);
        return st;
    }
    model->aligner = a;
    return SIAMESE_OK;
}
