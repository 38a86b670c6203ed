#!/usr/bin/python3
"""PyTorch oracle for tensor/ ops (tests/tensor/test_ops_torch.c): one invocation runs every case.

usage: torch_ops_ref.py DIR

DIR/manifest.txt has one case per line, "<op> <name> <integers and numbers...>"; inputs are raw
little-endian float32 files DIR/<name>.<key>.f32 and outputs are written the same way. Ops (shapes NCHW):
  bn_train  name N C H W momentum eps   in x gamma beta dy rm rv  out y mean invstd rm rv dx dgamma dbeta
  bn_eval   name N C H W eps            in x gamma beta dy rm rv  out y dx dgamma dbeta
  maxpool   name N C H W kh kw sh sw ph pw   in x dy  out y idx dx
  adaptive  name N C H W OH OW          in x dy  out y idx dx
  nearest   name N C H W OH OW          in x dy  out y dx      (F.interpolate(size=...), legacy nearest)
  bilinear  name N C H W OH OW          in x dy  out y dx      (align_corners=True)
  sigmoid | logsigmoid  name n          in x dy  out y dx
  bce       name n                      in x t   out loss dx   (BCEWithLogitsLoss(), mean)
  amsgrad   name n steps lr b1 b2 eps wd   in p g1..gsteps  out p m v vmax
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F


def main(d):
    torch.set_num_threads(1)

    def rd(name, key, shape):
        a = np.fromfile(f"{d}/{name}.{key}.f32", dtype="<f4")
        return torch.from_numpy(a.reshape(shape).copy())

    def wr(name, key, t):
        t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tofile(f"{d}/{name}.{key}.f32")

    for line in open(f"{d}/manifest.txt"):
        f = line.split()
        if not f:
            continue
        op, name, a = f[0], f[1], f[2:]
        if op in ("bn_train", "bn_eval"):
            N, C, H, W = map(int, a[:4])
            x = rd(name, "x", (N, C, H, W)).requires_grad_()
            g = rd(name, "gamma", (C,)).requires_grad_()
            b = rd(name, "beta", (C,)).requires_grad_()
            dy = rd(name, "dy", (N, C, H, W))
            rm, rv = rd(name, "rm", (C,)), rd(name, "rv", (C,))
            if op == "bn_train":
                mom, eps = float(a[4]), float(a[5])
                # native_batch_norm also returns the batch mean and 1/sqrt(biased var + eps) it saved
                y, mean, invstd = torch.ops.aten.native_batch_norm(x, g, b, rm, rv, True, mom, eps)
                wr(name, "mean", mean)
                wr(name, "invstd", invstd)
                wr(name, "rm", rm)
                wr(name, "rv", rv)
            else:
                y = F.batch_norm(x, rm, rv, g, b, training=False, eps=float(a[4]))
            y.backward(dy)
            wr(name, "y", y)
            wr(name, "dx", x.grad)
            wr(name, "dgamma", g.grad)
            wr(name, "dbeta", b.grad)
        elif op in ("maxpool", "adaptive", "nearest", "bilinear"):
            N, C, H, W = map(int, a[:4])
            x = rd(name, "x", (N, C, H, W)).requires_grad_()
            if op == "maxpool":
                kh, kw, sh, sw, ph, pw = map(int, a[4:10])
                y, idx = F.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), return_indices=True)
            elif op == "adaptive":
                y, idx = F.adaptive_max_pool2d(x, (int(a[4]), int(a[5])), return_indices=True)
            elif op == "nearest":
                y = F.interpolate(x, size=(int(a[4]), int(a[5])), mode="nearest")
            else:
                y = F.interpolate(x, size=(int(a[4]), int(a[5])), mode="bilinear", align_corners=True)
            y.backward(rd(name, "dy", tuple(y.shape)))
            wr(name, "y", y)
            wr(name, "dx", x.grad)
            if op in ("maxpool", "adaptive"):
                wr(name, "idx", idx.to(torch.float32))
        elif op in ("sigmoid", "logsigmoid"):
            n = int(a[0])
            x = rd(name, "x", (n,)).requires_grad_()
            y = torch.sigmoid(x) if op == "sigmoid" else F.logsigmoid(x)
            y.backward(rd(name, "dy", (n,)))
            wr(name, "y", y)
            wr(name, "dx", x.grad)
        elif op == "bce":
            n = int(a[0])
            x = rd(name, "x", (n,)).requires_grad_()
            loss = torch.nn.BCEWithLogitsLoss()(x, rd(name, "t", (n,)))
            loss.backward()
            wr(name, "loss", loss.reshape(1))
            wr(name, "dx", x.grad)
        elif op == "amsgrad":
            n, steps = int(a[0]), int(a[1])
            lr, b1, b2, eps, wd = map(float, a[2:7])
            p = torch.nn.Parameter(rd(name, "p", (n,)))
            opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, amsgrad=True)
            for s in range(1, steps + 1):
                p.grad = rd(name, f"g{s}", (n,))
                opt.step()
            st = opt.state[p]
            wr(name, "p", p)
            wr(name, "m", st["exp_avg"])
            wr(name, "v", st["exp_avg_sq"])
            wr(name, "vmax", st["max_exp_avg_sq"])
        else:
            sys.exit(f"torch_ops_ref.py: error: unknown op '{op}' in {d}/manifest.txt")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    main(sys.argv[1])
