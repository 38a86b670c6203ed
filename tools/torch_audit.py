#!/usr/bin/python3
"""The audit trace of a PyTorch forward pass, in gazeloc's format (autograd/audit.c), so that
gz_audit_compare / gazeloc-audit can name the first op where gazeloc and PyTorch diverge.

    from torch_audit import trace_forward
    loss = trace_forward(path, step, lambda: F.binary_cross_entropy_with_logits(model(x), t,
                         reduction="none").mean(dim=(0, 1), keepdim=True))

    /usr/bin/python3 tools/torch_audit.py OUT.csv [--size 64] [--batch 2] [--eval]
        torchvision resnet50 (seed 0) on randn(batch, 3, size, size) (generator seed 1): its forward trace

Records one line per op output: step, phase (forward), index, op, shape, min, max, mean, L2, NaN and Inf
counts, XXH3-64 of the bytes. Statistics are computed in double over the finite values, as
gz_audit_stats_of does. The aten ops are named as gazeloc's op table names them (a residual `out +=
identity` is add, flatten is reshape, addmm is linear, BN's num_batches_tracked += 1 is not an op).
Only the forward is traced: PyTorch's autograd engine runs other ops in backward (expand, div, in-engine
accumulation) than gazeloc's table, so backward records would not line up one to one.
"""
import argparse
import math

import torch
import xxhash
from torch.utils._python_dispatch import TorchDispatchMode

HEADER = "step,phase,index,op,shape,min,max,mean,l2,nan,inf,hash"


def stats(t):
    t = t.detach().contiguous()
    d = t.double()
    finite = torch.isfinite(d)
    nan, inf = int(torch.isnan(d).sum()), int(torch.isinf(d).sum())
    f = d[finite]
    if f.numel():
        mn, mx, mean, l2 = f.min().item(), f.max().item(), f.sum().item() / f.numel(), math.sqrt((f * f).sum().item())
    else:
        mn = mx = mean = l2 = 0.0
    h = xxhash.xxh3_64_intdigest(t.float().numpy().tobytes())
    return mn, mx, mean, l2, nan, inf, h


class _Tracer(TorchDispatchMode):
    def __init__(self, f, step):
        super().__init__()
        self.f, self.step, self.index = f, step, 0

    def record(self, op, t):
        shape = "x".join(str(s) for s in t.shape)
        mn, mx, mean, l2, nan, inf, h = stats(t)
        self.f.write("%d,forward,%d,%s,%s,%.9g,%.9g,%.9g,%.9g,%d,%d,%016x\n"
                     % (self.step, self.index, op, shape, mn, mx, mean, l2, nan, inf, h))
        self.index += 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = str(func.overloadpacket).split(".")[-1]
        first = out[0] if isinstance(out, (tuple, list)) else out
        op = {"convolution": "conv2d", "relu_": "relu", "relu": "relu", "max_pool2d_with_indices": "max_pool2d",
              "add_": "add", "add": "add", "mean": "mean", "_reshape_alias": "reshape", "view": "reshape",
              "addmm": "linear", "binary_cross_entropy_with_logits": "bce_with_logits",
              "native_batch_norm": "batch_norm"}.get(name)
        if op == "batch_norm" and not args[5]:
            op = "batch_norm_eval"
        if op and torch.is_tensor(first) and first.dim() > 0:
            self.record(op, first)
        return out


def trace_forward(path, step, fn):
    """Runs fn() (a forward) under the tracer, writing the trace to path; returns fn's result."""
    with open(path, "w") as f:
        f.write(HEADER + "\n")
        with _Tracer(f, step):
            return fn()


def main():
    import torch.nn.functional as F
    import torchvision

    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--eval", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.train(not a.eval)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(a.batch, 3, a.size, a.size, generator=g)
    target = (torch.rand(a.batch, 1000, generator=g) < 0.3).float()
    trace_forward(a.out, 1, lambda: F.binary_cross_entropy_with_logits(model(x), target, reduction="none")
                  .mean(dim=(0, 1), keepdim=True))


if __name__ == "__main__":
    main()
