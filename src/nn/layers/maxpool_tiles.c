/* Max pooling whose windows tile the map (stride = kernel, no padding) on fp32 nChw16c in training plans: a host kernel that reads each input once forward and writes each input gradient once backward, with PyTorch's maxima and gradient routing. */
#include <stdint.h>
#include <string.h>

#include <immintrin.h>

#include "nn/layers/layers.h"

/* Why not oneDNN's: for the omniglot preset's first pooling (128 x 64 x 52 x 52, 2x2), oneDNN
 * 2.6's training forward takes twice its inference forward (one core of an Intel Xeon model
 * 207: 23 ms against 11 ms; an 88 MB copy takes 12 ms) and its backward 25 ms, as it clears the
 * gradient before scattering into it. Windows that do not overlap need neither: each output
 * reads its own window, and each input element receives at most one gradient. */

#define LANES 16 /* channels in one block of nChw16c */

typedef struct tile_pool {
    dnnl_memory_t src, dst; /* forward: x -> y; backward: dy -> dx */
    uint8_t *argmax;        /* [n, blocks, oh, ow, 16]: each maximum's offset in its window */
    int64_t planes;         /* n x channel blocks */
    int h, w, oh, ow, kh, kw;
} tile_pool;

/* Where the k-th window element of 16 channels wins: a NaN always (the last one), else a value
 * above the best so far (so ties go to the first maximum in row-major window order), as
 * PyTorch's CPU kernel and tests/oracle/maxpool2d.c do. Two halves of 8 channels (AVX2; a CPU
 * without it keeps oneDNN's pooling). */
__attribute__((target("avx2"))) static void take_if_greater(const float *v, float k, __m256 best[2],
                                                            __m256 where[2]) {
    for (int half = 0; half < 2; half++) {
        __m256 x = _mm256_loadu_ps(v + 8 * half);
        __m256 take = _mm256_or_ps(_mm256_cmp_ps(x, best[half], _CMP_GT_OQ),
                                   _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        best[half] = _mm256_blendv_ps(best[half], x, take);
        where[half] = _mm256_blendv_ps(where[half], _mm256_set1_ps(k), take);
    }
}

/* 16 window offsets held as floats, stored as bytes. */
__attribute__((target("avx2"))) static void store_offsets(const __m256 where[2], uint8_t *at) {
    __m256i words = _mm256_packs_epi32(_mm256_cvtps_epi32(where[0]), _mm256_cvtps_epi32(where[1]));
    words = _mm256_permute4x64_epi64(words, 0xD8); /* packs interleaves the 128-bit halves */
    __m128i bytes =
        _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    _mm_storeu_si128((__m128i *)at, bytes);
}

/* One output row of one plane: the maximum of each window and where it is. */
__attribute__((target("avx2"))) static void forward_row(const tile_pool *p, const float *plane,
                                                        int oy, float *y, uint8_t *at) {
    for (int ox = 0; ox < p->ow; ox++, y += LANES, at += LANES) {
        const float *window = plane + ((size_t)oy * p->kh * p->w + (size_t)ox * p->kw) * LANES;
        __m256 best[2] = {_mm256_loadu_ps(window), _mm256_loadu_ps(window + 8)};
        __m256 where[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int i = 0, k = 0; i < p->kh; i++)
            for (int j = 0; j < p->kw; j++, k++)
                if (k > 0)
                    take_if_greater(window + ((size_t)i * p->w + (size_t)j) * LANES, (float)k, best,
                                    where);
        _mm256_storeu_ps(y, best[0]);
        _mm256_storeu_ps(y + 8, best[1]);
        store_offsets(where, at);
    }
}

static int run_forward(void *arg) {
    const tile_pool *p = arg;
    const float *x = sm_memory_data(p->src);
    float *y = sm_memory_data(p->dst);
    if (!x || !y) return -1;
    size_t in_plane = (size_t)p->h * p->w * LANES, out_row = (size_t)p->ow * LANES;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t plane = 0; plane < p->planes; plane++)
        for (int oy = 0; oy < p->oh; oy++) {
            size_t out = ((size_t)plane * p->oh + (size_t)oy) * out_row;
            forward_row(p, x + (size_t)plane * in_plane, oy, y + out, p->argmax + out);
        }
    return 0;
}

/* One input row of one plane's gradient: each element gets its window's gradient when it was
 * the window's maximum, else 0 (also the rows and columns no window covers). */
__attribute__((target("avx2"))) static void backward_row(const tile_pool *p, const float *dy,
                                                         const uint8_t *argmax, int64_t plane,
                                                         int iy, float *dx) {
    int oy = iy / p->kh;
    if (oy >= p->oh) {
        memset(dx, 0, (size_t)p->w * LANES * sizeof *dx);
        return;
    }
    size_t out = ((size_t)plane * p->oh + (size_t)oy) * p->ow * LANES;
    for (int ix = 0; ix < p->w; ix++, dx += LANES) {
        int ox = ix / p->kw;
        if (ox >= p->ow) {
            memset(dx, 0, LANES * sizeof *dx);
            continue;
        }
        const float *g = dy + out + (size_t)ox * LANES;
        __m128i at = _mm_loadu_si128((const __m128i *)(argmax + out + (size_t)ox * LANES));
        char k = (char)((iy % p->kh) * p->kw + ix % p->kw);
        __m128i mine = _mm_cmpeq_epi8(at, _mm_set1_epi8(k)); /* 0xff where this element won */
        __m256 lo = _mm256_castsi256_ps(_mm256_cvtepi8_epi32(mine));
        __m256 hi = _mm256_castsi256_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(mine, 8)));
        _mm256_storeu_ps(dx, _mm256_and_ps(lo, _mm256_loadu_ps(g)));
        _mm256_storeu_ps(dx + 8, _mm256_and_ps(hi, _mm256_loadu_ps(g + 8)));
    }
}

static int run_backward(void *arg) {
    const tile_pool *p = arg;
    const float *dy = sm_memory_data(p->src);
    float *dx = sm_memory_data(p->dst);
    if (!dy || !dx) return -1;
    size_t in_row = (size_t)p->w * LANES;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t plane = 0; plane < p->planes; plane++)
        for (int iy = 0; iy < p->h; iy++)
            backward_row(p, dy, p->argmax, plane, iy,
                         dx + ((size_t)plane * p->h + (size_t)iy) * in_row);
    return 0;
}

static void md_blocked16(dnnl_memory_desc_t *md, int64_t n, int64_t c, int64_t h, int64_t w) {
    dnnl_dims_t dims = {n, c, h, w};
    dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_aBcd16b);
}

int sm_maxpool_tiles_fit(const sm_builder *b, const sm_layer *layer, const sm_value *in) {
    if (!b->training || !b->host_pool || !__builtin_cpu_supports("avx2") ||
        in->md.data_type != dnnl_f32 || in->md.ndims != 4)
        return 0;
    if (layer->sh != layer->kh || layer->sw != layer->kw || layer->ph != 0 || layer->pw != 0 ||
        layer->kh * layer->kw > 255 || layer->out_shape.h < 1 || layer->out_shape.w < 1)
        return 0;
    dnnl_memory_desc_t blocked;
    md_blocked16(&blocked, in->md.dims[0], in->md.dims[1], in->md.dims[2], in->md.dims[3]);
    return sm_md_equal(&in->md, &blocked);
}

static siamese_status pool_step(sm_builder *b, const tile_pool *pass, dnnl_memory_t src,
                                dnnl_memory_t dst, int backward) {
    tile_pool a = *pass;
    a.src = src;
    a.dst = dst;
    return sm_builder_host_step_copy(b, backward, backward ? run_backward : run_forward, &a,
                                     sizeof a);
}

siamese_status sm_maxpool_tiles_build(sm_builder *b, const sm_layer *layer, const sm_value *in,
                                      int with_diff, sm_value *out) {
    tile_pool pass = {0};
    pass.planes = in->md.dims[0] * ((in->md.dims[1] + LANES - 1) / LANES);
    pass.h = (int)in->md.dims[2];
    pass.w = (int)in->md.dims[3];
    pass.oh = layer->out_shape.h;
    pass.ow = layer->out_shape.w;
    pass.kh = layer->kh;
    pass.kw = layer->kw;
    dnnl_memory_desc_t out_md;
    md_blocked16(&out_md, in->md.dims[0], in->md.dims[1], pass.oh, pass.ow);
    size_t outputs = (size_t)pass.planes * (size_t)pass.oh * (size_t)pass.ow * LANES;
    siamese_status st = sm_builder_value(b, in, with_diff, &out_md, out);
    if (st == SIAMESE_OK) st = sm_builder_blob(b, outputs, (void **)&pass.argmax);
    if (st == SIAMESE_OK) st = pool_step(b, &pass, in->mem, out->mem, 0);
    if (st != SIAMESE_OK || !in->diff || !out->diff) return st;
    st = sm_builder_begin_group(b);
    if (st == SIAMESE_OK) st = pool_step(b, &pass, out->diff, in->diff, 1);
    return st;
}
