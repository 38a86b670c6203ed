#!/usr/bin/python3
"""ReLU branches for the parity oracles (tools/torch_resnet_ref.py, tools/torch_paper_ref.py).

A network of ReLUs is piecewise smooth: its gradient jumps where a ReLU input crosses 0. Two float32
implementations that round differently put an input whose exact value is within rounding of 0 (a sum
that cancels to 1e-6 out of terms of size 1) on different sides, and every gradient upstream of it
moves by 1e-4 to 1e-2 (docs/autograd.md, "Parity with PyTorch"). The exact derivative on a given
branch is still well defined: run the network in float64 with every ReLU replaced by y = x * mask,
the mask taken from the float32 forward under test. That float64 run is the exact answer the float32
gradient must approach, whatever branch its rounding picked.

    with ReluBranch(model, masks=None) as rb:   # masks None: record rb.masks (y > 0, one per ReLU call)
        loss = ...(model(x)); loss.backward()   # masks given: impose them, call by call, in order

Every nn.ReLU module of the model and every torch.relu / F.relu call inside the block is covered.
Masks are in forward call order (what gazeloc's tape order is too); read_masks / write_masks use raw
uint8 files, one byte per element, the ReLUs concatenated.
"""
import numpy as np
import torch
import torch.nn.functional as F


class ReluBranch:
    def __init__(self, model, masks=None):
        self.model, self.given, self.masks, self.k = model, masks, [], 0
        self._saved, self._outputs = [], []

    def _relu(self, x):
        if self.given is None:
            y = self._orig_relu(x)
            self._outputs.append(y)  # the mask is taken at exit: no extra op inside an audit trace
            return y
        if self.k >= len(self.given):
            raise SystemExit("torch_relu_branch: error: more ReLU calls than masks (%d)" % len(self.given))
        m = self.given[self.k]
        if m.shape != x.shape:
            raise SystemExit("torch_relu_branch: error: ReLU %d has shape %s, its mask %s"
                             % (self.k, tuple(x.shape), tuple(m.shape)))
        self.k += 1
        return x * m.to(x.dtype)

    def __enter__(self):
        self._orig_relu, self._orig_frelu = torch.relu, F.relu
        rb = self

        class _Module(torch.nn.Module):
            def forward(self, x):
                return rb._relu(x)

        mod = _Module()
        for m in self.model.modules():
            for name, child in list(m.named_children()):
                if isinstance(child, torch.nn.ReLU):
                    self._saved.append((m, name, child))
                    setattr(m, name, mod)
        torch.relu = lambda x: rb._relu(x)
        F.relu = lambda x, inplace=False: rb._relu(x)
        return self

    def __exit__(self, *exc):
        torch.relu, F.relu = self._orig_relu, self._orig_frelu
        with torch.no_grad():
            self.masks = [y > 0 for y in self._outputs]
        self._outputs = []
        for m, name, child in self._saved:
            setattr(m, name, child)
        if exc[0] is None and self.given is not None and self.k != len(self.given):
            raise SystemExit("torch_relu_branch: error: %d ReLU calls, %d masks" % (self.k, len(self.given)))
        return False


def write_masks(path, masks):
    with open(path, "wb") as f:
        for m in masks:
            f.write(m.to(torch.uint8).contiguous().numpy().tobytes())


def read_masks(path, shapes):
    """The masks of a file written by gazeloc (or write_masks), cut to the given shapes."""
    raw = np.fromfile(path, dtype=np.uint8)
    need = sum(int(np.prod(s)) for s in shapes)
    if raw.size != need:
        raise SystemExit("torch_relu_branch: error: %s has %d mask bytes, the network's ReLUs need %d"
                         % (path, raw.size, need))
    out, off = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(torch.from_numpy(raw[off:off + n].reshape(s).astype(bool)))
        off += n
    return out


def flips(a, b):
    """How many mask elements differ between two branches."""
    return sum(int((u != v).sum()) for u, v in zip(a, b))
