/* The paper's datasets: MIMIC-CXR-JPG and REFLACX phase 3 joined into sample lists per split, and the
 * image cache (decode + resize once, since the full-size JPEGs are large). */
#include "data/data.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

const char *const gz_method_names[3] = {"unannotated", "ellipse", "et"};

int gz_method_parse(const char *s, int *method, gz_err *e) {
  for (int i = 0; i < 3; i++)
    if (!strcmp(s, gz_method_names[i])) { *method = i; return 0; }
  return gz_fail(e, GZ_EINVAL, "method '%s' is not one of unannotated, ellipse, et", s);
}

void gz_data_opts_default(gz_data_opts *o) {
  memset(o, 0, sizeof *o);
  o->size = 512;
  o->method = GZ_METHOD_ET;
  o->strategy = GZ_STRATEGY_DEFAULT;
  o->normalize_twice = 1;
  o->threshold = 0.15f;
  gz_degrade_off(&o->degrade);
}

static int push(gz_sample_list *l, gz_sample s, gz_err *e) {
  if ((l->n & (l->n - 1)) == 0) { /* grow at powers of two */
    gz_sample *ns = gz_realloc(l->s, sizeof *ns * (size_t)(l->n ? 2 * l->n : 1), e);
    if (!ns) return -1;
    l->s = ns;
  }
  l->s[l->n++] = s;
  return 0;
}

/* REFLACX `image` is physionet.org/files/mimic-cxr/2.0.0/files/pXX/pSUBJECT/sSTUDY/DICOM.dcm; the JPEG is
 * the same path below MIMIC-CXR-JPG's root with .jpg. */
static int jpg_of(const char *mimic_root, const char *image, char *out, size_t n, gz_err *e) {
  const char *f = strstr(image, "files/p");
  size_t len = f ? strlen(f) : 0;
  if (!f || len < 5 || strcmp(f + len - 4, ".dcm"))
    return gz_fail(e, GZ_EFORMAT, "image path '%s' does not name files/pXX/.../<dicom>.dcm", image);
  snprintf(out, n, "%s/%.*s.jpg", mimic_root, (int)(len - 4), f);
  return 0;
}

static int split_of(const char *s, const gz_data_opts *o, long subject) {
  int split = !strcmp(s, "test") ? GZ_TEST : !strcmp(s, "validate") ? GZ_VALIDATE : GZ_TRAIN;
  for (int i = 0; split == GZ_TRAIN && i < o->n_val_subjects; i++)
    if (o->val_subjects[i] == subject) split = GZ_VALIDATE;
  return split;
}

/* Windows and labels of one reading from the labeler's mentions (ET method), after the degraded-labeler
 * action of a training reading (0 otherwise). */
static int et_windows(gz_dataset *d, gz_rx *x, const gz_report_labels *row, int action, uint64_t index, gz_err *e) {
  gz_mention *m = gz_malloc(sizeof *m * (size_t)(row->nm + 1), e);
  if (!m) return -1;
  if (row->nm) memcpy(m, row->m, sizeof *m * (size_t)row->nm); /* a report without mentions has no list */
  int nm = row->nm;
  gz_transcript t;
  if (gz_transcript_build(x->r.words, x->r.nwords, x->r.transcription, x->r.transcription_len, x->r.dir, &t, e)) {
    free(m);
    return -1;
  }
  int rc = gz_degrade_mentions(&d->o.degrade, action, d->o.degrade_seed, index, &t, &m, &nm, e);
  for (int i = 0; rc == 0 && i < nm; i++) x->et_labels |= gz_category_mask(m[i].category);
  int orphans = 0;
  if (rc == 0) rc = gz_windows(&t, m, nm, &d->o.strategy, &x->win, &x->nwin, &orphans, e);
  d->n_orphan_mentions += orphans;
  gz_transcript_free(&t);
  free(m);
  return rc;
}

/* The labeler rows of the readings (ET method) and the degraded-labeler actions of the training readings. */
static int et_all(gz_dataset *d, const gz_labels_file *lf, gz_err *e) {
  const gz_report_labels **rows = gz_calloc((size_t)d->nrx + 1, sizeof *rows, e);
  unsigned char *pos = gz_calloc((size_t)d->nrx + 1, 2, e);
  signed char *action = gz_calloc((size_t)d->nrx + 1, 1, e);
  int rc = rows && pos && action ? 0 : -1;
  unsigned bit = d->o.degrade.label >= 0 ? 1u << d->o.degrade.label : 0;
  for (int i = 0; rc == 0 && i < d->nrx; i++) {
    gz_rx *x = &d->rx[i];
    if (!(rows[i] = gz_labels_find(lf, x->r.id))) {
      rc = gz_fail(e, GZ_EFORMAT, "%s: reading %s is not in the labels file", d->o.labels_csv, x->r.id);
      break;
    }
    /* only the training readings are degraded; the flags of the others stay 0 */
    for (int k = 0; x->split == GZ_TRAIN && k < rows[i]->nm; k++)
      if (gz_category_mask(rows[i]->m[k].category) & bit) pos[i] = 1;
    pos[d->nrx + i] = x->split == GZ_TRAIN && !pos[i] && gz_degrade_can_add(x->r.words, x->r.nwords);
  }
  if (rc == 0)
    rc = gz_degrade_plan(&d->o.degrade, d->o.degrade_seed, d->nrx, pos, pos + d->nrx, action, &d->degraded, e);
  for (int i = 0; rc == 0 && i < d->nrx; i++) rc = et_windows(d, &d->rx[i], rows[i], action[i], (uint64_t)i, e);
  free(rows), free(pos), free(action);
  return rc;
}

static int load_reflacx(gz_dataset *d, gz_err *e) {
  char path[4096];
  snprintf(path, sizeof path, "%s/metadata_phase_3.csv", d->o.reflacx_main);
  gz_meta meta;
  if (gz_meta_read(path, 3, &meta, e)) return -1;
  gz_labels_file lf = {0};
  int need_labels = d->o.method == GZ_METHOD_ET;
  if (need_labels && (!d->o.labels_csv || gz_labels_read(d->o.labels_csv, &lf, e))) {
    if (!d->o.labels_csv) gz_fail(e, GZ_EINVAL, "the et method needs the labeler's output (labels file)");
    gz_meta_free(&meta);
    return -1;
  }
  d->rx = gz_calloc((size_t)meta.n, sizeof *d->rx, e);
  int rc = d->rx ? 0 : -1;
  for (int i = 0; rc == 0 && i < meta.n; i++) {
    gz_rx *x = &d->rx[d->nrx];
    int r = gz_reading_load(d->o.reflacx_main, &meta.rows[i], &x->r, e);
    if (r == 1) { d->n_discarded++; continue; }
    if (r < 0 || jpg_of(d->o.mimic_root, meta.rows[i].image, x->jpg, sizeof x->jpg, e)) { rc = -1; break; }
    snprintf(x->dicom_id, sizeof x->dicom_id, "%s", meta.rows[i].dicom_id);
    x->split = split_of(meta.rows[i].split, &d->o, meta.rows[i].subject_id);
    for (int k = 0; k < x->r.nell; k++)
      if (x->r.ell[k].certainty >= 3) x->ell_labels |= x->r.ell[k].labels;
    if (x->r.nwords) x->t_end = x->r.words[x->r.nwords - 1].t1;
    d->nrx++;
  }
  if (rc == 0 && need_labels) rc = et_all(d, &lf, e);
  if (need_labels) gz_labels_free(&lf);
  gz_meta_free(&meta);
  return rc;
}

int gz_dataset_open(gz_dataset *d, const gz_data_opts *o, gz_err *e) {
  memset(d, 0, sizeof *d);
  d->o = *o;
  if (o->size < 32 || o->size % 32)
    return gz_fail(e, GZ_EINVAL, "image size %d: must be a multiple of 32 (the grid is size/16, pooled by 8)", o->size);
  if (gz_mimic_load(o->mimic_root, o->val_subjects, o->n_val_subjects, &d->mimic, e)) return -1;
  if (o->reflacx_main && load_reflacx(d, e)) { gz_dataset_close(d); return -1; }
  int rc = 0;
  for (int i = 0; rc == 0 && i < d->mimic.n; i++) {
    gz_sample s = {i, -1, 0};
    int sp = d->mimic.images[i].split;
    rc = push(sp == GZ_TRAIN ? &d->train : sp == GZ_VALIDATE ? &d->val_mimic : &d->test_mimic, s, e);
  }
  for (int i = 0; rc == 0 && i < d->nrx; i++) {
    gz_sample s = {-1, i, o->method != GZ_METHOD_UNANNOTATED};
    int sp = d->rx[i].split;
    /* The Unannotated baseline trains on MIMIC alone; REFLACX validation and test serve IoU for all. */
    if (sp == GZ_TRAIN && o->method == GZ_METHOD_UNANNOTATED) continue;
    rc = push(sp == GZ_TRAIN ? &d->train : sp == GZ_VALIDATE ? &d->val_reflacx : &d->test_reflacx, s, e);
  }
  if (rc) gz_dataset_close(d);
  return rc;
}

void gz_dataset_close(gz_dataset *d) {
  gz_mimic_free(&d->mimic);
  for (int i = 0; i < d->nrx; i++) {
    gz_reading_free(&d->rx[i].r);
    free(d->rx[i].win);
  }
  free(d->rx);
  free(d->train.s), free(d->val_mimic.s), free(d->val_reflacx.s), free(d->test_mimic.s), free(d->test_reflacx.s);
  memset(d, 0, sizeof *d);
}

void gz_sample_labels(const gz_dataset *d, const gz_sample *s, unsigned char label[GZ_NLABELS]) {
  unsigned bits = 0;
  if (s->mimic >= 0) {
    for (int k = 0; k < GZ_NLABELS; k++) label[k] = d->mimic.images[s->mimic].label[k];
    return;
  }
  const gz_rx *x = &d->rx[s->reading];
  bits = d->o.method == GZ_METHOD_ET ? x->et_labels : x->ell_labels;
  for (int k = 0; k < GZ_NLABELS; k++) label[k] = (bits >> k) & 1u;
}

/* ------------------------------------------------------------------ image cache */

typedef struct {
  const char *jpg;
  const char *dicom;
} cache_job;

void gz_cache_path(const gz_dataset *d, const char *dicom, char *out, size_t n) {
  snprintf(out, n, "%s/%d/%s.u8", d->o.cache_dir, d->o.size, dicom);
}

/* Decode, grayscale, resize the long side to S and pad (gaze's geometry, the same the maps get), and
 * store as uint8 with truncation, as the authors' pipeline does. */
static int cache_one(const gz_dataset *d, const cache_job *j, gz_err *e) {
  char path[4096];
  gz_cache_path(d, j->dicom, path, sizeof path);
  if (gz_is_file(path)) return 0;
  int w, h, S = d->o.size;
  unsigned char *px = gz_read_image(j->jpg, 1, &w, &h, e);
  if (!px) return -1;
  float *in = gz_malloc(sizeof *in * (size_t)w * (size_t)h, e), *out = gz_malloc(sizeof *out * (size_t)S * S, e);
  unsigned char *u8 = gz_malloc((size_t)S * S, e);
  int rc = (in && out && u8) ? 0 : -1;
  if (rc == 0) {
    for (size_t i = 0; i < (size_t)w * h; i++) in[i] = px[i];
    rc = gz_resize_pad(in, h, w, out, S, e);
  }
  if (rc == 0) {
    for (size_t i = 0; i < (size_t)S * S; i++) {
      float v = out[i] < 0 ? 0 : out[i] > 255 ? 255 : out[i];
      u8[i] = (unsigned char)v; /* truncation */
    }
    rc = gz_write_file_atomic(path, u8, (size_t)S * S, e);
  }
  free(px), free(in), free(out), free(u8);
  return rc;
}

int gz_dataset_cache(gz_dataset *d, gz_err *e) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%d", d->o.cache_dir, d->o.size);
  if (gz_mkdir_p(dir, e)) return -1;
  int n = d->mimic.n + d->nrx;
  cache_job *jobs = gz_calloc((size_t)n, sizeof *jobs, e);
  char (*paths)[1024] = gz_calloc((size_t)d->mimic.n + 1, sizeof *paths, e);
  if (!jobs || !paths) { free(jobs), free(paths); return -1; }
  for (int i = 0; i < d->mimic.n; i++) {
    gz_mimic_image_path(d->o.mimic_root, &d->mimic.images[i], paths[i], sizeof paths[i]);
    jobs[i] = (cache_job){paths[i], d->mimic.images[i].dicom_id};
  }
  for (int i = 0; i < d->nrx; i++) jobs[d->mimic.n + i] = (cache_job){d->rx[i].jpg, d->rx[i].dicom_id};
  gz_progress p;
  gz_progress_start(&p, "caching images", n);
  int failed = 0, done = 0;
  gz_err first = {0};
#pragma omp parallel for schedule(dynamic, 4)
  for (int i = 0; i < n; i++) {
    if (failed) continue;
    gz_err le = {0};
    int rc = cache_one(d, &jobs[i], &le);
#pragma omp critical(gz_cache_progress)
    {
      if (rc && !failed) failed = 1, first = le;
      done++;
      if (omp_get_thread_num() == 0) gz_progress_update(&p, done, NULL);
    }
  }
  p.done = done;
  gz_progress_finish(&p, NULL);
  free(jobs), free(paths);
  if (failed) {
    if (e) *e = first;
    return -1;
  }
  return 0;
}
