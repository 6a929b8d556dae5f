#!/usr/bin/python3
"""How much landmark alignment buys face-api's network on AT&T (issue 13): an investigation in
PyTorch, not the product. Finds 68 landmarks on every AT&T photo with face-api's own landmark
network (face_landmark_68_model, rebuilt here from the package's manifest and shard), maps
landmarks 17..67 onto dlib's mean face shape with a least-squares similarity transform (dlib's
get_face_chip_details: 150x150, padding 0.25, the framing the dlib ResNet was trained on) and
writes the grey 150x150 chips as PNG class folders OUT/sN/*.png, which 'siamese eval' scores
like the raw photos.

usage: /usr/bin/python3 bench/faces_align_check.py FACE_API_DIR ATT_FACES_DIR OUT_DIR
    (FACE_API_DIR from scripts/deps.sh --face-api; ATT_FACES_DIR holds training/ and testing/)
then:
    siamese eval face.safetensors OUT_DIR --protocol all --all-pairs --precision fp32 --seed 0

The landmark network (face-api's FaceLandmark68Net): the image padded to a centred square with
black, resized to 112x112, (pixel - mean RGB) / 255; four dense blocks, each a stride-2
convolution (dense0: a 3x3 convolution; then depthwise-separable ones) and three separable
3x3 convolutions whose outputs are summed with all earlier ones of the block (relu between);
TF's 'same' padding (stride 2 on an even size pads one zero at the bottom/right only); a 7x7
average pool and a linear layer to 136 numbers, the 68 (x, y) as fractions of the square."""
import glob
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

MEAN_RGB = (122.782, 117.001, 104.298)
INPUT = 112
CHIP, CHIP_PADDING = 150, 0.25
# dlib's mean face shape (landmarks 17..67) in a unit square: the published template numbers.
TEMPLATE_X = [
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991,
    0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217,
    0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428,
    0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
    0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096,
    0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689]
TEMPLATE_Y = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482,
    0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106,
    0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733,
    0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578,
    0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792,
    0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182]


def load_weights(folder, model):
    """The tensors of FOLDER/MODEL-weights_manifest.json and its shards, float64, TF layouts
    (uint8/uint16 dequantised as q * scale + min, float32 as is)."""
    manifest = json.load(open(os.path.join(folder, model + "-weights_manifest.json")))
    weights = {}
    for group in manifest:
        data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"]))
            q = w.get("quantization")
            if q is None:
                values = np.frombuffer(data, "<f4", count, at).astype(np.float64)
                at += 4 * count
            else:
                dt = {"uint8": np.uint8, "uint16": "<u2"}[q["dtype"]]
                raw = np.frombuffer(data, dt, count, at)
                at += raw.itemsize * count
                values = raw.astype(np.float64) * q["scale"] + q["min"]
            weights[w["name"]] = torch.tensor(values.reshape(w["shape"]), dtype=torch.float64)
        assert at == len(data), "manifest and shards disagree"
    return weights


def same_pad(x, stride):  # TF 'same' for 3x3: stride 1 pads 1 all round, stride 2 bottom/right
    return F.pad(x, (0, 1, 0, 1) if stride == 2 else (1, 1, 1, 1))


def separable(x, w, name, stride):
    depthwise = w[name + "/depthwise_filter"].permute(2, 3, 0, 1)  # [3,3,C,1] -> [C,1,3,3]
    pointwise = w[name + "/pointwise_filter"].permute(3, 2, 0, 1)  # HWIO -> OIHW
    x = F.conv2d(same_pad(x, stride), depthwise, stride=stride, groups=x.shape[1])
    return F.conv2d(x, pointwise, w[name + "/bias"])


def dense_block(x, w, name, first):
    if first:
        filters = w[name + "/conv0/filters"].permute(3, 2, 0, 1)
        out1 = F.conv2d(same_pad(x, 2), filters, w[name + "/conv0/bias"], stride=2)
    else:
        out1 = separable(x, w, name + "/conv0", 2)
    out1 = F.relu(out1)
    out2 = separable(out1, w, name + "/conv1", 1)
    out3 = separable(F.relu(out1 + out2), w, name + "/conv2", 1)
    out4 = separable(F.relu(out1 + out2 + out3), w, name + "/conv3", 1)
    return F.relu(out1 + out2 + out3 + out4)


def landmarks(x255, w):
    """x255: [N, 3, 112, 112] pixels 0..255 -> [N, 68, 2] fractions of the square."""
    x = (x255 - torch.tensor(MEAN_RGB, dtype=x255.dtype).view(1, 3, 1, 1)) / 255.0
    for i in range(4):
        x = dense_block(x, w, "dense%d" % i, i == 0)
    x = F.avg_pool2d(x, 7, 2).flatten(1)
    return (x @ w["fc/weights"] + w["fc/bias"]).view(-1, 68, 2)


def square_input(image):
    """The photo padded to a centred black square and resized to 112x112; its offset and size."""
    wid, hei = image.size
    side = max(wid, hei)
    square = Image.new("RGB", (side, side))
    off = ((side - wid) // 2, (side - hei) // 2)
    square.paste(image, off)
    return square.resize((INPUT, INPUT), Image.BILINEAR), np.array(off, np.float64), side


def similarity(src, dst):
    """Least-squares similarity transform (Umeyama) taking points src to dst: A, b."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sv, vt = np.linalg.svd(cov)
    flip = np.eye(2)
    if np.linalg.det(cov) < 0:
        flip[1, 1] = -1
    rot = u @ flip @ vt
    scale = np.trace(np.diag(sv) @ flip) / (s ** 2).sum(1).mean()
    return scale * rot, md - scale * rot @ ms


def face_chip(image, points):
    dst = np.stack([(np.array(TEMPLATE_X) + CHIP_PADDING) / (1 + 2 * CHIP_PADDING) * CHIP,
                    (np.array(TEMPLATE_Y) + CHIP_PADDING) / (1 + 2 * CHIP_PADDING) * CHIP], 1)
    a, b = similarity(points[17:68], dst)
    ai = np.linalg.inv(a)
    bi = -ai @ b  # chip -> photo
    coeffs = (ai[0, 0], ai[0, 1], bi[0], ai[1, 0], ai[1, 1], bi[1])
    return image.transform((CHIP, CHIP), Image.AFFINE, coeffs, resample=Image.BILINEAR)


def main():
    face_api, att, out = sys.argv[1:4]
    torch.set_num_threads(1)
    w = load_weights(face_api, "face_landmark_68_model")
    files = sorted(glob.glob(os.path.join(att, "*", "s*", "*.pgm")))
    for start in range(0, len(files), 50):
        batch = [Image.open(f) for f in files[start:start + 50]]
        squares = [square_input(im.convert("RGB")) for im in batch]
        x = torch.tensor(np.stack([np.asarray(s[0], np.float64).transpose(2, 0, 1) for s in squares]))
        with torch.no_grad():
            marks = landmarks(x, w).numpy()
        for f, im, (_, off, side), m in zip(files[start:start + 50], batch, squares, marks):
            chip = face_chip(im, m * side - off)
            folder = os.path.join(out, os.path.basename(os.path.dirname(f)))
            os.makedirs(folder, exist_ok=True)
            chip.save(os.path.join(folder, os.path.splitext(os.path.basename(f))[0] + ".png"))
    print("%d chips in %s" % (len(files), out))


if __name__ == "__main__":
    main()
