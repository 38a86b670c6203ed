#!/usr/bin/python3
"""numpy reference for tests/eval/test_iou_ref.c: IoU of thresholded heatmaps against masks and the per-label
threshold choice of spec/method.md section 6, computed from raw files the test writes.

    iou_threshold_ref.py DIR

Inputs (float32, little endian):
  DIR/thresholds.f32      the 26 candidate thresholds
  DIR/iou_<c>.f32         case c: [2, n] = heatmap, mask (cases 0 .. N-1 while the file exists)
  DIR/sel.txt             "n_seeds n_labels n_pixels", then one line per (split, seed, label):
                          "split seed label count" (split 0 = validation, 1 = test)
  DIR/sel.f32             for those lines in order, count x [2, n_pixels] (heatmap, mask)
Outputs:
  DIR/iou_ref.f64         [N, 26] IoU of (heatmap > thr) vs (mask > 0.5); an empty union counts 0
  DIR/sel_ref.txt         per label: the chosen threshold index (-1 when undefined), then each seed's
                          test IoU at it (%.17g, nan when undefined)
"""
import os
import sys

import numpy as np

d = sys.argv[1]
thr = np.fromfile(f"{d}/thresholds.f32", dtype="<f4")


def iou_all(heat, mask):
    """IoU at each threshold: strict comparisons in float32, as the C code compares floats."""
    pred = heat[None, :] > thr[:, None]
    gt = mask > np.float32(0.5)
    inter = np.logical_and(pred, gt[None, :]).sum(axis=1)
    union = np.logical_or(pred, gt[None, :]).sum(axis=1)
    out = np.zeros(len(thr))
    nz = union > 0
    out[nz] = inter[nz] / union[nz]
    return out


rows = []
c = 0  # the IoU cases and the threshold choice are separate tests: either set of files may be absent
while os.path.exists(f"{d}/iou_{c}.f32"):
    a = np.fromfile(f"{d}/iou_{c}.f32", dtype="<f4").reshape(2, -1)
    rows.append(iou_all(a[0], a[1]))
    c += 1
if rows:
    np.array(rows, dtype="<f8").tofile(f"{d}/iou_ref.f64")

if not os.path.exists(f"{d}/sel.txt"):
    sys.exit(0)
with open(f"{d}/sel.txt") as f:
    n_seeds, n_labels, n_pix = map(int, f.readline().split())
    lines = [tuple(map(int, ln.split())) for ln in f if ln.strip()]
data = np.fromfile(f"{d}/sel.f32", dtype="<f4")
# mean IoU over a label's images per (split, seed, label); NaN without images (no positive case)
mean_iou = np.full((2, n_seeds, n_labels, len(thr)), np.nan)
pos = 0
for split, seed, label, count in lines:
    imgs = data[pos:pos + count * 2 * n_pix].reshape(count, 2, n_pix)
    pos += count * 2 * n_pix
    if count:
        mean_iou[split, seed, label] = np.mean([iou_all(h, m) for h, m in imgs], axis=0)
assert pos == data.size, "sel.f32 does not match sel.txt"

with open(f"{d}/sel_ref.txt", "w") as f:
    for k in range(n_labels):
        val = mean_iou[0, :, k, :]  # [seeds, thresholds]
        if np.isnan(val).any():
            best = -1
            at = [float("nan")] * n_seeds
        else:
            best = int(np.argmax(val.mean(axis=0)))  # numpy: the first maximum wins a tie
            at = mean_iou[1, :, k, best]
        f.write(" ".join([str(best)] + [f"{v:.17g}" for v in at]) + "\n")
