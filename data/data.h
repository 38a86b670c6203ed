/* data: REFLACX and MIMIC-CXR-JPG data for gazeloc.
 *
 * This header has one section per part of the module: the synthetic generator, the augmentation, the
 * MIMIC-CXR-JPG tables, and the training data pipeline (samples, image cache, batches, loader).
 */
#ifndef GAZELOC_DATA_H
#define GAZELOC_DATA_H

#include <pthread.h>
#include <stdint.h>

#include "base/base.h"
#include "gaze/gaze.h" /* geometry, heatmaps, ellipse masks, GZ_NLABELS */

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

/* ================================================================== augmentation (augment.c)
 *
 * Training augmentation of the authors (spec method.md section 7): torchvision's
 * RandomAffine(degrees=45, translate=(0.15, 0.15), scale=(0.85, 1.15), fill=0) with NEAREST interpolation,
 * about the image centre, applied with identical parameters to the image, the eye-tracking maps and the
 * ellipse masks. The sampling rule reproduces torchvision.transforms.functional.affine on tensors
 * (inverse affine matrix, affine_grid, grid_sample nearest with align_corners=False, zero fill). */

typedef struct gz_affine {
  float angle_deg;  /* rotation, counter-clockwise as torchvision */
  int tx, ty;       /* translation in pixels */
  float scale;
} gz_affine;

typedef struct gz_affine_range {
  float max_deg;       /* 45 */
  float max_translate; /* 0.15 of the size */
  float scale_lo, scale_hi; /* 0.85, 1.15 */
} gz_affine_range;

extern const gz_affine_range gz_affine_paper;

/* Draws the parameters as torchvision's RandomAffine.get_params does (angle and scale uniform, translation
 * round(uniform(-max, max)) pixels), from the counter-based generator, so a sample's augmentation depends
 * only on (seed, epoch, sample), never on threads. */
gz_affine gz_affine_draw(const gz_affine_range *range, int width, int height, gz_rng *r);

/* Source-pixel table of the transform: src[y*w + x] = index of the input pixel that output pixel (x, y)
 * takes, or -1 where it falls outside (filled with 0). Computing it once lets the image and all its maps
 * share exactly the same mapping. */
void gz_affine_table(const gz_affine *a, int width, int height, int *src);

/* Applies a table to `planes` planes of w*h floats (in and out must not overlap). */
void gz_affine_apply(const int *src, const float *in, float *out, int planes, int width, int height);

/* ================================================================== MIMIC-CXR-JPG tables (mimic.c)
 *
 * MIMIC-CXR-JPG tables as the paper uses them (spec method.md sections 5 and 7, data-formats.md):
 * frontal images only (ViewPosition PA or AP), studies with exactly one frontal image, studies that have
 * a CheXpert label row, labels mapped to the paper's 10 with 1 and -1 positive, the MIMIC split with an
 * optional list of subject ids moved from train to validation. */

enum gz_split { GZ_TRAIN = 0, GZ_VALIDATE = 1, GZ_TEST = 2 };

typedef struct gz_mimic_image {
  char dicom_id[48];
  long subject_id, study_id;
  int split;
  int ap; /* 1 = AP, 0 = PA */
  unsigned char label[GZ_NLABELS]; /* paper label order (method.md section 5) */
} gz_mimic_image;

typedef struct gz_mimic {
  gz_mimic_image *images;
  int n;
  /* what the filters removed, for the log */
  int n_rows_metadata, n_not_frontal, n_multi_frontal_studies, n_unlabeled, n_no_split;
} gz_mimic;

/* Reads ROOT/mimic-cxr-2.0.0-{metadata,split,chexpert}.csv. val_subjects (may be NULL) lists subject ids
 * moved from train to validation (the authors' val_mimicid.txt). Images come out sorted by dicom_id. */
int gz_mimic_load(const char *root, const long *val_subjects, int n_val_subjects, gz_mimic *out, gz_err *e);
void gz_mimic_free(gz_mimic *m);
/* ROOT/files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg */
void gz_mimic_image_path(const char *root, const gz_mimic_image *img, char *buf, size_t n);
/* Reads a text file of subject ids, one per line (blank lines and # comments ignored). */
int gz_read_id_list(const char *path, long **ids, int *n, gz_err *e);

/* ================================================================== training data pipeline (trainset.c, loader.c)
 *
 * The training and evaluation data of the paper (spec method.md sections 5 and 7), as plain float buffers:
 *
 *   samples   MIMIC-CXR-JPG frontal images (unannotated, MIMIC labels) and REFLACX phase-3 readings
 *             (annotated: eye-tracking maps or ellipse masks, report or ellipse labels), per split
 *   images    decoded once with stb_image, resized (long side to S, pad) and cached as uint8 files
 *   a sample  image [3,S,S] normalized with ImageNet statistics (twice, as the authors' code); labels [10];
 *             the annotated flag; decoder target t [10,S/2,S/2] = 2x2 max-pool of the maps; MIL target
 *             b [10,G,G] = (8x8 max-pool of t) > 0.15; masks [10,S,S] for IoU (evaluation only)
 *   augment   the authors' RandomAffine, identical for image and maps, keyed by (seed, epoch, sample)
 *   loader    batches built ahead of the training step on their own threads; the result does not depend
 *             on the number of loader threads
 * The learning stack wraps these buffers into tensors without copying. */

enum gz_method { GZ_METHOD_UNANNOTATED = 0, GZ_METHOD_ELLIPSE = 1, GZ_METHOD_ET = 2 };

/* The degraded-labeler experiment (degrade.c; method.md section 5: Pleural-abnormality mentions degraded to
 * recall 0.51 / precision 0.86). In the ET method's training readings, all mentions of `label` are deleted
 * from round((1 - recall) P) of the P reports that mention it, and one false mention is added to
 * round(kept (1 - precision) / precision) reports that do not: recall and precision hold against the labeler's
 * own output. The mentions make both the label and the sentence windows of its map. */
typedef struct gz_degrade {
  int label;               /* paper label; -1 = off */
  double recall, precision;
} gz_degrade;

typedef struct gz_degrade_stats {
  int positives, deleted, added; /* training reports mentioning the label; cleared; given a false mention */
  double recall, precision;      /* achieved */
} gz_degrade_stats;

void gz_degrade_off(gz_degrade *d);
/* "LABEL:RECALL:PRECISION", "LABEL" (0.51 / 0.86) or "" / NULL (pleural abnormality, 0.51 / 0.86). LABEL is a
 * paper label name (case-insensitive, '_' or '-' for spaces) or index; labels sharing a labeler category with
 * another label (Edema, Opacity, Lung Lesion, Atelectasis, Consolidation) are refused. */
int gz_degrade_parse(const char *s, gz_degrade *d, gz_err *e);
/* Chooses the reports: positive[i] (report i mentions the label), can_add[i] (it has a word in a sentence);
 * action[i] = -1 (delete its mentions of the label), 1 (add a false one), 0. The choice is a permutation keyed
 * by seed. Fails when there are too few reports to add false mentions to. */
int gz_degrade_plan(const gz_degrade *d, uint64_t seed, int n, const unsigned char *positive,
                    const unsigned char *can_add, signed char *action, gz_degrade_stats *st, gz_err *e);
/* 1 when a reading's words hold a word that can carry a mention (not punctuation, before a '.'). */
int gz_degrade_can_add(const gz_word *w, int nw);
/* Applies a report's action to its malloc'd mention list: deletion, or a mention of the label's own category
 * on a word drawn from (seed, reading). */
int gz_degrade_mentions(const gz_degrade *d, int action, uint64_t seed, uint64_t reading, const gz_transcript *t,
                        gz_mention **m, int *nm, gz_err *e);
extern const char *const gz_method_names[3];
int gz_method_parse(const char *s, int *method, gz_err *e);

typedef struct gz_data_opts {
  const char *mimic_root;    /* MIMIC-CXR-JPG folder (tables and files/) */
  const char *reflacx_main;  /* REFLACX main_data folder (NULL for the unannotated method) */
  const char *labels_csv;    /* the labeler's output for the readings (ET method) */
  const char *cache_dir;     /* resized images are cached here */
  const long *val_subjects;  /* subject ids moved from train to validation (may be NULL) */
  int n_val_subjects;
  int size;                  /* S: 512 in the paper */
  int method;                /* gz_method */
  gz_strategy strategy;      /* ET window rule (default 1.5s_startofsentence_lastmention) */
  int whole_report;          /* ablation: the whole-reading map for every positive label */
  int normalize_twice;       /* the authors' double ImageNet normalization (paper preset: 1) */
  float threshold;           /* MIL target threshold (0.15) */
  gz_degrade degrade;        /* the degraded-labeler experiment (ET method, training readings); off by default */
  uint64_t degrade_seed;     /* which reports are degraded (gazeloc-train: --seed) */
} gz_data_opts;

void gz_data_opts_default(gz_data_opts *o);

typedef struct gz_sample {
  int mimic;     /* index into the MIMIC table, or -1 */
  int reading;   /* index into the REFLACX readings, or -1 */
  int annotated; /* 1 when the sample carries maps (REFLACX with the ellipse or ET method) */
} gz_sample;

typedef struct gz_sample_list {
  gz_sample *s;
  int n;
} gz_sample_list;

typedef struct gz_rx {     /* a loaded REFLACX reading and what the loader needs from it */
  gz_reading r;
  char jpg[1024];          /* its MIMIC-CXR-JPG file */
  char dicom_id[48];
  int split;
  gz_window *win;          /* ET windows (ET method) */
  int nwin;
  double t_end;            /* end of the last word: the whole-reading window is [0, t_end] */
  unsigned et_labels;      /* paper labels with a positive or uncertain mention */
  unsigned ell_labels;     /* paper labels with an ellipse of certainty >= 3 */
} gz_rx;

typedef struct gz_dataset {
  gz_data_opts o;
  gz_mimic mimic;
  gz_rx *rx;
  int nrx, n_discarded, n_empty_windows, n_orphan_mentions;
  gz_degrade_stats degraded; /* with o.degrade */
  /* train = MIMIC train (unannotated) + REFLACX train (annotated, except for the unannotated method);
   * validation and test keep MIMIC (AUC) and REFLACX (IoU) apart */
  gz_sample_list train, val_mimic, val_reflacx, test_mimic, test_reflacx;
} gz_dataset;

int gz_dataset_open(gz_dataset *d, const gz_data_opts *o, gz_err *e);
void gz_dataset_close(gz_dataset *d);
/* Decodes and resizes every image the dataset uses into the cache (skipping those already there), in
 * parallel, with a progress line. */
int gz_dataset_cache(gz_dataset *d, gz_err *e);
/* CACHE/S/<dicom_id>.u8: S*S bytes. */
void gz_cache_path(const gz_dataset *d, const char *dicom_id, char *out, size_t n);
/* The image labels of a sample (paper order): MIMIC labels; for REFLACX, the report labels (ET method)
 * or the ellipse labels (ellipse method). For evaluation, gt_labels are the ellipse labels. */
void gz_sample_labels(const gz_dataset *d, const gz_sample *s, unsigned char label[GZ_NLABELS]);

typedef struct gz_batch {
  int n, size, grid;
  float *x;               /* [n,3,S,S] */
  float *y;               /* [n,10] */
  unsigned char *annotated; /* [n] */
  float *t;               /* [n,10,S/2,S/2] decoder target */
  float *b;               /* [n,10,G,G] MIL target */
  float *masks;           /* [n,10,S,S] ellipse masks (only when allocated with masks) */
  unsigned char *gt;      /* [n,10] ellipse labels (with masks) */
} gz_batch;

int gz_batch_alloc(gz_batch *b, int n, int size, int with_masks, gz_err *e);
void gz_batch_free(gz_batch *b);

/* Fills slot `slot` of a batch with sample s. augment: draw the affine from (seed, epoch, sample_id). */
int gz_sample_fill(const gz_dataset *d, const gz_sample *s, int augment, uint64_t seed, uint64_t epoch,
                   uint64_t sample_id, gz_batch *b, int slot, gz_err *e);

/* The epoch's order of a list: a Fisher-Yates permutation keyed by (seed, epoch), the same on every
 * machine and for any number of threads or processes. */
void gz_epoch_order(int n, uint64_t seed, uint64_t epoch, int *order);

/* A loader that builds batch i+1 while the caller trains on batch i. */
typedef struct gz_loader {
  const gz_dataset *d;
  const gz_sample_list *list;
  int batch, augment, threads, drop_last, nbatches;
  int part, nparts;       /* this process's share of every batch (gz_loader_start_part) */
  uint64_t seed, epoch;
  int *order;
  gz_batch buf[2];
  int next, ready[2], failed, stop;
  gz_err err;
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} gz_loader;

/* shuffle: order by gz_epoch_order, else list order. threads: worker threads filling each batch. */
int gz_loader_start(gz_loader *l, const gz_dataset *d, const gz_sample_list *list, int batch, int shuffle, int augment,
                    int drop_last, uint64_t seed, uint64_t epoch, int threads, int with_masks, gz_err *e);
/* Data-parallel training: the same batches (the same order and augmentation), of which this loader builds
 * only part `part` of `nparts`: samples [count part / nparts, count (part + 1) / nparts) of each batch of
 * `count`. The parts of all processes, in part order, are the whole batch. */
int gz_loader_start_part(gz_loader *l, const gz_dataset *d, const gz_sample_list *list, int batch, int shuffle,
                         int augment, int drop_last, uint64_t seed, uint64_t epoch, int threads, int with_masks, int part,
                         int nparts, gz_err *e);
/* The next batch (valid until the following call), or NULL at the end of the epoch; -1 in *rc on error. */
const gz_batch *gz_loader_next(gz_loader *l, int *rc, gz_err *e);
void gz_loader_stop(gz_loader *l);

#endif
