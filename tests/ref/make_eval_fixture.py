#!/usr/bin/python3
"""Writes tests/fixtures/eval_metrics.h: verification and retrieval metrics computed in numpy,
straight from their definitions (all pairs compared, every threshold tried), on fixed arrays with
many ties. The C implementation (src/eval) must match to 1e-9. Run with Debian's python3."""
import os
import numpy as np


def auc(d, y):
    s, n = d[y == 0], d[y == 1]
    gt = (n[None, :] > s[:, None]).sum()
    eq = (n[None, :] == s[:, None]).sum()
    return (gt + 0.5 * eq) / (len(s) * len(n))


def roc_points(d, y):
    """(t, TAR, FAR) at every distinct distance t, "similar when d <= t"."""
    s, n = d[y == 0], d[y == 1]
    return [(t, (s <= t).mean(), (n <= t).mean()) for t in np.unique(d)]


def eer(d, y):
    pts = [(d.min(), 0.0, 0.0)] + roc_points(d, y)
    diff = [far - (1 - tar) for _, tar, far in pts]
    j = next(i for i in range(len(pts)) if diff[i] >= 0)
    a = -diff[j - 1] / (diff[j] - diff[j - 1])
    return pts[j - 1][2] + a * (pts[j][2] - pts[j - 1][2]), pts[j - 1][0] + a * (pts[j][0] - pts[j - 1][0])


def tar_at_far(d, y, x):
    ok = [(t, tar) for t, tar, far in roc_points(d, y) if far <= x]
    if not ok:
        return 0.0, float("nan")
    return max(tar for _, tar in ok), max(t for t, _ in ok)


def accuracy(d, y, t):
    return ((d <= t) == (y == 0)).mean()


def best_accuracy(d, y):
    u = np.unique(d)
    cands = [u[0] - 1e-6] + [0.5 * (u[i] + u[i + 1]) for i in range(len(u) - 1)] + [u[-1] + 1e-6]
    accs = [accuracy(d, y, t) for t in cands]
    i = int(np.argmax(accs))  # the first maximum
    return accs[i], cands[i]


def retrieval(dist, ql, gl, exclude):
    """Musgrave et al. 2020 / pytorch-metric-learning: per query, R = same-label gallery items."""
    out = {k: [] for k in ("r1", "r5", "r10", "p5", "p10", "rprec", "mapr")}
    for q in range(dist.shape[0]):
        idx = [g for g in np.argsort(dist[q], kind="stable") if g != exclude[q]]
        rel = np.array([gl[g] == ql[q] for g in idx], dtype=float)
        R = int(rel.sum())
        if R == 0:
            continue
        for k in (1, 5, 10):
            out["r%d" % k].append(float(rel[:k].any()))
        out["p5"].append(rel[:5].sum() / 5)
        out["p10"].append(rel[:10].sum() / 10)
        out["rprec"].append(rel[:R].sum() / R)
        prec_at_i = np.cumsum(rel[:R]) / np.arange(1, R + 1)
        out["mapr"].append((prec_at_i * rel[:R]).sum() / R)
    return {k: float(np.mean(v)) for k, v in out.items()}, len(out["r1"])


def arr(name, v, fmt):
    return "static const %s %s[%d] = {%s};" % (fmt, name, len(v), ", ".join(
        float(x).hex() + "f" if fmt == "float" else str(int(x)) for x in v))


def dbl(name, v):
    return "#define %s %s" % (name, "NAN" if np.isnan(v) else float(v).hex())


def main():
    rng = np.random.default_rng(20261130)
    lines = ["/* Made by tests/ref/make_eval_fixture.py (numpy %s): metrics from their definitions. */"
             % np.__version__]
    # verification: distances k/8 (exact in float32), so many ties, 70 similar / 90 dissimilar
    for name, ns, nd, spread in (("V1", 70, 90, 24), ("V2", 9, 400, 40)):
        y = np.array([0] * ns + [1] * nd)
        d = np.where(y == 0, rng.integers(0, spread, len(y)), rng.integers(spread // 3, spread + 8, len(y))) / 8.0
        perm = rng.permutation(len(y))
        d, y = d[perm].astype(np.float32).astype(np.float64), y[perm]
        e, te = eer(d, y)
        t1, th1 = tar_at_far(d, y, 0.01)
        t01, th01 = tar_at_far(d, y, 0.001)
        ab, tb = best_accuracy(d, y)
        tm = 1.5
        lines += ["#define %s_N %d" % (name, len(y)), arr(name + "_D", d, "float"),
                  arr(name + "_Y", y, "float"), dbl(name + "_AUC", auc(d, y)), dbl(name + "_EER", e),
                  dbl(name + "_EER_T", te), dbl(name + "_TAR1", t1), dbl(name + "_TAR1_T", th1),
                  dbl(name + "_TAR01", t01), dbl(name + "_TAR01_T", th01), dbl(name + "_ACC_BEST", ab),
                  dbl(name + "_BEST_T", tb), dbl(name + "_MODEL_T", tm),
                  dbl(name + "_ACC_MODEL", accuracy(d, y, np.float32(tm)))]
    # retrieval: 30 items in 6 classes (one singleton), all-vs-all with self excluded; ties
    n = 30
    labels = rng.integers(0, 5, n)
    labels[7] = 5  # a class of one: no relevant item, the query is left out
    dist = rng.integers(0, 12, (n, n)) / 4.0
    m, counted = retrieval(dist, labels, labels, list(range(n)))
    lines += ["#define R_N %d" % n, arr("R_LABELS", labels, "int"),
              arr("R_DIST", dist.reshape(-1), "float"), "#define R_COUNTED %d" % counted]
    for k, v in m.items():
        lines.append(dbl("R_" + k.upper(), v))
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "eval_metrics.h")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
