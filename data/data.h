/* data: REFLACX and MIMIC-CXR-JPG data for gazeloc.
 *
 * This header has one section per part of the module. The synthetic generator (issue 8) is the
 * first; the training data pipeline (tables, image loading, batches) gets its own section later.
 */
#ifndef GAZELOC_DATA_H
#define GAZELOC_DATA_H

#include "base/base.h"

/* ================================================================== synthetic dataset (synth_*.c)
 *
 * gz_synth_generate writes, deterministically from opts.seed, a REFLACX phase-3 main_data folder
 * and a MIMIC-CXR-JPG folder in the real on-disk formats (spec/data-formats.md), plus a ground-truth
 * sidecar (true lesion masks, true eye-voice lags, intended report labels and mention spans,
 * calibration figures). See docs/synthetic.md for the model and spec/synthetic.md for the sourced
 * facts it imitates. Every random draw comes from a Philox stream keyed by (seed, purpose, index),
 * so the bytes written do not depend on the thread count. */

typedef struct gz_synth_opts {
  const char *out;          /* output folder (refused when non-empty unless force) */
  uint64_t seed;
  int n_studies;            /* MIMIC studies; each has a frontal, often a lateral, rarely a 2nd frontal */
  int n_readings;           /* REFLACX phase-3 readings (one per image, distinct images) */
  int size;                 /* nominal image height in px (per-image jitter of +-size_jitter) */
  double size_jitter;       /* relative, e.g. 0.08 */
  double lateral_frac;      /* studies that also have a lateral view */
  double double_frontal_frac; /* studies with two frontal images (not eligible for REFLACX, spec 1.1) */
  double studies_per_subject; /* mean studies per patient (geometric) */
  double split_test, split_validate; /* MIMIC split fractions, drawn per subject */
  double reflacx_test_frac; /* 0.2: REFLACX drew 20 % of its images from MIMIC test (spec 1.1) */
  double ap_frac;           /* AP (vs PA) frontal films */
  double normal_frac;       /* studies with no finding (REFLACX: 35 % of reports) */
  double prevalence_scale;  /* multiplies every finding's prevalence among abnormal studies */
  /* gaze model (spec/synthetic.md 2, 6; the figures nobody published are these parameters) */
  double lag_mean, lag_sd;  /* eye-voice lag: gaze reaches the sentence's region lag s before it starts */
  double dwell_on_frac;     /* share of fixations on target inside a sentence's dwell window */
  double revisit_prob;      /* chance that a survey fixation revisits a perceived finding */
  double survey_min, survey_max; /* silence before the first word, s */
  int jpeg_quality;
  int write_masks;          /* true lesion masks as PNG in truth/masks */
  int calibrate;            /* compute truth/calibration.csv */
  int force;                /* write into a non-empty folder (replacing reflacx/, mimic/, truth/) */
  int progress;             /* draw a progress line */
  int examples;             /* overlay PNGs (image + ellipses, gaze heatmap) for the first N readings */
} gz_synth_opts;

enum gz_synth_preset { GZ_SYNTH_DEMO = 0, GZ_SYNTH_PAPER = 1 };
/* Fills every field with the defaults of a preset (demo: hundreds of images at 384 px in seconds;
 * paper: 2,507 readings among 25,000 studies at full MIMIC size). out stays NULL. */
void gz_synth_defaults(gz_synth_opts *o, int preset);
/* Checks ranges; the message names the option. */
int gz_synth_check(const gz_synth_opts *o, gz_err *e);

/* Calibration figures (spec/synthetic.md 1.4), computed from the files as written. */
typedef struct gz_synth_calib {
  int n_ncc;                   /* readings with at least one ellipse of certainty > 2 */
  double ncc_mean, ncc_sd;     /* whole-reading heatmap vs union of ellipses (real: 0.380 +- 0.134) */
  double base_mean, base_sd;   /* chest-box-aligned average heatmap vs ellipses (real: 0.326 +- 0.128) */
  int n_iou;                   /* (reading, paper label) pairs with a mention window and an ellipse */
  double iou_mean;             /* sentence-window heatmaps vs ellipses (real: 0.233) */
  double iou_thr;              /* heatmap threshold that gave iou_mean (best of method.md 6's 26) */
  int grid;                    /* long side of the reduced grid the heatmaps were drawn on */
} gz_synth_calib;

typedef struct gz_synth_summary {
  int n_images, n_frontal, n_lateral, n_studies, n_subjects, n_readings;
  long n_fixations, n_words;
  double seconds;
  gz_synth_calib calib;
} gz_synth_summary;

/* Generates the whole dataset under opts->out. */
int gz_synth_generate(const gz_synth_opts *o, gz_synth_summary *sum, gz_err *e);

/* Recomputes the calibration figures by reading a generated folder back with base's CSV reader:
 * root/reflacx/main_data (metadata, fixations, word timestamps, ellipses, chest boxes) and the
 * mention spans of root/truth/mentions.csv (a stand-in for the labeler, which lives elsewhere).
 * Heatmaps are drawn on a reduced grid whose long side is `grid` px (docs/synthetic.md). */
int gz_synth_calibrate(const char *root, int grid, gz_synth_calib *c, gz_err *e);
/* The same sentence-window IoU with another delay before the sentence start (the paper uses 1.5 s):
 * scanning delays shows where the generated gaze carries its label-specific signal. */
int gz_synth_window_iou(const char *root, int grid, double delay, double *iou, double *thr, gz_err *e);

#endif
