/* siamese smoke: builds a model and trains a few steps on random data (until `train` lands). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "siamese.h"

int cli_smoke(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "siamese smoke: the engine is not built yet\n");
    return CLI_EXIT_FAIL;
}
