/* eval: the paper's evaluation (spec method.md section 6): AUC per label, IoU per label over the images
 * whose ellipse label is positive, threshold selection on validation IoU averaged over seeds, and
 * 95 % intervals over seeds; the three heatmap kinds (GradCAM included), scoring a trained model, result
 * tables and overlay pictures; the configuration of a training run. */
#ifndef GAZELOC_EVAL_H
#define GAZELOC_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "data/data.h"
#include "gaze/gaze.h"
#include "nn/nn.h"

/* Area under the ROC curve of scores against binary labels (0/1), ties counted half, exactly as
 * sklearn.metrics.roc_auc_score. Returns -1 with e set when one class is absent (AUC undefined).
 * work: 2*n doubles of scratch (no allocation). */
int gz_auc(const float *score, const unsigned char *label, size_t n, double *work, double *auc, gz_err *e);

/* The 26 candidate thresholds of the authors' opts.thresholds: 0, .001, .01, .025, .05, .1, .15, ..., .95,
 * .975, .99, .999. */
#define GZ_N_THRESHOLDS 26
extern const float gz_thresholds[GZ_N_THRESHOLDS];

/* IoU of a thresholded heatmap against a mask: gz_iou() of gaze/ (eval builds on gaze). */

/* Picks, for one label and heatmap kind, the threshold whose validation IoU averaged over the seeds is
 * highest: val_iou[s * n_thr + t] for seed s. Ties go to the first (numpy argmax). Returns the index. */
int gz_best_threshold(const double *val_iou, int n_seeds, int n_thr);
/* The per-label choice of method.md section 6 for one method and heatmap kind: val and test hold
 * [n_seeds][GZ_NLABELS][GZ_N_THRESHOLDS] IoU (NaN for a label without positive images). best[k] is the
 * threshold index maximizing the validation IoU averaged over seeds (gz_best_threshold), or -1 when a seed's
 * validation IoU of label k is NaN (no threshold can be chosen); at_best[s * GZ_NLABELS + k] is seed s's test
 * IoU at best[k] (NaN for -1). */
void gz_select_thresholds(const double *val, const double *test, int n_seeds, int best[GZ_NLABELS], double *at_best);

/* Mean and 95 % half-width over seeds as the authors computed it: 1.96 * std(ddof=0) / sqrt(n). */
void gz_mean_ci95(const double *x, int n, double *mean, double *half_width);

/* Mean over the labels whose value is a number (labels with no positive case are NaN and skipped), as the
 * paper's average AUC and average IoU. Returns NaN when no label counts. */
double gz_mean_over_labels(const double *per_label, int n_labels);


/* ------------------------------------------------------------------ pictures (plot.c) */

/* One line of a chart: n points (x[i], y[i]); NaN y values break the line. */
typedef struct gz_series {
  const char *name;
  const double *x, *y;
  int n;
} gz_series;

/* A line chart (training curves, ROC curves) as a PNG, written atomically: axes with round ticks, grid,
 * one colour per series, a legend. y_lo/y_hi fix the y range when y_lo < y_hi, else it is fitted. */
int gz_plot_png(const char *path, const char *title, const char *xlabel, const char *ylabel, const gz_series *s,
                int n_series, double y_lo, double y_hi, gz_err *e);

/* ------------------------------------------------------------------ heatmaps scored for IoU (heatmap.c)
 * method.md section 6: (a) sigmoid(gamma) on the G x G grid, (b) sigmoid(decoder logits) at S/2, (c) GradCAM
 * on the G x G grid, each nearest-upscaled to S x S and thresholded (strictly) at the 26 candidates. */

/* PyTorch's legacy nearest resize (src = floor(dst * in / out)) of one ih x iw plane to oh x ow. */
void gz_upscale_nearest(const float *in, int ih, int iw, int oh, int ow, float *out);
/* out[i] = 1 / (1 + exp(-z[i])); out may be z. */
void gz_sigmoid_map(const float *z, size_t n, float *out);
/* GradCAM of one image and label (gradcam.get_cam): act and grad [channels, hw] (the post-ReLU Block-5
 * activations and dC_k/dA), alpha_c = SUM of grad over the cells, cam = ReLU(sum_c alpha_c act_c) / (max +
 * 1e-20). cam [hw]. */
void gz_gradcam(const float *act, const float *grad, int channels, int hw, float *cam);
/* IoU of (map > thr_t) against (mask > 0.5) for each of the 26 thresholds, one pass over the pixels: the same
 * numbers as gz_iou(map, mask, n, gz_thresholds[t]). Empty union gives 0. */
void gz_iou_all_thresholds(const float *map, const float *mask, size_t n, double iou[GZ_N_THRESHOLDS]);

/* Per-label IoU over the images whose ellipse label is positive, at every threshold. */
typedef struct gz_iou_acc {
  double sum[GZ_NLABELS][GZ_N_THRESHOLDS];
  int count[GZ_NLABELS];
} gz_iou_acc;
void gz_iou_acc_reset(gz_iou_acc *a);
/* Adds one (image, label) pair whose ellipse label is positive. */
void gz_iou_acc_add(gz_iou_acc *a, int label, const float *map, const float *mask, size_t n);
/* out[k][t] = mean IoU, NaN for a label with no positive image. */
void gz_iou_acc_result(const gz_iou_acc *a, double out[GZ_NLABELS][GZ_N_THRESHOLDS]);

/* ------------------------------------------------------------------ result tables (tables.c)
 * The paper's Tables 1, 5 and 6: rows (labels, average), columns (methods), each cell the mean over seeds
 * with its 95 % interval. values[(row * n_cols + col) * n_seeds + seed]; NaN = missing (skipped). */
typedef struct gz_table {
  const char *title, *row_header;
  const char *const *row_names, *const *col_names;
  int n_rows, n_cols, n_seeds;
  const double *values;
} gz_table;

typedef struct gz_cell {
  double mean, half; /* NaN when n == 0 */
  int n;             /* finite values */
} gz_cell;
void gz_table_cell(const double *values, int n_seeds, gz_cell *c);
/* CSV (row, then <col>_mean, <col>_ci95_lo, <col>_ci95_hi, <col>_n per column) and Markdown, both written
 * atomically; either path may be NULL. */
int gz_table_write(const gz_table *t, const char *csv_path, const char *md_path, gz_err *e);
/* The Markdown table: "mean [lo, hi]" with 3 decimals ("mean" alone for one seed, "-" for none). */
int gz_table_print_md(const gz_table *t, FILE *f);

/* ------------------------------------------------------------------ overlays (overlay.c) */

/* The image (grey, [0,1]) with a heatmap in red (NULL: none) and the outline of a mask in green (NULL:
 * none), size x size, as an RGB PNG written atomically. */
int gz_overlay_png(const char *path, const float *gray, const float *heat, const float *mask, int size, gz_err *e);

/* ------------------------------------------------------------------ run configuration (run.c)
 * What gazeloc-train was asked to do (method.md section 7), stored as JSON in every checkpoint. */
typedef struct gz_run_config {
  int method;            /* gz_method of data/: 0 unannotated, 1 ellipse, 2 et */
  char preset[16];
  int size, batch, epochs;
  int batches_per_epoch; /* 0: the whole training list each epoch; N: the first N batches of its order */
  double lr, weight_decay, lambda_a, lambda_t;
  /* the ablation switches of Table 7 (all 1 in the full model) */
  int label_specific;    /* 0: the whole-report map for every positive label */
  int balanced;          /* balanced range normalization of L_A */
  int multires;          /* Block 5 from layers 3 + 4, grid S/16 (else layer 4, S/32) */
  int decoder;           /* multi-task decoder, lambda_T L_T */
  int normalize_twice;   /* the authors' double ImageNet normalization */
  gz_degrade degrade;    /* the degraded-labeler experiment (label -1: off) */
  uint64_t seed;
} gz_run_config;

typedef struct gz_run_state {
  int epoch;       /* epochs completed */
  int best_epoch;  /* 0 = none yet */
  double best_auc;
} gz_run_state;

/* Presets "paper" (batch 20, 60 epochs, 512 px, AMSGrad 1e-3, wd 1e-5, lambda_A 3, lambda_T 300) and "demo". */
int gz_run_preset(gz_run_config *c, const char *preset, gz_err *e);
const char *gz_run_method_name(int method);
/* JSON (free with free()); s may be NULL. */
char *gz_run_config_json(const gz_run_config *c, const gz_run_state *s);
/* what names the file in messages; s may be NULL. */
int gz_run_config_parse(const char *json, const char *what, gz_run_config *c, gz_run_state *s, gz_err *e);

/* ------------------------------------------------------------------ scoring a model (score.c)
 * Batch norm in eval mode; batches from data/'s loader, in list order, without augmentation. */
enum gz_heat_kind { GZ_HEAT_ACT = 0, GZ_HEAT_UNET = 1, GZ_HEAT_CAM = 2, GZ_N_HEAT = 3 };
/* "activations" (sigmoid(gamma), the authors' "ellipse"), "decoder" ("unet"), "gradcam" ("cam"). */
extern const char *const gz_heat_names[GZ_N_HEAT];

/* Per-label AUC of C_k (Eq. 1, fixed 0.98 range) against the list's labels; NaN where one class is absent;
 * *mean over the labels that have both. */
int gz_score_auc(gz_paper *net, gz_tape *t, const gz_dataset *d, const gz_sample_list *list, int batch, int threads,
                 double per_label[GZ_NLABELS], double *mean, gz_err *e);
/* A bit for `kinds`: compute GradCAM by backpropagating through the whole network once per label, as the
 * authors' gradcam.py, instead of through the head alone (the same gradient; the tests' reference). */
#define GZ_HEAT_CAM_BACKPROP (1u << 8)
/* The heatmaps of one batch at S x S: maps[h] [n,10,S,S] for each kind h in the bit set `kinds`, only for
 * the (image, label) pairs with need[i*10+k] set (need may be NULL = all). The decoder kind needs a model with
 * a decoder (left untouched otherwise). */
int gz_score_heatmaps(gz_paper *net, gz_tape *t, const gz_batch *b, const unsigned char *need, unsigned kinds,
                      float *maps[GZ_N_HEAT], gz_err *e);
/* Per-label IoU at the 26 thresholds on a REFLACX list, one accumulator per kind. */
int gz_score_iou(gz_paper *net, gz_tape *t, const gz_dataset *d, const gz_sample_list *list, int batch, int threads,
                 unsigned kinds, gz_iou_acc acc[GZ_N_HEAT], gz_err *e);

#endif
