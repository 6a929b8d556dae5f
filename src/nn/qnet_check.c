/* What the int8 engine runs (nn/qnet.h): the layers it takes, folds and fuses, and the reason it
 * gives for the first one it cannot run. */
#include "nn/qnet.h"

int sm_qnet_is_fold(const sm_layer *l) {
    return l->kind == SM_LAYER_BATCHNORM2D || l->kind == SM_LAYER_SCALE;
}

static int plain_conv(const sm_layer *l) {
    return l->kind == SM_LAYER_CONV2D && l->groups == 1 && l->ph_end == l->ph && l->pw_end == l->pw;
}

int sm_qnet_is_pre_fold(const sm_arch *arch, int i) {
    const sm_layer *l = &arch->layers[i];
    if (l->kind != SM_LAYER_SCALE || i + 1 >= arch->n_layers) return 0;
    if (i > 0 &&
        (arch->layers[i - 1].kind == SM_LAYER_CONV2D || sm_qnet_is_fold(&arch->layers[i - 1])))
        return 0; /* a scale after a conv is folded into that one */
    const sm_layer *next = &arch->layers[i + 1];
    return plain_conv(next) && next->ph == 0 && next->pw == 0;
}

/* 1 when layer i ends a conv: the conv itself or a batchnorm / scale folded into it. */
static int ends_conv(const sm_arch *arch, int i) {
    while (i >= 0 && sm_qnet_is_fold(&arch->layers[i]) && !sm_qnet_is_pre_fold(arch, i)) i--;
    return i >= 0 && arch->layers[i].kind == SM_LAYER_CONV2D;
}

/* Why layer i cannot run in the engine, or NULL when it can. block: inside a residual block (1 in
 * its main branch, 2 in its skip branch, 0 outside); skip_convs: convs since its skip. */
static const char *unsupported(const sm_arch *arch, int i, int block, int skip_convs,
                               int seen_compute) {
    const sm_layer *l = &arch->layers[i];
    int last = i + 1 == arch->n_layers;
    const sm_layer *next = last ? NULL : &arch->layers[i + 1];
    switch (l->kind) {
    case SM_LAYER_CONV2D:
        if (!plain_conv(l)) return "a grouped or end-padded conv";
        return block == 2 && skip_convs > 0 ? "a second conv in a skip branch" : NULL;
    case SM_LAYER_LINEAR:
    case SM_LAYER_FLATTEN:
        return block ? "a linear or flatten layer inside a residual block" : NULL;
    case SM_LAYER_DROPOUT: /* the identity in inference */
        return NULL;
    case SM_LAYER_BATCHNORM2D:
    case SM_LAYER_SCALE:
        return ends_conv(arch, i - 1) || sm_qnet_is_pre_fold(arch, i)
                   ? NULL
                   : "a batchnorm or scale neither after a conv nor before an unpadded conv";
    case SM_LAYER_RELU:
    case SM_LAYER_MAXPOOL2D:
        if (!seen_compute) return "before the first conv or linear layer";
        return block == 2 ? "a relu or maxpool in a skip branch" : NULL;
    case SM_LAYER_AVGPOOL:
        return !seen_compute || block ? "an average pool before the first conv or in a block"
                                      : NULL;
    case SM_LAYER_BLOCK:
        if (block) return "a residual block inside a block";
        return next && next->kind == SM_LAYER_CONV2D ? NULL
                                                     : "a residual block not starting with a conv";
    case SM_LAYER_SKIP:
        if (block != 1) return "a skip outside a residual block";
        if (!ends_conv(arch, i - 1)) return "a main branch not ending with a conv";
        return next && next->kind == SM_LAYER_CONV2D ? NULL
                                                     : "a skip branch not starting with a conv";
    case SM_LAYER_ADD:
        if (!block) return "an add outside a residual block";
        if (!ends_conv(arch, i - 1)) return "a branch not ending with a conv";
        return next && next->kind == SM_LAYER_RELU ? NULL
                                                   : "a residual add without a relu after it";
    }
    return "an unknown layer";
}

siamese_status sm_qnet_check(const sm_arch *arch, sm_err *err) {
    int seen_compute = 0, block = 0, skip_convs = 0;
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        const char *why = unsupported(arch, i, block, skip_convs, seen_compute);
        if (why)
            return sm_fail(err, SIAMESE_ERR_UNSUPPORTED,
                           "int8: layer %d (%s) is not supported: %s; the int8 engine runs conv "
                           "(ungrouped, padded alike on both sides), batchnorm and scale folded "
                           "into a conv, relu, maxpool, average pool, flatten, linear and residual "
                           "blocks (block ... [skip conv] add relu)",
                           i + 1, l->name[0] ? l->name : sm_layer_kind_name(l->kind), why);
        if (l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR) seen_compute = 1;
        if (l->kind == SM_LAYER_CONV2D && block == 2) skip_convs++;
        if (l->kind == SM_LAYER_BLOCK) block = 1;
        if (l->kind == SM_LAYER_SKIP) block = 2, skip_convs = 0;
        if (l->kind == SM_LAYER_ADD) block = 0;
    }
    if (block)
        return sm_fail(err, SIAMESE_ERR_UNSUPPORTED, "int8: a residual block without its add");
    return SIAMESE_OK;
}
