"""Writes the torchvision ResNet parity fixtures under tests/fixtures/resnet/ (Debian's python3-torch
and python3-torchvision):

    /usr/bin/python3 tests/ref/make_resnet_fixtures.py

Parameters and images come from formula.py (both sides compute them bit-exactly, so no weights are
stored): state_dict tensor t uses stream t + 1; conv/linear weights (2u - 1) / sqrt(fan_in), fc bias
(2u - 1) / sqrt(fan_in), batchnorm weight 0.5 + u, bias 0.2 (2u - 1), running_mean 0.1 (2u - 1),
running_var 0.5 + u. Images: u in [0, 1) from the stream named in the file; the output gradient: stream 1001, 2u - 1.
The image stream is the one of 1000..1015 whose layer4 ReLU inputs stay farthest from zero (in
__metadata__ "image_stream"; see layer4_kink_margin). Reference numbers are torchvision's, computed in float64 from those float32 values. Files:

  resnet18.ref.safetensors  resnet18(num_classes=16) on 2x3x64x64: "eval" (eval-mode output),
                            "train" (train-mode output), "running.<name>" (running statistics
                            after that training forward), "grad.<name>" (64 fixed samples of
                            each parameter's gradient of sum(train * dout): indices
                            round(linspace(0, count - 1, 64))), __metadata__ "names": the
                            state_dict's names and shapes in order ("name:d0xd1,...").
  resnet50.ref.safetensors  resnet50(num_classes=16) on 2x3x64x64: "eval" and "train" outputs and
                            the names.

The conversion a user runs to bring torchvision weights to `siamese train --init`:

    import torchvision, safetensors.torch
    model = torchvision.models.resnet18(weights="IMAGENET1K_V1")
    safetensors.torch.save_file(model.state_dict(), "resnet18.safetensors")

(without the safetensors package: st.save("resnet18.safetensors", model.state_dict()) with this
folder's st.py).
"""
import copy
import os
import sys

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import formula  # noqa: E402
import st  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "resnet")
SAMPLES = 64


def fill(model):
    sd = model.state_dict()
    new = {}
    for t, (name, v) in enumerate(sd.items()):
        u = formula.uniform01(t + 1, v.numel())
        layer, slot = name.rsplit(".", 1)
        is_bn = sd[layer + ".weight"].dim() == 1
        if slot == "num_batches_tracked":
            new[name] = torch.zeros_like(v)
            continue
        if is_bn:
            val = {"weight": 0.5 + u, "bias": 0.2 * (2 * u - 1), "running_mean": 0.1 * (2 * u - 1),
                   "running_var": 0.5 + u}[slot]
        else:
            fan_in = int(np.prod(sd[layer + ".weight"].shape[1:]))
            val = (2 * u - 1) / np.sqrt(np.float64(fan_in))
        new[name] = torch.from_numpy(val.astype(np.float32).reshape(tuple(v.shape)))
    model.load_state_dict(new, strict=True)


def names_meta(model):
    return ",".join(f"{k}:{'x'.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items())


def sample_indices(count):
    return np.round(np.linspace(0, count - 1, min(SAMPLES, count))).astype(np.int64)


def layer4_kink_margin(model, x):
    """Smallest |input| of layer4's ReLUs in a training forward: on those 2x2 maps one element
    carries a large share of the gradient, so a float32 rounding that flips one ReLU there moves
    every gradient upstream by about 1%."""
    mins = []
    hooks = [mod.register_forward_pre_hook(lambda mod, inp: mins.append(inp[0].abs().min().item()))
             for name, mod in model.named_modules()
             if name.startswith("layer4") and isinstance(mod, torch.nn.ReLU)]
    model.train()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return min(mins)


def image(stream, side):
    x = torch.from_numpy(formula.uniform01(stream, 2 * 3 * side * side).astype(np.float32))
    return x.double().reshape(2, 3, side, side)


def make(arch, side, with_grads):
    model = getattr(torchvision.models, arch)(num_classes=16)
    fill(model)
    meta = {"names": names_meta(model)}
    model = model.double()
    # The image stream (1000 + k) whose layer4 ReLU inputs stay farthest from 0.
    state = copy.deepcopy(model.state_dict())
    best = max(range(1000, 1016), key=lambda s: (model.load_state_dict(state),
                                                 layer4_kink_margin(model, image(s, side)))[1])
    model.load_state_dict(state)
    meta["image_stream"] = str(best)
    meta["layer4_relu_margin"] = "%.3g" % layer4_kink_margin(model, image(best, side))
    model.load_state_dict(state)
    x = image(best, side)
    dout = torch.from_numpy((2 * formula.uniform01(1001, 2 * 16) - 1).astype(np.float32))
    dout = dout.double().reshape(2, 16)
    out = {}
    model.eval()
    with torch.no_grad():
        out["eval"] = model(x).float()
    model.train()
    y = model(x)
    out["train"] = y.detach().float()
    if with_grads:
        (y * dout).sum().backward()
        for name, p in model.named_parameters():
            flat = p.grad.reshape(-1)
            out["grad." + name] = flat[torch.from_numpy(sample_indices(flat.numel()))].float()
        for name, b in model.named_buffers():
            if b.dtype == torch.float64:
                out["running." + name] = b.float()
    path = os.path.join(OUT, f"{arch}.ref.safetensors")
    st.save(path, out, meta)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch.set_grad_enabled(True)
    make("resnet18", 64, True)
    make("resnet50", 64, False)
