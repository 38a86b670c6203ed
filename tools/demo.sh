#!/bin/sh
# make demo: the main job of gazeloc on the synthetic default. Each stage runs when its program exists;
# stages whose issue has not landed yet say so instead of pretending.
set -eu
BIN=${1:-build/release/bin}
OUT=${GAZELOC_DEMO_OUT:-demo-out}
mkdir -p "$OUT"
T_START=$(date +%s)
stage() { printf '\n== %s\n' "$1"; }
have() { [ -x "$BIN/gazeloc-$1" ]; }

stage "1. synthetic REFLACX + MIMIC-CXR-JPG dataset"
if have synth; then "$BIN/gazeloc-synth" --out "$OUT/data" --seed 1 --preset demo --examples 4 --force
else echo "gazeloc-synth is not built yet (issue: synthetic dataset); skipping"; fi

stage "2. report labeler"
if have label && [ -d "$OUT/data/reflacx/main_data" ]; then
  "$BIN/gazeloc-label" "$OUT/data/reflacx/main_data" --out "$OUT/labels.csv"
  echo "labeler against the readers' own labels (metadata certainty > 0):"
  "$BIN/gazeloc-label" "$OUT/data/reflacx/main_data" --evaluate "$OUT/data/reflacx/main_data/metadata_phase_3.csv" | tail -12
else echo "gazeloc-label or the dataset is not there yet (issues: labeler, synthetic dataset); skipping"; fi

stage "3. eye-tracking heatmaps"
if have etmaps && [ -d "$OUT/data/reflacx/main_data" ]; then
  "$BIN/gazeloc-etmaps" "$OUT/data/reflacx/main_data" --labels "$OUT/labels.csv" --mimic "$OUT/data/mimic" --out "$OUT/etmaps" --limit 20
  echo "the paper's section 2.8 search of accumulation windows (top 10):"
  "$BIN/gazeloc-etmaps" "$OUT/data/reflacx/main_data" --labels "$OUT/labels.csv" --out "$OUT/etmaps" --search --quiet | head -12
else echo "gazeloc-etmaps or the dataset is not there yet (issues: eye tracking, synthetic dataset); skipping"; fi

stage "4. training (demo preset: docs/training.md) and evaluation"
if have train && have eval && [ -f "$OUT/labels.csv" ]; then
  # the training pipeline draws the eye-tracking maps itself from the readings and the labeler's output
  for m in unannotated ellipse et; do
    t0=$(date +%s)
    "$BIN/gazeloc-train" --method $m --preset demo --data "$OUT/data" --labels "$OUT/labels.csv" \
      --cache "$OUT/cache" --out "$OUT/runs/$m" --quiet
    echo "trained $m in $(( $(date +%s) - t0 )) s"
  done
  "$BIN/gazeloc-eval" --runs "$OUT/runs" --data "$OUT/data" --cache "$OUT/cache" --out "$OUT/report"
else echo "gazeloc-train / gazeloc-eval or the labels are not there yet (issue: training and evaluation); skipping"; fi

printf '\ndemo finished in %s s; outputs in %s\n' "$(( $(date +%s) - T_START ))" "$OUT"
