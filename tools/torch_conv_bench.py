#!/usr/bin/python3
"""PyTorch's conv2d times (oneDNN on CPU) for gazeloc-bench conv: forward (F.conv2d), backward data
and backward weights (+ bias gradient) timed separately through aten::convolution_backward with the
matching output mask, which is what autograd calls.

usage: torch_conv_bench.py THREADS WARMUP REPS n,ic,ih,iw,oc,kh,kw,sh,sw,ph,pw,bias ...
  prints one line per problem: fwd_median fwd_min fwd_max bwd_data_median ... bwd_weights_median ... (seconds)
usage: torch_conv_bench.py --serve THREADS
  reads lines "n,ic,ih,iw,oc,kh,kw,sh,sw,ph,pw,bias:DIR REPS" (DIR 0 forward, 1 backward data, 2 backward
  weights), runs the problem untimed for 10 ms (caches and threads warm again after gazeloc's turn), and
  answers with REPS run times in seconds on one line; the tensors of the last problem are kept, so
  gazeloc-bench can alternate turns of ours and of PyTorch (apps/bench/torch_peer.c).
"""
import sys
import time

import torch
from torch_timing import timed
import torch.nn.functional as F


def problem(spec):
    """The three timed calls of one problem, on fresh random tensors."""
    n, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw, bias = (int(v) for v in spec.split(","))
    oh, ow = (ih + 2 * ph - kh) // sh + 1, (iw + 2 * pw - kw) // sw + 1
    x = torch.rand(n, ic, ih, iw) - 0.5
    w = torch.rand(oc, ic, kh, kw) - 0.5
    b = torch.rand(oc) if bias else None
    dy = torch.rand(n, oc, oh, ow) - 0.5
    st, pad, dil = [sh, sw], [ph, pw], [1, 1]
    bs = [oc] if bias else None
    return (lambda: F.conv2d(x, w, b, stride=st, padding=pad),
            lambda: torch.ops.aten.convolution_backward(dy, x, w, bs, st, pad, dil, False, [0, 0], 1,
                                                        [True, False, False]),
            lambda: torch.ops.aten.convolution_backward(dy, x, w, bs, st, pad, dil, False, [0, 0], 1,
                                                        [False, True, bool(bias)]))


def serve():
    kept = (None, None)
    for line in sys.stdin:
        key, reps = line.split()
        spec, direction = key.split(":")
        if kept[0] != spec:
            kept = (None, None)  # free the last problem's tensors first
            kept = (spec, problem(spec))
        fn = kept[1][int(direction)]
        t = []
        with torch.no_grad():
            t0 = time.perf_counter()
            while True:
                fn()
                if time.perf_counter() - t0 >= 0.010:
                    break
            for _ in range(int(reps)):
                t0 = time.perf_counter()
                fn()
                t.append(time.perf_counter() - t0)
        print(" ".join("%.9f" % v for v in t), flush=True)


def main():
    torch.manual_seed(0)
    if sys.argv[1] == "--serve":
        torch.set_num_threads(int(sys.argv[2]))
        serve()
        return
    threads, warmup, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    for spec in sys.argv[4:]:
        f, bd, bw = problem(spec)
        with torch.no_grad():
            times = timed(f, warmup, reps) + timed(bd, warmup, reps) + timed(bw, warmup, reps)
        print(" ".join("%.9f" % v for v in times), flush=True)


if __name__ == "__main__":
    main()
