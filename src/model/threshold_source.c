/* Where a model's decision threshold came from ("training: ...", "calibrate: ..."), kept in the
 * model file's __metadata__ as "threshold_source". */
#include <stdio.h>

#include "model/model.h"
#include "siamese.h"

const char *siamese_model_threshold_source(const siamese_model *model) {
    return model && model->threshold >= 0 ? model->threshold_source : "";
}

void siamese_model_set_threshold_source(siamese_model *model, const char *source) {
    if (!model) return;
    snprintf(model->threshold_source, sizeof model->threshold_source, "%s", source ? source : "");
}
