/* eval: the paper's evaluation (spec method.md section 6): AUC per label, IoU per label over the images
 * whose ellipse label is positive, threshold selection on validation IoU averaged over seeds, and
 * 95 % intervals over seeds. Heatmap methods, tables and overlay images arrive with the training issue. */
#ifndef GAZELOC_EVAL_H
#define GAZELOC_EVAL_H

#include <stddef.h>

#include "base/base.h"
#include "gaze/gaze.h"

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

#endif
