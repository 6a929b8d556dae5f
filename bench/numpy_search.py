#!/usr/bin/python3
"""numpy side of bench_search: brute-force euclidean top-k over a float32 gallery, the way a numpy
user writes it: squared distances |b|^2 - 2 q.B^T (+ |q|^2) by one BLAS GEMM, np.argpartition for
the k smallest, then a sort of those k.

Prints "numpy batch1 <median ms/query>" and "numpy batch<B> <median ms/query>".
Usage: numpy_search.py ROWS DIM K BATCH REPS
"""
import sys
import time

import numpy as np


def topk(gallery, norms, queries, k):
    d = norms[None, :] - 2.0 * (queries @ gallery.T)
    d += (queries * queries).sum(axis=1)[:, None]
    part = np.argpartition(d, k, axis=1)[:, :k]
    order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
    return np.take_along_axis(part, order, axis=1)


def median_ms_per_query(gallery, norms, queries, k, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        topk(gallery, norms, queries, k)
        times.append((time.perf_counter() - t) * 1000.0 / len(queries))
    return float(np.median(times))


def main():
    rows, dim, k, batch, reps = (int(a) for a in sys.argv[1:6])
    rng = np.random.default_rng(1)
    gallery = rng.standard_normal((rows, dim), dtype=np.float32)
    norms = (gallery * gallery).sum(axis=1)  # an index keeps these: not timed
    one = rng.standard_normal((1, dim), dtype=np.float32)
    many = rng.standard_normal((batch, dim), dtype=np.float32)
    print("numpy batch1 %.3f" % median_ms_per_query(gallery, norms, one, k, reps), flush=True)
    print("numpy batch%d %.3f" % (batch, median_ms_per_query(gallery, norms, many, k, max(1, reps // 3))),
          flush=True)


if __name__ == "__main__":
    main()
