/* Imports face-api's face recognition network (the dlib ResNet, TF.js weights) as a siamese model.
 *
 * face-api ships face_recognition_model-weights_manifest.json and its weight shards: tensors in
 * TF.js layouts (conv filters HWIO, fc [in, out]), uint8/uint16-quantised (value = q * scale +
 * min) or raw float32. Its forward pass, expressed in our architecture text:
 *   input:  (pixel - mean RGB) / 256 on 150x150 RGB; our images arrive as pixel / 255, so a first
 *           scale layer "input" with weight 255/256 and bias -mean/256 does it inside the network
 *   conv layer P: conv(P/conv) + bias, then the per-channel scale(P/scale) [relu]; stride-1 convs
 *           pad 'same' (p=1), stride-2 ("down") convs are 'valid' (p=0)
 *   residual: x + conv(conv2(relu(conv1(x)))) then relu
 *   residualDown: the main branch starts with a stride-2 conv; the skip is a 2x2/2 average pool
 *           of x, zero-padded to the new channel count (a fixed 2x2/2 conv "P.pool" with weight
 *           0.25 on its diagonal), and a main branch smaller than the skip is zero-padded at the
 *           bottom and right (add(pad=1))
 *   head:   global average pooling, then fc (no bias) to the 128-d embedding. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "model/import_faceapi.h"
#include "model/model.h"
#include "nn/net.h"

#define FA_MANIFEST "face_recognition_model-weights_manifest.json"
#define FA_SIDE 150
#define FA_ARCH_MAX 16384

/* face-api's mean RGB (FaceRecognitionNet.forwardInput) and its divisor. */
static const float fa_mean_rgb[3] = {122.782f, 117.001f, 104.298f};
#define FA_DIVISOR 256.0f

void fa_weights_free(fa_weights *w) {
    for (int i = 0; i < w->n; i++) free(w->t[i].data);
    w->n = 0;
}

const fa_tensor *fa_find(fa_weights *w, const char *name) {
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

siamese_status fa_read_weights(const char *dir, const char *manifest_name, fa_weights *w,
                               sm_err *err) {
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s/%s", dir, manifest_name);
    json_error_t jerr;
    json_t *root = json_load_file(manifest, 0, &jerr);
    if (!root)
        return sm_fail(err, SIAMESE_ERR_IO, "%s: %s", manifest,
                       jerr.line > 0 ? jerr.text : "cannot read it");
    siamese_status st = SIAMESE_OK;
    if (!json_is_array(root) || json_array_size(root) == 0)
        st = sm_fail(err, SIAMESE_ERR_FORMAT, "%s: not a TF.js weights manifest (want a list)",
                     manifest);
    for (size_t g = 0; st == SIAMESE_OK && g < json_array_size(root); g++)
        st = read_group(dir, manifest, json_array_get(root, g), w, err);
    json_decref(root);
    return st;
}

/* ---------------------------------------------------------------- the architecture */

void fa_put(fa_text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n < sizeof t->buf - t->len ? (size_t)n : 0;
}

/* conv + scale [+ relu]; prefix is face-api's with '.' for '/'. */
static void put_conv(fa_text *t, const char *prefix, int out, int down, int relu) {
    fa_put(t, "conv(%d,k=3,s=%d,p=%d,name=%s.conv) scale(name=%s.scale)%s ", out, down ? 2 : 1,
           down ? 0 : 1, prefix, prefix, relu ? " relu" : "");
}

static void put_residual(fa_text *t, const char *name, int out, int down) {
    char p1[FA_NAME_MAX], p2[FA_NAME_MAX];
    snprintf(p1, sizeof p1, "%s.conv1", name);
    snprintf(p2, sizeof p2, "%s.conv2", name);
    fa_put(t, "block ");
    put_conv(t, p1, out, down, 1);
    put_conv(t, p2, out, 0, 0);
    if (down) fa_put(t, "skip conv(%d,k=2,s=2,bias=0,name=%s.pool) add(pad=1) relu ", out, name);
    else fa_put(t, "add relu ");
}

static void faceapi_arch(fa_text *t) {
    static const struct {
        const char *name;
        int out, down;
    } blocks[] = {
        {"conv32_1", 32, 0},    {"conv32_2", 32, 0},          {"conv32_3", 32, 0},
        {"conv64_down", 64, 1}, {"conv64_1", 64, 0},          {"conv64_2", 64, 0},
        {"conv64_3", 64, 0},    {"conv128_down", 128, 1},     {"conv128_1", 128, 0},
        {"conv128_2", 128, 0},  {"conv256_down", 256, 1},     {"conv256_1", 256, 0},
        {"conv256_2", 256, 0},  {"conv256_down_out", 256, 1},
    };
    t->len = 0;
    t->buf[0] = '\0';
    fa_put(t, "scale(name=input) conv(32,k=7,s=2,p=0,name=conv32_down.conv) "
              "scale(name=conv32_down.scale) relu maxpool(3,s=2) ");
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        put_residual(t, blocks[i].name, blocks[i].out, blocks[i].down);
    fa_put(t, "avgpool linear(128,bias=0,name=fc)");
}

/* ---------------------------------------------------------------- filling the parameters */

void fa_hwio_to_oihw(const float *src, int64_t kh, int64_t kw, int64_t ci, int64_t co, float *dst) {
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t i = 0; i < ci; i++)
                for (int64_t o = 0; o < co; o++)
                    dst[((o * ci + i) * kh + y) * kw + x] = src[((y * kw + x) * ci + i) * co + o];
}

/* "conv32_1.conv1.conv" + slot -> face-api's "conv32_1/conv1/conv/filters" etc. */
static void faceapi_name(const char *ours, const char *suffix, char *out, size_t size) {
    snprintf(out, size, "%s/%s", ours, suffix);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = '/';
}

static siamese_status fill_tensor(fa_weights *w, const sm_tensor_info *info, float *dst,
                                  sm_err *err) {
    const char *layer_end = strrchr(info->name, '.');
    char layer[SM_NAME_MAX + 24], theirs[FA_NAME_MAX * 2];
    snprintf(layer, sizeof layer, "%.*s", (int)(layer_end - info->name), info->name);
    int is_weight = info->slot == SM_SLOT_WEIGHT;
    size_t len = strlen(layer);
    if (strcmp(layer, "input") == 0) { /* the input normalisation */
        for (int c = 0; c < 3; c++)
            dst[c] = is_weight ? 255.0f / FA_DIVISOR : -fa_mean_rgb[c] / FA_DIVISOR;
        return SIAMESE_OK;
    }
    if (len > 5 && strcmp(layer + len - 5, ".pool") == 0) { /* avgpool 2x2/2 + zero channels */
        int64_t o_n = info->dims[0], i_n = info->dims[1];
        memset(dst, 0, info->count * sizeof *dst);
        for (int64_t o = 0; o < o_n && o < i_n; o++)
            for (int k = 0; k < 4; k++) dst[(o * i_n + o) * 4 + k] = 0.25f;
        return SIAMESE_OK;
    }
    int is_scale = len > 6 && strcmp(layer + len - 6, ".scale") == 0;
    const char *suffix = is_scale
                             ? (is_weight ? "weights" : "biases")
                             : (is_weight ? (strcmp(layer, "fc") == 0 ? "" : "filters") : "bias");
    if (strcmp(layer, "fc") == 0) snprintf(theirs, sizeof theirs, "fc");
    else if (is_scale) {
        char base[SM_NAME_MAX + 24];
        snprintf(base, sizeof base, "%.*s.scale", (int)(len - 6), layer);
        faceapi_name(base, suffix, theirs, sizeof theirs);
    } else faceapi_name(layer, suffix, theirs, sizeof theirs);
    const fa_tensor *t = fa_find(w, theirs);
    if (!t) return sm_fail(err, SIAMESE_ERR_FORMAT, "no weight '%s' (for %s)", theirs, info->name);
    if (t->count != (int64_t)info->count)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "'%s' has %lld values, %s wants %zu", theirs,
                       (long long)t->count, info->name, info->count);
    if (info->ndim == 4 && t->ndim == 4) { /* HWIO -> OIHW */
        int64_t kh = t->dims[0], kw = t->dims[1], ci = t->dims[2], co = t->dims[3];
        if (co != info->dims[0] || ci != info->dims[1] || kh != info->dims[2] ||
            kw != info->dims[3])
            return sm_fail(err, SIAMESE_ERR_FORMAT, "'%s' has the wrong shape for %s", theirs,
                           info->name);
        fa_hwio_to_oihw(t->data, kh, kw, ci, co, dst);
    } else if (info->ndim == 2 && t->ndim == 2) { /* fc [in, out] -> [out, in] */
        int64_t in = t->dims[0], out = t->dims[1];
        if (out != info->dims[0] || in != info->dims[1])
            return sm_fail(err, SIAMESE_ERR_FORMAT, "'%s' has the wrong shape for %s", theirs,
                           info->name);
        for (int64_t i = 0; i < in; i++)
            for (int64_t o = 0; o < out; o++) dst[o * in + i] = t->data[i * out + o];
    } else {
        memcpy(dst, t->data, info->count * sizeof *dst);
    }
    return SIAMESE_OK;
}

static siamese_status fill_model(siamese_model *model, fa_weights *w, sm_err *err) {
    const sm_param_table *table = sm_net_table(model->net);
    float *params = sm_net_params(model->net);
    for (int i = 0; i < table->n; i++) {
        if (table->t[i].role != SM_TENSOR_PARAM) continue;
        siamese_status st = fill_tensor(w, &table->t[i], params + table->t[i].offset, err);
        if (st != SIAMESE_OK) return st;
    }
    for (int i = 0; i < w->n; i++)
        if (!w->t[i].used)
            return sm_fail(err, SIAMESE_ERR_FORMAT,
                           "weight '%s' has no place in face-api's recognition network",
                           w->t[i].name);
    return SIAMESE_OK;
}

siamese_status siamese_model_import_faceapi(const char *dir, siamese_model **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    sm_err err;
    sm_err_clear(&err);
    if (!dir) return sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "import face-api: no folder");
    fa_weights *w = calloc(1, sizeof *w);
    fa_text *text = calloc(1, sizeof *text);
    siamese_model *model = NULL;
    siamese_status st = w && text ? fa_read_weights(dir, FA_MANIFEST, w, &err)
                                  : sm_fail(&err, SIAMESE_ERR_NOMEM, "import: out of memory");
    if (st == SIAMESE_OK) {
        faceapi_arch(text);
        siamese_model_params p = siamese_model_default_params();
        p.arch = text->buf;
        p.channels = 3;
        p.height = p.width = FA_SIDE;
        st = siamese_model_create(&p, &model);
        if (st != SIAMESE_OK) {
            if (model) err = model->err;
        }
    }
    if (st == SIAMESE_OK) {
        st = fill_model(model, w, &err);
        if (st != SIAMESE_OK) {
            char msg[SM_ERRMSG_MAX];
            snprintf(msg, sizeof msg, "%s", err.msg);
            sm_fail(&err, st, "%s/%s: %s", dir, FA_MANIFEST, msg);
        }
    }
    if (st == SIAMESE_OK) {
        /* dlib's and face-api's same-person decision: Euclidean distance below 0.6 */
        model->metric = SIAMESE_METRIC_EUCLIDEAN;
        model->threshold = 0.6f;
        snprintf(model->threshold_source, sizeof model->threshold_source,
                 "face-api/dlib default (distance 0.6)");
    }
    if (w) fa_weights_free(w);
    free(w);
    free(text);
    if (st != SIAMESE_OK) {
        siamese_model_free(model);
        *out = sm_model_error_handle(&err);
        return st;
    }
    *out = model;
    return SIAMESE_OK;
}
