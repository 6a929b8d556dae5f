"""Makes tests/fixtures/faceapi/embeddings.txt: face-api's face recognition network (the dlib
ResNet of npm @vladmandic/face-api) rebuilt in PyTorch from the package's manifest and shards,
independently of the C importer, and its 128-d embeddings of a few synthetic 150x150 RGB images.

Run with /usr/bin/python3 after scripts/deps.sh --face-api:
    /usr/bin/python3 tests/ref/make_faceapi_fixtures.py ~/.cache/siamese/npm/face-api

The images are uint8 pixels from an integer formula (test_faceapi.c computes the same ones):
    pixel(k, c, y, x) = ((y * (7 + k) + x * (13 + 2 * k) + c * 29 + k * 101) * 37 + x * y) % 256
The network follows face-api's FaceRecognitionNet.forwardInput: (pixel - mean RGB) / 256,
convDown (stride 2, 'valid'), max pool 3/2, residual blocks (stride 1, 'same'), residualDown
(avg pool 2/2 skip, zero channels, the main branch zero-padded bottom/right when smaller), the
mean over space and fc without bias."""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from faces_align_check import load_weights  # noqa: E402  (the manifest reader both scripts use)

MEAN_RGB = (122.782, 117.001, 104.298)
N_IMAGES = 3


def conv_layer(x, w, prefix, stride, relu, padding):
    filters = w[prefix + "/conv/filters"].permute(3, 2, 0, 1)  # HWIO -> OIHW
    out = F.conv2d(x, filters, w[prefix + "/conv/bias"], stride=stride, padding=padding)
    out = out * w[prefix + "/scale/weights"].view(1, -1, 1, 1) + w[prefix + "/scale/biases"].view(1, -1, 1, 1)
    return F.relu(out) if relu else out


def residual(x, w, name):
    out = conv_layer(x, w, name + "/conv1", 1, True, 1)
    out = conv_layer(out, w, name + "/conv2", 1, False, 1)
    return F.relu(out + x)


def residual_down(x, w, name):
    out = conv_layer(x, w, name + "/conv1", 2, True, 0)
    out = conv_layer(out, w, name + "/conv2", 1, False, 1)
    pooled = F.avg_pool2d(x, 2, 2)
    if pooled.shape[1] != out.shape[1]:
        pooled = torch.cat([pooled, torch.zeros_like(pooled)], 1)
    dh, dw = pooled.shape[2] - out.shape[2], pooled.shape[3] - out.shape[3]
    out = F.pad(out, (0, dw, 0, dh))  # zeros on the right and at the bottom
    return F.relu(out + pooled)


def forward(x255, w):
    mean = torch.tensor(MEAN_RGB, dtype=torch.float64).view(1, 3, 1, 1)
    x = (x255 - mean) / 256.0
    out = conv_layer(x, w, "conv32_down", 2, True, 0)
    out = F.max_pool2d(out, 3, 2)
    for name in ("conv32_1", "conv32_2", "conv32_3"):
        out = residual(out, w, name)
    for down, rest in (("conv64_down", ("conv64_1", "conv64_2", "conv64_3")),
                       ("conv128_down", ("conv128_1", "conv128_2")),
                       ("conv256_down", ("conv256_1", "conv256_2"))):
        out = residual_down(out, w, down)
        for name in rest:
            out = residual(out, w, name)
    out = residual_down(out, w, "conv256_down_out")
    return out.mean(dim=(2, 3)) @ w["fc"]


def images():
    k, c, y, x = np.meshgrid(np.arange(N_IMAGES), np.arange(3), np.arange(150), np.arange(150),
                             indexing="ij")
    pix = ((y * (7 + k) + x * (13 + 2 * k) + c * 29 + k * 101) * 37 + x * y) % 256
    return torch.tensor(pix, dtype=torch.float64)


def main():
    folder = sys.argv[1]
    w = load_weights(folder, "face_recognition_model")
    emb = forward(images(), w)
    out_dir = os.path.join(os.path.dirname(__file__), "..", "fixtures", "faceapi")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "embeddings.txt"), "w") as f:
        f.write("# face-api face recognition network, PyTorch float64 reference "
                "(tests/ref/make_faceapi_fixtures.py): %d images x 128\n" % N_IMAGES)
        for row in emb:
            f.write(" ".join("%.9g" % v for v in row.tolist()) + "\n")
    print("norms", [float(r.norm()) for r in emb])


if __name__ == "__main__":
    main()
