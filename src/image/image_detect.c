/* Image format detection from magic bytes (never from the file name). */
#include <string.h>

#include "image/image.h"

static int starts_with(const uint8_t *data, size_t size, const char *magic, size_t n) {
    return size >= n && memcmp(data, magic, n) == 0;
}

sm_image_format sm_image_detect(const uint8_t *data, size_t size) {
    if (!data) return SM_IMAGE_UNKNOWN;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return SM_IMAGE_JPEG;
    if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) return SM_IMAGE_PNG;
    if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6))
        return SM_IMAGE_GIF;
    if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return SM_IMAGE_WEBP;
    if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6') return SM_IMAGE_PNM;
    return SM_IMAGE_UNKNOWN;
}

const char *sm_image_format_name(sm_image_format format) {
    switch (format) {
    case SM_IMAGE_JPEG:
        return "JPEG";
    case SM_IMAGE_PNG:
        return "PNG";
    case SM_IMAGE_PNM:
        return "PNM";
    case SM_IMAGE_WEBP:
        return "WebP";
    case SM_IMAGE_GIF:
        return "GIF";
    case SM_IMAGE_UNKNOWN:
        break;
    }
    return "unknown";
}
