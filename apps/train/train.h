/* gazeloc-train internals: the run (dataset, model, optimizer, tape) and its steps. */
#ifndef GAZELOC_APPS_TRAIN_H
#define GAZELOC_APPS_TRAIN_H

#include "data/data.h"
#include "eval/eval.h"
#include "nn/nn.h"

typedef struct train_dist train_dist;

typedef struct train_run {
  gz_run_config cfg;
  gz_run_state st;
  const char *out;
  int threads, quiet;
  gz_dataset ds;
  gz_paper net;
  gz_adam opt;
  gz_arena act;
  gz_tape tape;
  gz_mil_opts mil;
  struct train_dist *dist; /* several processes (train_dist.h); NULL: this process alone */
  double step_s;           /* seconds in train steps, the first step of each epoch (warm-up) left out */
  int nstep;
} train_run;

/* One optimizer step on a batch: loss = L_I + lambda_T L_T (Eq. 7). *loss, *loss_t: the values. */
int train_step(train_run *r, const gz_batch *b, double *loss, double *loss_t, gz_err *e);
/* The model of a configuration. */
int train_model_init(gz_paper *p, const gz_run_config *c, gz_err *e);

#endif
