#!/usr/bin/python3
"""PyTorch's ResNet-50 training step for apps/bench/bench_resnet.c, measured in the same run as ours.

usage: torch_resnet_bench.py THREADS REPS WARMUP BATCH SIZE

One step = forward (training mode), loss = mean BCE-with-logits against fixed targets, backward,
Adam(lr=1e-3, weight_decay=1e-4, amsgrad=True) step: the same work as ours. Runs in its own process so its
peak memory is its own. Prints "median min max" in seconds per step, then "rss BASE PEAK" in bytes: the
resident set after importing torch, and the peak resident set at the end (getrusage ru_maxrss).
"""
import resource
import sys

import torch
from torch_timing import timed
import torchvision


def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main():
    threads, reps, warmup, batch, size = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(threads)
    base = rss_now()
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, size, size, generator=g)
    target = (torch.rand(batch, 1000, generator=g) < 0.3).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4, amsgrad=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), target).backward()
        opt.step()

    print(*timed(step, warmup, reps))
    print("rss", base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


if __name__ == "__main__":
    main()
