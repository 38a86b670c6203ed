/* The generator's population and its table writers (internal to data/synth_*.c). */
#ifndef GAZELOC_SYNTH_TABLES_H
#define GAZELOC_SYNTH_TABLES_H

#include "data/synth_internal.h"

typedef struct synth_img_info { /* what the tables need from a rendered frontal image */
  int fnparts[SYNTH_MAX_FINDINGS];
  synth_box fpart[SYNTH_MAX_FINDINGS][2];
  long farea[SYNTH_MAX_FINDINGS];
} synth_img_info;

typedef struct synth_pop {
  int nstudies, nimages, nsubjects, nreadings;
  synth_study *studies;
  synth_image *images;
  synth_img_info *img_info;
  int *reading_image;    /* reading -> image */
  char *reading_ids;     /* 16 chars per reading */
  synth_reading *readings;
} synth_pop;

/* MIMIC tables, REFLACX metadata_phase_3.csv and the truth sidecar (synth_tables.c). */
int synth_write_tables(const gz_synth_opts *o, const synth_pop *P, const char *stage, gz_err *e);
int synth_write_calibration(const char *stage, const gz_synth_calib *c, gz_err *e);
/* Overlay PNGs of one reading: image + ellipses, image + whole-reading gaze heatmap (synth_examples.c). */
int synth_write_examples(const char *prefix, const synth_render *rd, const synth_reading *R, gz_err *e);
int synth_rmtree(const char *path);

#endif
