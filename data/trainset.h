/* The training and evaluation data of the paper (spec method.md sections 5 and 7), as plain float buffers:
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
#ifndef GAZELOC_DATA_TRAINSET_H
#define GAZELOC_DATA_TRAINSET_H

#include <pthread.h>
#include <stdint.h>

#include "base/base.h"
#include "data/augment.h"
#include "data/mimic.h"
#include "gaze/gaze.h"

enum gz_method { GZ_METHOD_UNANNOTATED = 0, GZ_METHOD_ELLIPSE = 1, GZ_METHOD_ET = 2 };
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
/* The next batch (valid until the following call), or NULL at the end of the epoch; -1 in *rc on error. */
const gz_batch *gz_loader_next(gz_loader *l, int *rc, gz_err *e);
void gz_loader_stop(gz_loader *l);

#endif
