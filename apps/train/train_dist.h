/* gazeloc-train over several processes (apps/train/dist*.c, docs/mpi.md). Without MPI (or with one rank in
 * fast mode) r->dist stays NULL and the program runs as before. */
#ifndef GAZELOC_APPS_TRAIN_DIST_H
#define GAZELOC_APPS_TRAIN_DIST_H

#include "train.h"

int train_dist_start(int *argc, char ***argv, gz_err *e); /* MPI_Init (first thing in main) */
int train_dist_rank(void);
int train_dist_size(void);
/* Prints "gazeloc-train: error: [rank R of N: ]msg"; with several ranks it also ends the whole job. */
void train_dist_die(const char *prog, const char *msg);
/* After the model and the tape exist: the shard plan (deterministic: S shards, 0 = the batch size). */
int train_dist_configure(train_run *r, int deterministic, int shards, gz_err *e);
/* Rank 0's parameters, buffers, optimizer state and run state to every rank. */
int train_dist_sync_model(train_run *r, gz_err *e);
/* A string (malloc'd) from rank 0 to every rank: *s on rank 0, replaced by a copy on the others. */
int train_dist_bcast_string(char **s, gz_err *e);
int train_dist_barrier(gz_err *e);
/* This rank's part of every batch of list. */
int train_dist_loader(const train_run *r, gz_loader *ld, const gz_sample_list *list, int shuffle, int augment,
                      int drop_last, uint64_t epoch, gz_err *e);
/* One optimizer step on this rank's part of a global batch; *loss, *loss_t are the global batch's. */
int train_dist_step(train_run *r, const gz_batch *b, double *loss, double *loss_t, gz_err *e);
/* The gradient arena summed over the ranks (fast: MPI_Allreduce; deterministic: the shard tree). */
int train_dist_reduce_grads(train_run *r, gz_err *e);
/* Validation AUC, the list split over the ranks and the scores gathered. */
int train_dist_score(train_run *r, const gz_sample_list *list, double per_label[GZ_NLABELS], double *mean, gz_err *e);
int train_dist_gather_sum(double *v, size_t n, gz_err *e);
size_t train_dist_grad_bytes(const train_run *r);
double train_dist_comm_seconds(const train_run *r); /* mean per step */
const char *train_dist_describe(const train_run *r, char *buf, size_t n);
void train_dist_finish(train_run *r); /* r may be NULL (nothing trained yet) */

#endif
