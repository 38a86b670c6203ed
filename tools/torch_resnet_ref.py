#!/usr/bin/python3
"""PyTorch reference for gazeloc's ResNet-50 parity test (tests/nn/test_resnet.c), the llm.c way.

    /usr/bin/python3 tools/torch_resnet_ref.py OUTDIR [--size 64] [--batch 2] [--steps 5]

Builds torchvision's resnet50 with a fixed seed and writes, with tools/pth_to_safetensors.py:
  OUTDIR/init.safetensors  its initial state_dict (torchvision names): the weights both sides start from
  OUTDIR/torch_audit.csv  the audit trace (tools/torch_audit.py) of the float32 training forward of step 1
  OUTDIR/ref.safetensors   x, target: the batch (N x 3 x S x S, and N x 1000 in {0, 1}); loss = mean
                           BCE-with-logits; then, each from PyTorch in float32 (plain names) and from the
                           same model in float64 (names with 64, stored rounded to float32, 6e-8 relative):
                           eval_logits[64], egrad[64].<param>: eval mode at the initial weights
                           logits[64], grad[64].<param>: training mode, step 1
                           step1[_64].<buffer>: BN running statistics and num_batches_tracked after it
                           final[64].<name>: the state_dict after `steps` training steps of Adam(lr=1e-3,
                               betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4, amsgrad=True), each a
                               forward and backward on the same batch
                           adam.<param>: the optimizer alone, `steps` steps with the gradient sequence
                               grad.<param> * OPT_SCALES[k] (float32)
The float64 run is the exact answer both float32 implementations are measured against: PyTorch's own
float32 distance to it is the noise floor of the problem (see the test's header).
"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pth_to_safetensors import convert  # noqa: E402
from torch_audit import trace_forward  # noqa: E402

LR, WD = 1e-3, 1e-4
OPT_SCALES = (1.0, -0.5, 2.0, 0.25, 1.5)  # keep in step with tests/nn/test_resnet.c


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(convert(tensors))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    pth = os.path.join(a.outdir, "init.pth")
    torch.save(init, pth)  # through the converter, as a user's .pth would go
    write(os.path.join(a.outdir, "init.safetensors"), torch.load(pth))
    os.remove(pth)

    g = torch.Generator().manual_seed(1)
    x = torch.randn(a.batch, 3, a.size, a.size, generator=g)
    target = (torch.rand(a.batch, 1000, generator=g) < 0.3).float()
    out = {"x": x, "target": target, "__dir": a.outdir}
    for suffix, dtype in (("", torch.float32), ("64", torch.float64)):
        run(init, x, target, a.steps, dtype, suffix, out)
    optimizer_only(init, a.steps, out)
    del out["__dir"]
    write(os.path.join(a.outdir, "ref.safetensors"), out)


def f32(t):
    t = t.detach().clone()
    return t.float() if t.dtype == torch.float64 else t


def run(init, x, target, steps, dtype, sfx, out):
    model = torchvision.models.resnet50()
    model.load_state_dict(init)
    model = model.to(dtype)
    x, target = x.to(dtype), target.to(dtype)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    # eval mode at the initial weights: logits and gradients
    model.eval()
    logits = model(x)
    loss_fn(logits, target).backward()
    out["eval_logits" + sfx] = f32(logits)
    for n, p in model.named_parameters():
        out["egrad%s.%s" % (sfx, n)] = f32(p.grad)
        p.grad = None
    # training mode: `steps` steps of AMSGrad, each a forward and backward on the same batch
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD, amsgrad=True)
    for step in range(1, steps + 1):
        opt.zero_grad()
        if step == 1 and dtype == torch.float32:  # the audit trace of this forward, for gz_audit_compare
            logits = trace_forward(os.path.join(out["__dir"], "torch_audit.csv"), 1, lambda: model(x))
        else:
            logits = model(x)
        loss_fn(logits, target).backward()
        if step == 1:
            out["logits" + sfx] = f32(logits)
            for n, p in model.named_parameters():
                out["grad%s.%s" % (sfx, n)] = f32(p.grad)
            for n, b in model.named_buffers():
                out["step1%s.%s" % ("_64" if sfx else "", n)] = f32(b)
        opt.step()
    for n, v in model.state_dict().items():
        out["final%s.%s" % (sfx, n)] = f32(v)


def optimizer_only(init, steps, out):
    """The optimizer alone: from the initial weights, `steps` AMSGrad steps whose gradients are the float32
    step-1 gradients times OPT_SCALES[k], so both sides apply the very same gradient sequence."""
    params = {n: v.clone().requires_grad_(True) for n, v in init.items() if v.dtype == torch.float32
              and not n.endswith(("running_mean", "running_var"))}
    opt = torch.optim.Adam(params.values(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD, amsgrad=True)
    for k in range(steps):
        for n, p in params.items():
            p.grad = out["grad." + n] * OPT_SCALES[k]
        opt.step()
    for n, p in params.items():
        out["adam." + n] = p.detach().clone()


if __name__ == "__main__":
    main()
