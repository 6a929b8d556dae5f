"""Makes tests/fixtures/faceapi/landmarks.txt and chip_s1_1.pgm: face-api's 68-point landmark
network (npm @vladmandic/face-api, face_landmark_68_model) rebuilt in PyTorch float64 from the
package's manifest and shard, independently of the C importer (bench/faces_align_check.py holds
the network and the chip; this script only runs it).

Run with /usr/bin/python3 after scripts/deps.sh --face-api:
    /usr/bin/python3 tests/ref/make_faceapi_landmark_fixtures.py ~/.cache/siamese/npm/face-api \
        ../shared/data/att_faces

Writes:
  - the network's 136 raw outputs for 3 synthetic 112x112 RGB images from an integer formula
    (test_faceapi_align.c computes the same ones):
        pixel(k, c, y, x) = ((y * (5 + k) + x * (11 + 3 * k) + c * 31 + k * 71) * 29 + x * y) % 256
  - the 68 landmarks, in pixels, of att_faces/training/s1/1.pgm (92x112 grey) as face-api finds
    them (padded to a centred black square, resized to 112x112 with Pillow's bilinear), and
  - its 150x150 face chip (dlib's mean face, padding 0.25, Pillow's bilinear affine sampling)
    as a binary PGM."""
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import faces_align_check as fa  # noqa: E402

N_IMAGES = 3


def images():
    k, c, y, x = np.meshgrid(np.arange(N_IMAGES), np.arange(3), np.arange(fa.INPUT),
                             np.arange(fa.INPUT), indexing="ij")
    pix = ((y * (5 + k) + x * (11 + 3 * k) + c * 31 + k * 71) * 29 + x * y) % 256
    return torch.tensor(pix, dtype=torch.float64)


def main():
    face_api, att = sys.argv[1:3]
    w = fa.load_weights(face_api, "face_landmark_68_model")
    out_dir = os.path.join(os.path.dirname(__file__), "..", "fixtures", "faceapi")
    os.makedirs(out_dir, exist_ok=True)
    raw = fa.landmarks(images(), w).reshape(N_IMAGES, 136)
    photo = Image.open(os.path.join(att, "training", "s1", "1.pgm"))
    square, off, side = fa.square_input(photo.convert("RGB"))
    x = torch.tensor(np.asarray(square, np.float64).transpose(2, 0, 1)[None])
    points = fa.landmarks(x, w)[0].numpy() * side - off
    with open(os.path.join(out_dir, "landmarks.txt"), "w") as f:
        f.write("# face-api 68-point landmark network, PyTorch float64 reference "
                "(tests/ref/make_faceapi_landmark_fixtures.py): %d synthetic images x 136 raw "
                "outputs, then att_faces/training/s1/1.pgm's 68 (x, y) in pixels\n" % N_IMAGES)
        for row in raw:
            f.write(" ".join("%.9g" % v for v in row.tolist()) + "\n")
        f.write(" ".join("%.9g" % v for v in points.reshape(-1).tolist()) + "\n")
    fa.face_chip(photo, points).save(os.path.join(out_dir, "chip_s1_1.pgm"))
    print("landmarks of s1/1.pgm, first eye corner:", points[36])


if __name__ == "__main__":
    main()
