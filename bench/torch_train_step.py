#!/usr/bin/python3
"""Times the reference recipe's PyTorch training step (SiameseNetwork, ContrastiveLoss, Adam lr 5e-4)
at batch 32 pairs of 3x256x256 on all cores, for bench_train to compare against.

Prints one line per timed step and a final line
`torch median_seconds=<s> median_cpu_seconds=<c> pairs_per_s=<p>` (cpu: process CPU time, all threads)."""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.optim as optim

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from recipe import ContrastiveLoss, SiameseNetwork  # noqa: E402  (the recipe's exact modules)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32, help="pairs per step")
    args = ap.parse_args()

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    net = SiameseNetwork()
    criterion = ContrastiveLoss()
    optimizer = optim.Adam(net.parameters(), lr=0.0005)
    img0 = torch.rand(args.batch, 3, 256, 256)
    img1 = torch.rand(args.batch, 3, 256, 256)
    label = torch.randint(0, 2, (args.batch, 1)).float()

    times, cpus = [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        optimizer.zero_grad()
        output1, output2 = net(img0, img1)
        loss = criterion(output1, output2, label)
        loss.backward()
        optimizer.step()
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        if step >= args.warmup:
            times.append(dt)
            cpus.append(dc)
            print(f"torch step {step - args.warmup + 1}: {dt:.3f} s (cpu {dc:.3f} s) "
                  f"loss {loss.item():.4f}", flush=True)
    med = statistics.median(times)
    print(f"torch median_seconds={med:.4f} median_cpu_seconds={statistics.median(cpus):.4f} "
          f"pairs_per_s={args.batch / med:.3f}", flush=True)


if __name__ == "__main__":
    main()
