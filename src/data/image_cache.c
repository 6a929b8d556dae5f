/* A memory-bounded cache of decoded images: one arena that grows up to the byte budget. */
#include "data/image_cache.h"

#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

int sm_image_cache_init(sm_image_cache *cache, int n_images, size_t image_bytes, size_t budget) {
    memset(cache, 0, sizeof *cache);
    cache->image_bytes = image_bytes;
    cache->n_images = n_images;
    cache->slot_of = malloc((size_t)(n_images + 1) * sizeof *cache->slot_of);
    if (!cache->slot_of) return -1;
    for (int i = 0; i < n_images; i++) cache->slot_of[i] = -1;
    size_t fit = image_bytes ? budget / image_bytes : 0;
    cache->capacity = fit > (size_t)n_images ? n_images : (int)fit;
    return 0;
}

void sm_image_cache_free(sm_image_cache *cache) {
    free(cache->arena);
    free(cache->slot_of);
    memset(cache, 0, sizeof *cache);
}

uint8_t *sm_image_cache_get(const sm_image_cache *cache, int image) {
    if (image < 0 || image >= cache->n_images || cache->slot_of[image] < 0) return NULL;
    return cache->arena + (size_t)cache->slot_of[image] * cache->image_bytes;
}

uint8_t *sm_image_cache_reserve(sm_image_cache *cache, int image) {
    if (image < 0 || image >= cache->n_images) return NULL;
    if (cache->slot_of[image] >= 0) return sm_image_cache_get(cache, image);
    /* the arena grows as images arrive, up to the budget's capacity */
    if (sm_grow_max((void **)&cache->arena, &cache->allocated, cache->used + 1, cache->image_bytes,
                    cache->capacity))
        return NULL;
    cache->slot_of[image] = cache->used++;
    return sm_image_cache_get(cache, image);
}

void sm_image_cache_drop(sm_image_cache *cache, int image) {
    if (image >= 0 && image < cache->n_images) cache->slot_of[image] = -1;
}

size_t sm_image_cache_bytes(const sm_image_cache *cache) {
    return (size_t)cache->used * cache->image_bytes;
}
