#!/usr/bin/python3
"""PyTorch timings for apps/bench/bench_ops.c, measured in the same run as ours.

usage: torch_ops_bench.py THREADS REPS WARMUP OP:N,C,H,W [OP:N,C,H,W ...]
OP is bn_fwd, bn_bwd, relu, relu_bwd, maxpool, maxpool_bwd, upsample_bilinear, bce (BCE with logits, per element), or amsgrad (shape N,1,1,1 = N parameters).
Prints one line per problem: "OP N,C,H,W median min max" in seconds. The kernels are called directly
(aten ops, preallocated outputs where PyTorch allows), so the figures are the kernels', not autograd's.
"""
import sys

import torch
from torch_timing import timed
import torch.nn.functional as F


def problem(op, shape):
    n, c, h, w = shape
    g = torch.Generator().manual_seed(1)
    if op == "amsgrad":
        p = torch.nn.Parameter(torch.rand(n, generator=g))
        p.grad = torch.rand(n, generator=g) * 0.1
        opt = torch.optim.Adam([p], lr=1e-3, weight_decay=1e-5, amsgrad=True)
        return lambda: opt.step()
    x = torch.rand(n, c, h, w, generator=g) - 0.5
    if op == "relu":
        y = torch.empty_like(x)
        return lambda: torch.clamp_min(x, 0, out=y)
    if op == "bce":
        t = torch.rand(n, c, h, w, generator=g)
        return lambda: F.binary_cross_entropy_with_logits(x, t, reduction="none")
    if op == "relu_bwd":
        y, dy = torch.relu(x), torch.rand(n, c, h, w, generator=g)
        return lambda: torch.ops.aten.threshold_backward(dy, y, 0)
    if op == "maxpool":
        return lambda: torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
    if op == "maxpool_bwd":
        y, idx = torch.ops.aten.max_pool2d_with_indices(x, [3, 3], [2, 2], [1, 1])
        dy = torch.rand(y.shape, generator=g)
        return lambda: torch.ops.aten.max_pool2d_with_indices_backward(dy, x, [3, 3], [2, 2], [1, 1], [1, 1], False, idx)
    if op == "upsample_bilinear":
        return lambda: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
    gamma, beta = torch.rand(c, generator=g), torch.rand(c, generator=g)
    rm, rv = torch.zeros(c), torch.ones(c)
    if op == "bn_fwd":
        return lambda: torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.01, 1e-5)
    if op == "bn_bwd":
        dy = torch.rand(n, c, h, w, generator=g)
        _, mean, invstd = torch.ops.aten.native_batch_norm(x, gamma, beta, rm, rv, True, 0.01, 1e-5)
        return lambda: torch.ops.aten.native_batch_norm_backward(dy, x, gamma, rm, rv, mean, invstd, True, 1e-5,
                                                                 [True, True, True])
    sys.exit(f"torch_ops_bench.py: error: unknown op {op}")


def main():
    if len(sys.argv) < 5 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 2)
    torch.set_num_threads(int(sys.argv[1]))
    reps, warmup = int(sys.argv[2]), int(sys.argv[3])
    for spec in sys.argv[4:]:
        op, dims = spec.split(":")
        shape = tuple(int(v) for v in dims.split(","))
        med, lo, hi = timed(problem(op, shape), warmup, reps)
        print(f"{op} {dims} {med:.6g} {lo:.6g} {hi:.6g}", flush=True)


if __name__ == "__main__":
    main()
