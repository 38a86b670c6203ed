#!/usr/bin/python3
"""PyTorch's float32 GEMM times, for gazeloc-bench gemm.

Two figures per problem: torch.mm (whatever BLAS Debian's torch is linked to: OpenBLAS when
libopenblas0 is the libblas.so.3 alternative, netlib's reference BLAS otherwise), and the same product
as a 1x1 convolution, which PyTorch hands to oneDNN (x = B as [1, K, h, N/h] with the most square h,
w = A as [M, K, 1, 1]),
the fastest GEMM PyTorch has on this machine.

usage: torch_gemm_bench.py THREADS WARMUP REPS M,N,K[,ta,tb] ...
  prints one line per problem: M N K ta tb mm_median mm_min mm_max dnn_median dnn_min dnn_max (seconds)
usage: torch_gemm_bench.py --serve THREADS
  reads lines "M,N,K,ta,tb:mm REPS" or "M,N,K,ta,tb:dnn REPS", runs that product untimed for 10 ms, and
  answers with REPS run times in seconds on one line (the operands of the last problem are kept; used by
  gazeloc-bench to alternate turns of ours and of PyTorch, apps/bench/torch_peer.c).
"""
import sys

import torch
from torch_timing import serve, timed
import torch.nn.functional as F


def problem(spec):
    """torch.mm and the oneDNN 1x1 convolution of one product, on fresh random operands."""
    f = [int(v) for v in spec.split(",")]
    m, n, k = f[:3]
    ta, tb = (f[3], f[4]) if len(f) == 5 else (0, 0)
    a = torch.rand(k, m) if ta else torch.rand(m, k)
    b = torch.rand(n, k) if tb else torch.rand(k, n)
    a2 = a.t() if ta else a
    b2 = b.t() if tb else b
    c = torch.empty(m, n)
    h = max(d for d in range(1, int(n ** 0.5) + 1) if n % d == 0)  # the most square image of n pixels
    x = b2.contiguous().reshape(1, k, h, n // h)
    w = a2.contiguous().reshape(m, k, 1, 1)
    return {"mm": lambda: torch.mm(a2, b2, out=c), "dnn": lambda: F.conv2d(x, w)}


def main():
    torch.manual_seed(0)
    if sys.argv[1] == "--serve":
        torch.set_num_threads(int(sys.argv[2]))
        serve(problem)
        return
    threads, warmup, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    for spec in sys.argv[4:]:
        fns = problem(spec)
        mm = timed(fns["mm"], warmup, reps)
        dnn = timed(fns["dnn"], warmup, reps)
        print(*spec.split(",")[:3], *(spec.split(",")[3:5] or ["0", "0"]),
              "%.9f %.9f %.9f %.9f %.9f %.9f" % (mm + dnn), flush=True)


if __name__ == "__main__":
    main()
