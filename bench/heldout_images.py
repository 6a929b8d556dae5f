#!/usr/bin/python3
"""Writes a run's held-out images (split.json's test_images, "name#index" into an IDX set) as
PNG class folders, so 'siamese eval' can score validation data that the run never trained on.

usage: bench/heldout_images.py RUN_DIR/split.json IMAGES.idx3-ubyte.gz OUT_DIR
"""
import gzip
import json
import os
import sys

from PIL import Image


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return shape, data[4 + 4 * dims:]


def main():
    split_path, images_path, out = sys.argv[1:4]
    split = json.load(open(split_path))
    labels_path = images_path.replace("-images-idx3-ubyte", "-labels-idx1-ubyte")
    (n, h, w), pixels = read_idx(images_path)
    _, labels = read_idx(labels_path)
    for name in split["test_images"]:
        i = int(name.rsplit("#", 1)[1])
        folder = os.path.join(out, "class%d" % labels[i])
        os.makedirs(folder, exist_ok=True)
        image = Image.frombytes("L", (w, h), pixels[i * h * w:(i + 1) * h * w])
        image.save(os.path.join(folder, "%d.png" % i))


if __name__ == "__main__":
    main()
