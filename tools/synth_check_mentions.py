#!/usr/bin/python3
"""Checks a gazeloc-synth dataset's reports against the mention phrases of the paper's modified
CheXpert labeler (ricbl/eye-tracking-localization src/chexpert-labeler/phrases, transcribed below for
the phase-3 categories): every phrase match must fall inside an intended mention of a label that phrase
belongs to, and every intended mention must be matched. Negation/uncertainty are not checked (that is
the labeler's job). usage: synth_check_mentions.py DATASET"""
import csv, os, re, sys

M = {  # REFLACX phase-3 label -> mention regexes (substring semantics, lower case)
 "Atelectasis": ["atelecta", "collapse", "opaci", "scar", "parenchymal scarring", "density", "volume loss", r"parenchymal[a-zA-Z \-]+opac"],
 "Consolidation": ["consolidat", "opaci", "increased density", "airspace disease", "air-space disease", "air space disease", "infiltrate", "infiltration", "density", "pneumonia", "infection", "infectious process", "infectious", "aspiration", "contusion", "hemorrhage", "hematoma", r"parenchymal[a-zA-Z \-]+opac"],
 "Groundglass opacity": [r"hazy[a-zA-Z \-]+opac", r"patchy[a-zA-Z \-]+opac", "ground glass opaci", "groundglass opaci", "ground-glass opaci", "increased density", "airspace disease", "air-space disease", "air space disease", "density", "aspiration", "contusion"],
 "Pleural abnormality": ["pleural fluid", "effusion", "pleural thickening", "fibrothorax", "pleural scar", "pleural parenchymal scar", "pleuro-parenchymal scar", "pleuro-pericardial scar", "blunt", "plaque", r"pleural[a-zA-Z \-]+opac", r"pleural[a-zA-Z \-]+abnormal"],
 "Pulmonary edema": ["edema", "heart failure", "chf", "vascular congestion", "pulmonary congestion", "indistinctness", "vascular prominence", "bronchial cuffing", "interstitial marking", "cephalization", "airway wall thickening", "bronchial thickening", r"reticular[a-zA-Z \-]+opac"],
 "Enlarged cardiac silhouette": ["cardiomegaly", "the heart", "heart size", "cardiac enlargement", "cardiac size", "cardiac shadow", "cardiac contour", "cardiac silhouette", "enlarged heart", "pericardial effusion"],
 "Abnormal mediastinal contour": [" mediastinum", "mediastinal widening", "cardiomediastinum", "contour", "mediastinal configuration", "mediastinal silhouette", "pericardial silhouette", "cardiac silhouette and vascularity", "aortic disease"],
 "Lung nodule or mass": ["mass", "nodular density", "nodular densities", "nodular opacity", "nodular opacities", "nodular opacification", "nodule", "lump", "cavitary lesion", "carcinoma", "neoplasm", "tumor", "density"],
 "Interstitial lung disease": ["sarcoidosis", "pneumoconiosis", "fibrosis", "interstitial", "diffuse lung disease", "interstitial marking", "interstitial pattern", "interstitial lung", "reticular pattern", "reticular marking", "reticulation", r"reticular[a-zA-Z \-]+opac"],
 "Enlarged hilum": ["hilar enlargement", "hilar adenopathy", r"enlarged[a-zA-Z \-]+hilum", "lymphadenopathy", "hilar lymph nodes", r"enlarged[a-zA-Z \-]+vessels", "hilar mass", "enlarged central pulmonary arteries"],
 "High lung volume / emphysema": ["high lung volume", "emphysema", "flat", "copd", "hyperinflat", "bullae", "hyperexpansion", r"flat[a-zA-Z \-]+diaphragm"],
 "Hiatal hernia": ["hiatal hernia", "hiatus hernia"],
 "Pneumothorax": ["pneumothorax", "pneumothoraces", "pleural space air", "air in the pleural space"],
 "Acute fracture": ["fracture"],
 "Support devices": ["pacer", " line ", "lines", "picc", "tube", "valve", "catheter", "pacemaker", "hardware", "arthroplast", "marker", "icd", "defib", "device", "drain ", "plate", "screw", "cannula", "apparatus", "coil", "support", "equipment", "mediport", "thoracentesis", "radiopaque", "tracheostomy"],
 "Quality issue": ["field-of-view", "quality issue", "breathing", "motion", "overlying hair", "overlying hand"],
 "Airway wall thickening": ["airway wall thickening", "bronchial thickening", "asthma", "bronchiolitis", "airways disease", "bronchitis"],
}
U = {  # unmentions
 "Atelectasis": [r"hazy[a-zA-Z \-]+opac", "ground glass opaci", "groundglass opaci", "ground-glass opaci", r"patchy[a-zA-Z \-]+opac", r"nodular[a-zA-Z \-]+opac", r"reticular[a-zA-Z \-]+opac", "subsegmental atelectasis"],
 "Consolidation": [r"hazy[a-zA-Z \-]+opac", "ground glass opaci", "groundglass opaci", "ground-glass opaci", r"nodular[a-zA-Z \-]+opac", r"reticular[a-zA-Z \-]+opac"],
 "Lung nodule or mass": ["calcified nodul", "massive"],
 "Pleural abnormality": ["pericardial effusion"],
}
root = sys.argv[1]
ments = {}
for r in csv.DictReader(open(os.path.join(root, "truth/mentions.csv"))):
    ments.setdefault(r["id"], []).append((r["label"], int(r["start"]), int(r["end"])))
bad = nrep = 0
for rid in sorted(os.listdir(os.path.join(root, "reflacx/main_data"))):
    p = os.path.join(root, "reflacx/main_data", rid, "transcription.txt")
    if not os.path.isfile(p):
        continue
    t = open(p).read().lower()
    nrep += 1
    intended = ments.get(rid, [])
    hit = set()
    for lab, pats in M.items():
        un = [(m.start(), m.end()) for q in U.get(lab, []) for m in re.finditer(q, t)]
        for q in pats:
            for m in re.finditer(q, t):
                if any(a < m.end() and m.start() < b for a, b in un):
                    continue
                s0 = m.start() + (1 if q.startswith(" ") else 0)  # " mediastinum": the span is the word
                ok = [i for i, (l, a, b) in enumerate(intended) if l == lab and a <= s0 < b]
                if not ok:
                    bad += 1
                    print(f"{rid}: '{m.group(0)}' at {m.start()} triggers {lab}, not intended: {t}")
                hit.update(ok)
    for i, (l, a, b) in enumerate(intended):
        if i not in hit:
            bad += 1
            print(f"{rid}: intended {l} mention '{t[a:b]}' is matched by no phrase")
print(f"{nrep} reports, {sum(len(v) for v in ments.values())} intended mentions, {bad} problems")
sys.exit(1 if bad else 0)
