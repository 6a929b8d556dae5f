/* Pixel buffer allocation with a small process-wide cache of freed blocks (like Pillow's block
 * arena): decoding thousands of same-sized images then reuses warm memory instead of paying
 * fresh page faults for every buffer. Disabled under AddressSanitizer so it still sees misuse. */
#include <pthread.h>
#include <stdlib.h>

#include "image/image.h"

#if defined(__SANITIZE_ADDRESS__)
#define CACHE_SLOTS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CACHE_SLOTS 0
#endif
#endif
#ifndef CACHE_SLOTS
#define CACHE_SLOTS 16
#endif
#define MIN_CACHED ((size_t)16 << 10) /* small blocks come cheaply from malloc anyway */
#define MAX_CACHED ((size_t)64 << 20) /* never keep huge blocks */

#if CACHE_SLOTS > 0
typedef struct cached_block {
    void *ptr;
    size_t size;
} cached_block;

static cached_block cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* The smallest cached block that holds size bytes without wasting more than 4x. */
static void *take_cached(size_t size) {
    void *found = NULL;
    pthread_mutex_lock(&cache_lock);
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache[i].ptr && cache[i].size >= size && cache[i].size / 4 <= size &&
            (best < 0 || cache[i].size < cache[best].size))
            best = i;
    }
    if (best >= 0) {
        found = cache[best].ptr;
        cache[best].ptr = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
    return found;
}

/* Keeps the block if a slot is free; otherwise replaces the smallest smaller block. */
static void *give_cached(void *ptr, size_t size) {
    pthread_mutex_lock(&cache_lock);
    int slot = -1;
    for (int i = 0; i < CACHE_SLOTS && slot < 0; i++)
        if (!cache[i].ptr) slot = i;
    if (slot < 0) {
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache[i].size < size && (slot < 0 || cache[i].size < cache[slot].size)) slot = i;
    }
    void *evicted = ptr;
    if (slot >= 0) {
        evicted = cache[slot].ptr;
        cache[slot].ptr = ptr;
        cache[slot].size = size;
    }
    pthread_mutex_unlock(&cache_lock);
    return evicted;
}
#endif

void *sm_pixels_alloc(size_t size) {
#if CACHE_SLOTS > 0
    if (size >= MIN_CACHED && size <= MAX_CACHED) {
        void *p = take_cached(size);
        if (p) return p;
    }
#endif
    return malloc(size ? size : 1);
}

void sm_pixels_free(void *ptr, size_t size) {
    if (!ptr) return;
#if CACHE_SLOTS > 0
    if (size >= MIN_CACHED && size <= MAX_CACHED) ptr = give_cached(ptr, size);
#else
    (void)size;
#endif
    free(ptr);
}
