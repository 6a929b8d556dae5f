"""Writes the PyTorch parity fixtures under tests/fixtures/parity/ (run with Debian's python3).

    /usr/bin/python3 tests/ref/make_parity_fixtures.py

Reference numbers are computed by PyTorch in float64 from float32 starting values (parameters and
images), so they are the recipe's exact answers; tests/test_parity.c compares our float32 engine
with them. Images come from the formula in formula.py (both sides compute them bit-exactly; a probe
of the first values is stored to prove it). Files:

  reduced_euclidean.model.safetensors  state_dict of a reduced-width seed network (3x128x128 input,
                                       same layer kinds, kernels and strides; embedding 1) written
                                       from PyTorch with our __metadata__ keys
  reduced_euclidean.ref.safetensors    labels, embeddings, losses of 3 Adam steps, every gradient,
                                       parameters after 1 and after 3 Adam steps (lr 5e-4) and
                                       which of them are well determined ("strictK.*", see
                                       strict_mask)
  reduced_dim8.model.safetensors       the same network with an 8-wide embedding (metric cosine)
  reduced_{cosine,correlation}.ref.safetensors   the same quantities under those metrics
  seed.ref.safetensors                 the exact seed network (3x256x256): parameters from
                                       formula.py (48M, not stored), embeddings, losses, the small
                                       gradients fully and 1024 fixed samples of each large one,
                                       and the same samples of the parameters after 1 Adam step
"""
import copy
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import formula  # noqa: E402
import st  # noqa: E402
from recipe import SiameseNetwork, contrastive_loss, seed_arch_text  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "parity")
LR = 5e-4
STEPS = 3
PROBE = 64
SAMPLES = 1024
IMAGE_STREAMS = (1001, 1002)  # first and second image of every pair

REDUCED = dict(c1=8, c2=12, c3=16, flat=16 * 3 * 3, f1=64, f2=32)
REDUCED_INPUT = (3, 128, 128)
REDUCED_ARCH = ("conv(8,k=11,s=4) relu maxpool(3,s=2) conv(12,k=5) relu maxpool(2,s=2) "
                "conv(16,k=3) relu flatten linear(64) linear(32) linear({out})")
REDUCED_LABELS = [0.0, 1.0, 1.0, 0.0]
WEIGHT_GAIN = 2.0
SEED_INPUT = (3, 256, 256)
SEED_LABELS = [0.0, 1.0]


def model_metadata(arch, shape, metric, dim):
    return {"format": "siamese/1", "arch": arch, "input": "%dx%dx%d" % shape,
            "embedding_dim": str(dim), "margin": "2", "metric": metric}


def pair_images(n, shape):
    return [formula.images(s, (n,) + shape) for s in IMAGE_STREAMS]


def train(model32, metric, x1, x2, labels, dtype, steps=STEPS):
    """Runs `steps` Adam steps in dtype on the same batch; returns the embeddings of the first
    step, the loss of every step, the gradients of every step, and the parameters after every
    step (afters[k] = after k + 1 steps)."""
    model = copy.deepcopy(model32).to(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    y = torch.tensor(labels, dtype=dtype).reshape(-1, 1)
    losses, grads, emb, afters = [], [], None, []
    for step in range(steps):
        opt.zero_grad()
        e1, e2 = model(x1.to(dtype), x2.to(dtype))
        loss = contrastive_loss(metric, e1, e2, y)
        loss.backward()
        losses.append(loss.item())
        grads.append({n: p.grad.detach().clone() for n, p in model.named_parameters()})
        if step == 0:
            emb = (e1.detach().clone(), e2.detach().clone())
        opt.step()
        afters.append({n: p.detach().clone() for n, p in model.named_parameters()})
    return emb[0], emb[1], losses, grads, afters


def strict_mask(g32, g64):
    """Elements whose Adam update is well determined. Adam moves a parameter by about
    lr * sign(g) whatever |g| is, so where g is zero or within float32 rounding noise of it no
    float32 implementation can reproduce the float64 update. Zeros come from dead ReLU units and
    from symmetry: under the Euclidean metric the two branches' gradients cancel exactly through
    the linear tail (all fc biases, and the bias of any conv unit that is active everywhere);
    float32 leaves rounding noise there that Adam turns into +-lr steps. Strict elements: at
    every step the float64 gradient stands clear of zero and of noise (100 times PyTorch's own
    float32 error there, and 1e-6 of the tensor's largest). tests/test_parity.c compares those
    within 1e-4 and holds the others to Adam's bound; their gradients themselves are compared
    like all others."""
    mask = {}
    for n in g64[0]:
        clear = torch.ones_like(g64[0][n], dtype=torch.bool)
        for a, b in zip(g32, g64):
            floor = 1e-6 * b[n].abs().max().item()
            clear &= b[n].abs() > 100 * (a[n].double() - b[n]).abs() + floor
        mask[n] = clear
    return mask


def rel_err(a, b):
    scale = b.abs().max().item()
    return (a.double() - b.double()).abs().max().item() / max(scale, 1e-30)


def report_f32(name, r32, r64, masks):
    """Prints how far PyTorch's own float32 run is from the float64 reference (for context)."""
    g32, g64 = r32[3][0], r64[3][0]
    worst = {"emb": max(rel_err(r32[0], r64[0]), rel_err(r32[1], r64[1])),
             "loss": max(abs(a - b) / abs(b) for a, b in zip(r32[2], r64[2])),
             "grad": max(rel_err(g32[n], g64[n]) for n in g64 if g64[n].abs().max() > 0)}
    for steps, mask in masks.items():
        a32, a64 = r32[4][steps - 1], r64[4][steps - 1]
        worst["adam%d" % steps] = max(rel_err(a32[n], a64[n]) for n in a64)
        worst["adam%d_strict" % steps] = max(
            (a32[n][mask[n]] - a64[n][mask[n]]).abs().max().item() / a64[n].abs().max().item()
            for n in a64 if mask[n].any())
        loose = sum(int((~m).sum()) for m in mask.values())
        total = sum(m.numel() for m in mask.values())
        worst["loose%d" % steps] = "%d/%d" % (loose, total)
    print("  %s: PyTorch float32 vs float64: %s" %
          (name, ", ".join("%s %s" % (k, v if isinstance(v, str) else "%.2e" % v)
                           for k, v in worst.items())))


def f32(t):
    return t.detach().to(torch.float32).contiguous()


def write_reduced(tag, metric, model, out_dim):
    x1, x2 = pair_images(len(REDUCED_LABELS), REDUCED_INPUT)
    r64 = train(model, metric, x1, x2, REDUCED_LABELS, torch.float64)
    r32 = train(model, metric, x1, x2, REDUCED_LABELS, torch.float32)
    masks = {1: strict_mask(r32[3][:1], r64[3][:1]),
             STEPS: strict_mask(r32[3], r64[3])}
    report_f32(tag, r32, r64, masks)
    e1, e2, losses, grads, afters = r64
    tensors = {"labels": torch.tensor(REDUCED_LABELS, dtype=torch.float32),
               "input_probe": x1.flatten()[:PROBE].clone(),
               "emb1": f32(e1), "emb2": f32(e2),
               "loss": torch.tensor(losses, dtype=torch.float64)}
    for n, g in grads[0].items():
        tensors["grad." + n] = f32(g)
    for steps, mask in masks.items():
        for n, p in afters[steps - 1].items():
            tensors["adam%d.%s" % (steps, n)] = f32(p)
            tensors["strict%d.%s" % (steps, n)] = mask[n].to(torch.uint8).contiguous()
    meta = {"what": "reduced seed-like network, PyTorch float64 reference", "metric": metric,
            "input": "%dx%dx%d" % REDUCED_INPUT, "pairs": str(len(REDUCED_LABELS)),
            "lr": str(LR), "steps": str(STEPS), "adam_steps": "1,%d" % STEPS,
            "images": "formula.py streams 1001, 1002", "arch": REDUCED_ARCH.format(out=out_dim)}
    st.save(os.path.join(OUT, "reduced_%s.ref.safetensors" % tag), tensors, meta)
    print("  reduced %s: losses %s" % (tag, losses))


def reduced_model(out_dim, seed):
    """PyTorch's default initialization, weights then scaled by WEIGHT_GAIN so the embeddings of
    different images differ clearly (at the default scale a fresh network maps every image to
    nearly its bias, and distances become cancellation noise in float32)."""
    torch.manual_seed(seed)
    model = SiameseNetwork(out=out_dim, **REDUCED).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".weight"):
                p.mul_(WEIGHT_GAIN)
    return model


def write_reduced_all():
    m1 = reduced_model(1, 1234)
    st.save(os.path.join(OUT, "reduced_euclidean.model.safetensors"), m1.state_dict(),
            model_metadata(REDUCED_ARCH.format(out=1), REDUCED_INPUT, "euclidean", 1))
    write_reduced("euclidean", "euclidean", m1, 1)
    m8 = reduced_model(8, 5678)
    st.save(os.path.join(OUT, "reduced_dim8.model.safetensors"), m8.state_dict(),
            model_metadata(REDUCED_ARCH.format(out=8), REDUCED_INPUT, "cosine", 8))
    write_reduced("cosine", "cosine", m8, 8)
    write_reduced("correlation", "correlation", m8, 8)


def sample_indices(count, stream):
    rng = np.random.default_rng(stream)
    idx = np.sort(rng.choice(count, size=min(SAMPLES, count), replace=False))
    return torch.from_numpy(idx.astype(np.int64))


def write_seed():
    """Losses of 3 Adam steps, but parameters after 1 step: on the full-size network the later
    steps already depend on gradients that sit at float32 noise (PyTorch's own float32 run is
    1e-2 away from float64 there), so only the first update is a well-posed comparison."""
    torch.set_num_threads(os.cpu_count() or 1)
    model = SiameseNetwork()
    names = formula.fill_model(model)
    x1, x2 = pair_images(len(SEED_LABELS), SEED_INPUT)
    r64 = train(model, "euclidean", x1, x2, SEED_LABELS, torch.float64)
    r32 = train(model, "euclidean", x1, x2, SEED_LABELS, torch.float32, steps=1)
    mask = strict_mask(r32[3], r64[3][:1])
    report_f32("seed", r32, r64, {1: mask})
    e1, e2, losses, grads, afters = r64
    after = afters[0]
    tensors = {"labels": torch.tensor(SEED_LABELS, dtype=torch.float32),
               "input_probe": x1.flatten()[:PROBE].clone(),
               "emb1": f32(e1), "emb2": f32(e2),
               "loss": torch.tensor(losses, dtype=torch.float64)}
    sd = model.state_dict()
    for t, n in enumerate(names):
        tensors["param_probe." + n] = sd[n].flatten()[:PROBE].clone()
        g, p, m = grads[0][n].flatten(), after[n].flatten(), mask[n].flatten()
        if g.numel() <= 2048:
            idx = torch.arange(g.numel())
        else:
            idx = sample_indices(g.numel(), 7000 + t)
            tensors["index." + n] = idx
        tensors["grad." + n] = f32(g[idx])
        tensors["adam1.%s" % n] = f32(p[idx])
        tensors["strict1.%s" % n] = m[idx].to(torch.uint8).contiguous()
    meta = {"what": "exact seed network, parameters from formula.py, PyTorch float64 reference",
            "input": "%dx%dx%d" % SEED_INPUT, "pairs": str(len(SEED_LABELS)), "lr": str(LR),
            "steps": str(STEPS), "adam_steps": "1", "images": "formula.py streams 1001, 1002",
            "params": "formula.py: tensor number t of the state_dict uses stream t + 1",
            "arch": seed_arch_text()}
    st.save(os.path.join(OUT, "seed.ref.safetensors"), tensors, meta)
    print("  seed: losses %s, embeddings %s %s" % (losses, e1.flatten().tolist(),
                                                    e2.flatten().tolist()))


def main():
    os.makedirs(OUT, exist_ok=True)
    write_reduced_all()
    if "--no-seed" not in sys.argv:
        write_seed()
    total = 0
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        total += size
        print("  %-40s %8d bytes" % (f, size))
    print("  total %d bytes" % total)


if __name__ == "__main__":
    main()
