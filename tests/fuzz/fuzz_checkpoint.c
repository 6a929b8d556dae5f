/* Fuzzes checkpoint files (checkpoint.safetensors: model tensors, Adam moments, run state in
 * __metadata__) through sm_checkpoint_load, and restores Adam from what loaded. */
#include "fuzz_common.h"
#include "model/model.h"
#include "nn/adam.h"
#include "run/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_input_file("checkpoint.safetensors", data, size);
    sm_checkpoint ckpt;
    sm_err err = {0};
    if (sm_checkpoint_load(path, &ckpt, &err) == SIAMESE_OK) {
        if (!ckpt.model || !ckpt.exp_avg || !ckpt.exp_avg_sq) abort();
        float *m = malloc((ckpt.n + 1) * sizeof *m), *v = malloc((ckpt.n + 1) * sizeof *v);
        if (!m || !v) abort();
        sm_adam adam = {0};
        adam.m = m;
        adam.v = v;
        sm_checkpoint_restore_adam(&ckpt, &adam);
        free(m);
        free(v);
        sm_checkpoint_close(&ckpt);
    } else if (ckpt.model || ckpt.file) {
        abort(); /* nothing is kept on failure */
    }
    return 0;
}
