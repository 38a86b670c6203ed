#!/usr/bin/python3
"""PyTorch reference for the paper's model (tests/nn/test_paper.c): the network of spec method.md sections
2-3 built from torchvision's resnet50 as the authors' code does (Thoracic, RecognitionNetwork,
DecodingNetwork), and the losses of sections 1-2 written literally (normalize_p_, forward_inference, p_box,
loss_fn_li, loss_unet: products in the working precision, +1e-20 inside the logs).

    /usr/bin/python3 tools/torch_paper_ref.py OUTDIR [--size 128] [--batch 2]
    /usr/bin/python3 tools/torch_paper_ref.py OUTDIR --branch MODE [--tag TAG] [--size 128] [--batch 2]

Writes, with tools/pth_to_safetensors.py:
  OUTDIR/init.safetensors  the initial state_dict under gazeloc's names (nn.h: encoder.*, block5.*, decoder.*)
  OUTDIR/ref.safetensors   the batch: x [B,3,S,S] (already normalized once: the model normalizes again),
                           b [B,10,G,G] (binary grid annotation), y [B,10], annotated [B] (image 0 annotated,
                           the others not), target [B,10,8G,8G] (continuous heatmap in [0, 1]);
                           then for mode in (eval, train), from float32 (plain) and float64 (suffix 64,
                           stored rounded to float32):
                             MODE.gamma, MODE.dec, MODE.ck, MODE.loss, MODE.l_i, MODE.l_t: forward values
                             MODE.grad.<param>: d(300 L_T + L_I)/d param (float32 only)
                             MODE.dact: d(sum_batch C_3)/dA, A the Block-5 activations (GradCAM's input;
                               float32 only)
                           train.step1.<buffer>: BN running statistics after the training forward;
                           floor_MODE.grad.<param>, floor_MODE.dact: the float32 network's own error on its
                             ReLU branch (tools/torch_relu_branch.py): ||t32' - b|| / ||b||, t32' the float32
                             network with the losses taken in float64 (the literal float32 products of the
                             MIL loss lose up to 4e-2 of the gradient, which would hide the network's
                             error), b the float64 run with t32's ReLU masks; flips_MODE: float32's ReLU
                             inputs on the other side of 0 than in float64, whose masks go to
                             OUTDIR/mask64_MODE.bin (max-pool indices: mask64_MODE_pool.bin);
                             pool_flips_MODE: max-pool windows float32 routes to another pixel.
With --branch MODE (eval or train): reads gazeloc's ReLU masks of that pass from OUTDIR/ours_masks_MODE.bin
(and its max-pool indices from ours_masks_MODE_pool.bin; with --tag TAG, oursTAG_masks_MODE[_pool].bin)
and writes OUTDIR/branch_MODE.safetensors: MODE.grad.<param> and MODE.dact from float64 on that branch, the
exact answer gazeloc's float32 gradients approach (branchTAG_MODE.safetensors with --tag).
"""
import argparse
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pth_to_safetensors import convert  # noqa: E402
from torch_relu_branch import ReluBranch, flips, pool_flips, read_masks, shapes_of, write_masks  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LAMBDA_A, LAMBDA_T, GRADCAM_CLASS = 3.0, 300.0, 3


def conv_bn(ic, oc, momentum, bias):
    m = torch.nn.Module()
    m.conv = torch.nn.Conv2d(ic, oc, 3, padding=1, bias=bias)
    m.bn = torch.nn.BatchNorm2d(oc, momentum=momentum)
    return m


class Paper(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torchvision.models.resnet50()
        del self.encoder.fc  # avgpool and fc are unused (section 3)
        self.block5 = torch.nn.Module()
        self.block5.conv = torch.nn.Conv2d(3072, 512, 3, padding=1, bias=False)
        self.block5.bn = torch.nn.BatchNorm2d(512)
        self.block5.classifier = torch.nn.Conv2d(512, 10, 1)
        self.decoder = torch.nn.ModuleList([conv_bn(512, 128, 0.01, True), conv_bn(128, 64, 0.01, True),
                                            conv_bn(64, 10, 0.01, True)])

    def forward(self, x):
        mean = torch.tensor(MEAN, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(STD, dtype=x.dtype).view(1, 3, 1, 1)
        x = (x - mean) / std  # ClassifierInputs: the second normalization (gotcha 2)
        e = self.encoder
        h = e.maxpool(e.relu(e.bn1(e.conv1(x))))
        l3 = e.layer3(e.layer2(e.layer1(h)))
        l4 = e.layer4(l3)
        feat = torch.cat([l3, torch.nn.functional.interpolate(l4, size=l3.shape[2:])], 1)  # nearest
        act = torch.relu(self.block5.bn(self.block5.conv(feat)))
        gamma = self.block5.classifier(act)
        h = act
        for i, blk in enumerate(self.decoder):
            h = torch.nn.functional.interpolate(h, scale_factor=2, mode="bilinear", align_corners=True)
            h = blk.bn(blk.conv(h))
            if i < 2:
                h = torch.relu(h)
        return gamma, act, h


def normalize_p(p, n=None):  # train.py::normalize_p_
    lb = 0.98 if n is None else 0.0056738 ** (1.0 / n)
    return lb + (1 - lb) * p


def mil_loss(gamma, b, y, ann):  # model.py::forward_inference, p_box, loss_fn_li (Eqs. 1-5)
    s = torch.sigmoid(gamma.flatten(2))
    b = b.flatten(2)
    ncell = s.shape[-1]
    ck = 1 - torch.prod(normalize_p(1 - s), dim=-1)
    npos = b.sum(-1, keepdim=True)
    pos = torch.prod(normalize_p(s, npos) * b + (1 - b), dim=-1)
    neg = torch.prod(normalize_p(1 - s, ncell - npos) * (1 - b) + b, dim=-1)
    la = -torch.log(pos * neg + 1e-20)
    lup = -torch.log(ck + 1e-20)
    lun = -torch.log(1 - ck + 1e-20)
    a = ann.unsqueeze(-1)
    return (LAMBDA_A * a * la + (1 - a) * y * lup + (1 - a) * (1 - y) * lun).sum(), ck


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(convert(tensors))


def f32(t):
    t = t.detach().clone()
    return t.float() if t.dtype == torch.float64 else t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--branch", choices=("eval", "train"))
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    torch.manual_seed(0)
    init = {k: v.clone() for k, v in Paper().state_dict().items()}

    g = torch.Generator().manual_seed(1)
    nb, s, grid = a.batch, a.size, a.size // 16
    x = torch.randn(nb, 3, s, s, generator=g)
    y = (torch.rand(nb, 10, generator=g) < 0.5).float()
    y[0, :3] = torch.tensor([1.0, 1.0, 0.0])
    b = (torch.rand(nb, 10, grid, grid, generator=g) < 0.2).float() * y[:, :, None, None]
    b[0, 1] = 0
    b[0, 1, 0, 0] = 1  # a single positive cell
    ann = torch.zeros(nb)
    ann[0] = 1
    target = torch.rand(nb, 10, 8 * grid, 8 * grid, generator=g)
    out = {"x": x, "b": b, "y": y, "annotated": ann, "target": target}
    if a.branch:
        model = Paper()
        model.load_state_dict(init)
        with torch.no_grad(), ReluBranch(model.train(a.branch == "train")) as rb:
            model(x)  # the ReLUs' shapes
        shapes = shapes_of(rb.masks)
        masks = read_masks(os.path.join(a.outdir, "ours%s_masks_%s.bin" % (a.tag, a.branch)), shapes)
        res, _ = run(init, out, a.branch, torch.float64, masks)
        write(os.path.join(a.outdir, "branch%s_%s.safetensors" % (a.tag, a.branch)),
              {"%s.%s" % (a.branch, k): f32(v) for k, v in res.items() if k.startswith(("grad.", "dact"))})
        return
    write(os.path.join(a.outdir, "init.safetensors"), init)
    for mode in ("eval", "train"):
        masks = {}
        for sfx, dtype in (("", torch.float32), ("64", torch.float64)):
            res, masks[sfx] = run(init, out, mode, dtype, grads=not sfx)
            for k, v in res.items():  # float64's gradients: on gazeloc's own branch (--branch)
                out["%s%s.%s" % (mode, sfx, k)] = f32(v)
        # the float32 network's error on its own branch: the noise floor of a float32 gradient
        r32, m32 = run(init, out, mode, torch.float32, loss_dtype=torch.float64)
        rb, _ = run(init, out, mode, torch.float64, m32)
        for k, v in rb.items():
            if k.startswith(("grad.", "dact")):
                err = float((r32[k].double() - v).norm() / v.norm()) if v.norm() > 0 else 0.0
                out["floor_%s.%s" % (mode, k)] = torch.tensor([err], dtype=torch.float32)
        out["flips_" + mode] = torch.tensor([flips(masks[""], masks["64"])], dtype=torch.float32)
        out["pool_flips_" + mode] = torch.tensor([pool_flips(masks[""], masks["64"])], dtype=torch.float32)
        write_masks(os.path.join(a.outdir, "mask64_%s.bin" % mode), masks["64"])
    write(os.path.join(a.outdir, "ref.safetensors"), out)


def run(init, io, mode, dtype, masks=None, loss_dtype=None, grads=True):
    """One forward, the losses (in loss_dtype, default dtype) and, with grads, GradCAM's gradient and the
    backward, on the ReLU branch `masks` (None: the model's own); returns the values by name and the ReLU
    masks."""
    model = Paper()
    model.load_state_dict(init)
    model = model.to(dtype)
    model.train(mode == "train")
    x, b, y, ann, target = (io[k].to(dtype) for k in ("x", "b", "y", "annotated", "target"))
    torch.set_grad_enabled(grads)
    with ReluBranch(model, masks) as rbr:
        gamma, act, dec = model(x)
    if loss_dtype is not None:
        gamma, dec, b, y, ann, target = (t.to(loss_dtype) for t in (gamma, dec, b, y, ann, target))
    l_i, ck = mil_loss(gamma, b, y, ann)
    m = (ann[:, None] * y)[:, :, None, None]
    l_t = torch.nn.BCEWithLogitsLoss()(dec * m, target)  # train.py::loss_unet (Eq. 6)
    loss = LAMBDA_T * l_t + l_i  # Eq. 7
    res = {}
    for k, v in (("gamma", gamma), ("dec", dec), ("ck", ck), ("loss", loss), ("l_i", l_i), ("l_t", l_t)):
        res[k] = v.detach().reshape(-1)
    if grads:
        (dact,) = torch.autograd.grad(ck[:, GRADCAM_CLASS].sum(), act, retain_graph=True)
        loss.backward()
        res["dact"] = dact.reshape(-1)
        for n, prm in model.named_parameters():
            res["grad." + n] = prm.grad
    torch.set_grad_enabled(True)
    if mode == "train":
        for n, buf in model.named_buffers():
            res["step1." + n] = buf
    return res, rbr.masks


if __name__ == "__main__":
    main()
