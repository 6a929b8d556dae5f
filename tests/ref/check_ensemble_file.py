"""Shows that an ensemble's model file is a PyTorch state_dict and that its embedding is what
siamese.h says: the members' side by side, each times 1/sqrt(N), unit length first under cosine.

    /usr/bin/python3 tests/ref/check_ensemble_file.py [--build BUILD_DIR]

For each metric (euclidean, cosine), a tiny C helper compiled against BUILD_DIR/libsiamese.so
creates three seed networks with 8-wide heads (seeds 42-44), joins them with
siamese_model_ensemble, saves the ensemble, loads the file back and embeds formula images. In
PyTorch, a module with a ModuleList named `members` of the recipe's SiameseNetwork loads the
file with a strict load_state_dict and computes the same embedding. Not part of the test suite
(tests need no Python); run it by hand and record the result."""
import argparse
import math
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
from check_model_file import build_helper, rel_err  # noqa: E402
from recipe import SiameseNetwork  # noqa: E402

MEMBERS, DIM = 3, 8

HELPER = r'''
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "siamese.h"
/* usage: helper euclidean|cosine MODEL IMAGES.f32 N OUT.f32 */
int main(int argc, char **argv) {
    if (argc != 6) return 2;
    siamese_model *members[3], *e = NULL;
    for (int i = 0; i < 3; i++) {
        siamese_model_params p = siamese_model_default_params();
        p.seed = 42 + i;
        p.embedding_dim = 8;
        if (siamese_metric_parse(argv[1], &p.metric)) return 2;
        if (siamese_model_create(&p, &members[i])) return 1;
    }
    if (siamese_model_ensemble(members, 3, &e) || siamese_model_save(e, argv[2])) {
        fprintf(stderr, "%s\n", siamese_model_errmsg(e));
        return 1;
    }
    siamese_model_free(e);
    if (siamese_model_load(argv[2], &e)) { fprintf(stderr, "%s\n", siamese_model_errmsg(e)); return 1; }
    int n = atoi(argv[4]), dim = siamese_model_embedding_dim(e);
    size_t per = (size_t)siamese_model_channels(e) * siamese_model_height(e) * siamese_model_width(e);
    float *x = malloc(per * n * sizeof *x), *out = malloc((size_t)n * dim * sizeof *out);
    FILE *f = fopen(argv[3], "rb");
    if (!f || fread(x, sizeof *x, per * n, f) != per * n) return 3;
    fclose(f);
    if (siamese_model_embed(e, x, n, out)) { fprintf(stderr, "%s\n", siamese_model_errmsg(e)); return 1; }
    f = fopen(argv[5], "wb");
    fwrite(out, sizeof *out, (size_t)n * dim, f);
    fclose(f);
    siamese_model_free(e);
    return 0;
}
'''


class Ensemble(torch.nn.Module):
    def __init__(self, metric):
        super().__init__()
        self.metric = metric
        self.members = torch.nn.ModuleList(SiameseNetwork(out=DIM) for _ in range(MEMBERS))

    def embed(self, x):
        parts = []
        for m in self.members:
            e = m.forward_once(x)
            if self.metric == "cosine":
                e = e / e.norm(dim=1, keepdim=True).clamp_min(1e-8)
            parts.append(e / math.sqrt(MEMBERS))
        return torch.cat(parts, dim=1)


def check(helper, tmp, metric, x):
    path = os.path.join(tmp, metric + ".safetensors")
    xfile, efile = os.path.join(tmp, "x.f32"), os.path.join(tmp, metric + ".f32")
    x.numpy().astype(np.float32).tofile(xfile)
    subprocess.run([helper, metric, path, xfile, str(x.shape[0]), efile], check=True)
    ours = np.fromfile(efile, dtype=np.float32).reshape(x.shape[0], -1).astype(np.float64)
    tensors, meta = st.load(path)
    top = {k: v for k, v in meta.items() if not k.startswith("members.")}
    print("  %s: %d tensors, %.1f MB, top-level metadata %s" %
          (metric, len(tensors), os.path.getsize(path) / 1e6, top))
    net = Ensemble(metric).double()
    net.load_state_dict(tensors, strict=True)
    with torch.no_grad():
        theirs = net.embed(x.double()).numpy()
    err = rel_err(ours, theirs)
    print("  %s: ours -> PyTorch (strict load_state_dict of a ModuleList 'members'): "
          "embeddings %s, max rel err %.2e" % (metric, ours.shape, err))
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--images", type=int, default=3)
    args = ap.parse_args()
    x = formula.images(1001, (args.images, 3, 256, 256))
    with tempfile.TemporaryDirectory() as tmp:
        helper = build_helper(args.build, tmp, HELPER)
        errs = [check(helper, tmp, metric, x) for metric in ("euclidean", "cosine")]
    ok = max(errs) <= 1e-4
    print("check_ensemble_file: %s" % ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
