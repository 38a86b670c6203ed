#!/usr/bin/python3
"""How close can ANY float32 ResNet-50 get to float64 in training mode? (docs/autograd.md, "What float32
cannot reach")

Runs torchvision's resnet50 (seed 0, the parity test's batch: 2x3xSxS, 1000 BCE targets) in training mode
three ways and prints the worst norm-wise relative error over the parameter gradients:
  1. float64 arithmetic with every layer output rounded to float32, and every gradient flowing back into a
     layer output rounded to float32: exact sums, float32 storage only (the best a float32 code can do);
  2. plain PyTorch float32;
each against float64 on its own ReLU branch (tools/torch_relu_branch.py), so ReLU flips do not count.

    /usr/bin/python3 tools/torch_f32_storage_floor.py [SIZE]     (default 64; about 10 s)
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_relu_branch import ReluBranch  # noqa: E402


class Round32(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.float().double()

    @staticmethod
    def backward(ctx, g):
        return g.float().double()


STORED = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.MaxPool2d, torch.nn.Linear,
          torchvision.models.resnet.Bottleneck)


def one_pass(init, x, target, dtype, masks, round_outputs):
    m = torchvision.models.resnet50()
    m.load_state_dict(init)
    m = m.to(dtype).train(True)
    if round_outputs:
        for mod in m.modules():
            if isinstance(mod, STORED):
                mod.register_forward_hook(lambda mod, i, o: Round32.apply(o))
    with ReluBranch(m, masks) as rb:
        logits = m(x.to(dtype))
        torch.nn.BCEWithLogitsLoss()(logits, target.to(dtype)).backward()
    return rb.masks, {n: p.grad.double() for n, p in m.named_parameters()}


def worst(a, b):
    errs = [((a[n] - b[n]).norm() / b[n].norm()).item() for n in a]
    return max(errs), sum(e > 1e-4 for e in errs), len(errs)


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    torch.manual_seed(0)
    init = {k: v.clone() for k, v in torchvision.models.resnet50().state_dict().items()}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, size, size, generator=g)
    target = (torch.rand(2, 1000, generator=g) < 0.3).float()
    for name, dtype, rnd in (("float64 sums, float32 storage", torch.float64, True),
                             ("PyTorch float32", torch.float32, False)):
        masks, grads = one_pass(init, x, target, dtype, None, rnd)
        _, exact = one_pass(init, x, target, torch.float64, masks, False)
        w, above, n = worst(grads, exact)
        print("%-32s training-mode gradients vs float64 on its branch: worst %.3g, %d of %d tensors above 1e-4"
              % (name, w, above, n))


if __name__ == "__main__":
    main()
