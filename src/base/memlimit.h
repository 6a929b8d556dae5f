/* How much address space the process has left under its limit (ulimit -v, RLIMIT_AS). */
#ifndef SM_MEMLIMIT_H
#define SM_MEMLIMIT_H

#include <stddef.h>

/* 1 when the process has an address-space limit and less than need bytes of it are left (the
 * bytes left in *left); 0 when there is no limit, enough is left, or it cannot be told. */
int sm_address_space_short(size_t need, size_t *left);

#endif
