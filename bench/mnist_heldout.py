#!/usr/bin/python3
"""Explorations on the MNIST row's held-out train10k images (issue 12, tenth pass): does averaging
a model's embeddings over shifted copies of each image (test-time augmentation), or joining the
embeddings of several models trained on one split (an ensemble), cut the held-out pair errors?

usage: bench/mnist_heldout.py tta SIAMESE HELDOUT_DIR WORK MODEL
       bench/mnist_heldout.py ensemble SIAMESE HELDOUT_DIR WORK MODEL... [--test DATA]
HELDOUT_DIR: class folders of PNGs (bench/heldout_images.py; bench/quality.sh --keep DIR mnist
keeps them as DIR/mnist_val and the model as DIR/mnist_run/model.safetensors). Ensemble members
must share the held-out images (train --split-seed). Embeds with 'siamese embed --format npy'
(fp32, one thread) into WORK and prints, over every pair of held-out images, the balanced error
at the best threshold (Euclidean distance) of each variant: tta averages the embeddings of the
image and its 1-pixel shifts; ensemble concatenates the members' embeddings times
1/sqrt(members). --test DATA (the t10k IDX file; only once a variant has passed its rule on the
held-out images) then scores every pair of DATA's images at each variant's best held-out
threshold: balanced accuracy, 1 - (false negative rate + false positive rate) / 2."""
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

SHIFTS = {"plain": [(0, 0)],
          "shift1x4": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)],
          "shift1x8": [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]}


def shifted(img, dx, dy):
    a = np.asarray(img)
    out = np.zeros_like(a)
    h, w = a.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = a[ys, xs]
    return Image.fromarray(out)


def embed(siamese, model, folder, files, out):
    """The model's embeddings of folder/f for f in files, in that order."""
    subprocess.run([siamese, "embed", model, folder, "-o", out, "--format", "npy", "-q",
                    "--precision", "fp32", "-j", "1"], check=True)
    emb = np.load(out + ".npy")
    paths = [p for p in open(out + ".paths.txt").read().split("\n") if p]
    index = {os.path.relpath(p, folder): i for i, p in enumerate(paths)}
    return emb[[index[f] for f in files]]


def distances(a, b):
    sa, sb = (a * a).sum(1), (b * b).sum(1)
    return np.sqrt(np.maximum(sa[:, None] + sb[None, :] - 2 * a @ b.T, 0))


def balanced_error(e, same, iu):
    """Min over thresholds of (false negative rate + false positive rate) / 2, the pairs wrong
    there and the threshold (similar at or below it), over the pairs iu of the rows of e."""
    d = distances(e, e)[iu]
    order = np.argsort(d, kind="stable")
    s = same[order]
    pos, neg = s.sum(), (~s).sum()
    fn = pos - np.cumsum(s)
    fp = np.cumsum(~s)
    err = 0.5 * (fn / pos + fp / neg)
    k = int(np.argmin(err))
    return err[k], int(fn[k] + fp[k]), float(d[order[k]])


def report(name, e, same, iu):
    err, wrong, threshold = balanced_error(e, same, iu)
    print(f"{name:12s} balanced error {err:.5f} ({wrong} pairs wrong) at threshold {threshold:.4f}")
    return err, threshold


def read_safetensors(path):
    """The 'embeddings' and 'labels' of a 'siamese embed' safetensors file."""
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header, body = json.loads(raw[8:8 + n]), raw[8 + n:]
    def tensor(name, dtype):
        t = header[name]
        a, b = t["data_offsets"]
        return np.frombuffer(body[a:b], dtype=dtype).reshape(t["shape"])
    return tensor("embeddings", np.float32), tensor("labels", np.int32)


def test_accuracy(e, labels, threshold, block=1000):
    """Balanced accuracy over every pair of rows of e at the threshold."""
    fn = fp = pos = neg = 0
    for i in range(0, len(e), block):
        d = distances(e[i:i + block], e)
        same = labels[i:i + block, None] == labels[None, :]
        upper = np.arange(i, min(i + block, len(e)))[:, None] < np.arange(len(e))[None, :]
        close = d <= threshold
        pos += (same & upper).sum()
        neg += (~same & upper).sum()
        fn += (same & upper & ~close).sum()
        fp += (~same & upper & close).sum()
    return 1 - 0.5 * (fn / pos + fp / neg)


def tta(siamese, heldout, work, files, same, iu, model):
    embs = {}
    for dx, dy in sorted({s for v in SHIFTS.values() for s in v}):
        folder = os.path.join(work, f"s{dx}_{dy}")
        for f in files:
            os.makedirs(os.path.join(folder, os.path.dirname(f)), exist_ok=True)
            shifted(Image.open(os.path.join(heldout, f)), dx, dy).save(os.path.join(folder, f))
        embs[(dx, dy)] = embed(siamese, model, folder, files, os.path.join(work, f"e{dx}_{dy}"))
    for name, shifts in SHIFTS.items():
        report(name, np.mean([embs[s] for s in shifts], axis=0), same, iu)


def ensemble(siamese, heldout, work, files, same, iu, models, test):
    members = [embed(siamese, m, heldout, files, os.path.join(work, f"m{i}"))
               for i, m in enumerate(models)]
    scored = [report(f"member {i + 1}", e, same, iu) for i, e in enumerate(members)]
    errs = [err for err, _ in scored]
    print(f"{'members':12s} mean {np.mean(errs):.5f}, best {min(errs):.5f}")
    joined = np.concatenate(members, axis=1) / np.sqrt(len(members))
    err, threshold = report("ensemble", joined, same, iu)
    print(f"{'ensemble':12s} {err / np.mean(errs):.0%} of the members' mean")
    if not test:
        return
    tests = []
    for i, m in enumerate(models):
        out = os.path.join(work, f"test{i}.safetensors")
        subprocess.run([siamese, "embed", m, test, "-o", out, "-q", "--precision", "fp32",
                        "-j", "1"], check=True)
        tests.append(read_safetensors(out))
    labels = tests[0][1]
    for i, (e, _) in enumerate(tests):
        print(f"test: member {i + 1} balanced accuracy "
              f"{test_accuracy(e, labels, scored[i][1]):.5f} at its held-out threshold")
    joined = np.concatenate([e for e, _ in tests], axis=1) / np.sqrt(len(tests))
    print(f"test: ensemble balanced accuracy {test_accuracy(joined, labels, threshold):.5f} "
          f"at its held-out threshold")


def main():
    if len(sys.argv) < 6 or sys.argv[1] not in ("tta", "ensemble"):
        sys.exit(__doc__)
    mode, siamese, heldout, work, models = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], \
        sys.argv[5:]
    test = None
    if "--test" in models:
        k = models.index("--test")
        test, models = models[k + 1], models[:k] + models[k + 2:]
    os.makedirs(work, exist_ok=True)
    files = sorted(os.path.join(c, f) for c in sorted(os.listdir(heldout))
                   for f in sorted(os.listdir(os.path.join(heldout, c))))
    labels = np.array([f.split("/")[0] for f in files])
    iu = np.triu_indices(len(files), 1)
    same = (labels[:, None] == labels[None, :])[iu]
    print(f"{len(files)} held-out images: {int(same.sum())} similar pairs, "
          f"{int((~same).sum())} dissimilar")
    if mode == "tta":
        tta(siamese, heldout, work, files, same, iu, models[0])
    else:
        ensemble(siamese, heldout, work, files, same, iu, models, test)


main()
