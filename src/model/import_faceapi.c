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
#include <stdio.h>
#include <string.h>

#include "model/import_faceapi.h"
#include "model/model.h"

/* ---------------------------------------------------------------- the architecture */

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

/* ---------------------------------------------------------------- where the parameters come from */

/* "conv32_1.conv1.conv" + slot -> face-api's "conv32_1/conv1/conv/filters" etc. */
static void faceapi_name(const char *ours, const char *suffix, char *out, size_t size) {
    snprintf(out, size, "%s/%s", ours, suffix);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = '/';
}

/* The residualDown skips' fixed pools are ours to fill; the rest is face-api's tensor named in
 * theirs. */
static int recognition_tensor(const sm_tensor_info *info, const char *layer, float *dst,
                              char *theirs, size_t size) {
    int is_weight = info->slot == SM_SLOT_WEIGHT;
    size_t len = strlen(layer);
    if (len > 5 && strcmp(layer + len - 5, ".pool") == 0) { /* avgpool 2x2/2 + zero channels */
        int64_t o_n = info->dims[0], i_n = info->dims[1];
        memset(dst, 0, info->count * sizeof *dst);
        for (int64_t o = 0; o < o_n && o < i_n; o++)
            for (int k = 0; k < 4; k++) dst[(o * i_n + o) * 4 + k] = 0.25f;
        return 1;
    }
    int is_scale = len > 6 && strcmp(layer + len - 6, ".scale") == 0;
    const char *suffix = is_scale
                             ? (is_weight ? "weights" : "biases")
                             : (is_weight ? (strcmp(layer, "fc") == 0 ? "" : "filters") : "bias");
    if (strcmp(layer, "fc") == 0) snprintf(theirs, size, "fc");
    else if (is_scale) {
        char base[SM_NAME_MAX + 24];
        snprintf(base, sizeof base, "%.*s.scale", (int)(len - 6), layer);
        faceapi_name(base, suffix, theirs, size);
    } else faceapi_name(layer, suffix, theirs, size);
    return 0;
}

static const fa_network recognition = {
    .manifest = "face_recognition_model-weights_manifest.json",
    .what = "recognition",
    .side = 150,
    .divisor = 256.0f,
    .arch = faceapi_arch,
    .tensor = recognition_tensor,
};

siamese_status siamese_model_import_faceapi(const char *dir, siamese_model **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    sm_err err;
    sm_err_clear(&err);
    if (!dir) return sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "import face-api: no folder");
    siamese_model *model = NULL;
    siamese_status st = fa_import(dir, &recognition, &model, &err);
    if (st != SIAMESE_OK) {
        *out = sm_model_error_handle(&err);
        return st;
    }
    /* dlib's and face-api's same-person decision: Euclidean distance below 0.6 */
    model->metric = SIAMESE_METRIC_EUCLIDEAN;
    model->threshold = 0.6f;
    snprintf(model->threshold_source, sizeof model->threshold_source,
             "face-api/dlib default (distance 0.6)");
    *out = model;
    return SIAMESE_OK;
}
