/* Precision names and the model's precision setting (bf16 on CPUs whose oneDNN kernels support it). */
#include "base/util.h"
#include "model/model.h"
#include "nn/net.h"

static const char *const precision_names[] = {[SIAMESE_PRECISION_FP32] = "fp32",
                                              [SIAMESE_PRECISION_BF16] = "bf16",
                                              [SIAMESE_PRECISION_AUTO] = "auto",
                                              [SIAMESE_PRECISION_INT8] = "int8"};
#define N_PRECISIONS ((int)(sizeof precision_names / sizeof precision_names[0]))

const char *siamese_precision_name(siamese_precision precision) {
    return sm_name_of(precision_names, N_PRECISIONS, (int)precision);
}

siamese_status siamese_precision_parse(const char *name, siamese_precision *out) {
    int i = sm_name_index(name, precision_names, N_PRECISIONS);
    if (i < 0 || !out) return SIAMESE_ERR_INVALID_ARG;
    *out = (siamese_precision)i;
    return SIAMESE_OK;
}

int siamese_bf16_supported(void) { return sm_bf16_supported(); }

/* An ensemble's members all compute in one precision: int8 only when every member can. */
static siamese_precision set_members_precision(siamese_model *model, siamese_precision precision) {
    siamese_precision got = precision;
    for (int i = 0; i < model->n_members && got == precision; i++) {
        siamese_model *m = model->members[i];
        got = siamese_model_set_precision(m, precision);
        if (got != precision && precision == SIAMESE_PRECISION_INT8)
            sm_fail(&model->err, m->err.status, "ensemble member %d: %s", i, m->err.msg);
    }
    if (got != precision) /* back to one precision for all: the one the failing member fell to */
        for (int i = 0; i < model->n_members; i++)
            siamese_model_set_precision(model->members[i], got);
    return got;
}

siamese_precision siamese_model_set_precision(siamese_model *model, siamese_precision precision) {
    if (!sm_model_ready(model)) return SIAMESE_PRECISION_FP32;
    if (precision == SIAMESE_PRECISION_AUTO) { /* measured with the int8 engine, if any, unused */
        siamese_precision_choice choice;
        precision = siamese_precision_choose(model, 0, &choice) == SIAMESE_OK
                        ? choice.precision
                        : SIAMESE_PRECISION_FP32;
    }
    if (model->n_members) return set_members_precision(model, precision);
    if (precision == SIAMESE_PRECISION_INT8) return sm_model_use_int8(model);
    sm_model_drop_int8(model);
    int bf16 = sm_net_set_bf16(model->net, precision == SIAMESE_PRECISION_BF16);
    return bf16 ? SIAMESE_PRECISION_BF16 : SIAMESE_PRECISION_FP32;
}

siamese_precision siamese_model_precision(const siamese_model *model) {
    if (model && model->n_members) return siamese_model_precision(model->members[0]);
    if (model && model->qnet) return SIAMESE_PRECISION_INT8;
    return model && model->net && sm_net_bf16(model->net) ? SIAMESE_PRECISION_BF16
                                                          : SIAMESE_PRECISION_FP32;
}
