/* Run under mpirun by tests/test_mpi.sh (issue 16): one data-parallel step of a small network
 * against the one-process step of the same global batch, on every rank. The summed gradient must
 * equal the one-process gradient to float rounding, the loss too, for batches that split evenly,
 * unevenly and with an idle rank (fewer pairs than ranks); given only its slice
 * (sm_trainer_step_share), a rank must step exactly as given the whole batch. A sharded search
 * refused on one rank only must be refused on every rank, none left waiting. Exit 0 when every
 * check passed. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "nn/net.h"
#include "run/dist.h"
#include "run/trainer.h"
#include "siamese.h"

#define ARCH                                                                                       \
    "conv(8,k=3,p=1) relu maxpool(2) conv(8,k=3,p=1) relu flatten linear(32) relu linear(16)"
#define EMBED 16 /* ARCH's last layer */
#define SIDE 12
#define PAIRS_MAX 9

static siamese_model *make_model(void) {
    siamese_model_params mp = siamese_model_default_params();
    mp.arch = ARCH;
    mp.channels = 1;
    mp.height = mp.width = SIDE;
    mp.seed = 7;
    mp.threads = 1;
    siamese_model *m = NULL;
    if (siamese_model_create(&mp, &m) != SIAMESE_OK) {
        fprintf(stderr, "model: %s\n", m ? siamese_model_errmsg(m) : "out of memory");
        exit(1);
    }
    return m;
}

/* A fixed batch: images from a small LCG, labels alternating similar / dissimilar. */
static void make_batch(float *a, float *b, float *labels, int n) {
    unsigned s = 12345;
    for (int i = 0; i < n * SIDE * SIDE; i++) {
        s = s * 1103515245u + 12345u;
        a[i] = (float)((s >> 8) & 0xffff) / 65536.0f;
        s = s * 1103515245u + 12345u;
        b[i] = (float)((s >> 8) & 0xffff) / 65536.0f;
    }
    for (int i = 0; i < n; i++) labels[i] = (float)(i % 2);
}

/* The step's loss and a copy of the gradient it applied; share = 1 gives the trainer only this
 * rank's slice (sm_trainer_step_share, as a loader with a share does), after checking that a
 * slice of the wrong size is refused. */
static float step(siamese_model *m, sm_dist *dist, const float *a, const float *b,
                  const float *labels, int n, int share, float *grads) {
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.max_pairs = PAIRS_MAX;
    siamese_trainer *t = NULL;
    if (siamese_trainer_create(m, &tp, &t) != SIAMESE_OK) {
        fprintf(stderr, "trainer: %s\n", t ? siamese_trainer_errmsg(t) : "out of memory");
        exit(1);
    }
    sm_trainer_set_dist(t, dist);
    float loss = NAN;
    siamese_status st;
    if (share) {
        int first, count;
        sm_dist_slice(dist, n, &first, &count);
        size_t offset = (size_t)first * SIDE * SIDE;
        if (sm_trainer_step_share(t, a + offset, b + offset, labels + first, count + 1, n, &loss) !=
            SIAMESE_ERR_INVALID_ARG) {
            fprintf(stderr, "step: a slice of the wrong size was not refused\n");
            exit(1);
        }
        st = sm_trainer_step_share(t, a + offset, b + offset, labels + first, count, n, &loss);
    } else {
        st = siamese_trainer_step(t, a, b, labels, n, &loss);
    }
    if (st != SIAMESE_OK) {
        fprintf(stderr, "step: %s\n", siamese_trainer_errmsg(t));
        exit(1);
    }
    memcpy(grads, sm_net_grads(m->net), sm_net_table(m->net)->n_params * sizeof(float));
    siamese_trainer_free(t);
    return loss;
}

/* Largest |x - y| over the largest |y|, per the whole buffer. */
static double relative_difference(const float *x, const float *y, size_t n) {
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)x[i] - y[i]));
        scale = fmax(scale, fabs((double)y[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

static int check(sm_dist *dist, int n, int rank) {
    static float a[PAIRS_MAX * SIDE * SIDE], b[PAIRS_MAX * SIDE * SIDE], labels[PAIRS_MAX];
    make_batch(a, b, labels, n);
    siamese_model *one = make_model(), *many = make_model(), *sliced = make_model();
    size_t count = sm_net_table(one->net)->n_params;
    float *g_one = malloc(count * sizeof(float)), *g_many = malloc(count * sizeof(float));
    float *g_sliced = malloc(count * sizeof(float));
    float loss_one = step(one, NULL, a, b, labels, n, 0, g_one);
    float loss_many = step(many, dist, a, b, labels, n, 0, g_many);
    float loss_sliced = step(sliced, dist, a, b, labels, n, 1, g_sliced);
    /* only the slice given: the same step, bit for bit */
    int same = loss_sliced == loss_many && !memcmp(g_sliced, g_many, count * sizeof(float));
    double dg = relative_difference(g_many, g_one, count);
    double dl = fabs((double)loss_many - loss_one) / fabs((double)loss_one);
    double dp = relative_difference(sm_net_params(many->net), sm_net_params(one->net), count);
    int ok = dg < 1e-5 && dl < 1e-6 && isfinite(dg) && same;
    printf("rank %d: %d pairs over %d ranks (overlap %d): loss %.7g vs %.7g (relative %.2g), "
           "gradient relative difference %.2g, parameters after Adam %.2g, from the slice alone "
           "%s: %s\n",
           rank, n, sm_dist_size(dist), sm_dist_overlap(dist), (double)loss_many, (double)loss_one,
           dl, dg, dp, same ? "the same" : "DIFFERENT", ok ? "ok" : "FAIL");
    free(g_one);
    free(g_many);
    free(g_sliced);
    siamese_model_free(one);
    siamese_model_free(many);
    siamese_model_free(sliced);
    return ok;
}

/* This rank's shard: 3 rows of ARCH's embedding (EMBED floats), named "r<rank>-<i>". */
static siamese_index *make_shard(siamese_model *m, int rank) {
    enum { ROWS = 3 };
    float vectors[ROWS * EMBED];
    int labels[ROWS] = {-1, -1, -1};
    char text[ROWS][16], *names[ROWS];
    for (int i = 0; i < ROWS * EMBED; i++) vectors[i] = (float)(rank * 7 + i % 5);
    for (int i = 0; i < ROWS; i++) {
        snprintf(text[i], sizeof text[i], "r%d-%d", rank, i);
        names[i] = text[i];
    }
    siamese_embeddings e = {
        .count = ROWS, .dim = EMBED, .vectors = vectors, .labels = labels, .names = names};
    siamese_index *index = NULL;
    if (siamese_index_create(m, "model.safetensors", &index) != SIAMESE_OK ||
        siamese_index_add(index, &e) != SIAMESE_OK) {
        fprintf(stderr, "rank %d: shard: %s\n", rank, index ? siamese_index_errmsg(index) : "none");
        exit(1);
    }
    return index;
}

/* The sharded search refused on one rank only (rank 1 gives no out) is refused on every rank,
 * each saying why, and no rank waits in a collective call for the others (this would hang); the
 * ranks then search together as before. */
static int check_shard_refusal(int rank) {
    siamese_model *m = make_model();
    siamese_index *index = make_shard(m, rank);
    float query[EMBED] = {0};
    siamese_shard_hits hits;
    siamese_status st = siamese_index_search_shards(index, query, 1, 2, rank == 1 ? NULL : &hits);
    const char *want = rank == 1 ? "sharded search: no out given (nq 1, k 2)"
                                 : "sharded search: another rank refused its arguments (nq 1, k 2)";
    int refused = st == SIAMESE_ERR_INVALID_ARG && !strcmp(siamese_index_errmsg(index), want);
    printf("rank %d: sharded search refused on rank 1 only: '%s': %s\n", rank,
           siamese_index_errmsg(index), refused ? "ok" : "FAIL");
    st = siamese_index_search_shards(index, query, 1, 2, &hits);
    int searched = st == SIAMESE_OK && (rank != 0 || (hits.nq == 1 && hits.rows[0] >= 0));
    printf("rank %d: then searched together (%s): %s\n", rank, siamese_status_str(st),
           searched ? "ok" : "FAIL");
    siamese_shard_hits_free(&hits);
    siamese_index_free(index);
    siamese_model_free(m);
    return refused && searched;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, ok = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    for (int overlap = 0; overlap <= 1; overlap++) {
        sm_dist *dist = NULL;
        sm_err err;
        sm_err_clear(&err);
        if (sm_dist_open(overlap, &dist, &err) != SIAMESE_OK || !dist) {
            fprintf(stderr, "rank %d: no communicator (run under mpirun -np 2 or more)\n", rank);
            ok = 0;
            break;
        }
        int sizes[] = {8, 9, 1}; /* even, uneven, an idle rank */
        for (int i = 0; i < 3; i++) ok &= check(dist, sizes[i], rank);
        sm_dist_free(dist);
    }
    ok &= check_shard_refusal(rank);
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    MPI_Finalize();
    return all ? 0 : 1;
}
