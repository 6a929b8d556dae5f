#!/usr/bin/python3
"""Pillow side of bench_decode: the recipe's transform on a list of image files, one core.

Image.open(p).convert("RGB"), torchvision's Resize((256, 256)) on a PIL image
(= img.resize((256, 256), Image.BILINEAR)), then ToTensor (the same torch calls torchvision
makes for a PIL image). Prints one line: "pillow <median images/s> <reps>".
Usage: pillow_decode.py LIST_FILE REPS [CPU]
"""
import os
import sys
import time

import numpy as np
import torch
from PIL import Image


def to_tensor(img):
    # torchvision.transforms.functional.to_tensor for a PIL RGB image
    t = torch.from_numpy(np.array(img, np.uint8, copy=True))
    t = t.view(img.size[1], img.size[0], len(img.getbands()))
    return t.permute((2, 0, 1)).contiguous().to(dtype=torch.float32).div(255)


def transform(path):
    img = Image.open(path).convert("RGB")
    img = img.resize((256, 256), Image.BILINEAR)
    return to_tensor(img)


def main():
    paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    reps = int(sys.argv[2])
    if len(sys.argv) > 3:
        os.sched_setaffinity(0, {int(sys.argv[3])})
    torch.set_num_threads(1)
    rates = []
    for _ in range(reps):
        start = time.perf_counter()
        for p in paths:
            transform(p)
        rates.append(len(paths) / (time.perf_counter() - start))
    rates.sort()
    print(f"pillow {rates[len(rates) // 2]:.1f} {reps}")


if __name__ == "__main__":
    main()
