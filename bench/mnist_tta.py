#!/usr/bin/python3
"""Exploration (issue 12, tenth pass): does averaging a model's embeddings over shifted copies of
each image (test-time augmentation) cut the MNIST row's held-out pair errors?

usage: bench/mnist_tta.py SIAMESE MODEL HELDOUT_DIR WORK (a run kept by bench/quality.sh --keep DIR
mnist: DIR/mnist_run/model.safetensors and DIR/mnist_val)
HELDOUT_DIR: class folders of PNGs (bench/heldout_images.py). Writes shifted copies under WORK,
embeds them with 'siamese embed --format npy', and prints, over every pair of held-out images,
the balanced error at the best threshold (Euclidean distance) for each variant."""
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


def embed(siamese, model, folder, out):
    subprocess.run([siamese, "embed", model, folder, "-o", out, "--format", "npy", "-q",
                    "--precision", "fp32", "-j", "1"], check=True)
    emb = np.load(out + ".npy")
    paths = open(out + ".paths.txt").read().split("\n")
    return emb, [p for p in paths if p]


def balanced_error(d, same):
    order = np.argsort(d, kind="stable")
    s = same[order]
    pos, neg = s.sum(), (~s).sum()
    fn = pos - np.cumsum(s)          # similar pairs above the threshold
    fp = np.cumsum(~s)               # dissimilar pairs at or below it
    err = 0.5 * (fn / pos + fp / neg)
    k = int(np.argmin(err))
    return err[k], int(fn[k] + fp[k]), int(pos), int(neg)


def main():
    siamese, model, heldout, work = sys.argv[1:5]
    files = sorted(os.path.join(c, f) for c in sorted(os.listdir(heldout))
                   for f in sorted(os.listdir(os.path.join(heldout, c))))
    labels = np.array([f.split("/")[0] for f in files])
    embs = {}
    for dx, dy in sorted({s for v in SHIFTS.values() for s in v}):
        folder = os.path.join(work, f"s{dx}_{dy}")
        for f in files:
            os.makedirs(os.path.join(folder, os.path.dirname(f)), exist_ok=True)
            shifted(Image.open(os.path.join(heldout, f)), dx, dy).save(os.path.join(folder, f))
        emb, paths = embed(siamese, model, folder, os.path.join(work, f"e{dx}_{dy}"))
        index = {os.path.relpath(p, folder): i for i, p in enumerate(paths)}
        embs[(dx, dy)] = emb[[index[f] for f in files]]
    iu = np.triu_indices(len(files), 1)
    same = (labels[:, None] == labels[None, :])[iu]
    for name, shifts in SHIFTS.items():
        e = np.mean([embs[s] for s in shifts], axis=0)
        sq = (e * e).sum(1)
        d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * e @ e.T, 0))[iu]
        err, wrong, pos, neg = balanced_error(d, same)
        print(f"{name:9s} balanced error {err:.5f} ({wrong} pairs wrong of {pos} similar, {neg} dissimilar)")


main()
