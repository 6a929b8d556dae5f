/* Model files: save and load a siamese_model as safetensors with PyTorch names and our metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "base/recipe.h"
#include "base/util.h"
#include "model/face_align.h"
#include "model/face_align_io.h"
#include "model/model.h"
#include "model/safetensors.h"

#define SM_FORMAT_NAME "siamese/1"
#define SM_FORMAT_FAMILY "siamese/"

/* ---------------------------------------------------------------- save */

/* Describes every tensor of the table as a safetensors entry pointing into the net's buffers. */
static void describe_tensors(sm_net *net, sm_st_tensor *out) {
    const sm_param_table *table = sm_net_table(net);
    const float *params = sm_net_params(net);
    float *buffers = sm_net_buffers(net);
    int64_t *counters = sm_net_counters(net);
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *info = &table->t[i];
        sm_st_tensor *t = &out[i];
        memset(t, 0, sizeof *t);
        t->name = info->name;
        t->ndim = info->ndim;
        for (int d = 0; d < info->ndim; d++) t->shape[d] = info->dims[d];
        switch (info->role) {
        case SM_TENSOR_PARAM:
            t->dtype = SM_DT_F32;
            t->data = params + info->offset;
            break;
        case SM_TENSOR_BUFFER:
            t->dtype = SM_DT_F32;
            t->data = buffers + info->offset;
            break;
        case SM_TENSOR_COUNTER:
            t->dtype = SM_DT_I64;
            t->data = counters + info->offset;
            break;
        }
    }
}

static void add_meta(sm_model_meta *m, const char *key, const char *value) {
    m->entries[m->n].key = key;
    m->entries[m->n].value = value;
    m->n++;
}

void sm_model_metadata(const siamese_model *model, sm_model_meta *m) {
    const sm_shape *in = &model->arch.input;
    m->n = 0;
    snprintf(m->input, sizeof m->input, "%dx%dx%d", in->c, in->h, in->w);
    snprintf(m->margin, sizeof m->margin, "%.9g", (double)model->margin);
    snprintf(m->embedding_dim, sizeof m->embedding_dim, "%d", siamese_model_embedding_dim(model));
    if (model->n_members) { /* its networks' own architectures are in their members.<i>.arch */
        snprintf(m->members, sizeof m->members, "%d", model->n_members);
        add_meta(m, "format", SM_ENSEMBLE_FORMAT);
        add_meta(m, "members", m->members);
    } else {
        add_meta(m, "format", SM_FORMAT_NAME);
        add_meta(m, "arch", model->arch_text);
    }
    add_meta(m, "input", m->input);
    add_meta(m, "embedding_dim", m->embedding_dim);
    add_meta(m, "margin", m->margin);
    add_meta(m, "metric", siamese_metric_name(model->metric));
    if (model->threshold >= 0) {
        snprintf(m->threshold, sizeof m->threshold, "%.9g", (double)model->threshold);
        add_meta(m, "threshold", m->threshold);
        if (model->threshold_source[0]) add_meta(m, "threshold_source", model->threshold_source);
    }
}

siamese_status sm_model_save_with(siamese_model *model, const char *path, const sm_st_tensor *extra,
                                  int n_extra, const sm_st_meta *extra_meta, int n_extra_meta,
                                  sm_err *err) {
    const sm_param_table *table = sm_net_table(model->net);
    int n = table->n + n_extra;
    sm_st_tensor *tensors = calloc(n ? (size_t)n : 1, sizeof *tensors);
    if (!tensors) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    describe_tensors(model->net, tensors);
    for (int i = 0; i < n_extra; i++) tensors[table->n + i] = extra[i];
    sm_model_meta meta;
    sm_model_metadata(model, &meta);
    sm_st_meta all_meta[32];
    int n_meta = 0;
    for (int i = 0; i < meta.n; i++) all_meta[n_meta++] = meta.entries[i];
    for (int i = 0; i < n_extra_meta && n_meta < 32; i++) all_meta[n_meta++] = extra_meta[i];
    siamese_status status = sm_safetensors_write(path, tensors, n, all_meta, n_meta, err);
    free(tensors);
    return status;
}

/* What a model's parts point into beyond the model itself. */
typedef struct parts_keep {
    sm_model_meta text;
    sm_st_tensor *int8; /* the int8 calibration, if any (model/quantize.c) */
    sm_st_meta *int8_meta;
    void *int8_keep;
    sm_st_tensor *align; /* the face aligner, if any (face_align_io.c) */
    char *align_keep;
    sm_st_meta align_meta[SM_ALIGN_META];
    sm_st_meta meta[SM_MODEL_META_MAX + 1 + SM_ALIGN_META];
} parts_keep;

void sm_model_parts_free(sm_model_parts *parts) {
    parts_keep *k = parts->keep;
    if (k) {
        free(k->int8);
        free(k->int8_keep);
        free(k->align);
        free(k->align_keep);
    }
    free(k);
    free(parts->tensors);
    memset(parts, 0, sizeof *parts);
}

siamese_status sm_model_describe(siamese_model *model, sm_model_parts *parts, sm_err *err) {
    memset(parts, 0, sizeof *parts);
    parts_keep *k = calloc(1, sizeof *k);
    if (!k) return sm_fail(err, SIAMESE_ERR_NOMEM, "model save: out of memory");
    parts->keep = k;
    int n_int8 = 0, n_align = 0;
    siamese_status st =
        sm_model_int8_tensors(model, &k->int8, &n_int8, &k->int8_meta, &k->int8_keep, err);
    if (st == SIAMESE_OK)
        st = sm_align_tensors(model, &k->align, &n_align, k->align_meta, &k->align_keep, err);
    const sm_param_table *table = sm_net_table(model->net);
    if (st == SIAMESE_OK) {
        parts->tensors = calloc((size_t)(table->n + n_int8 + n_align) + 1, sizeof *parts->tensors);
        if (!parts->tensors) st = sm_fail(err, SIAMESE_ERR_NOMEM, "model save: out of memory");
    }
    if (st != SIAMESE_OK) {
        sm_model_parts_free(parts);
        return st;
    }
    describe_tensors(model->net, parts->tensors);
    for (int i = 0; i < n_int8; i++) parts->tensors[table->n + i] = k->int8[i];
    for (int i = 0; i < n_align; i++) parts->tensors[table->n + n_int8 + i] = k->align[i];
    parts->n = table->n + n_int8 + n_align;
    sm_model_metadata(model, &k->text);
    int n_meta = 0;
    for (int i = 0; i < k->text.n; i++) k->meta[n_meta++] = k->text.entries[i];
    if (k->int8_meta) k->meta[n_meta++] = *k->int8_meta;
    for (int i = 0; i < (n_align ? SM_ALIGN_META : 0); i++) k->meta[n_meta++] = k->align_meta[i];
    parts->meta = k->meta;
    parts->n_meta = n_meta;
    return SIAMESE_OK;
}

siamese_status siamese_model_save(siamese_model *model, const char *path) {
    if (!model) return SIAMESE_ERR_INVALID_ARG;
    if (!path || !sm_model_ready(model))
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "model save: %s",
                       path ? "the model holds no network" : "no path");
    sm_err err;
    sm_err_clear(&err);
    siamese_status status;
    if (model->n_members) {
        status = sm_ensemble_save(model, path, &err);
    } else {
        sm_model_parts parts;
        status = sm_model_describe(model, &parts, &err);
        if (status == SIAMESE_OK)
            status =
                sm_safetensors_write(path, parts.tensors, parts.n, parts.meta, parts.n_meta, &err);
        sm_model_parts_free(&parts);
    }
    if (status != SIAMESE_OK) model->err = err;
    return status;
}

/* ---------------------------------------------------------------- load: metadata */

/* What the file's metadata says, with the defaults of a plain PyTorch state_dict. */
typedef struct file_settings {
    sm_arch arch;
    float margin;
    siamese_metric metric;
    float threshold;
    int from_metadata; /* 0 when the seed preset was assumed */
} file_settings;

#define INPUT_SIDE_MAX 1000000

/* Parses "CxHxW". */
static int parse_input(const char *text, sm_shape *shape) {
    const char *x1 = strchr(text, 'x'), *x2 = x1 ? strchr(x1 + 1, 'x') : NULL;
    if (!x2) return -1;
    return sm_parse_int_n(text, (size_t)(x1 - text), 1, INPUT_SIDE_MAX, &shape->c) ||
                   sm_parse_int_n(x1 + 1, (size_t)(x2 - x1 - 1), 1, INPUT_SIDE_MAX, &shape->h) ||
                   sm_parse_int(x2 + 1, 1, INPUT_SIDE_MAX, &shape->w)
               ? -1
               : 0;
}

int sm_meta_float(const char *text, float *out) {
    double v;
    if (sm_parse_double(text, &v) || !isfinite(v) || fabs(v) > 3.0e38) return -1;
    *out = (float)v;
    return 0;
}

static siamese_status read_format(const char *path, const sm_st_file *file, sm_err *err) {
    const char *format = sm_safetensors_meta(file, "format");
    if (format && strncmp(format, SM_FORMAT_FAMILY, strlen(SM_FORMAT_FAMILY)) == 0 &&
        strcmp(format, SM_FORMAT_NAME) != 0)
        return sm_fail(err, SIAMESE_ERR_UNSUPPORTED,
                       "%s: model format '%s' is newer than this library reads (%s)", path, format,
                       SM_FORMAT_NAME);
    return SIAMESE_OK;
}

static siamese_status read_arch(const char *path, const sm_st_file *file, file_settings *s,
                                sm_err *err) {
    const char *arch = sm_safetensors_meta(file, "arch");
    const char *input = sm_safetensors_meta(file, "input");
    sm_shape shape;
    if (!arch) {
        arch = sm_arch_preset_text(SM_RECIPE_ARCH, &shape);
        if (!arch) return sm_fail(err, SIAMESE_ERR_SPEC, "%s: the seed preset is missing", path);
        s->from_metadata = 0;
    } else {
        if (!input)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: __metadata__ has 'arch' but no 'input'",
                           path);
        if (parse_input(input, &shape) != 0)
            return sm_fail(err, SIAMESE_ERR_FORMAT,
                           "%s: __metadata__ 'input' is '%s', expected CxHxW such as 3x256x256",
                           path, input);
        s->from_metadata = 1;
    }
    siamese_status status = sm_arch_parse(arch, shape, &s->arch, err);
    if (status != SIAMESE_OK) sm_err_prefix(err, path);
    return status;
}

static siamese_status read_settings(const char *path, const sm_st_file *file, file_settings *s,
                                    sm_err *err) {
    s->margin = SM_RECIPE_MARGIN;
    s->metric = SIAMESE_METRIC_EUCLIDEAN;
    s->threshold = -1.0f;
    const char *margin = sm_safetensors_meta(file, "margin");
    if (margin && (sm_meta_float(margin, &s->margin) != 0 || s->margin < 0))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: __metadata__ 'margin' is '%s', not a margin",
                       path, margin);
    const char *metric = sm_safetensors_meta(file, "metric");
    if (metric && siamese_metric_parse(metric, &s->metric) != SIAMESE_OK)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: __metadata__ 'metric' '%s' is unknown", path,
                       metric);
    const char *threshold = sm_safetensors_meta(file, "threshold");
    if (threshold && sm_meta_float(threshold, &s->threshold) != 0)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s: __metadata__ 'threshold' is '%s', not a number", path, threshold);
    const char *dim = sm_safetensors_meta(file, "embedding_dim");
    if (dim) {
        char want[32];
        snprintf(want, sizeof want, "%d", sm_arch_embedding_dim(&s->arch));
        if (strcmp(dim, want) != 0)
            return sm_fail(err, SIAMESE_ERR_SHAPE,
                           "%s: __metadata__ 'embedding_dim' is %s but the architecture gives %s",
                           path, dim, want);
    }
    return SIAMESE_OK;
}

/* ---------------------------------------------------------------- load: tensors */

int sm_dtype_fits_role(sm_dtype dtype, sm_tensor_role role) {
    if (role == SM_TENSOR_COUNTER) return dtype == SM_DT_I64 || dtype == SM_DT_I32;
    return dtype == SM_DT_F32 || dtype == SM_DT_F64 || dtype == SM_DT_F16 || dtype == SM_DT_BF16;
}

void sm_format_shape(char *buf, size_t size, int ndim, const int64_t *dims) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; d++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)dims[d]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static siamese_status check_tensor(const char *path, const sm_tensor_info *info,
                                   const sm_st_tensor *t, sm_err *err) {
    if (!t) return sm_fail(err, SIAMESE_ERR_SHAPE, "%s: tensor '%s' is missing", path, info->name);
    if (!sm_dtype_fits_role(t->dtype, info->role))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected %s", path,
                       info->name, sm_dtype_name(t->dtype),
                       info->role == SM_TENSOR_COUNTER ? "I64" : "F32");
    int same = t->ndim == info->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == info->dims[d];
    if (!same) {
        char got[160], want[160];
        sm_format_shape(got, sizeof got, t->ndim, t->shape);
        sm_format_shape(want, sizeof want, info->ndim, info->dims);
        return sm_fail(err, SIAMESE_ERR_SHAPE,
                       "%s: tensor '%s' has shape %s but the architecture needs %s", path,
                       info->name, got, want);
    }
    return SIAMESE_OK;
}

/* Every table tensor present with the right dtype and shape, and nothing else in the file. */
static siamese_status check_tensors(const char *path, const sm_st_file *file,
                                    const sm_param_table *table, const char *ignore_prefix,
                                    sm_err *err) {
    for (int i = 0; i < table->n; i++) {
        siamese_status status =
            check_tensor(path, &table->t[i], sm_safetensors_find(file, table->t[i].name), err);
        if (status != SIAMESE_OK) return status;
    }
    for (int i = 0; i < sm_safetensors_count(file); i++) {
        const char *name = sm_safetensors_get(file, i)->name;
        if (ignore_prefix && !strncmp(name, ignore_prefix, strlen(ignore_prefix))) continue;
        if (!strncmp(name, SM_ALIGN_PREFIX, strlen(SM_ALIGN_PREFIX))) continue; /* the aligner */
        if (sm_param_table_find(table, name) < 0)
            return sm_fail(err, SIAMESE_ERR_SHAPE,
                           "%s: tensor '%s' is not part of the architecture", path, name);
    }
    return SIAMESE_OK;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float magnitude;
    if (exp == 0) magnitude = ldexpf((float)mant, -24);
    else if (exp == 31) magnitude = mant ? NAN : INFINITY;
    else magnitude = ldexpf((float)(mant | 0x400), (int)exp - 25);
    return sign ? -magnitude : magnitude;
}

void sm_st_copy_floats(const sm_st_tensor *t, float *dst, size_t count) {
    const unsigned char *src = t->data;
    for (size_t i = 0; i < count; i++) {
        switch (t->dtype) {
        case SM_DT_F64: {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
            break;
        }
        case SM_DT_F16: {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            dst[i] = half_to_float(v);
            break;
        }
        case SM_DT_BF16: {
            uint16_t v;
            memcpy(&v, src + 2 * i, 2);
            uint32_t bits = (uint32_t)v << 16;
            memcpy(&dst[i], &bits, 4);
            break;
        }
        default:
            memcpy(&dst[i], src + 4 * i, 4);
            break;
        }
    }
}

void sm_st_copy_counters(const sm_st_tensor *t, int64_t *dst, size_t count) {
    const unsigned char *src = t->data;
    for (size_t i = 0; i < count; i++) {
        if (t->dtype == SM_DT_I32) {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            dst[i] = v;
        } else {
            memcpy(&dst[i], src + 8 * i, 8);
        }
    }
}

void sm_st_copy_to_net(const sm_st_tensor *t, sm_net *net, const sm_tensor_info *info) {
    if (info->role == SM_TENSOR_PARAM)
        sm_st_copy_floats(t, sm_net_params_write(net) + info->offset, info->count);
    else if (info->role == SM_TENSOR_BUFFER)
        sm_st_copy_floats(t, sm_net_buffers(net) + info->offset, info->count);
    else sm_st_copy_counters(t, sm_net_counters(net) + info->offset, info->count);
}

/* Copies every tensor into the model's buffers (all checks have passed already). */
static void copy_values(const sm_st_file *file, sm_net *net) {
    const sm_param_table *table = sm_net_table(net);
    for (int i = 0; i < table->n; i++)
        sm_st_copy_to_net(sm_safetensors_find(file, table->t[i].name), net, &table->t[i]);
}

/* A weight or buffer that is NaN or infinite makes every embedding and distance NaN (a verdict
 * of 'dissimilar' for every pair): such a file is refused, naming the tensor. */
static siamese_status check_finite(const char *path, sm_net *net, sm_err *err) {
    const sm_param_table *table = sm_net_table(net);
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *t = &table->t[i];
        if (t->role != SM_TENSOR_PARAM && t->role != SM_TENSOR_BUFFER) continue;
        const float *v =
            (t->role == SM_TENSOR_PARAM ? sm_net_params(net) : sm_net_buffers(net)) + t->offset;
        size_t k = sm_first_nonfinite(v, t->count);
        if (k < t->count)
            return sm_fail(err, SIAMESE_ERR_FORMAT,
                           "%s: tensor '%s' holds %s at element %zu: the model cannot be used",
                           path, t->name, isnan(v[k]) ? "NaN" : "an infinite value", k);
    }
    return SIAMESE_OK;
}

/* Validates the whole file against its architecture; fills s on success. */
static siamese_status validate_file(const char *path, const sm_st_file *file, file_settings *s,
                                    const char *ignore_prefix, sm_err *err) {
    siamese_status status = read_format(path, file, err);
    if (status == SIAMESE_OK) status = read_arch(path, file, s, err);
    if (status == SIAMESE_OK) status = read_settings(path, file, s, err);
    if (status != SIAMESE_OK) return status;
    sm_param_table *table = malloc(sizeof *table);
    if (!table) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    sm_param_table_build(&s->arch, table);
    status = check_tensors(path, file, table, ignore_prefix, err);
    free(table);
    if (status != SIAMESE_OK && !s->from_metadata) {
        char reason[SM_ERRMSG_MAX];
        memcpy(reason, err->msg, sizeof reason);
        sm_fail(err, status,
                "%s: no 'arch' in __metadata__, and the tensors are not the seed network's: %s",
                path, reason);
    }
    return status;
}

siamese_status sm_model_from_file(const char *path, const sm_st_file *file,
                                  const char *ignore_prefix, siamese_model **out, sm_err *err) {
    file_settings *s = malloc(sizeof *s);
    if (!s) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    siamese_status status = validate_file(path, file, s, ignore_prefix, err);
    siamese_model *model = NULL;
    if (status == SIAMESE_OK) {
        model = sm_model_alloc(&s->arch, err);
        if (!model) {
            status = err->status != SIAMESE_OK ? err->status : SIAMESE_ERR_NOMEM;
            sm_err_prefix(err, path);
        }
    }
    if (model) {
        copy_values(file, model->net);
        status = check_finite(path, model->net, err);
        model->margin = s->margin;
        model->metric = s->metric;
        model->threshold = s->threshold;
        const char *source = sm_safetensors_meta(file, "threshold_source");
        if (source && model->threshold >= 0)
            snprintf(model->threshold_source, sizeof model->threshold_source, "%s", source);
        sm_err_clear(&model->err);
    }
    if (model && status != SIAMESE_OK) {
        siamese_model_free(model);
        model = NULL;
    }
    free(s);
    *out = model;
    return status;
}

/* One network's model from its file (or an ensemble member's view of one): the network, its
 * int8 calibration and its face aligner. */
static siamese_status load_one(const char *path, const sm_st_file *file, siamese_model **out,
                               sm_err *err) {
    siamese_status status = sm_model_from_file(path, file, SM_INT8_PREFIX, out, err);
    if (status == SIAMESE_OK) status = sm_model_int8_read(*out, path, file, err);
    if (status == SIAMESE_OK) status = sm_align_read(*out, path, file, err);
    if (status != SIAMESE_OK && *out) {
        siamese_model_free(*out);
        *out = NULL;
    }
    return status;
}

siamese_status siamese_model_load(const char *path, siamese_model **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    sm_err err;
    sm_err_clear(&err);
    if (!path) {
        sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "model load: no path");
        *out = sm_model_error_handle(&err);
        return err.status;
    }
    sm_st_file *file = NULL;
    siamese_status status = sm_safetensors_read(path, &file, &err);
    if (status == SIAMESE_OK)
        status = sm_file_is_ensemble(file) ? sm_ensemble_from_file(path, file, load_one, out, &err)
                                           : load_one(path, file, out, &err);
    sm_safetensors_free(file);
    if (status != SIAMESE_OK) {
        err.status = status;
        *out = sm_model_error_handle(&err);
    }
    return status;
}
