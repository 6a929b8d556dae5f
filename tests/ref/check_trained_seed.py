"""Issue 4 §6: the seed preset, trained for a few steps by `siamese train` on a small Stanford
Dogs sample, writes a model that the recipe's PyTorch SiameseNetwork loads with a strict
load_state_dict; PyTorch (with Pillow and the recipe's transform) then gives the same
dissimilarities as `siamese compare` on held-out images.

    /usr/bin/python3 tests/ref/check_trained_seed.py [--build BUILD_DIR]

Not part of the test suite (tests need no Python); run it by hand and record the result."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import st  # noqa: E402
from recipe import SiameseNetwork  # noqa: E402

ZIP = os.path.join(ROOT, "..", "shared", "data", "stanford_dogs_224",
                   "stanford_dogs_224_subset40.zip")


def extract_sample(dest, classes=4, per_class=8):
    """The first `classes` breeds, `per_class` images each: a small class-per-folder tree."""
    with zipfile.ZipFile(ZIP) as z:
        names = sorted(n for n in z.namelist() if n.lower().endswith(".jpg"))
        by_class = {}
        for n in names:
            by_class.setdefault(os.path.dirname(n), []).append(n)
        for folder in sorted(by_class)[:classes]:
            for n in by_class[folder][:per_class]:
                z.extract(n, dest)
    root = dest
    while len(os.listdir(root)) == 1:
        root = os.path.join(root, os.listdir(root)[0])
    return root


def recipe_tensor(path):
    """The tutorial's transform: Image.open().convert("RGB"), Resize((256,256)), ToTensor()."""
    img = Image.open(path).convert("RGB").resize((256, 256), Image.BILINEAR)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    args = ap.parse_args()
    cli = os.path.join(args.build, "siamese")
    with tempfile.TemporaryDirectory() as tmp:
        data = extract_sample(os.path.join(tmp, "dogs"))
        run = os.path.join(tmp, "run")
        subprocess.run([cli, "train", data, "-o", run, "--epochs", "2", "--batch", "8",
                        "--seed", "5", "-q"], check=True)
        model = os.path.join(run, "model.safetensors")
        tensors, meta = st.load(model)
        net = SiameseNetwork()
        net.load_state_dict({k: torch.as_tensor(v) for k, v in tensors.items()}, strict=True)
        net.eval()
        print(f"strict load_state_dict of {model}: ok ({len(tensors)} tensors, arch {meta.get('arch')!r})")

        images = sorted(os.path.join(d, f) for d, _, fs in os.walk(data) for f in fs)
        pairs = [(images[0], images[1]), (images[0], images[-1]), (images[9], images[20])]
        worst = 0.0
        for a, b in pairs:
            out = subprocess.run([cli, "compare", model, a, b, "--json"], check=True,
                                 capture_output=True, text=True).stdout
            ours = json.loads(out.splitlines()[0])["dissimilarity"]
            with torch.no_grad():
                e1, e2 = net(recipe_tensor(a).unsqueeze(0), recipe_tensor(b).unsqueeze(0))
                theirs = F.pairwise_distance(e1, e2).item()
            rel = abs(ours - theirs) / max(abs(theirs), 1e-12)
            worst = max(worst, rel)
            print(f"{os.path.basename(a)} vs {os.path.basename(b)}: ours {ours:.7f}, "
                  f"PyTorch {theirs:.7f}, relative difference {rel:.2e}")
        print(f"max relative difference {worst:.2e}")
        sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
