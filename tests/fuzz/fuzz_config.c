/* Fuzzes a run's config.json through sm_run_config_load (the file --resume reads first), then
 * saves what loaded and loads it back: the round trip must give the same file. */
#include "fuzz_common.h"
#include "run/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = fz_input_file("config.json", data, size);
    static sm_run_config config, back;
    sm_err err = {0};
    if (sm_run_config_load(&config, in, &err) != SIAMESE_OK) return 0;
    char out[512];
    fz_path(out, sizeof out, "config-again.json");
    if (sm_run_config_save(&config, out, &err) != SIAMESE_OK) abort();
    if (sm_run_config_load(&back, out, &err) != SIAMESE_OK) abort(); /* what we write we read */
    return 0;
}
