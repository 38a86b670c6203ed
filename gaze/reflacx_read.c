/* Readers for a REFLACX main_data folder (data-formats.md 1.2-1.8, pitfalls in section 6): columns by
 * header name, CRLF/BOM/quotes through base's strict CSV reader, every error names path, line, column. */
#include "gaze/gaze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Grows a typed array by one element; returns the new element's address or NULL (e set). */
static void *grow(void **arr, int *n, int *cap, size_t elem, gz_err *e) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 64;
    void *p = gz_realloc(*arr, (size_t)nc * elem, e);
    if (!p) return NULL;
    *arr = p;
    *cap = nc;
  }
  char *base = *arr;
  memset(base + (size_t)*n * elem, 0, elem);
  return base + (size_t)(*n)++ * elem;
}

static int require_all(gz_csv *c, const char *const *names, int *cols, int n, gz_err *e) {
  for (int i = 0; i < n; i++)
    if ((cols[i] = gz_csv_require(c, names[i], e)) < 0) return -1;
  return 0;
}

/* Python's round() on a float: half to even (the default FP rounding mode). */
static int py_round(double v) { return (int)nearbyint(v); }

/* ------------------------------------------------------------------ metadata_phase_<p>.csv */

void gz_meta_free(gz_meta *m) {
  if (!m) return;
  for (int i = 0; i < m->n; i++) {
    free(m->rows[i].id);
    free(m->rows[i].split);
    free(m->rows[i].image);
    free(m->rows[i].dicom_id);
  }
  free(m->rows);
  m->rows = NULL;
  m->n = 0;
}

int gz_meta_read(const char *path, int phase, gz_meta *m, gz_err *e) {
  static const char *const names[] = {"id", "split", "eye_tracking_data_discarded", "image", "dicom_id",
                                      "subject_id", "image_size_x", "image_size_y"};
  enum { ID, SPLIT, DISC, IMAGE, DICOM, SUBJECT, SX, SY, NCOL };
  memset(m, 0, sizeof *m);
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int col[NCOL], cap = 0, r;
  if (require_all(c, names, col, NCOL, e)) goto fail;
  while ((r = gz_csv_next(c, e)) == 1) {
    gz_meta_row *row = grow((void **)&m->rows, &m->n, &cap, sizeof *row, e);
    if (!row) goto fail;
    long sx, sy;
    if (!(row->id = gz_strdup(gz_csv_field(c, col[ID]), e)) || !(row->split = gz_strdup(gz_csv_field(c, col[SPLIT]), e)) ||
        !(row->image = gz_strdup(gz_csv_field(c, col[IMAGE]), e)) ||
        !(row->dicom_id = gz_strdup(gz_csv_field(c, col[DICOM]), e)))
      goto fail;
    if (!row->id[0]) { gz_csv_fail(c, col[ID], e, "empty reading id"); goto fail; }
    if (gz_csv_bool(c, col[DISC], &row->discarded, e) || gz_csv_int(c, col[SUBJECT], &row->subject_id, e) ||
        gz_csv_int(c, col[SX], &sx, e) || gz_csv_int(c, col[SY], &sy, e))
      goto fail;
    if (sx <= 0 || sx > 1 << 16) { gz_csv_fail(c, col[SX], e, "image width %ld out of range 1..65536", sx); goto fail; }
    if (sy <= 0 || sy > 1 << 16) { gz_csv_fail(c, col[SY], e, "image height %ld out of range 1..65536", sy); goto fail; }
    row->size_x = (int)sx;
    row->size_y = (int)sy;
    row->phase = phase;
  }
  if (r < 0) goto fail;
  gz_csv_close(c);
  return 0;
fail:
  gz_csv_close(c);
  gz_meta_free(m);
  return -1;
}

/* ------------------------------------------------------------------ fixations.csv */

int gz_read_fixations(const char *path, gz_fixation **out, int *n, gz_err *e) {
  static const char *const names[] = {
      "timestamp_start_fixation", "timestamp_end_fixation", "x_position", "y_position",
      "angular_resolution_x_pixels_per_degree", "angular_resolution_y_pixels_per_degree", "xmin_shown_from_image",
      "ymin_shown_from_image", "xmax_shown_from_image", "ymax_shown_from_image"};
  enum { T0, T1, X, Y, SX, SY, RX0, RY0, RX1, RY1, NCOL };
  *out = NULL;
  *n = 0;
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int col[NCOL], cap = 0, r;
  if (require_all(c, names, col, NCOL, e)) goto fail;
  while ((r = gz_csv_next(c, e)) == 1) {
    double v[NCOL];
    for (int k = 0; k < NCOL; k++)
      if (gz_csv_double(c, col[k], &v[k], e)) goto fail;
    if (v[T1] < v[T0]) {
      gz_csv_fail(c, col[T1], e, "fixation ends (%g) before it starts (%g)", v[T1], v[T0]);
      goto fail;
    }
    /* A zero sigma makes the pdf singular (scipy raises); the authors' data never has one. */
    if (!(v[SX] > 0)) { gz_csv_fail(c, col[SX], e, "angular resolution must be positive, got %g", v[SX]); goto fail; }
    if (!(v[SY] > 0)) { gz_csv_fail(c, col[SY], e, "angular resolution must be positive, got %g", v[SY]); goto fail; }
    for (int k = RX0; k <= RY1; k++)
      if (fabs(v[k]) > 1e8) { gz_csv_fail(c, col[k], e, "coordinate %g out of range", v[k]); goto fail; }
    gz_fixation *f = grow((void **)out, n, &cap, sizeof *f, e);
    if (!f) goto fail;
    *f = (gz_fixation){v[T0], v[T1], v[X], v[Y], v[SX], v[SY],
                       py_round(v[RX0]), py_round(v[RY0]), py_round(v[RX1]), py_round(v[RY1])};
  }
  if (r < 0) goto fail;
  gz_csv_close(c);
  return 0;
fail:
  gz_csv_close(c);
  free(*out);
  *out = NULL;
  *n = 0;
  return -1;
}

/* ------------------------------------------------------------------ timestamps_transcription.csv */

static void free_words(gz_word *w, int n) {
  for (int i = 0; i < n; i++) free(w[i].text);
  free(w);
}

int gz_read_words(const char *path, gz_word **out, int *n, gz_err *e) {
  static const char *const names[] = {"word", "timestamp_start_word", "timestamp_end_word"};
  *out = NULL;
  *n = 0;
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int col[3], cap = 0, r;
  if (require_all(c, names, col, 3, e)) goto fail;
  while ((r = gz_csv_next(c, e)) == 1) {
    double t0, t1;
    const char *s = gz_csv_field(c, col[0]);
    if (!s[0]) { gz_csv_fail(c, col[0], e, "empty word"); goto fail; }
    if (gz_csv_double(c, col[1], &t0, e) || gz_csv_double(c, col[2], &t1, e)) goto fail;
    gz_word *w = grow((void **)out, n, &cap, sizeof *w, e);
    if (!w) goto fail;
    w->t0 = t0;
    w->t1 = t1;
    if (!(w->text = gz_strdup(s, e))) goto fail;
  }
  if (r < 0) goto fail;
  gz_csv_close(c);
  return 0;
fail:
  gz_csv_close(c);
  free_words(*out, *n);
  *out = NULL;
  *n = 0;
  return -1;
}

/* ------------------------------------------------------------------ anomaly_location_ellipses.csv */

int gz_read_ellipses(const char *path, gz_ellipse **out, int *n, gz_err *e) {
  static const char *const names[] = {"xmin", "ymin", "xmax", "ymax", "certainty"};
  *out = NULL;
  *n = 0;
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int col[5], cap = 0, r, ncols = gz_csv_ncols(c);
  if (require_all(c, names, col, 5, e)) goto fail;
  /* Label columns: every other header; only those the paper maps are read (as True/False). */
  unsigned *mask = gz_calloc((size_t)ncols, sizeof *mask, e);
  if (!mask) goto fail;
  for (int k = 0; k < ncols; k++) {
    int fixed = 0;
    for (int j = 0; j < 5; j++) fixed |= k == col[j];
    if (!fixed) mask[k] = gz_label_mask_for_name(gz_csv_header(c, k));
  }
  while ((r = gz_csv_next(c, e)) == 1) {
    double v[4];
    long cert;
    for (int k = 0; k < 4; k++)
      if (gz_csv_double(c, col[k], &v[k], e)) goto fail_mask;
    if (gz_csv_int(c, col[4], &cert, e)) goto fail_mask;
    if (cert < 0 || cert > 5) { gz_csv_fail(c, col[4], e, "certainty %ld out of range 0..5", cert); goto fail_mask; }
    for (int k = 0; k < 4; k++)
      if (fabs(v[k]) > 1e8) { gz_csv_fail(c, col[k], e, "coordinate %g out of range", v[k]); goto fail_mask; }
    unsigned labels = 0;
    for (int k = 0; k < ncols; k++) {
      int b;
      if (!mask[k]) continue;
      if (gz_csv_bool(c, k, &b, e)) goto fail_mask;
      if (b) labels |= mask[k];
    }
    gz_ellipse *el = grow((void **)out, n, &cap, sizeof *el, e);
    if (!el) goto fail_mask;
    *el = (gz_ellipse){v[0], v[1], v[2], v[3], (int)cert, labels};
  }
  if (r < 0) goto fail_mask;
  free(mask);
  gz_csv_close(c);
  return 0;
fail_mask:
  free(mask);
fail:
  gz_csv_close(c);
  free(*out);
  *out = NULL;
  *n = 0;
  return -1;
}

/* ------------------------------------------------------------------ chest_bounding_box.csv */

int gz_read_chest_box(const char *path, int box[4], gz_err *e) {
  static const char *const names[] = {"xmin", "ymin", "xmax", "ymax"};
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int col[4], r;
  if (require_all(c, names, col, 4, e)) goto fail;
  if ((r = gz_csv_next(c, e)) < 0) goto fail;
  if (r == 0) { gz_fail(e, GZ_EFORMAT, "%s: no data row (one box expected)", path); goto fail; }
  for (int k = 0; k < 4; k++) {
    long v;
    if (gz_csv_int(c, col[k], &v, e)) goto fail;
    box[k] = (int)v;
  }
  if ((r = gz_csv_next(c, e)) < 0) goto fail;
  if (r == 1) { gz_fail(e, GZ_EFORMAT, "%s line %ld: a second box (one expected)", path, gz_csv_line(c)); goto fail; }
  gz_csv_close(c);
  return 0;
fail:
  gz_csv_close(c);
  return -1;
}

/* ------------------------------------------------------------------ one reading */

void gz_reading_free(gz_reading *r) {
  if (!r) return;
  free(r->id);
  free(r->dir);
  free(r->fix);
  free_words(r->words, r->nwords);
  free(r->transcription);
  free(r->ell);
  memset(r, 0, sizeof *r);
}

static char *join(const char *a, const char *b, gz_err *e) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = gz_malloc(n, e);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

int gz_reading_load(const char *main_data, const gz_meta_row *row, gz_reading *r, gz_err *e) {
  memset(r, 0, sizeof *r);
  if (row->discarded) return 1;
  char *p = NULL;
  int rc = -1;
  if (!(r->id = gz_strdup(row->id, e)) || !(r->dir = join(main_data, row->id, e))) goto out;
  r->width = row->size_x;
  r->height = row->size_y;
  char *fx = join(r->dir, "fixations.csv", e), *tt = join(r->dir, "timestamps_transcription.csv", e);
  int discarded = fx && tt && (!gz_is_file(fx) || !gz_is_file(tt));
  int ok = fx && tt && (discarded || (!gz_read_fixations(fx, &r->fix, &r->nfix, e) &&
                                      !gz_read_words(tt, &r->words, &r->nwords, e)));
  free(fx);
  free(tt);
  if (!ok) goto out;
  if (discarded) { rc = 1; goto out; }
  if (!(p = join(r->dir, "transcription.txt", e))) goto out;
  if (!(r->transcription = gz_read_file(p, &r->transcription_len, e))) goto out;
  free(p);
  if (!(p = join(r->dir, "anomaly_location_ellipses.csv", e))) goto out;
  if (gz_read_ellipses(p, &r->ell, &r->nell, e)) goto out;
  free(p);
  if (!(p = join(r->dir, "chest_bounding_box.csv", e))) goto out;
  if (gz_is_file(p)) {
    if (gz_read_chest_box(p, r->chest_box, e)) goto out;
    r->has_chest_box = 1;
  }
  rc = 0;
out:
  free(p);
  if (rc != 0) gz_reading_free(r);
  return rc;
}
