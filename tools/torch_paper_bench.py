#!/usr/bin/python3
"""PyTorch's training step of the paper's model for apps/bench/bench_paper.c, measured in the same run.

usage: torch_paper_bench.py THREADS REPS WARMUP BATCH SIZE

One step = forward in training mode of tools/torch_paper_ref.py's Paper (multi-resolution ResNet-50,
Block 5, decoder), loss = 300 L_T + L_I (the authors' formulas, Eqs. 5-7) on a batch with one annotated
image, backward, Adam(lr=1e-3, weight_decay=1e-4, amsgrad=True) step: the same work as ours. Prints
"median min max" in seconds per step, then "rss BASE PEAK" in bytes (after importing torch; peak at the end).
"""
import os
import resource
import sys

import torch
from torch_timing import timed

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_paper_ref import LAMBDA_T, Paper, mil_loss  # noqa: E402


def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def main():
    threads, reps, warmup, batch, size = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(threads)
    base = rss_now()
    torch.manual_seed(0)
    model = Paper()
    model.train()
    g = torch.Generator().manual_seed(1)
    grid = size // 16
    x = torch.randn(batch, 3, size, size, generator=g)
    y = (torch.rand(batch, 10, generator=g) < 0.5).float()
    b = (torch.rand(batch, 10, grid, grid, generator=g) < 0.2).float() * y[:, :, None, None]
    ann = torch.zeros(batch)
    ann[0] = 1
    target = torch.rand(batch, 10, 8 * grid, 8 * grid, generator=g)
    m = (ann[:, None] * y)[:, :, None, None]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4, amsgrad=True)
    bce = torch.nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad()
        gamma, _, dec = model(x)
        (LAMBDA_T * bce(dec * m, target) + mil_loss(gamma, b, y, ann)[0]).backward()
        opt.step()

    print(*timed(step, warmup, reps))
    print("rss", base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


if __name__ == "__main__":
    main()
