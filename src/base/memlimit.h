/* How much address space the process has left under its limit (ulimit -v, RLIMIT_AS). */
#ifndef SM_MEMLIMIT_H
#define SM_MEMLIMIT_H

#include <stddef.h>

/* 1 when the process has an address-space limit and less than need bytes of it are left (the
 * bytes left in *left); 0 when there is no limit, enough is left, or it cannot be told. */
int sm_address_space_short(size_t need, size_t *left);

/* oneDNN 2.6 generates its sgemm kernels (dozens of 320 KB; 52 = 16.3 MB for the inner products
 * of the test networks) lazily, on a process's first GEMM, and writes through a NULL code buffer
 * when their mmap fails under ulimit -v: the address space to have left before a first GEMM. */
#define SM_GEMM_JIT_ROOM ((size_t)24 << 20)

#endif
