#!/usr/bin/python3
"""Precision, recall and F1 of a labeler output (gazeloc-label on DATASET/reflacx/main_data) against the
intended labels of a gazeloc-synth dataset (truth/readings.csv). A label counts as present when it is
positive or uncertain (1 or -1), as in the paper. Also the share of exact CheXpert values that agree.
usage: synth_labeler_f1.py DATASET LABELS.csv"""
import csv, sys

root, labels = sys.argv[1], sys.argv[2]
cat = {"Abnormal mediastinal contour": "wide mediastinum & abnormal mediastinum contour",
       "Acute fracture": "acute fracture & fracture", "Atelectasis": "atelectasis", "Consolidation": "consolidation",
       "Enlarged cardiac silhouette": "enlarged cardiac silhouette", "Enlarged hilum": "enlarged hilum",
       "Groundglass opacity": "groundglass opacity", "Hiatal hernia": "hiatal hernia",
       "High lung volume / emphysema": "high lung volume - emphysema & emphysema",
       "Interstitial lung disease": "interstitial lung disease & fibrosis", "Lung nodule or mass": "lung nodule or mass",
       "Pleural abnormality": "pleural abnormality", "Pneumothorax": "pneumothorax", "Pulmonary edema": "pulmonary edema",
       "Support devices": "support devices"}
truth = {r["id"]: r for r in csv.DictReader(open(f"{root}/truth/readings.csv"))}
pred = {r["id"]: r for r in csv.DictReader(open(labels))}
assert set(truth) == set(pred), "the two tables hold different readings"
present = lambda v: v.strip() in ("1.0", "-1.0", "1", "-1")
norm = lambda v: {"1": "1.0", "-1": "-1.0", "0": "0.0"}.get(v.strip(), v.strip())
tp_all = fp_all = fn_all = agree = total = 0
print(f"{'label':32s} {'n':>4s} {'prec':>6s} {'rec':>6s} {'F1':>6s}  exact")
for lab, c in cat.items():
    tp = fp = fn = ex = 0
    for i in truth:
        t, p = present(truth[i][lab]), present(pred[i][c])
        tp += t and p; fp += p and not t; fn += t and not p
        ex += norm(truth[i][lab]) == norm(pred[i][c])
    tp_all += tp; fp_all += fp; fn_all += fn; agree += ex; total += len(truth)
    pr = tp / (tp + fp) if tp + fp else float("nan"); rc = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    print(f"{lab:32s} {tp + fn:4d} {pr:6.3f} {rc:6.3f} {f1:6.3f}  {ex / len(truth):.3f}")
print(f"{'micro':32s} {tp_all + fn_all:4d} {tp_all / max(1, tp_all + fp_all):6.3f} {tp_all / max(1, tp_all + fn_all):6.3f} "
      f"{2 * tp_all / max(1, 2 * tp_all + fp_all + fn_all):6.3f}  {agree / total:.3f}")
