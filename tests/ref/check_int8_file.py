"""Shows that a model written by `siamese quantize` is still a PyTorch model (issue 17).

    /usr/bin/python3 tests/ref/check_int8_file.py ORIGINAL.safetensors QUANTISED.safetensors

ORIGINAL is a seed-network model (siamese train), QUANTISED what `siamese quantize` made of it.
Checks: every tensor of ORIGINAL is in QUANTISED with the same bytes; the only other tensors are
int8.<layer>.input_range [2] and int8.<layer>.weight_scale [out] (float32) of each conv and linear
layer; after dropping the int8.* keys, the recipe's SiameseNetwork loads QUANTISED with a strict
load_state_dict and embeds a random image exactly as it does with ORIGINAL. The safetensors
package is not installed here: the file is read with tests/ref/st.py. Not part of the test suite
(tests need no Python); run it by hand and record the result."""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import st  # noqa: E402
from recipe import SiameseNetwork  # noqa: E402


def main():
    original, quantised = st.load(sys.argv[1])[0], st.load(sys.argv[2])[0]
    for name, t in original.items():
        assert name in quantised, f"{name} missing from the quantised file"
        assert torch.equal(t, quantised[name]), f"{name} changed"
    extra = sorted(set(quantised) - set(original))
    layers = sorted({k[: k.rindex(".")] for k in original if k.endswith(".weight")})
    want = sorted([f"int8.{l}.input_range" for l in layers] + [f"int8.{l}.weight_scale" for l in layers])
    assert extra == want, f"extra tensors {extra}, expected {want}"
    for l in layers:
        r, s = quantised[f"int8.{l}.input_range"], quantised[f"int8.{l}.weight_scale"]
        assert r.shape == (2,) and r.dtype == torch.float32 and r[0] <= r[1]
        assert s.shape == (original[f"{l}.weight"].shape[0],) and bool((s > 0).all())
    plain = {k: v for k, v in quantised.items() if not k.startswith("int8.")}
    a, b = SiameseNetwork(), SiameseNetwork()
    a.load_state_dict(original, strict=True)
    b.load_state_dict(plain, strict=True)
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(a.forward_once(x), b.forward_once(x))
    print(f"ok: {len(original)} fp32 tensors unchanged, {len(extra)} int8 tensors "
          f"({', '.join(layers)}), strict load_state_dict and the same embedding")


if __name__ == "__main__":
    main()
