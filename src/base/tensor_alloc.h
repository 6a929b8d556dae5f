/* Memory for large tensors: aligned, and backed by transparent huge pages where the kernel allows. */
#ifndef SM_TENSOR_ALLOC_H
#define SM_TENSOR_ALLOC_H

#include <stddef.h>

/* bytes (at least 1) aligned to align (a power of two, a multiple of sizeof(void *)), NULL when
 * memory runs out; free() releases it. A block of 2 MiB or more is aligned to 2 MiB and asked to
 * be backed by huge pages (madvise MADV_HUGEPAGE: under THP's usual "madvise" mode a tensor
 * otherwise gets 4 KiB pages, whose TLB misses cost the seed network's steps about a tenth on an
 * Intel Xeon, bench/README.md); SIAMESE_ENGINE_NO_HUGE_PAGES=1 turns that off. The contents are
 * undefined, as malloc's. */
void *sm_tensor_alloc(size_t bytes, size_t align);
/* count elements of elem bytes (at least one element), zeroed, as sm_tensor_alloc places them;
 * NULL when memory runs out or the size overflows. */
void *sm_tensor_calloc(size_t count, size_t elem, size_t align);

#endif
