/* Memory for large tensors: aligned, and backed by transparent huge pages where the kernel allows. */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#include "base/tensor_alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/util.h"

#define HUGE_PAGE ((size_t)2 << 20)

void *sm_tensor_alloc(size_t bytes, size_t align) {
    if (bytes == 0) bytes = 1;
    int huge = bytes >= HUGE_PAGE && !sm_env_is_one("SIAMESE_ENGINE_NO_HUGE_PAGES");
    void *p = NULL;
    if (posix_memalign(&p, huge && align < HUGE_PAGE ? HUGE_PAGE : align, bytes) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    /* advice only: a kernel without THP refuses it, and the memory is as good without */
    if (huge) (void)madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
#endif
    return p;
}

void *sm_tensor_calloc(size_t count, size_t elem, size_t align) {
    if (count == 0) count = 1;
    if (elem == 0 || count > SIZE_MAX / elem) return NULL;
    void *p = sm_tensor_alloc(count * elem, align);
    if (p) memset(p, 0, count * elem);
    return p;
}
