#!/usr/bin/python3
"""Writes tests/fixtures/knn_numpy.h: a numpy brute-force top-k (float64, every distance, sorted by
distance then index) over random float32 rows for the three metrics, as PyTorch defines them:
euclidean = pairwise_distance ||a - b + 1e-6||, cosine = 1 - cosine_similarity (each norm clamped
to 1e-8), correlation = cosine of the centred rows. Run with Debian's python3."""
import os

import numpy as np

NQ, NG, DIM, K = 6, 120, 8, 10


def distances(metric, q, g):
    q = q.astype(np.float64)
    g = g.astype(np.float64)
    if metric == "euclidean":
        diff = q[:, None, :] - g[None, :, :] + 1e-6
        return np.sqrt((diff * diff).sum(axis=2))
    if metric == "correlation":
        q = q - q.mean(axis=1, keepdims=True)
        g = g - g.mean(axis=1, keepdims=True)
    nq = np.maximum(np.linalg.norm(q, axis=1), 1e-8)
    ng = np.maximum(np.linalg.norm(g, axis=1), 1e-8)
    return 1.0 - (q @ g.T) / (nq[:, None] * ng[None, :])


def topk(d):
    rows = []
    for i in range(d.shape[0]):
        order = np.lexsort((np.arange(d.shape[1]), d[i]))[:K]  # by distance, then index
        rows.append(order)
    return np.array(rows)


def c_floats(a):
    return ", ".join(float(x).hex() for x in a.ravel())


def main():
    rng = np.random.default_rng(2024)
    q = rng.standard_normal((NQ, DIM)).astype(np.float32)
    g = rng.standard_normal((NG, DIM)).astype(np.float32)
    g[7] = g[3]  # an exact tie: the lower index first
    q[0] = g[3] + np.float32(0.01) * q[0]  # ... and a query that ranks it first
    out = ["/* Made by tests/ref/make_knn_fixture.py with numpy %s: brute-force top-%d. */"
           % (np.__version__, K),
           "#define KNN_NQ %d\n#define KNN_NG %d\n#define KNN_DIM %d\n#define KNN_K %d"
           % (NQ, NG, DIM, K),
           "static const float knn_queries[KNN_NQ * KNN_DIM] = {%s};" % c_floats(q),
           "static const float knn_gallery[KNN_NG * KNN_DIM] = {%s};" % c_floats(g)]
    for metric in ("euclidean", "cosine", "correlation"):
        d = distances(metric, q, g)
        idx = topk(d)
        dist = np.take_along_axis(d, idx, axis=1)
        out.append("static const int knn_index_%s[KNN_NQ * KNN_K] = {%s};"
                   % (metric, ", ".join(str(int(x)) for x in idx.ravel())))
        out.append("static const double knn_distance_%s[KNN_NQ * KNN_K] = {%s};"
                   % (metric, c_floats(dist)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                        "knn_numpy.h")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
