#!/usr/bin/python3
"""conv2d oracle for tests/tensor/test_conv.c: forward, backward data, backward weights and bias
gradient by PyTorch's autograd in float64 (so the oracle's own error is negligible next to float32).

usage: torch_conv.py DIR
DIR/cases.txt has one line per case: name n ic ih iw oc kh kw sh sw ph pw bias
inputs (raw little-endian float32): DIR/name.x [n,ic,ih,iw], name.w [oc,ic,kh,kw], name.b [oc] when
bias is 1, name.dy [n,oc,oh,ow]; outputs (raw float64): name.y, name.dx, name.dw, name.db (bias only).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def load(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype="<f4").astype(np.float64).reshape(shape))


def save(path, t):
    t.detach().numpy().astype("<f8").tofile(path)


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "cases.txt")) as f:
        for line in f:
            if not line.strip():
                continue
            name, *v = line.split()
            n, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw, bias = (int(a) for a in v)
            p = os.path.join(d, name)
            oh, ow = (ih + 2 * ph - kh) // sh + 1, (iw + 2 * pw - kw) // sw + 1
            x = load(p + ".x", (n, ic, ih, iw)).requires_grad_()
            w = load(p + ".w", (oc, ic, kh, kw)).requires_grad_()
            b = load(p + ".b", (oc,)).requires_grad_() if bias else None
            dy = load(p + ".dy", (n, oc, oh, ow))
            y = F.conv2d(x, w, b, stride=(sh, sw), padding=(ph, pw))
            y.backward(dy)
            save(p + ".y", y)
            save(p + ".dx", x.grad)
            save(p + ".dw", w.grad)
            if bias:
                save(p + ".db", b.grad)


if __name__ == "__main__":
    main()
