/* Fuzzes checkpoint files (checkpoint.safetensors: model tensors, Adam moments, --ema's averaged
 * weights, run state in __metadata__) through sm_checkpoint_load, and restores Adam and the
 * average from what loaded. */
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
        if (ckpt.ema_params) { /* --ema's averaged weights, into an average of the same size */
            sm_ema ema;
            sm_err ema_err = {0};
            if (sm_ema_init(&ema, 0.5f, ckpt.ema_params, ckpt.n, ckpt.ema_buffers, ckpt.n_buffers))
                abort();
            if (sm_checkpoint_restore_ema(&ckpt, "checkpoint.safetensors", &ema, &ema_err)) abort();
            sm_ema_free(&ema);
        }
        free(m);
        free(v);
        sm_checkpoint_close(&ckpt);
    } else if (ckpt.model || ckpt.file) {
        abort(); /* nothing is kept on failure */
    }
    return 0;
}
