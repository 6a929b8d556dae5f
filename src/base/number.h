/* Strict number parsing for the library's file readers and specs: one family instead of a
 * strtol/strtod wrapper per file. */
#ifndef SM_NUMBER_H
#define SM_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/* The len characters at p must be exactly one number: no spaces, no '+', nothing after it, no
 * overflow. Integers are decimal and within [lo, hi]; unsigned ones are in base (10 or 16) with
 * no sign; doubles are anything strtod reads (including inf and nan: callers that need a
 * finite value check). 0 on success, -1 otherwise (then *out is untouched). */
int sm_parse_i64_n(const char *p, size_t len, int64_t lo, int64_t hi, int64_t *out);
int sm_parse_int_n(const char *p, size_t len, int lo, int hi, int *out);
int sm_parse_u64_n(const char *p, size_t len, int base, uint64_t *out);
int sm_parse_double_n(const char *p, size_t len, double *out);

/* The same for a whole NUL-terminated text; NULL fails. */
int sm_parse_i64(const char *text, int64_t lo, int64_t hi, int64_t *out);
int sm_parse_int(const char *text, int lo, int hi, int *out);
int sm_parse_u64(const char *text, int base, uint64_t *out);
int sm_parse_double(const char *text, double *out);

#endif
