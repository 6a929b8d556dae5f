/* Status strings and the internal error record shared by every module. */
#include "base/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

siamese_status sm_fail(sm_err *err, siamese_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void sm_err_clear(sm_err *err) {
    if (err) {
        err->status = SIAMESE_OK;
        err->msg[0] = '\0';
    }
}

siamese_status sm_err_out(const sm_err *err, siamese_status status, char *errmsg, size_t size) {
    if (errmsg && size) snprintf(errmsg, size, "%s", status != SIAMESE_OK && err ? err->msg : "");
    return status;
}

siamese_status sm_refuse(char *errmsg, size_t size, const char *reason) {
    if (errmsg && size) snprintf(errmsg, size, "%s", reason);
    return SIAMESE_ERR_INVALID_ARG;
}

void sm_err_prefix(sm_err *err, const char *prefix) {
    if (!err || !prefix) return;
    char old[SM_ERRMSG_MAX];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
}

const char *siamese_status_str(siamese_status status) {
    switch (status) {
    case SIAMESE_OK:
        return "ok";
    case SIAMESE_ERR_INVALID_ARG:
        return "invalid argument";
    case SIAMESE_ERR_NOMEM:
        return "out of memory";
    case SIAMESE_ERR_IO:
        return "input/output error";
    case SIAMESE_ERR_FORMAT:
        return "bad file format";
    case SIAMESE_ERR_SPEC:
        return "bad architecture description";
    case SIAMESE_ERR_SHAPE:
        return "shape mismatch";
    case SIAMESE_ERR_BACKEND:
        return "oneDNN backend error";
    case SIAMESE_ERR_LIMIT:
        return "limit exceeded";
    case SIAMESE_ERR_NUMERIC:
        return "non-finite value";
    case SIAMESE_ERR_DATA:
        return "unusable dataset";
    case SIAMESE_ERR_INTERRUPTED:
        return "interrupted";
    case SIAMESE_ERR_UNSUPPORTED:
        return "unsupported";
    case SIAMESE_ERR_EXISTS:
        return "already exists";
    }
    return "unknown status";
}

const char *siamese_version(void) { return SIAMESE_VERSION_STRING; }
