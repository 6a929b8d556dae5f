/* The fingerprint of a model: what must match for two embeddings to be comparable (architecture,
 * weights, input geometry, embedding length, metric), as one text that files record. */
#include "index/fingerprint.h"

#include <stdio.h>
#include <string.h>

#include "model/model.h"

/* 64-bit FNV-1a over bytes, eight at a time (the weights are hundreds of megabytes). */
static uint64_t hash_bytes(const void *data, size_t size) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        h = (h ^ word) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < size; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

siamese_status siamese_model_fingerprint(siamese_model *model, char *buf, size_t size) {
    if (!sm_model_ready(model) || !buf || size == 0) return SIAMESE_ERR_INVALID_ARG;
    uint64_t arch_hash = 0, weights_hash = 0; /* one network's own; an ensemble's chained */
    for (int i = 0; i < sm_model_n_networks(model); i++) {
        const siamese_model *net = sm_model_network(model, i);
        size_t n_params = siamese_model_param_count(net);
        arch_hash = arch_hash * 31 + hash_bytes(net->arch_text, strlen(net->arch_text));
        weights_hash =
            weights_hash * 31 + hash_bytes(sm_net_params(net->net), n_params * sizeof(float));
    }
    int n = snprintf(buf, size, "arch=%016llx;weights=%016llx;input=%dx%dx%d;dim=%d;metric=%s",
                     (unsigned long long)arch_hash, (unsigned long long)weights_hash,
                     siamese_model_channels(model), siamese_model_height(model),
                     siamese_model_width(model), siamese_model_embedding_dim(model),
                     siamese_metric_name(siamese_model_metric(model)));
    return n < 0 || (size_t)n >= size ? SIAMESE_ERR_INVALID_ARG : SIAMESE_OK;
}

/* The value of field key ("weights") in a fingerprint, copied to out ("" when absent). */
static void field(const char *fp, const char *key, char *out, size_t size) {
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *p = fp; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1, *end = strchr(v, ';');
            size_t len = end ? (size_t)(end - v) : strlen(v);
            if (len >= size) len = size - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

int sm_fingerprint_mismatch(const char *expected, const char *actual, char *why, size_t size) {
    /* the most telling difference first: weights differ whenever anything else does */
    static const char *const keys[] = {"input", "dim", "metric", "arch", "weights"};
    static const char *const what[] = {"input geometry", "embedding length", "metric",
                                       "architecture", "weights"};
    if (strcmp(expected, actual) == 0) return 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char a[128], b[128];
        field(expected, keys[i], a, sizeof a);
        field(actual, keys[i], b, sizeof b);
        if (strcmp(a, b) != 0) {
            snprintf(why, size, "different %s (%s %s, the model's %s)", what[i], keys[i], a, b);
            return 1;
        }
    }
    snprintf(why, size, "a different fingerprint (%s, the model's %s)", expected, actual);
    return 1;
}
