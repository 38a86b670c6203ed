#!/usr/bin/python3
"""Reference for tests/data/test_augment.c: torchvision.transforms.functional.affine on a tensor, NEAREST,
fill 0, no shear, exactly the call RandomAffine makes.

    torch_affine_ref.py IN.f32 OUT.f32 H W ANGLE TX TY SCALE
"""
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

src, dst, h, w = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
angle, tx, ty, scale = float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), float(sys.argv[8])
img = torch.from_numpy(np.fromfile(src, dtype=np.float32).reshape(-1, h, w))
out = F.affine(img, angle=angle, translate=[tx, ty], scale=scale, shear=[0.0, 0.0],
               interpolation=InterpolationMode.NEAREST, fill=[0.0])
out.numpy().astype(np.float32).tofile(dst)
