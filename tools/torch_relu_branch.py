#!/usr/bin/python3
"""ReLU branches (and max-pool choices) for the parity oracles (tools/torch_resnet_ref.py,
tools/torch_paper_ref.py).

A network of ReLUs is piecewise smooth: its gradient jumps where a ReLU input crosses 0. Two float32
implementations that round differently put an input whose exact value is within rounding of 0 (a sum
that cancels to 1e-6 out of terms of size 1) on different sides, and every gradient upstream of it
moves by 1e-4 to 1e-2 (docs/autograd.md, "Parity with PyTorch"). The exact derivative on a given
branch is still well defined: run the network in float64 with every ReLU replaced by y = x * mask,
the mask taken from the float32 forward under test. That float64 run is the exact answer the float32
gradient must approach, whatever branch its rounding picked.

A max-pool is piecewise smooth the same way: where the two largest inputs of a window are within
rounding of each other, two runs route the window's gradient to different pixels, and the weight gradient
of the conv below it moves (the stem's conv1 by 1.3e-3 at 128 px, one window of 131072). So a branch also
fixes every max-pool's argmax: the float64 run gathers x at the indices the run under test chose.

    with ReluBranch(model, masks=None) as rb:   # masks None: record rb.masks, a Branch: relu (y > 0, one
        loss = ...(model(x)); loss.backward()   #   per ReLU call) and pool (argmax per max-pool call)
                                                # masks given (a Branch): impose them, call by call, in order

Every nn.ReLU and nn.MaxPool2d module of the model and every torch.relu / F.relu call inside the block is
covered. Both are in forward call order (what gazeloc's tape order is too); read_masks / write_masks use
raw files: PATH holds one uint8 per ReLU output element, the ReLUs concatenated; pool_path(PATH) one
little-endian int32 per max-pool output element (flat h * W + w within its plane, as PyTorch's indices),
the max-pools concatenated.
"""
from typing import List, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F


class Branch(NamedTuple):
    relu: List[torch.Tensor]  # bool, one per ReLU call
    pool: List[torch.Tensor]  # int64 argmax, one per max-pool call


def pool_path(path):
    """X.bin -> X_pool.bin (tests/nn/parity.h parity_pool_path names it the same way)."""
    if not path.endswith(".bin"):
        raise SystemExit("torch_relu_branch: error: mask file %s does not end in .bin" % path)
    return path[:-4] + "_pool.bin"


class ReluBranch:
    def __init__(self, model, masks=None):
        self.model, self.given, self.masks, self.k, self.kp = model, masks, Branch([], []), 0, 0
        self._saved, self._outputs, self._pool_inputs, self._hooks = [], [], [], []

    def _relu(self, x):
        if self.given is None:
            y = self._orig_relu(x)
            self._outputs.append(y)  # the mask is taken at exit: no extra op inside an audit trace
            return y
        if self.k >= len(self.given.relu):
            raise SystemExit("torch_relu_branch: error: more ReLU calls than masks (%d)" % len(self.given.relu))
        m = self.given.relu[self.k]
        if m.shape != x.shape:
            raise SystemExit("torch_relu_branch: error: ReLU %d has shape %s, its mask %s"
                             % (self.k, tuple(x.shape), tuple(m.shape)))
        self.k += 1
        return x * m.to(x.dtype)

    def _pool(self, x):
        if self.kp >= len(self.given.pool):
            raise SystemExit("torch_relu_branch: error: more max-pool calls than index sets (%d)"
                             % len(self.given.pool))
        idx = self.given.pool[self.kp]
        if idx.shape[:2] != x.shape[:2]:
            raise SystemExit("torch_relu_branch: error: max-pool %d has input %s, its indices %s"
                             % (self.kp, tuple(x.shape), tuple(idx.shape)))
        self.kp += 1
        return x.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)

    def __enter__(self):
        self._orig_relu, self._orig_frelu = torch.relu, F.relu
        rb = self

        class _Module(torch.nn.Module):
            def forward(self, x):
                return rb._relu(x)

        class _Pool(torch.nn.Module):
            def forward(self, x):
                return rb._pool(x)

        mod, pool = _Module(), _Pool()
        for m in self.model.modules():
            for name, child in list(m.named_children()):
                if isinstance(child, torch.nn.ReLU):
                    self._saved.append((m, name, child))
                    setattr(m, name, mod)
                elif isinstance(child, torch.nn.MaxPool2d):
                    if self.given is not None:
                        self._saved.append((m, name, child))
                        setattr(m, name, pool)
                    else:  # record: the input now, the indices at exit (no extra op inside an audit trace)
                        self._hooks.append(child.register_forward_hook(
                            lambda mp, inp, out: self._pool_inputs.append((mp, inp[0]))))
        torch.relu = lambda x: rb._relu(x)
        F.relu = lambda x, inplace=False: rb._relu(x)
        return self

    def __exit__(self, *exc):
        torch.relu, F.relu = self._orig_relu, self._orig_frelu
        with torch.no_grad():
            pools = [F.max_pool2d(x, mp.kernel_size, mp.stride, mp.padding, mp.dilation, mp.ceil_mode, True)[1]
                     for mp, x in self._pool_inputs]
            self.masks = Branch([y > 0 for y in self._outputs], pools)
        self._outputs, self._pool_inputs = [], []
        for h in self._hooks:
            h.remove()
        for m, name, child in self._saved:
            setattr(m, name, child)
        if exc[0] is None and self.given is not None and self.k != len(self.given.relu):
            raise SystemExit("torch_relu_branch: error: %d ReLU calls, %d masks" % (self.k, len(self.given.relu)))
        if exc[0] is None and self.given is not None and self.kp != len(self.given.pool):
            raise SystemExit("torch_relu_branch: error: %d max-pool calls, %d index sets"
                             % (self.kp, len(self.given.pool)))
        return False


def write_masks(path, branch):
    with open(path, "wb") as f:
        for m in branch.relu:
            f.write(m.to(torch.uint8).contiguous().numpy().tobytes())
    with open(pool_path(path), "wb") as f:
        for i in branch.pool:
            f.write(i.to(torch.int32).contiguous().numpy().astype("<i4").tobytes())


def _cut(path, dtype, shapes, what):
    raw = np.fromfile(path, dtype=dtype)
    need = sum(int(np.prod(s)) for s in shapes)
    if raw.size != need:
        raise SystemExit("torch_relu_branch: error: %s has %d %s, the network needs %d" % (path, raw.size, what, need))
    out, off = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(raw[off:off + n].reshape(s))
        off += n
    return out


def read_masks(path, shapes):
    """The branch written by gazeloc (or write_masks) to path and pool_path(path), cut to shapes (a Branch
    of shapes, e.g. [m.shape for m in ...] of a recorded one)."""
    relu = [torch.from_numpy(m.astype(bool)) for m in _cut(path, np.uint8, shapes.relu, "ReLU mask bytes")]
    pool = [torch.from_numpy(i.astype(np.int64))
            for i in _cut(pool_path(path), np.dtype("<i4"), shapes.pool, "max-pool indices")]
    return Branch(relu, pool)


def shapes_of(branch):
    return Branch([m.shape for m in branch.relu], [i.shape for i in branch.pool])


def flips(a, b):
    """How many ReLU mask elements differ between two branches."""
    return sum(int((u != v).sum()) for u, v in zip(a.relu, b.relu))


def pool_flips(a, b):
    """How many max-pool windows two branches route to different pixels."""
    return sum(int((u != v).sum()) for u, v in zip(a.pool, b.pool))
