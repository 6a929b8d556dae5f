/* face-api's TF.js weights (a manifest and its shards, uint8/uint16-quantised or float32) read and copied, in PyTorch's layouts, into a model of one of face-api's networks. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/json_file.h"
#include "model/import_faceapi.h"
#include "model/model.h"
#include "nn/net.h"

#define FA_MAX_WEIGHTS 256

/* face-api's mean RGB (FaceRecognitionNet.forwardInput, FaceLandmark68Net's the same). */
static const float fa_mean_rgb[3] = {122.782f, 117.001f, 104.298f};

/* One dequantised tensor of a manifest, in its TF.js layout. */
typedef struct fa_tensor {
    char name[FA_NAME_MAX];
    int ndim;
    int64_t dims[4];
    int64_t count;
    float *data;
    int used; /* set by fa_find: every tensor must find a place */
} fa_tensor;

typedef struct fa_weights {
    fa_tensor t[FA_MAX_WEIGHTS];
    int n;
} fa_weights;

static void fa_weights_free(fa_weights *w) {
    for (int i = 0; i < w->n; i++) free(w->t[i].data);
    w->n = 0;
}

/* The tensor named name (marked used), or NULL. */
static const fa_tensor *fa_find(fa_weights *w, const char *name) {
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0) {
            w->t[i].used = 1;
            return &w->t[i];
        }
    return NULL;
}

/* ---------------------------------------------------------------- the manifest and shards */

/* Reads and concatenates the shards of one weight group. */
static siamese_status read_shards(const char *dir, const char *manifest, json_t *paths,
                                  unsigned char **data, size_t *size, sm_err *err) {
    *data = NULL;
    *size = 0;
    if (!json_is_array(paths) || json_array_size(paths) == 0)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: a weight group has no 'paths'", manifest);
    for (size_t i = 0; i < json_array_size(paths); i++) {
        const char *name = json_string_value(json_array_get(paths, i));
        if (!name || strchr(name, '/'))
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: bad shard path", manifest);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        unsigned char *part = NULL;
        size_t part_size = 0;
        siamese_status st = sm_read_file(path, &part, &part_size, err);
        if (st != SIAMESE_OK) return st;
        unsigned char *grown = realloc(*data, *size + part_size + 1);
        if (!grown) {
            free(part);
            return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
        }
        memcpy(grown + *size, part, part_size);
        free(part);
        *data = grown;
        *size += part_size;
    }
    return SIAMESE_OK;
}

/* Bytes per stored value: quantised uint8/uint16, or raw float32. 0 when unsupported. */
static int stored_bytes(json_t *entry, float *scale, float *min) {
    json_t *q = json_object_get(entry, "quantization");
    const char *dtype = json_string_value(json_object_get(entry, "dtype"));
    if (!dtype || strcmp(dtype, "float32") != 0) return 0;
    if (!q) return 4;
    const char *qt = json_string_value(json_object_get(q, "dtype"));
    *scale = (float)json_number_value(json_object_get(q, "scale"));
    *min = (float)json_number_value(json_object_get(q, "min"));
    if (qt && strcmp(qt, "uint8") == 0) return 1;
    if (qt && strcmp(qt, "uint16") == 0) return 2;
    return 0;
}

/* Dequantises one manifest entry starting at data[*at]. */
static siamese_status read_entry(const char *manifest, json_t *entry, const unsigned char *data,
                                 size_t size, size_t *at, fa_tensor *t, sm_err *err) {
    const char *name = json_string_value(json_object_get(entry, "name"));
    json_t *shape = json_object_get(entry, "shape");
    if (!name || strlen(name) >= FA_NAME_MAX || !json_is_array(shape) || json_array_size(shape) > 4)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: a weight entry without a usable name/shape",
                       manifest);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = (int)json_array_size(shape);
    t->count = 1;
    for (int d = 0; d < t->ndim; d++) {
        json_int_t v = json_integer_value(json_array_get(shape, (size_t)d));
        if (v <= 0 || v > (1 << 24))
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: '%s' has a bad shape", manifest, name);
        t->dims[d] = v;
        t->count *= v;
    }
    float scale = 0, min = 0;
    int bytes = stored_bytes(entry, &scale, &min);
    if (!bytes)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: '%s' has an unsupported dtype", manifest,
                       name);
    size_t need = (size_t)t->count * (size_t)bytes;
    if (need > size - *at)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s: the weights do not add up: '%s' needs bytes %zu..%zu but the shards "
                       "hold %zu",
                       manifest, name, *at, *at + need, size);
    t->data = malloc((size_t)t->count * sizeof *t->data);
    if (!t->data) return sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", manifest);
    const unsigned char *p = data + *at;
    for (int64_t i = 0; i < t->count; i++) {
        if (bytes == 1) t->data[i] = (float)p[i] * scale + min;
        else if (bytes == 2) t->data[i] = (float)(p[2 * i] | (p[2 * i + 1] << 8)) * scale + min;
        else memcpy(&t->data[i], p + 4 * i, 4); /* TF.js writes little-endian float32 */
    }
    *at += need;
    return SIAMESE_OK;
}

static siamese_status read_group(const char *dir, const char *manifest, json_t *group,
                                 fa_weights *w, sm_err *err) {
    unsigned char *data = NULL;
    size_t size = 0, at = 0;
    siamese_status st =
        read_shards(dir, manifest, json_object_get(group, "paths"), &data, &size, err);
    json_t *entries = json_object_get(group, "weights");
    if (st == SIAMESE_OK && !json_is_array(entries))
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: a weight group has no 'weights'", manifest);
    for (size_t i = 0; st == SIAMESE_OK && i < json_array_size(entries); i++) {
        if (w->n == FA_MAX_WEIGHTS)
            st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: more than %d weights", manifest,
                         FA_MAX_WEIGHTS);
        else
            st = read_entry(manifest, json_array_get(entries, i), data, size, &at, &w->t[w->n++],
                            err);
    }
    if (st == SIAMESE_OK && at != size)
        st = sm_fail(err, SIAMESE_ERR_FORMAT,
                     "%s: the weights do not add up: they take %zu bytes but the shards hold %zu",
                     manifest, at, size);
    free(data);
    return st;
}

/* Reads dir/manifest_name and its shards into w; a missing shard or a manifest that does not add
 * up fails naming the file. */
static siamese_status fa_read_weights(const char *dir, const char *manifest_name, fa_weights *w,
                                      sm_err *err) {
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/%s", dir, manifest_name);
    json_t *root = NULL;
    siamese_status st = sm_json_read_file(manifest, 0, &root, err);
    if (st != SIAMESE_OK) return st;
    if (!json_is_array(root) || json_array_size(root) == 0)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: not a TF.js weights manifest (want a list)",
                     manifest);
    for (size_t g = 0; st == SIAMESE_OK && g < json_array_size(root); g++)
        st = read_group(dir, manifest, json_array_get(root, g), w, err);
    json_decref(root);
    return st;
}

void fa_put(fa_text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n < sizeof t->buf - t->len ? (size_t)n : 0;
}

/* ---------------------------------------------------------------- filling a model */

/* TF's conv filters [kh, kw, ci, co] -> PyTorch's [co, ci, kh, kw]. */
static void hwio_to_oihw(const float *src, int64_t kh, int64_t kw, int64_t ci, int64_t co,
                         float *dst) {
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t i = 0; i < ci; i++)
                for (int64_t o = 0; o < co; o++)
                    dst[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
}

static siamese_status wrong_shape(sm_err *err, const char *theirs, const sm_tensor_info *info) {
    return sm_fail(err, SIAMESE_ERR_FORMAT, "'%s' has the wrong shape for %s", theirs, info->name);
}

/* face-api's tensor theirs into our tensor info at dst, in PyTorch's layout. */
static siamese_status copy_tensor(fa_weights *w, const char *theirs, const sm_tensor_info *info,
                                  float *dst, sm_err *err) {
    const fa_tensor *t = fa_find(w, theirs);
    if (!t) return sm_fail(err, SIAMESE_ERR_FORMAT, "no weight '%s' (for %s)", theirs, info->name);
    if (t->count != (int64_t)info->count)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "'%s' has %lld values, %s wants %zu", theirs,
                       (long long)t->count, info->name, info->count);
    if (t->ndim != info->ndim) return wrong_shape(err, theirs, info);
    if (info->ndim == 4) { /* HWIO -> OIHW; a depthwise [kh, kw, C, 1] is HWIO with ci 1, co C */
        int depthwise = info->dims[1] == 1 && t->dims[3] == 1;
        int64_t ci = depthwise ? 1 : t->dims[2], co = depthwise ? t->dims[2] : t->dims[3];
        if (co != info->dims[0] || ci != info->dims[1] || t->dims[0] != info->dims[2] ||
            t->dims[1] != info->dims[3])
            return wrong_shape(err, theirs, info);
        hwio_to_oihw(t->data, t->dims[0], t->dims[1], ci, co, dst);
    } else if (info->ndim == 2) { /* fc [in, out] -> [out, in] */
        int64_t in = t->dims[0], out = t->dims[1];
        if (out != info->dims[0] || in != info->dims[1]) return wrong_shape(err, theirs, info);
        for (int64_t i = 0; i < in; i++)
            for (int64_t o = 0; o < out; o++) dst[o * in + i] = t->data[i * out + o];
    } else {
        memcpy(dst, t->data, info->count * sizeof *dst);
    }
    return SIAMESE_OK;
}

static siamese_status fill_model(siamese_model *model, const fa_network *net, fa_weights *w,
                                 sm_err *err) {
    const sm_param_table *table = sm_net_table(model->net);
    float *params = sm_net_params_write(model->net);
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *info = &table->t[i];
        if (info->role != SM_TENSOR_PARAM) continue;
        float *dst = params + info->offset;
        char layer[SM_NAME_MAX + 24], theirs[FA_NAME_MAX * 2];
        const char *layer_end = strrchr(info->name, '.');
        snprintf(layer, sizeof layer, "%.*s", (int)(layer_end - info->name), info->name);
        if (strcmp(layer, "input") == 0) { /* (pixel - mean) / divisor on pixel / 255 */
            for (int c = 0; c < 3; c++)
                dst[c] = info->slot == SM_SLOT_WEIGHT ? 255.0f / net->divisor
                                                      : -fa_mean_rgb[c] / net->divisor;
            continue;
        }
        if (net->tensor(info, layer, dst, theirs, sizeof theirs)) continue;
        siamese_status st = copy_tensor(w, theirs, info, dst, err);
        if (st != SIAMESE_OK) return st;
    }
    for (int i = 0; i < w->n; i++)
        if (!w->t[i].used)
            return sm_fail(err, SIAMESE_ERR_FORMAT,
                           "weight '%s' has no place in face-api's %s network", w->t[i].name,
                           net->what);
    return SIAMESE_OK;
}

siamese_status fa_import(const char *dir, const fa_network *net, siamese_model **out, sm_err *err) {
    *out = NULL;
    fa_weights *w = calloc(1, sizeof *w);
    fa_text *text = calloc(1, sizeof *text);
    siamese_model *model = NULL;
    siamese_status st = w && text ? fa_read_weights(dir, net->manifest, w, err)
                                  : sm_fail(err, SIAMESE_ERR_NOMEM, "import: out of memory");
    if (st == SIAMESE_OK) {
        net->arch(text);
        siamese_model_params p = siamese_model_default_params();
        p.arch = text->buf;
        p.channels = 3;
        p.height = p.width = net->side;
        st = siamese_model_create(&p, &model);
        if (st != SIAMESE_OK && model) *err = model->err;
    }
    if (st == SIAMESE_OK) {
        st = fill_model(model, net, w, err);
        if (st != SIAMESE_OK) {
            char msg[SM_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            sm_fail(err, st, "%s/%s: %s", dir, net->manifest, msg);
        }
    }
    if (w) fa_weights_free(w);
    free(w);
    free(text);
    if (st != SIAMESE_OK) {
        siamese_model_free(model);
        return st;
    }
    *out = model;
    return SIAMESE_OK;
}
