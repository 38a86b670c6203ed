/* gazeloc-eval internals: per-run scores and the tables built from them. */
#ifndef GAZELOC_APPS_EVAL_H
#define GAZELOC_APPS_EVAL_H

#include "data/data.h"
#include "eval/eval.h"
#include "nn/nn.h"

#define EVAL_MAX_SEEDS 16

typedef struct run_result {
  gz_run_config cfg;
  char dir[1024];
  int best_epoch;
  double auc[GZ_NLABELS];                             /* MIMIC test */
  unsigned kinds;                                     /* heatmap kinds scored */
  double val_iou[GZ_N_HEAT][GZ_NLABELS][GZ_N_THRESHOLDS]; /* REFLACX validation */
  double test_iou[GZ_N_HEAT][GZ_NLABELS][GZ_N_THRESHOLDS];
} run_result;

typedef struct eval_ctx {
  const char *mimic, *reflacx, *cache, *out;
  long *val_subjects;
  int n_val_subjects;
  int batch, threads, overlays, gradcam;
  gz_dataset ds;      /* opened for the size of the run being scored */
  int ds_size;
  run_result res[3][EVAL_MAX_SEEDS];
  int n_seeds[3];
} eval_ctx;

/* Scores one run folder (its best.safetensors) and draws its overlays when it is the method's first. */
int eval_run(eval_ctx *c, const char *dir, run_result *r, gz_err *e);
/* Threshold selection over seeds, Tables 1, 5, 6 and the all-kinds IoU table, printed summary. */
int eval_tables(eval_ctx *c, gz_err *e);

#endif
