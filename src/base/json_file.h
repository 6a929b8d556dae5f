/* Reading a JSON file with the library's messages: the path and the reason, as for every file. */
#ifndef SM_JSON_FILE_H
#define SM_JSON_FILE_H

#include <jansson.h>

#include "base/errors.h"

/* Parses the file at path with jansson's flags into *root (the caller's, json_decref). A file
 * that cannot be read fails with SIAMESE_ERR_IO, "PATH: cannot open: REASON"; one that does not
 * parse with SIAMESE_ERR_FORMAT, "PATH:LINE: jansson's message". */
siamese_status sm_json_read_file(const char *path, size_t flags, json_t **root, sm_err *err);

#endif
