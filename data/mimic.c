/* MIMIC-CXR-JPG tables: join metadata, split and CheXpert labels; keep what the paper keeps. */
#include "data/data.h"

#include <stdlib.h>
#include <string.h>

/* CheXpert column -> paper labels (bit k = paper label k). method.md section 5, Table 2:
 * 0 Edema, 1 Opacity, 2 Pneumothorax, 3 Pleural abnormality, 4 Lung Lesion, 5 Atelectasis, 6 Consolidation,
 * 7 Fracture, 8 Cardiomegaly, 9 Abnormal Mediastinum Contour. No Finding and Support Devices are unused. */
static const struct {
  const char *column;
  unsigned bits;
} chexpert_map[] = {
    {"Edema", 1u << 0 | 1u << 1},
    {"Lung Opacity", 1u << 1},
    {"Pneumonia", 1u << 1},
    {"Lung Lesion", 1u << 4 | 1u << 1},
    {"Atelectasis", 1u << 5 | 1u << 1},
    {"Consolidation", 1u << 6 | 1u << 1},
    {"Pneumothorax", 1u << 2},
    {"Pleural Effusion", 1u << 3},
    {"Pleural Other", 1u << 3},
    {"Fracture", 1u << 7},
    {"Cardiomegaly", 1u << 8},
    {"Enlarged Cardiomediastinum", 1u << 9},
};
enum { N_CHEXPERT = sizeof chexpert_map / sizeof chexpert_map[0] };

typedef struct {
  long study;
  unsigned bits;
} study_labels;

typedef struct {
  char dicom[48];
  int split;
} dicom_split;

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}
static int cmp_dicom(const void *a, const void *b) { return strcmp(a, b); }
static int cmp_image(const void *a, const void *b) {
  return strcmp(((const gz_mimic_image *)a)->dicom_id, ((const gz_mimic_image *)b)->dicom_id);
}
static int cmp_study_of_image(const void *a, const void *b) {
  const gz_mimic_image *x = a, *y = b;
  return (x->study_id > y->study_id) - (x->study_id < y->study_id);
}

static gz_csv *open_table(const char *root, const char *name, gz_err *e) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, name);
  return gz_csv_open(path, 0, e);
}

static int read_labels(const char *root, study_labels **out, int *n_out, gz_err *e) {
  gz_csv *c = open_table(root, "mimic-cxr-2.0.0-chexpert.csv", e);
  if (!c) return -1;
  int study_col = gz_csv_require(c, "study_id", e), cols[N_CHEXPERT];
  int rc = study_col < 0 ? -1 : 0;
  for (int k = 0; k < N_CHEXPERT && rc == 0; k++)
    if ((cols[k] = gz_csv_require(c, chexpert_map[k].column, e)) < 0) rc = -1;
  int n = 0, cap = 0;
  study_labels *v = NULL;
  while (rc == 0 && (rc = gz_csv_next(c, e)) == 1) {
    rc = 0;
    if (n == cap && !(v = gz_realloc(v, sizeof *v * (size_t)(cap = cap ? 2 * cap : 1024), e))) { rc = -1; break; }
    long study;
    if (gz_csv_int(c, study_col, &study, e)) { rc = -1; break; }
    unsigned bits = 0;
    for (int k = 0; k < N_CHEXPERT && rc == 0; k++) {
      if (gz_csv_is_empty(c, cols[k])) continue; /* blank = not mentioned = negative */
      double val;
      if (gz_csv_double(c, cols[k], &val, e)) { rc = -1; break; }
      if (val != 1.0 && val != 0.0 && val != -1.0) {
        rc = gz_csv_fail(c, cols[k], e, "'%s' is not 1.0, 0.0, -1.0 or empty", gz_csv_field(c, cols[k]));
        break;
      }
      if (val != 0.0) bits |= chexpert_map[k].bits; /* abs(value) > 0: positive and uncertain count */
    }
    v[n].study = study;
    v[n++].bits = bits;
  }
  gz_csv_close(c);
  if (rc < 0) { free(v); return -1; }
  qsort(v, (size_t)n, sizeof *v, cmp_long);
  *out = v;
  *n_out = n;
  return 0;
}

static int read_splits(const char *root, dicom_split **out, int *n_out, gz_err *e) {
  gz_csv *c = open_table(root, "mimic-cxr-2.0.0-split.csv", e);
  if (!c) return -1;
  int dc = gz_csv_require(c, "dicom_id", e), sc = dc < 0 ? -1 : gz_csv_require(c, "split", e);
  int rc = sc < 0 ? -1 : 0, n = 0, cap = 0;
  dicom_split *v = NULL;
  while (rc == 0 && (rc = gz_csv_next(c, e)) == 1) {
    rc = 0;
    if (n == cap && !(v = gz_realloc(v, sizeof *v * (size_t)(cap = cap ? 2 * cap : 1024), e))) { rc = -1; break; }
    const char *d = gz_csv_field(c, dc), *s = gz_csv_field(c, sc);
    if (strlen(d) >= sizeof v[n].dicom) { rc = gz_csv_fail(c, dc, e, "dicom id too long"); break; }
    int split = !strcmp(s, "train") ? GZ_TRAIN : !strcmp(s, "validate") ? GZ_VALIDATE : !strcmp(s, "test") ? GZ_TEST : -1;
    if (split < 0) { rc = gz_csv_fail(c, sc, e, "'%s' is not train, validate or test", s); break; }
    strcpy(v[n].dicom, d);
    v[n++].split = split;
  }
  gz_csv_close(c);
  if (rc < 0) { free(v); return -1; }
  qsort(v, (size_t)n, sizeof *v, cmp_dicom);
  *out = v;
  *n_out = n;
  return 0;
}

static int read_frontal(const char *root, gz_mimic *m, gz_err *e) {
  gz_csv *c = open_table(root, "mimic-cxr-2.0.0-metadata.csv", e);
  if (!c) return -1;
  int dc = gz_csv_require(c, "dicom_id", e), sub = gz_csv_require(c, "subject_id", e),
      st = gz_csv_require(c, "study_id", e), vp = gz_csv_require(c, "ViewPosition", e);
  int rc = (dc < 0 || sub < 0 || st < 0 || vp < 0) ? -1 : 0, cap = 0;
  while (rc == 0 && (rc = gz_csv_next(c, e)) == 1) {
    rc = 0;
    m->n_rows_metadata++;
    const char *view = gz_csv_field(c, vp);
    int ap = !strcmp(view, "AP");
    if (!ap && strcmp(view, "PA")) { m->n_not_frontal++; continue; }
    if (m->n == cap && !(m->images = gz_realloc(m->images, sizeof *m->images * (size_t)(cap = cap ? 2 * cap : 1024), e))) {
      rc = -1;
      break;
    }
    gz_mimic_image *im = &m->images[m->n];
    memset(im, 0, sizeof *im);
    if (strlen(gz_csv_field(c, dc)) >= sizeof im->dicom_id) { rc = gz_csv_fail(c, dc, e, "dicom id too long"); break; }
    strcpy(im->dicom_id, gz_csv_field(c, dc));
    if (gz_csv_int(c, sub, &im->subject_id, e) || gz_csv_int(c, st, &im->study_id, e)) { rc = -1; break; }
    im->ap = ap;
    m->n++;
  }
  gz_csv_close(c);
  return rc < 0 ? -1 : 0;
}

int gz_mimic_load(const char *root, const long *val_subjects, int n_val, gz_mimic *m, gz_err *e) {
  memset(m, 0, sizeof *m);
  study_labels *labels = NULL;
  dicom_split *splits = NULL;
  int n_labels = 0, n_splits = 0;
  if (read_labels(root, &labels, &n_labels, e) || read_splits(root, &splits, &n_splits, e) || read_frontal(root, m, e)) {
    free(labels), free(splits);
    gz_mimic_free(m);
    return -1;
  }
  long *vs = NULL;
  if (n_val > 0 && (vs = gz_malloc(sizeof *vs * (size_t)n_val, e))) {
    memcpy(vs, val_subjects, sizeof *vs * (size_t)n_val);
    qsort(vs, (size_t)n_val, sizeof *vs, cmp_long);
  }
  /* Keep studies with exactly one frontal image (the REFLACX sampling rule; several frontals usually
   * mean one is of poor quality). */
  qsort(m->images, (size_t)m->n, sizeof *m->images, cmp_study_of_image);
  int kept = 0;
  for (int i = 0; i < m->n;) {
    int j = i;
    while (j < m->n && m->images[j].study_id == m->images[i].study_id) j++;
    if (j - i > 1) { m->n_multi_frontal_studies++; i = j; continue; }
    gz_mimic_image im = m->images[i];
    i = j;
    study_labels *sl = bsearch(&im.study_id, labels, (size_t)n_labels, sizeof *labels, cmp_long);
    if (!sl) { m->n_unlabeled++; continue; }
    dicom_split *ds = bsearch(im.dicom_id, splits, (size_t)n_splits, sizeof *splits, cmp_dicom);
    if (!ds) { m->n_no_split++; continue; }
    im.split = ds->split;
    if (im.split == GZ_TRAIN && vs && bsearch(&im.subject_id, vs, (size_t)n_val, sizeof *vs, cmp_long))
      im.split = GZ_VALIDATE;
    for (int k = 0; k < GZ_NLABELS; k++) im.label[k] = (sl->bits >> k) & 1u;
    m->images[kept++] = im;
  }
  m->n = kept;
  qsort(m->images, (size_t)m->n, sizeof *m->images, cmp_image);
  free(vs), free(labels), free(splits);
  return 0;
}

void gz_mimic_free(gz_mimic *m) {
  free(m->images);
  m->images = NULL;
  m->n = 0;
}

void gz_mimic_image_path(const char *root, const gz_mimic_image *im, char *buf, size_t n) {
  char sub[16];
  snprintf(sub, sizeof sub, "%08ld", im->subject_id);
  snprintf(buf, n, "%s/files/p%.2s/p%s/s%08ld/%s.jpg", root, sub, sub, im->study_id, im->dicom_id);
}

int gz_read_id_list(const char *path, long **ids, int *n, gz_err *e) {
  char *text = gz_read_file(path, NULL, e);
  if (!text) return -1;
  int cap = 64, k = 0, line = 1;
  long *v = gz_malloc(sizeof *v * (size_t)cap, e);
  for (char *p = text; v && *p; line++) {
    char *end = strchr(p, '\n');
    if (end) *end = 0;
    size_t len = strlen(p);
    if (len && p[len - 1] == '\r') p[--len] = 0;
    if (len && p[0] != '#') {
      long id;
      if (gz_parse_int(p, &id)) {
        gz_fail(e, GZ_EFORMAT, "%s line %d: '%s' is not a subject id", path, line, p);
        free(v);
        v = NULL;
        break;
      }
      if (k == cap) {
        long *nv = gz_realloc(v, sizeof *v * (size_t)(cap *= 2), e);
        if (!nv) { free(v); v = NULL; break; }
        v = nv;
      }
      v[k++] = id;
    }
    if (!end) break;
    p = end + 1;
  }
  free(text);
  if (!v) return -1;
  *ids = v;
  *n = k;
  return 0;
}
