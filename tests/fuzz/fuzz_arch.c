/* Fuzzes the architecture text: parse for a few input shapes, then the canonical text must parse
 * again to the same canonical text, and the parameter table must build. */
#include "fuzz_common.h"
#include "nn/arch.h"

static const sm_shape shapes[] = {{3, 32, 32}, {1, 28, 28}, {3, 256, 256}, {1, 1, 1}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 8192) return 0;
    char *text = fz_text(data, size);
    static sm_arch arch, again;
    static char canon[16384], canon2[16384];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        sm_err err = {0};
        if (sm_arch_parse(text, shapes[s], &arch, &err) != SIAMESE_OK) continue;
        if (sm_arch_embedding_dim(&arch) < 1) abort();
        sm_arch_format(&arch, canon, sizeof canon);
        if (sm_arch_parse(canon, shapes[s], &again, &err) != SIAMESE_OK) abort();
        sm_arch_format(&again, canon2, sizeof canon2);
        if (strcmp(canon, canon2)) abort(); /* the canonical form is a fixed point */
        static sm_param_table table;
        sm_param_table_build(&arch, &table);
    }
    free(text);
    return 0;
}
