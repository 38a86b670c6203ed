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

import torch
from torch_timing import serve, timed
import torch.nn.functional as F


def problem(spec):
    """The three timed calls of one problem (forward, backward data, backward weights: "0", "1", "2"), on
    fresh random tensors."""
    n, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw, bias = (int(v) for v in spec.split(","))
    oh, ow = (ih + 2 * ph - kh) // sh + 1, (iw + 2 * pw - kw) // sw + 1
    x = torch.rand(n, ic, ih, iw) - 0.5
    w = torch.rand(oc, ic, kh, kw) - 0.5
    b = torch.rand(oc) if bias else None
    dy = torch.rand(n, oc, oh, ow) - 0.5
    st, pad, dil = [sh, sw], [ph, pw], [1, 1]
    bs = [oc] if bias else None
    return {"0": lambda: F.conv2d(x, w, b, stride=st, padding=pad),
            "1": lambda: torch.ops.aten.convolution_backward(dy, x, w, bs, st, pad, dil, False, [0, 0], 1,
                                                             [True, False, False]),
            "2": lambda: torch.ops.aten.convolution_backward(dy, x, w, bs, st, pad, dil, False, [0, 0], 1,
                                                             [False, True, bool(bias)])}


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
        with torch.no_grad():
            times = timed(fns["0"], warmup, reps) + timed(fns["1"], warmup, reps) + timed(fns["2"], warmup, reps)
        print(" ".join("%.9f" % v for v in times), flush=True)


if __name__ == "__main__":
    main()
