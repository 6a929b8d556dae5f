/* A memory-bounded cache of decoded, resized uint8 images, one slot per dataset image. */
#ifndef SM_IMAGE_CACHE_H
#define SM_IMAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sm_image_cache {
    uint8_t *arena;     /* allocated * image_bytes bytes; grows, never past the budget */
    size_t image_bytes; /* bytes of one decoded image (H * W * C) */
    int capacity;       /* images that fit in the budget */
    int allocated;      /* slots in the arena */
    int used;
    int32_t *slot_of; /* [n_images]: arena slot, or -1 when not cached */
    int n_images;
} sm_image_cache;

/* An empty cache for at most budget bytes of images; 0 on success. */
int sm_image_cache_init(sm_image_cache *cache, int n_images, size_t image_bytes, size_t budget);
void sm_image_cache_free(sm_image_cache *cache);
/* The cached pixels of image, or NULL when it is not cached. The pointer stays valid until the
 * next sm_image_cache_reserve (which may move the arena). */
uint8_t *sm_image_cache_get(const sm_image_cache *cache, int image);
/* Reserves a slot for image and returns it, or NULL when the budget (or memory) is exhausted. */
uint8_t *sm_image_cache_reserve(sm_image_cache *cache, int image);
/* Forgets image after a failed decode (its slot stays unused). */
void sm_image_cache_drop(sm_image_cache *cache, int image);
/* Bytes of images held. */
size_t sm_image_cache_bytes(const sm_image_cache *cache);

#endif
