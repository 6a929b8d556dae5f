/* Internal error reporting: a status plus a message that names the file or token and the reason. */
#ifndef SM_ERRORS_H
#define SM_ERRORS_H

#include "siamese.h"

#define SM_ERRMSG_MAX 512

typedef struct sm_err {
    siamese_status status;
    char msg[SM_ERRMSG_MAX];
} sm_err;

/* Records status and a printf-style message in err (err may be NULL); returns status. */
siamese_status sm_fail(sm_err *err, siamese_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to SIAMESE_OK with an empty message. */
void sm_err_clear(sm_err *err);

/* Hands a call's outcome to its caller's errmsg buffer (when not NULL and size > 0): err's message
 * when status is not SIAMESE_OK, else "". Returns status. */
siamese_status sm_err_out(const sm_err *err, siamese_status status, char *errmsg, size_t size);

/* A call refused before it starts (SIAMESE_ERR_INVALID_ARG), its reason put in the caller's
 * errmsg buffer (when not NULL and size > 0). */
siamese_status sm_refuse(char *errmsg, size_t size, const char *reason);

/* Prefixes the message already in err with "prefix: " (used to add a file name). */
void sm_err_prefix(sm_err *err, const char *prefix);

#endif
