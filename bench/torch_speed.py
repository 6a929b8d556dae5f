#!/usr/bin/python3
"""bench_speed's PyTorch peer: times the recipe's training step (SiameseNetwork, ContrastiveLoss,
Adam lr 5e-4) or its inference (eval, no_grad, both branches' images as one batch) at batch
32 pairs of 3x256x256 on all cores, fp32.

Prints one line per timed step and a final line
`torch result median_seconds=<s> median_cpu_seconds=<c> maxrss_kb=<k>` (cpu: process CPU time of
all threads; maxrss: this process's peak resident memory from resource.getrusage)."""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
import torch.optim as optim

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from recipe import ContrastiveLoss, SiameseNetwork  # noqa: E402  (the recipe's exact modules)


def train_step(net, criterion, optimizer, img0, img1, label):
    optimizer.zero_grad()
    output1, output2 = net(img0, img1)
    loss = criterion(output1, output2, label)
    loss.backward()
    optimizer.step()
    return loss.item()


def infer_batch(net, images):
    with torch.no_grad():
        return net.forward_once(images)[0, 0].item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["train", "infer"], default="train")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32, help="pairs per step")
    args = ap.parse_args()

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    net = SiameseNetwork()
    img0 = torch.rand(args.batch, 3, 256, 256)
    img1 = torch.rand(args.batch, 3, 256, 256)
    if args.mode == "train":
        criterion = ContrastiveLoss()
        optimizer = optim.Adam(net.parameters(), lr=0.0005)
        label = torch.randint(0, 2, (args.batch, 1)).float()
        step = lambda: train_step(net, criterion, optimizer, img0, img1, label)  # noqa: E731
        what = "loss"
    else:
        net.eval()
        images = torch.cat([img0, img1])
        step = lambda: infer_batch(net, images)  # noqa: E731
        what = "emb[0]"

    times, cpus = [], []
    for i in range(args.warmup + args.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        value = step()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if i >= args.warmup:
            times.append(dt)
            cpus.append(dc)
            print(f"  torch {args.mode} step {i - args.warmup + 1}: {dt:.3f} s (cpu {dc:.3f} s) "
                  f"{what} {value:.4f}", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"torch result median_seconds={statistics.median(times):.5f} "
          f"median_cpu_seconds={statistics.median(cpus):.5f} maxrss_kb={rss}", flush=True)


if __name__ == "__main__":
    main()
