/* Precision names and the model's precision setting (bf16 on CPUs whose oneDNN kernels support it). */
#include <string.h>

#include "model/model.h"
#include "nn/net.h"

const char *siamese_precision_name(siamese_precision precision) {
    return precision == SIAMESE_PRECISION_BF16   ? "bf16"
           : precision == SIAMESE_PRECISION_AUTO ? "auto"
           : precision == SIAMESE_PRECISION_INT8 ? "int8"
                                                 : "fp32";
}

siamese_status siamese_precision_parse(const char *name, siamese_precision *out) {
    if (name && strcmp(name, "fp32") == 0) *out = SIAMESE_PRECISION_FP32;
    else if (name && strcmp(name, "bf16") == 0) *out = SIAMESE_PRECISION_BF16;
    else if (name && strcmp(name, "auto") == 0) *out = SIAMESE_PRECISION_AUTO;
    else if (name && strcmp(name, "int8") == 0) *out = SIAMESE_PRECISION_INT8;
    else return SIAMESE_ERR_INVALID_ARG;
    return SIAMESE_OK;
}

int siamese_bf16_supported(void) { return sm_bf16_supported(); }

siamese_precision siamese_model_set_precision(siamese_model *model, siamese_precision precision) {
    if (!model || !model->net) return SIAMESE_PRECISION_FP32;
    if (precision == SIAMESE_PRECISION_INT8) return sm_model_use_int8(model);
    sm_model_drop_int8(model);
    if (precision == SIAMESE_PRECISION_AUTO) {
        siamese_precision_choice choice;
        precision = siamese_precision_choose(model, 0, &choice) == SIAMESE_OK
                        ? choice.precision
                        : SIAMESE_PRECISION_FP32;
    }
    int bf16 = sm_net_set_bf16(model->net, precision == SIAMESE_PRECISION_BF16);
    return bf16 ? SIAMESE_PRECISION_BF16 : SIAMESE_PRECISION_FP32;
}

siamese_precision siamese_model_precision(const siamese_model *model) {
    if (model && model->qnet) return SIAMESE_PRECISION_INT8;
    return model && model->net && sm_net_bf16(model->net) ? SIAMESE_PRECISION_BF16
                                                          : SIAMESE_PRECISION_FP32;
}
