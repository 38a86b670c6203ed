/* gazeloc-synth: writes a synthetic REFLACX + MIMIC-CXR-JPG dataset with its ground truth. */
#include "base/base.h"
#include "data/data.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: gazeloc-synth --out DIR --seed S [options]\n"
    "\n"
    "Writes DIR/reflacx/main_data (REFLACX phase 3), DIR/mimic (MIMIC-CXR-JPG files and tables) and\n"
    "DIR/truth (lesion masks, true lags, intended report labels and mention spans, calibration figures),\n"
    "all deterministic from the seed. See docs/synthetic.md.\n"
    "\n"
    "  --preset demo|paper-scale  demo (default): 300 studies, 200 readings, 384 px;\n"
    "                             paper-scale: 25,000 studies, 2,507 readings, 2,800 px\n"
    "  --images N                 MIMIC studies (each a frontal image, often a lateral too)\n"
    "  --readings N               REFLACX phase-3 readings (distinct single-frontal studies)\n"
    "  --size PX                  nominal image height (+-8 %% per image)\n"
    "  --lag SECONDS              mean eye-voice lag of the readers (default 1.0)\n"
    "  --lag-sd S                 sd of the log lag between sentences (0.25)\n"
    "  --dwell F                  share of fixations on the sentence's region in its window (0.52)\n"
    "  --revisit P                chance a search fixation revisits a perceived finding (0.03)\n"
    "  --split-test F, --split-validate F   MIMIC split shares per subject (demo 0.2 / 0.1)\n"
    "  --prevalence-scale F       multiply every finding's prevalence (1.0)\n"
    "  --jpeg-quality Q           50..100 (92)\n"
    "  --examples N               overlay PNGs for the first N readings in DIR/truth/examples\n"
    "  --no-masks                 do not write DIR/truth/masks\n"
    "  --no-calibration           skip DIR/truth/calibration.csv\n"
    "  --calibrate-only           only recompute the calibration figures of an existing DIR\n"
    "  --delay-scan               with --calibrate-only: sentence-window IoU for delays 0..5 s\n"
    "  --threads N                OpenMP threads (the output does not depend on it)\n"
    "  --force                    replace reflacx/, mimic/ and truth/ in a non-empty DIR\n"
    "  --quiet                    no progress line\n";

static int die(const char *fmt, const char *a) {
  fprintf(stderr, "gazeloc-synth: error: ");
  fprintf(stderr, fmt, a);
  fprintf(stderr, "\n");
  return 1;
}

static int num(const char *opt, const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s ? s : "", &end);
  if (!s || !*s || *end || errno || v < lo || v > hi) {
    fprintf(stderr, "gazeloc-synth: error: %s: '%s' is not a number in %g..%g\n", opt, s ? s : "", lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

static void print_calib(const gz_synth_calib *c) {
  printf("calibration (reduced grid %d px, see truth/calibration.csv):\n", c->grid);
  printf("  whole-reading NCC vs ellipses   %.3f +- %.3f  (real 0.380 +- 0.134, n=%d)\n", c->ncc_mean, c->ncc_sd, c->n_ncc);
  printf("  average-map NCC vs ellipses     %.3f +- %.3f  (real 0.326 +- 0.128)\n", c->base_mean, c->base_sd);
  printf("  sentence-window IoU vs ellipses %.3f at threshold %g  (real 0.233, n=%d)\n", c->iou_mean, c->iou_thr, c->n_iou);
}

int main(int argc, char **argv) {
  gz_synth_opts o;
  int preset = GZ_SYNTH_DEMO, calib_only = 0, delay_scan = 0, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage, stdout); return 0; }
    if (!strcmp(argv[i], "--preset")) {
      const char *p = i + 1 < argc ? argv[i + 1] : "";
      if (!strcmp(p, "demo")) preset = GZ_SYNTH_DEMO;
      else if (!strcmp(p, "paper-scale") || !strcmp(p, "paper")) preset = GZ_SYNTH_PAPER;
      else return die("--preset: '%s' is not demo or paper-scale", p);
    }
  }
  gz_synth_defaults(&o, preset);
  int have_seed = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d;
    if (!strcmp(a, "--preset")) { i++; continue; }
    if (!strcmp(a, "--force")) { o.force = 1; continue; }
    if (!strcmp(a, "--quiet")) { o.progress = 0; continue; }
    if (!strcmp(a, "--no-masks")) { o.write_masks = 0; continue; }
    if (!strcmp(a, "--no-calibration")) { o.calibrate = 0; continue; }
    if (!strcmp(a, "--calibrate-only")) { calib_only = 1; continue; }
    if (!strcmp(a, "--delay-scan")) { delay_scan = 1; continue; }
    if (!strcmp(a, "--out")) { if (!v) return die("%s needs a value", a); o.out = v; i++; continue; }
    if (!strcmp(a, "--seed")) {
      char *end;
      errno = 0;
      unsigned long long s = strtoull(v ? v : "", &end, 10);
      if (!v || !*v || *end || errno || *v == '-') return die("--seed: '%s' is not a non-negative integer", v ? v : "");
      o.seed = s;
      have_seed = 1;
      i++;
      continue;
    }
    struct { const char *name; double lo, hi; } nums[] = {
        {"--images", 1, 400000}, {"--readings", 0, 100000}, {"--size", 64, 4096}, {"--lag", 0, 5}, {"--dwell", 0, 1},
        {"--revisit", 0, 0.5}, {"--split-test", 0, 0.9}, {"--split-validate", 0, 0.9}, {"--prevalence-scale", 0.01, 3},
        {"--jpeg-quality", 50, 100}, {"--examples", 0, 1000}, {"--threads", 1, 1024}, {"--lag-sd", 0, 1}};
    int k = -1;
    for (int q = 0; q < (int)(sizeof nums / sizeof nums[0]); q++)
      if (!strcmp(a, nums[q].name)) k = q;
    if (k < 0) return die("unknown option '%s' (see --help)", a);
    if (num(a, v, nums[k].lo, nums[k].hi, &d)) return 1;
    i++;
    switch (k) {
    case 0: o.n_studies = (int)d; break;
    case 1: o.n_readings = (int)d; break;
    case 2: o.size = (int)d; break;
    case 3: o.lag_mean = d; break;
    case 4: o.dwell_on_frac = d; break;
    case 5: o.revisit_prob = d; break;
    case 6: o.split_test = d; break;
    case 7: o.split_validate = d; break;
    case 8: o.prevalence_scale = d; break;
    case 9: o.jpeg_quality = (int)d; break;
    case 10: o.examples = (int)d; break;
    case 11: threads = (int)d; break;
    default: o.lag_sd = d; break;
    }
  }
  if (!o.out) return die("%s", "--out DIR is required (see --help)");
  if (threads > 0) omp_set_num_threads(threads);
  gz_err e = {0};
  if (calib_only) {
    gz_synth_calib c;
    if (gz_synth_calibrate(o.out, 96, &c, &e)) return die("%s", e.msg);
    print_calib(&c);
    for (int k = 0; delay_scan && k <= 10; k++) {
      double iou, thr;
      if (gz_synth_window_iou(o.out, 96, 0.5 * k, &iou, &thr, &e)) return die("%s", e.msg);
      printf("  delay %.1f s: sentence-window IoU %.3f (threshold %g)\n", 0.5 * k, iou, thr);
    }
    return 0;
  }
  if (!have_seed) return die("%s", "--seed S is required (see --help)");
  gz_synth_summary s;
  if (gz_synth_generate(&o, &s, &e)) return die("%s", e.msg);
  char dur[32];
  gz_format_duration(s.seconds, dur, sizeof dur);
  printf("gazeloc-synth: %d subjects, %d studies, %d images (%d frontal, %d lateral), %d readings, "
         "%ld fixations, %ld words in %s (%.1f images/s) -> %s\n",
         s.n_subjects, s.n_studies, s.n_images, s.n_frontal, s.n_lateral, s.n_readings, s.n_fixations, s.n_words, dur,
         s.n_images / (s.seconds > 0 ? s.seconds : 1), o.out);
  if (o.calibrate && s.n_readings > 0) print_calib(&s.calib);
  return 0;
}
