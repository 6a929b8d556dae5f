/* Imports face-api's 68-point face landmark network (face_landmark_68_model) as a model whose 136 outputs are the landmarks.
 *
 * face-api's FaceLandmark68Net, in our architecture text: the face photo padded to a centred
 * black square and resized to 112x112 RGB, (pixel - mean RGB) / 255 (a first scale layer
 * "input"); four dense blocks, each
 *   out1 = relu(a stride-2 convolution of x)   dense0: conv 3x3; then separable convolutions
 *   out2 = sep1(out1), out3 = sep2(relu(out1 + out2)), out4 = sep3(relu(out1 + out2 + out3))
 *   y    = relu(out1 + out2 + out3 + out4)
 * where a separable convolution is a depthwise 3x3 (no bias; g = channels) and a 1x1 with bias,
 * and the running sums are residual blocks whose main branch starts with the relu. TF's 'same'
 * padding: stride 1 pads 1 all round, stride 2 (on the even sizes 112, 56, 28, 14) pads one zero
 * at the bottom/right only (p=0,pe=1). Then the 7x7 average over the last 7x7 map and fc to 136
 * numbers: (x, y) of the 68 landmarks as fractions of the square input, x first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/face_align.h"
#include "model/import_faceapi.h"
#include "model/model.h"
#include "nn/net.h"

#define LM_MANIFEST "face_landmark_68_model-weights_manifest.json"

/* depthwise 3x3 + pointwise 1x1; name is face-api's prefix with '.' for '/'. */
static void put_separable(fa_text *t, const char *name, int in, int out, int stride) {
    fa_put(t, "conv(%d,k=3,s=%d,p=%d,pe=1,g=%d,bias=0,name=%s.depthwise) ", in, stride,
           stride == 2 ? 0 : 1, in, name);
    fa_put(t, "conv(%d,k=1,name=%s.pointwise) ", out, name);
}

static void put_dense_block(fa_text *t, int index, int in, int out) {
    char name[FA_NAME_MAX];
    snprintf(name, sizeof name, "dense%d.conv0", index);
    if (index == 0) fa_put(t, "conv(%d,k=3,s=2,p=0,pe=1,name=%s) relu ", out, name);
    else {
        put_separable(t, name, in, out, 2);
        fa_put(t, "relu ");
    }
    for (int k = 1; k <= 3; k++) {
        snprintf(name, sizeof name, "dense%d.conv%d", index, k);
        fa_put(t, k == 1 ? "block " : "block relu ");
        put_separable(t, name, out, out, 1);
        fa_put(t, "add ");
    }
    fa_put(t, "relu ");
}

static void landmark_arch(fa_text *t) {
    static const int channels[4] = {32, 64, 128, 256};
    t->len = 0;
    t->buf[0] = '\0';
    fa_put(t, "scale(name=input) ");
    for (int i = 0; i < 4; i++) put_dense_block(t, i, i ? channels[i - 1] : 3, channels[i]);
    fa_put(t, "avgpool linear(%d,name=fc)", 2 * SM_LANDMARKS);
}

/* face-api's name of one of our tensors: "dense1.conv2.depthwise.weight" ->
 * "dense1/conv2/depthwise_filter", "...pointwise.bias" -> "dense1/conv2/bias", "fc.weight" ->
 * "fc/weights". None is filled here (returns 0). */
static int landmark_tensor(const sm_tensor_info *info, const char *layer, float *dst, char *out,
                           size_t size) {
    (void)dst;
    int is_weight = info->slot == SM_SLOT_WEIGHT;
    char base[SM_NAME_MAX + 24];
    snprintf(base, sizeof base, "%s", layer);
    char *dot = strrchr(base, '.');
    const char *kind = dot ? dot + 1 : "";
    const char *suffix = is_weight ? "filters" : "bias";
    if (strcmp(layer, "fc") == 0) suffix = is_weight ? "weights" : "bias";
    else if (strcmp(kind, "depthwise") == 0) {
        *dot = '\0';
        suffix = "depthwise_filter";
    } else if (strcmp(kind, "pointwise") == 0) {
        *dot = '\0';
        suffix = is_weight ? "pointwise_filter" : "bias";
    }
    snprintf(out, size, "%s/%s", base, suffix);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = '/';
    return 0;
}

static const fa_network landmarks = {
    .manifest = LM_MANIFEST,
    .what = "landmark",
    .side = SM_LANDMARK_SIDE,
    .divisor = 255.0f,
    .arch = landmark_arch,
    .tensor = landmark_tensor,
};

siamese_status sm_import_faceapi_landmarks(const char *dir, siamese_model **out, sm_err *err) {
    return fa_import(dir, &landmarks, out, err);
}

siamese_status siamese_model_attach_faceapi_aligner(siamese_model *model, const char *dir) {
    if (!model) return SIAMESE_ERR_INVALID_ARG;
    if (!dir) return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "face aligner: no folder");
    const sm_shape *in = &model->arch.input; /* an ensemble's: its members', who embed its chips */
    if ((in->c != 3 && in->c != 1) || in->h != in->w)
        return sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG,
                       "face aligner: face chips are square with 1 or 3 channels, the model takes "
                       "%dx%dx%d",
                       in->c, in->h, in->w);
    siamese_model *aligner = NULL;
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = sm_import_faceapi_landmarks(dir, &aligner, &err);
    if (st != SIAMESE_OK) return sm_fail(&model->err, st, "%s", err.msg);
    siamese_model_free(model->aligner);
    model->aligner = aligner;
    return SIAMESE_OK;
}

int siamese_model_aligns_faces(const siamese_model *model) {
    return model && model->aligner != NULL;
}
