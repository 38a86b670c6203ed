#!/usr/bin/python3
"""Is there learnable image signal in a gazeloc-synth dataset? Trains, per paper label, a logistic
regression on the frontal images downsampled to SIZE x SIZE (train split) and reports the test AUC
against the true labels (truth/images.csv). A linear model on raw pixels is a floor for what a CNN finds.
usage: synth_learnability.py DATASET [SIZE]   (Debian python3: numpy, PIL, sklearn)"""
import csv, os, sys
import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

root = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 48
labels = ["Edema", "Opacity", "Pneumothorax", "Pleural abnormality", "Lung Lesion", "Atelectasis",
          "Consolidation", "Fracture", "Cardiomegaly", "Abnormal Mediastinum Contour"]
X, Y, S = [], [], []
for r in csv.DictReader(open(os.path.join(root, "truth/images.csv"))):
    if r["view"] not in ("PA", "AP"):
        continue
    s = r["subject_id"]
    p = os.path.join(root, "mimic/files", "p" + s[:2], "p" + s, "s" + r["study_id"], r["dicom_id"] + ".jpg")
    im = Image.open(p).convert("L")
    w, h = im.size  # pad to square like the paper's preprocessing, then resize
    sq = Image.new("L", (max(w, h), max(w, h)))
    sq.paste(im, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
    X.append(np.asarray(sq.resize((size, size), Image.BILINEAR), dtype=np.float32).ravel() / 255)
    have = set(r["paper_labels"].split("|")) if r["paper_labels"] else set()
    Y.append([l in have for l in labels])
    S.append(r["split"])
X, Y, S = np.array(X), np.array(Y), np.array(S)
X = (X - X.mean(0)) / (X.std(0) + 1e-6)
tr, te = S != "test", S == "test"
print(f"{len(X)} frontal images, {tr.sum()} train/validate, {te.sum()} test, {size}x{size} px")
for k, l in enumerate(labels):
    ytr, yte = Y[tr, k], Y[te, k]
    if ytr.sum() < 5 or yte.sum() < 2:
        print(f"  {l:30s} too few positives (train {ytr.sum()}, test {yte.sum()})")
        continue
    m = LogisticRegression(C=0.01, max_iter=2000).fit(X[tr], ytr)
    print(f"  {l:30s} AUC {roc_auc_score(yte, m.decision_function(X[te])):.3f}  (train {ytr.sum()}, test {yte.sum()} positives)")
