#!/usr/bin/python3
"""Reference for tests/eval: reads cases of (scores, labels) as raw float32 / uint8 files and prints
sklearn's roc_auc_score for each, one per line, with 17 significant digits.

    sklearn_auc_ref.py DIR N   reads DIR/score_<i>.f32 and DIR/label_<i>.u8 for i < N
"""
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    s = np.fromfile(f"{d}/score_{i}.f32", dtype=np.float32)
    y = np.fromfile(f"{d}/label_{i}.u8", dtype=np.uint8)
    print(f"{roc_auc_score(y, s.astype(np.float64)):.17g}")
