#!/usr/bin/python3
"""Reference for tests/nn/test_loss.c: the authors' loss formulas written literally in PyTorch (spec
method.md sections 1-2: normalize_p_, forward_inference, p_box, loss_fn_li, loss_unet), in float64, with
gradients from torch.autograd. Also the same formulas in log space (float64) for extreme logits, where
the literal products lose everything to rounding.

    torch_loss_ref.py DIR N
Case i: DIR/case_i.json {nb, nk, ncell, npix, annotated, lambda_a, balanced, ck_balanced}, and raw float32
gamma_i, b_i, y_i, z_i, t_i. Writes DIR/out_i.json {mil, mil_logspace, dec, ck} and float64 dgamma_i, dz_i.
"""
import json
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def normalize_p(p, n=None):
    lb = 0.98 if n is None else 0.0056738 ** (1.0 / n)
    return lb + (1 - lb) * p


def mil_literal(gamma, b, y, ann, c):
    s = torch.sigmoid(gamma)
    ncell = gamma.shape[-1]
    ck_n = torch.full_like(s[..., 0], float(ncell)) if c["ck_balanced"] else None
    if ck_n is None:
        ck = 1 - torch.prod(normalize_p(1 - s), dim=-1)
    else:
        ck = 1 - torch.prod(normalize_p(1 - s, ck_n.unsqueeze(-1)), dim=-1)
    if c["balanced"]:
        npos = b.sum(-1, keepdim=True)
        nneg = ncell - npos
        pos = torch.prod(normalize_p(s, npos) * b + (1 - b), dim=-1)
        neg = torch.prod(normalize_p(1 - s, nneg) * (1 - b) + b, dim=-1)
    else:
        pos = torch.prod(normalize_p(s) * b + (1 - b), dim=-1)
        neg = torch.prod(normalize_p(1 - s) * (1 - b) + b, dim=-1)
    la = -torch.log(pos * neg + 1e-20)
    lup = -torch.log(ck + 1e-20)
    lun = -torch.log(1 - ck + 1e-20)
    a = ann.unsqueeze(-1)
    total = (c["lambda_a"] * a * la + (1 - a) * y * lup + (1 - a) * (1 - y) * lun).sum()
    return total, ck


def mil_logspace(gamma, b, y, ann, c):
    s = torch.sigmoid(gamma)
    ncell = gamma.shape[-1]
    lb = 0.0056738 ** (1.0 / ncell) if c["ck_balanced"] else 0.98
    # log(lb + (1-lb) p) as log1p(-(1-lb)(1-p)), with 1-p = sigmoid(-+gamma) exactly
    s0 = torch.log1p(-(1 - lb) * s).sum(-1)
    ck = -torch.expm1(s0)
    npos = b.sum(-1, keepdim=True)
    lbp = 0.0056738 ** (1.0 / npos) if c["balanced"] else torch.full_like(npos, 0.98)
    lbn = 0.0056738 ** (1.0 / (ncell - npos)) if c["balanced"] else torch.full_like(npos, 0.98)
    logp = (torch.log1p(-(1 - lbp) * torch.sigmoid(-gamma)) * b).nan_to_num(0).sum(-1) + \
           (torch.log1p(-(1 - lbn) * s) * (1 - b)).nan_to_num(0).sum(-1)
    la = -torch.log(torch.exp(logp) + 1e-20)
    lup = -torch.log(ck + 1e-20)
    lun = -torch.log(torch.exp(s0) + 1e-20)
    a = ann.unsqueeze(-1)
    return (c["lambda_a"] * a * la + (1 - a) * y * lup + (1 - a) * (1 - y) * lun).sum()


def load(d, name, i, shape):
    return torch.from_numpy(np.fromfile(f"{d}/{name}_{i}", dtype=np.float32).astype(np.float64).reshape(shape))


d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    c = json.load(open(f"{d}/case_{i}.json"))
    nb, nk, ncell, npix = c["nb"], c["nk"], c["ncell"], c["npix"]
    gamma = load(d, "gamma", i, (nb, nk, ncell)).requires_grad_()
    b = load(d, "b", i, (nb, nk, ncell))
    y = load(d, "y", i, (nb, nk))
    ann = torch.tensor(c["annotated"], dtype=torch.float64)
    mil, ck = mil_literal(gamma, b, y, ann, c)
    mil.backward()
    z = load(d, "z", i, (nb, nk, npix)).requires_grad_()
    t = load(d, "t", i, (nb, nk, npix))
    m = (ann.unsqueeze(-1) * y).unsqueeze(-1)
    dec = torch.nn.BCEWithLogitsLoss()(z * m, t) if m.sum() > 0 else (z * 0).sum()
    dec.backward()
    out = {"mil": mil.item(), "mil_logspace": mil_logspace(gamma.detach(), b, y, ann, c).item(),
           "dec": dec.item(), "ck": ck.detach().flatten().tolist()}
    json.dump(out, open(f"{d}/out_{i}.json", "w"))
    gamma.grad.numpy().astype(np.float64).tofile(f"{d}/dgamma_{i}")
    z.grad.numpy().astype(np.float64).tofile(f"{d}/dz_{i}")
