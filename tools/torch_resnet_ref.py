#!/usr/bin/python3
"""PyTorch reference for gazeloc's ResNet-50 parity test (tests/nn/test_resnet.c), the llm.c way.

    /usr/bin/python3 tools/torch_resnet_ref.py OUTDIR [--size 64] [--batch 2] [--steps 5]
    /usr/bin/python3 tools/torch_resnet_ref.py OUTDIR --branch [--tag TAG] [--size 64] [--batch 2]

Builds torchvision's resnet50 with a fixed seed and writes, with tools/pth_to_safetensors.py:
  OUTDIR/init.safetensors  its initial state_dict (torchvision names): the weights both sides start from
  OUTDIR/torch_audit.csv  the audit trace (tools/torch_audit.py) of the float32 training forward of step 1
  OUTDIR/ref.safetensors   x, target: the batch (N x 3 x S x S, and N x 1000 in {0, 1}); loss = mean
                           BCE-with-logits; then, each from PyTorch in float32 (plain names) and from the
                           same model in float64 (names with 64, stored rounded to float32, 6e-8 relative):
                           eval_logits[64], egrad.<param>: eval mode at the initial weights
                           logits[64], grad.<param>: training mode, step 1
                           floor_eval.<name>, floor_train.<name>: PyTorch float32's own error on its
                               ReLU branch (tools/torch_relu_branch.py), name = logits or a parameter:
                               ||t32 - b|| / ||b|| where b is the float64 run with float32's ReLU masks
                           flips_eval, flips_train: how many ReLU inputs float32 puts on the other side
                               of 0 than float64; pool_flips_eval, pool_flips_train: how many max-pool
                               windows it routes to another pixel
                           step1[_64].<buffer>: BN running statistics and num_batches_tracked after it
                           final[64].<name>: the state_dict after `steps` training steps of Adam(lr=1e-3,
                               betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4, amsgrad=True), each a
                               forward and backward on the same batch
                           adam.<param>: the optimizer alone, `steps` steps with the gradient sequence
                               grad.<param> * OPT_SCALES[k] (float32)
  OUTDIR/mask64_eval.bin, mask64_train.bin  float64's ReLU masks (uint8, ReLUs in call order), and its
                           max-pool indices in mask64_{eval,train}_pool.bin (tools/torch_relu_branch.py)
With --branch: reads OUTDIR/ours_masks_eval.bin and ours_masks_train.bin (gazeloc's ReLU masks of the
eval pass and of training step 1, and the max-pool indices in ours_masks_{eval,train}_pool.bin) and writes OUTDIR/branch.safetensors: eval_logits, egrad.<param>,
logits, grad.<param> from float64 on gazeloc's branch: the exact answer its float32 gradients approach;
t32.eval_logits, t32.egrad.<param>: PyTorch float32 on that branch (eval mode). With --tag TAG the masks
are OUTDIR/oursTAG_masks_{eval,train}.bin and the output OUTDIR/branchTAG.safetensors (the test's second
run, on the reference kernels, uses TAG = _ref).
"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pth_to_safetensors import convert  # noqa: E402
from torch_audit import trace_forward  # noqa: E402
from torch_relu_branch import ReluBranch, flips, pool_flips, read_masks, shapes_of, write_masks  # noqa: E402

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
    ap.add_argument("--branch", action="store_true")
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    init = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(a.batch, 3, a.size, a.size, generator=g)
    target = (torch.rand(a.batch, 1000, generator=g) < 0.3).float()
    if a.branch:
        return on_branch(init, x, target, a.outdir, a.tag)
    pth = os.path.join(a.outdir, "init.pth")
    torch.save(init, pth)  # through the converter, as a user's .pth would go
    write(os.path.join(a.outdir, "init.safetensors"), torch.load(pth))
    os.remove(pth)

    out = {"x": x, "target": target, "__dir": a.outdir}
    masks = {}
    for suffix, dtype in (("", torch.float32), ("64", torch.float64)):
        run(init, x, target, a.steps, dtype, suffix, out, masks)
    for mode in ("eval", "train"):
        # PyTorch float32's error on its own branch: the noise floor of a float32 gradient
        logits, grads = one_pass(init, x, target, torch.float64, mode == "train", masks["", mode])
        lname, gname = ("eval_logits", "egrad.") if mode == "eval" else ("logits", "grad.")
        pairs = [("logits", out[lname], logits)] + [(n, out[gname + n], gr) for n, gr in grads.items()]
        for n, u, v in pairs:
            out["floor_%s.%s" % (mode, n)] = torch.tensor([float((u.double() - v).norm() / v.norm())
                                                           if v.norm() > 0 else 0.0], dtype=torch.float32)
        out["flips_" + mode] = torch.tensor([flips(masks["", mode], masks["64", mode])], dtype=torch.float32)
        out["pool_flips_" + mode] = torch.tensor([pool_flips(masks["", mode], masks["64", mode])],
                                                 dtype=torch.float32)
        write_masks(os.path.join(a.outdir, "mask64_%s.bin" % mode), masks["64", mode])
    optimizer_only(init, a.steps, out)
    del out["__dir"]
    write(os.path.join(a.outdir, "ref.safetensors"), out)


def one_pass(init, x, target, dtype, training, masks):
    """Logits and parameter gradients (float64) of one forward and backward from the initial weights on
    the ReLU branch `masks`."""
    model = torchvision.models.resnet50()
    model.load_state_dict(init)
    model = model.to(dtype).train(training)
    with ReluBranch(model, masks):
        logits = model(x.to(dtype))
        torch.nn.BCEWithLogitsLoss()(logits, target.to(dtype)).backward()
    return logits.detach().double(), {n: p.grad.double() for n, p in model.named_parameters()}


def on_branch(init, x, target, outdir, tag):
    """--branch: float64 on gazeloc's ReLU branch, for the eval pass and training step 1."""
    model = torchvision.models.resnet50()
    model.load_state_dict(init)
    with torch.no_grad(), ReluBranch(model) as rb:
        model.eval()(x)
    shapes = shapes_of(rb.masks)
    out = {}
    for mode, lname, gname in (("eval", "eval_logits", "egrad."), ("train", "logits", "grad.")):
        masks = read_masks(os.path.join(outdir, "ours%s_masks_%s.bin" % (tag, mode)), shapes)
        logits, grads = one_pass(init, x, target, torch.float64, mode == "train", masks)
        out[lname] = logits.float()
        for n, gr in grads.items():
            out[gname + n] = gr.float()
        if mode == "eval":  # and PyTorch float32 on the same branch
            logits, grads = one_pass(init, x, target, torch.float32, False, masks)
            out["t32." + lname] = logits.float()
            for n, gr in grads.items():
                out["t32." + gname + n] = gr.float()
    write(os.path.join(outdir, "branch%s.safetensors" % tag), out)


def f32(t):
    t = t.detach().clone()
    return t.float() if t.dtype == torch.float64 else t


def run(init, x, target, steps, dtype, sfx, out, masks):
    model = torchvision.models.resnet50()
    model.load_state_dict(init)
    model = model.to(dtype)
    x, target = x.to(dtype), target.to(dtype)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    # eval mode at the initial weights: logits and gradients
    model.eval()
    with ReluBranch(model) as rb:
        logits = model(x)
    masks[sfx, "eval"] = rb.masks
    loss_fn(logits, target).backward()
    out["eval_logits" + sfx] = f32(logits)
    for n, p in model.named_parameters():
        if not sfx:
            out["egrad.%s" % n] = f32(p.grad)
        p.grad = None
    # training mode: `steps` steps of AMSGrad, each a forward and backward on the same batch
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD, amsgrad=True)
    for step in range(1, steps + 1):
        opt.zero_grad()
        with ReluBranch(model) as rb:
            if step == 1 and dtype == torch.float32:  # the audit trace of this forward, for gz_audit_compare
                logits = trace_forward(os.path.join(out["__dir"], "torch_audit.csv"), 1, lambda: model(x))
            else:
                logits = model(x)
        if step == 1:
            masks[sfx, "train"] = rb.masks
        loss_fn(logits, target).backward()
        if step == 1:
            out["logits" + sfx] = f32(logits)
            if not sfx:
                for n, p in model.named_parameters():
                    out["grad.%s" % n] = f32(p.grad)
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
