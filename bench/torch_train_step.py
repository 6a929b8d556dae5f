#!/usr/bin/python3
"""Times the reference recipe's PyTorch training step (SiameseNetwork, ContrastiveLoss, Adam lr 5e-4)
at batch 32 pairs of 3x256x256 on all cores, for bench_train to compare against.

Prints one line per timed step and a final line
`torch median_seconds=<s> median_cpu_seconds=<c> pairs_per_s=<p>` (cpu: process CPU time, all threads)."""
import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class SiameseNetwork(nn.Module):
    """The recipe's module, layer for layer (each branch runs forward_once on its own)."""

    def __init__(self):
        super().__init__()
        self.cnn1 = nn.Conv2d(3, 256, kernel_size=11, stride=4)
        self.relu = nn.ReLU()
        self.maxpool1 = nn.MaxPool2d(3, stride=2)
        self.cnn2 = nn.Conv2d(256, 256, kernel_size=5, stride=1)
        self.maxpool2 = nn.MaxPool2d(2, stride=2)
        self.cnn3 = nn.Conv2d(256, 384, kernel_size=3, stride=1)
        self.fc1 = nn.Linear(46464, 1024)
        self.fc2 = nn.Linear(1024, 256)
        self.fc3 = nn.Linear(256, 1)

    def forward_once(self, x):
        output = self.cnn1(x)
        output = self.relu(output)
        output = self.maxpool1(output)
        output = self.cnn2(output)
        output = self.relu(output)
        output = self.maxpool2(output)
        output = self.cnn3(output)
        output = self.relu(output)
        output = output.view(output.size()[0], -1)
        output = self.fc1(output)
        output = self.fc2(output)
        output = self.fc3(output)
        return output

    def forward(self, input1, input2):
        return self.forward_once(input1), self.forward_once(input2)


class ContrastiveLoss(torch.nn.Module):
    def __init__(self, margin=2.0):
        super().__init__()
        self.margin = margin

    def forward(self, output1, output2, label):
        euclidean_distance = F.pairwise_distance(output1, output2, keepdim=True)
        return torch.mean((1 - label) * torch.pow(euclidean_distance, 2) +
                          label * torch.pow(torch.clamp(self.margin - euclidean_distance,
                                                        min=0.0), 2))


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
