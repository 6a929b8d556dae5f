/* Freezing part of a model for fine-tuning: layers chosen by parameter-name prefix get no weight gradients and their batchnorms use running statistics. */
#include <string.h>

#include "model/model.h"

/* name is prefix itself or starts with prefix and a '.' ("layer1" matches "layer1.0.conv1",
 * not "layer10"); "" matches every name. */
static int prefix_matches(const char *name, const char *prefix) {
    size_t n = strlen(prefix);
    return n == 0 || (strncmp(name, prefix, n) == 0 && (name[n] == '\0' || name[n] == '.'));
}

int siamese_model_freeze(siamese_model *model, const char *prefix, int frozen) {
    if (!model) return -1;
    if (model->n_members) {
        sm_ensemble_refuse(model, "freeze", "be frozen");
        return -1;
    }
    if (!prefix || !model->net) {
        sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG, "freeze: %s",
                prefix ? "the model holds no network" : "no prefix");
        return -1;
    }
    const sm_arch *arch = sm_net_arch(model->net);
    int matched = 0;
    for (int i = 0; i < arch->n_layers; i++) {
        if (!arch->layers[i].name[0] || !prefix_matches(arch->layers[i].name, prefix)) continue;
        sm_net_freeze_layer(model->net, i, frozen, frozen);
        matched++;
    }
    if (matched == 0)
        sm_fail(&model->err, SIAMESE_ERR_INVALID_ARG,
                "freeze: no layer's parameters are named '%s' or '%s.*'", prefix, prefix);
    return matched ? matched : -1;
}
