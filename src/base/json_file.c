/* Reading a JSON file with the library's messages (see json_file.h). */
#include "base/json_file.h"

#include <stdlib.h>

#include "base/fileio.h"

siamese_status sm_json_read_file(const char *path, size_t flags, json_t **root, sm_err *err) {
    *root = NULL;
    unsigned char *text = NULL;
    size_t size = 0;
    siamese_status st = sm_read_file(path, &text, &size, err);
    if (st != SIAMESE_OK) return st;
    json_error_t jerr;
    *root = json_loadb((const char *)text, size, flags, &jerr);
    free(text);
    if (*root) return SIAMESE_OK;
    return sm_fail(err, SIAMESE_ERR_FORMAT, "%s:%d: %s", path, jerr.line, jerr.text);
}
