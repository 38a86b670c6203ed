/* MIMIC-CXR-JPG tables as the paper uses them (spec method.md sections 5 and 7, data-formats.md):
 * frontal images only (ViewPosition PA or AP), studies with exactly one frontal image, studies that have
 * a CheXpert label row, labels mapped to the paper's 10 with 1 and -1 positive, the MIMIC split with an
 * optional list of subject ids moved from train to validation. */
#ifndef GAZELOC_DATA_MIMIC_H
#define GAZELOC_DATA_MIMIC_H

#include <stdint.h>

#include "base/base.h"
#include "gaze/gaze.h" /* GZ_NLABELS and the label order */

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

#endif
