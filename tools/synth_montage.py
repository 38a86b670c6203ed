#!/usr/bin/python3
"""Montage of generated frontal images with their true findings (a look at a gazeloc-synth dataset).

usage: synth_montage.py DATASET OUT.png [N] [SIZE]
Draws the first N frontal images that have findings, each downscaled to SIZE px high, with the true
finding boxes (truth/findings.csv) and the paper labels as a caption. Debian's python3 with PIL."""
import csv, os, sys
from PIL import Image, ImageDraw

root, out = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 8
size = int(sys.argv[4]) if len(sys.argv) > 4 else 192
imgs = {r["dicom_id"]: r for r in csv.DictReader(open(os.path.join(root, "truth/images.csv")))}
finds = {}
for r in csv.DictReader(open(os.path.join(root, "truth/findings.csv"))):
    finds.setdefault(r["dicom_id"], []).append(r)
sel = [d for d in imgs if d in finds][:n]
tiles = []
for d in sel:
    r = imgs[d]
    p = os.path.join(root, "mimic/files", "p" + r["subject_id"][:2], "p" + r["subject_id"], "s" + r["study_id"], d + ".jpg")
    im = Image.open(p).convert("RGB")
    s = size / im.height
    im = im.resize((round(im.width * s), size))
    dr = ImageDraw.Draw(im)
    labels = []
    for f in finds[d]:
        if f["xmin"]:
            dr.rectangle([float(f["xmin"]) * s, float(f["ymin"]) * s, float(f["xmax"]) * s, float(f["ymax"]) * s], outline=(255, 160, 0))
        if f["label"] not in labels:
            labels.append(f["label"])
    dr.text((2, 2), "; ".join(labels)[:60], fill=(255, 255, 0))
    tiles.append(im)
W = sum(t.width for t in tiles[:4])
rows = (len(tiles) + 3) // 4
canvas = Image.new("RGB", (W, rows * size))
for i, t in enumerate(tiles):
    x = sum(tt.width for tt in tiles[(i // 4) * 4:i])
    canvas.paste(t, (x, (i // 4) * size))
canvas.save(out)
