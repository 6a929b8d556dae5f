#!/usr/bin/python3
"""Writes tests/fixtures/adam_torch.h: torch.optim.Adam (PyTorch 1.13) on a small float32 tensor,
3 steps with and without weight decay, values as exact hex floats. Run with Debian's python3."""
import os
import torch

N = 19  # not a multiple of the vector width: exercises PyTorch's scalar tail too


def hexs(t):
    return ", ".join(float(x).hex() for x in t.tolist())


def run(p0, grads, wd):
    p = p0.clone().requires_grad_(True)
    opt = torch.optim.Adam([p], lr=0.0005, weight_decay=wd)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    st = opt.state[p]
    return p.detach(), st["exp_avg"], st["exp_avg_sq"]


def main():
    torch.manual_seed(1234)
    p0 = torch.randn(N) * 0.1
    grads = [torch.randn(N) * 0.01 for _ in range(3)]
    grads[1][0] = 0.0  # a zero gradient
    out = ["/* Made by tests/ref/make_adam_fixture.py with torch %s: Adam lr 5e-4, 3 steps. */"
           % torch.__version__, "#define ADAM_N %d" % N,
           "static const float adam_p0[ADAM_N] = {%s};" % hexs(p0)]
    for i, g in enumerate(grads):
        out.append("static const float adam_g%d[ADAM_N] = {%s};" % (i, hexs(g)))
    for tag, wd in (("nowd", 0.0), ("wd", 0.01)):
        p, m, v = run(p0, grads, wd)
        out.append("static const float adam_p_%s[ADAM_N] = {%s};" % (tag, hexs(p)))
        out.append("static const float adam_m_%s[ADAM_N] = {%s};" % (tag, hexs(m)))
        out.append("static const float adam_v_%s[ADAM_N] = {%s};" % (tag, hexs(v)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "adam_torch.h")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
