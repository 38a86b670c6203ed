#!/usr/bin/python3
"""PyTorch's conv2d times (oneDNN on CPU) for gazeloc-bench conv: forward (F.conv2d), backward data
and backward weights (+ bias gradient) timed separately through aten::convolution_backward with the
matching output mask, which is what autograd calls.

usage: torch_conv_bench.py THREADS WARMUP REPS n,ic,ih,iw,oc,kh,kw,sh,sw,ph,pw,bias ...
prints one line per problem: fwd_median fwd_min fwd_max bwd_data_median ... bwd_weights_median ... (seconds)
"""
import sys

import torch
from torch_timing import timed
import torch.nn.functional as F


def main():
    threads, warmup, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for spec in sys.argv[4:]:
        n, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw, bias = (int(v) for v in spec.split(","))
        oh, ow = (ih + 2 * ph - kh) // sh + 1, (iw + 2 * pw - kw) // sw + 1
        x = torch.rand(n, ic, ih, iw) - 0.5
        w = torch.rand(oc, ic, kh, kw) - 0.5
        b = torch.rand(oc) if bias else None
        dy = torch.rand(n, oc, oh, ow) - 0.5
        st, pad, dil = [sh, sw], [ph, pw], [1, 1]
        bs = [oc] if bias else None
        with torch.no_grad():
            f = timed(lambda: F.conv2d(x, w, b, stride=st, padding=pad), warmup, reps)
            bd = timed(lambda: torch.ops.aten.convolution_backward(dy, x, w, bs, st, pad, dil, False, [0, 0], 1,
                                                                   [True, False, False]), warmup, reps)
            bw = timed(lambda: torch.ops.aten.convolution_backward(dy, x, w, bs, st, pad, dil, False, [0, 0], 1,
                                                                   [False, True, bool(bias)]), warmup, reps)
        print(" ".join("%.9f" % v for v in f + bd + bw), flush=True)


if __name__ == "__main__":
    main()
