#!/usr/bin/python3
"""bench_speed's PyTorch peer: times the recipe's training step (SiameseNetwork, ContrastiveLoss,
Adam lr 5e-4) or its inference (eval, no_grad, both branches' images as one batch) at batch
32 pairs of 3x256x256 on all cores, fp32.

--arch mnist / omniglot builds that preset of src/nn/arch.c instead (same layers and widths,
PyTorch's default initialization) and trains it as siamese_trainer_step does: both branches'
images as one batch of 2B through the network (batchnorm statistics over all 2B), the
embeddings split into the B pairs, the recipe's ContrastiveLoss, Adam lr 5e-4. --threads T sets
torch.set_num_threads (default: every core).

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
import torch.nn as nn
import torch.optim as optim

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
from recipe import ContrastiveLoss, SiameseNetwork  # noqa: E402  (the recipe's exact modules)


def conv_block(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]


def preset_network(arch):
    """The presets of src/nn/arch.c (input shape, nn.Sequential) other than seed."""
    if arch == "omniglot":  # 1x52x52: four conv64-bn-relu-maxpool blocks, linear(128)
        layers = conv_block(1, 64) + conv_block(64, 64) + conv_block(64, 64) + conv_block(64, 64)
        return (1, 52, 52), nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 3 * 3, 128))
    if arch == "mnist":  # 1x28x28: conv16 and conv32 blocks, linear(128) relu linear(64)
        layers = conv_block(1, 16) + conv_block(16, 32)
        return (1, 28, 28), nn.Sequential(*layers, nn.Flatten(), nn.Linear(32 * 7 * 7, 128),
                                          nn.ReLU(), nn.Linear(128, 64))
    raise ValueError(arch)


class OneBatchSiamese(nn.Module):
    """Both branches as one batch (our trainer's step): forward(a, b) returns the two halves."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward_once(self, x):
        return self.body(x)

    def forward(self, input1, input2):
        out = self.body(torch.cat([input1, input2]))
        return out[:input1.shape[0]], out[input1.shape[0]:]


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
    ap.add_argument("--arch", choices=["seed", "mnist", "omniglot"], default="seed")
    ap.add_argument("--threads", type=int, default=0, help="0 = every core")
    args = ap.parse_args()

    torch.set_num_threads(args.threads if args.threads > 0 else os.cpu_count())
    torch.manual_seed(0)
    if args.arch == "seed":
        shape, net = (3, 256, 256), SiameseNetwork()
    else:
        shape, body = preset_network(args.arch)
        net = OneBatchSiamese(body)
    img0 = torch.rand(args.batch, *shape)
    img1 = torch.rand(args.batch, *shape)
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
    print(f"torch threads={torch.get_num_threads()}", flush=True)
    print(f"torch result median_seconds={statistics.median(times):.5f} "
          f"median_cpu_seconds={statistics.median(cpus):.5f} maxrss_kb={rss}", flush=True)


if __name__ == "__main__":
    main()
