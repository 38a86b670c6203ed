/* gazeloc-etmaps internals: options and the pieces shared by the map writer and the strategy search. */
#ifndef GAZELOC_APPS_ETMAPS_H
#define GAZELOC_APPS_ETMAPS_H

#include "base/base.h"
#include "gaze/gaze.h"

typedef struct et_opts {
  const char *dir, *labels, *out, *mimic, *split, *search_csv;
  int phases[3], nphases;
  gz_strategy strategy;
  gz_heat_opts heat;
  int size, limit, threads, search, quiet, u16;
  int refine_start, refine_end; /* --refine: the rule pair stage 2 refines (-1: the best of stage 1) */
} et_opts;

/* The readings to process: metadata rows of the chosen phases (and split), discarded ones dropped. */
typedef struct et_set {
  gz_meta meta[3];
  const gz_meta_row **rows;
  int n, discarded;
} et_set;

int et_set_load(const et_opts *o, et_set *s, gz_err *e);
void et_set_free(et_set *s);

/* The mentions of a reading from the labels file, checked against its transcription (the offsets index
 * it). Returns 0 with *m (borrowed) and *nm, 1 when the file has no row for the reading, -1 on mismatch. */
int et_mentions(const gz_labels_file *lf, const gz_reading *r, const gz_mention **m, int *nm, gz_err *e);

/* Lower-case, underscores: "pleural_abnormality"; "whole_report" for -1. */
void et_label_slug(int label, char *buf, size_t n);

/* PNG overlay of a map on the reading's image (MIMIC-CXR-JPG path from the metadata `image` column).
 * Returns 1 written, 0 when the image is absent, -1 on error. `gray` caches the resized image (size*size)
 * between the maps of one reading: pass *gray = NULL first and free it after. */
int et_overlay(const et_opts *o, const gz_meta_row *row, const float *map, const char *png, float **gray, gz_err *e);
int et_image_path(const char *mimic, const char *image, char *buf, size_t n);

int et_search(const et_opts *o, const et_set *s, const gz_labels_file *lf, gz_err *e);

#endif
