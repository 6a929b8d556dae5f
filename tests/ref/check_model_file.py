"""Shows that model files cross between our library and PyTorch in both directions (issue 2, §6).

    /usr/bin/python3 tests/ref/check_model_file.py [--build BUILD_DIR] [--reduced]

1. Our library creates the seed network, saves it, and embeds two formula images; the file loads
   into the recipe's SiameseNetwork with strict load_state_dict and gives the same embeddings.
2. PyTorch's SiameseNetwork writes a plain state_dict (no __metadata__, as any PyTorch user
   would); our library loads it (the seed preset is assumed) and gives the same embeddings.

A tiny C helper is compiled against BUILD_DIR/libsiamese.so for this. Not part of the test
suite (tests need no Python); run it by hand and record the result."""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import formula  # noqa: E402
import st  # noqa: E402
from recipe import SiameseNetwork  # noqa: E402

HELPER = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "siamese.h"
/* usage: helper save|load MODEL IMAGES.f32 N OUT.f32 */
int main(int argc, char **argv) {
    if (argc != 6) return 2;
    siamese_model *m = NULL;
    siamese_status st;
    if (strcmp(argv[1], "save") == 0) {
        siamese_model_params p = siamese_model_default_params();
        p.seed = 42;
        st = siamese_model_create(&p, &m);
        if (!st) st = siamese_model_save(m, argv[2]);
    } else {
        st = siamese_model_load(argv[2], &m);
    }
    if (st) { fprintf(stderr, "%s\n", m ? siamese_model_errmsg(m) : "no handle"); return 1; }
    int n = atoi(argv[4]);
    size_t per = (size_t)siamese_model_channels(m) * siamese_model_height(m) * siamese_model_width(m);
    float *x = malloc(per * n * sizeof *x), *e = malloc((size_t)n * siamese_model_embedding_dim(m) * sizeof *e);
    FILE *f = fopen(argv[3], "rb");
    if (!f || fread(x, sizeof *x, per * n, f) != per * n) return 3;
    fclose(f);
    if (siamese_model_embed(m, x, n, e)) { fprintf(stderr, "%s\n", siamese_model_errmsg(m)); return 1; }
    f = fopen(argv[5], "wb");
    fwrite(e, sizeof *e, (size_t)n * siamese_model_embedding_dim(m), f);
    fclose(f);
    siamese_model_free(m);
    return 0;
}
'''


def build_helper(build, tmp, source=HELPER):
    """Compiles a helper program's source against BUILD/libsiamese.so; returns its path."""
    src = os.path.join(tmp, "helper.c")
    exe = os.path.join(tmp, "helper")
    with open(src, "w") as f:
        f.write(source)
    build = os.path.abspath(build)
    cmd = ["cc", "-O2", "-std=c11", "-o", exe, src, "-I", os.path.join(ROOT, "include"),
           "-L", build, "-lsiamese", "-Wl,-rpath," + build, "-lm"]
    subprocess.run(cmd, check=True)
    return exe


def rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def torch_embed(model, x):
    with torch.no_grad():
        return model.double().forward_once(x.double()).numpy()


def ours_to_pytorch(helper, tmp, x):
    path = os.path.join(tmp, "ours.safetensors")
    xfile, efile = os.path.join(tmp, "x.f32"), os.path.join(tmp, "e.f32")
    x.numpy().astype(np.float32).tofile(xfile)
    subprocess.run([helper, "save", path, xfile, str(x.shape[0]), efile], check=True)
    ours = np.fromfile(efile, dtype=np.float32).reshape(x.shape[0], -1).astype(np.float64)
    tensors, meta = st.load(path)
    print("  our file: %d tensors, %.1f MB, metadata %s" %
          (len(tensors), os.path.getsize(path) / 1e6,
           {k: v for k, v in meta.items() if k != "arch"}))
    net = SiameseNetwork()
    net.load_state_dict(tensors, strict=True)
    theirs = torch_embed(net, x)
    err = rel_err(ours, theirs)
    print("  ours -> PyTorch (strict load_state_dict): embeddings max rel err %.2e" % err)
    print("    ours    %s\n    PyTorch %s" % (ours.flatten().tolist(), theirs.flatten().tolist()))
    return err


def pytorch_to_ours(helper, tmp, x):
    torch.manual_seed(0)
    net = SiameseNetwork()
    path = os.path.join(tmp, "pytorch.safetensors")
    st.save(path, net.state_dict())  # a plain state_dict: no __metadata__
    xfile, efile = os.path.join(tmp, "x.f32"), os.path.join(tmp, "e2.f32")
    x.numpy().astype(np.float32).tofile(xfile)
    subprocess.run([helper, "load", path, xfile, str(x.shape[0]), efile], check=True)
    ours = np.fromfile(efile, dtype=np.float32).reshape(x.shape[0], -1).astype(np.float64)
    theirs = torch_embed(net, x)
    err = rel_err(ours, theirs)
    print("  PyTorch state_dict (no metadata) -> ours: embeddings max rel err %.2e" % err)
    print("    ours    %s\n    PyTorch %s" % (ours.flatten().tolist(), theirs.flatten().tolist()))
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--images", type=int, default=4)
    args = ap.parse_args()
    x = formula.images(1001, (args.images, 3, 256, 256))
    with tempfile.TemporaryDirectory() as tmp:
        helper = build_helper(args.build, tmp)
        e1 = ours_to_pytorch(helper, tmp, x)
        e2 = pytorch_to_ours(helper, tmp, x)
    ok = e1 <= 1e-4 and e2 <= 1e-4
    print("check_model_file: %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
