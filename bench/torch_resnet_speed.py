#!/usr/bin/python3
"""bench_resnet's PyTorch peer: torchvision resnet18 (fc of 128) on random images, fp32, on --threads
threads (torch.set_num_threads: Debian's torch 1.13 starts with 1 thread on this machine).
Modes: infer (eval, no_grad), train (forward and backward of sum(y * d)), train-frozen (the stem
and layer1-3 with requires_grad False and their batchnorms in eval mode). Prints one line per
timed step, `torch result median_seconds=<s>` and `torch result median_cpu_seconds=<s>` (CPU time of
the process)."""
import argparse
import statistics
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["infer", "train", "train-frozen"], default="infer")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--side", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=128)
    x = torch.rand(a.batch, 3, a.side, a.side)
    d = torch.randn(a.batch, 128) * 1e-3
    if a.mode == "infer":
        model.eval()
    else:
        model.train()
    if a.mode == "train-frozen":
        for name, module in model.named_children():
            if name not in ("layer4", "avgpool", "fc"):
                module.eval()
                for p in module.parameters():
                    p.requires_grad_(False)
    times, cpu = [], []
    for step in range(a.steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        if a.mode == "infer":
            with torch.no_grad():
                model(x)
        else:
            model.zero_grad(set_to_none=True)
            (model(x) * d).sum().backward()
        if step:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            print(f"step {step} {times[-1]:.3f} s", flush=True)
    print(f"torch threads={torch.get_num_threads()}")
    print(f"torch result median_seconds={statistics.median(times):.6f}")
    print(f"torch result median_cpu_seconds={statistics.median(cpu):.6f}")


if __name__ == "__main__":
    main()
