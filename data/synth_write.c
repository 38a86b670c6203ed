/* Writers for the per-reading REFLACX files and the images, byte for byte as the real ones
 * (data-formats.md 1.3-1.8): CRLF, pandas-style floats, True/False, plain integers, the transcription
 * with no trailing newline. The dataset is written into a fresh staging folder that is renamed into
 * place at the end (synth_main.c), so single files need no fsync of their own. */
#include "data/synth_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image_write.h>

/* Python's repr of round(v, dp): the shortest form, at least one decimal, never "-0.0". */
void synth_fmt_float(char *buf, size_t n, double v, int dp) {
  double p = pow(10, dp);
  v = round(v * p) / p;
  if (v == 0) v = 0; /* -0 -> 0 */
  snprintf(buf, n, "%.*f", dp, v);
  char *dot = strchr(buf, '.');
  if (!dot) return;
  char *end = buf + strlen(buf) - 1;
  while (end > dot + 1 && *end == '0') *end-- = 0;
}

int synth_mkdirs_for(const char *path, gz_err *e) {
  char *d = gz_strdup(path, e);
  if (!d) return -1;
  char *slash = strrchr(d, '/');
  int rc = 0;
  if (slash) { *slash = 0; rc = gz_mkdir_p(d, e); }
  free(d);
  return rc;
}

static FILE *open_w(const char *dir, const char *name, char *path, size_t pn, gz_err *e) {
  snprintf(path, pn, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) gz_fail_errno(e, "cannot create %s", path);
  return f;
}

static int close_w(FILE *f, const char *path, gz_err *e) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return gz_fail_errno(e, "cannot write %s", path);
  return 0;
}

static void field_f(gz_csvw *w, double v, int dp) {
  char b[64];
  synth_fmt_float(b, sizeof b, v, dp);
  gz_csvw_field(w, b);
}

int synth_write_reading(const char *dir, const synth_reading *R, gz_err *e) {
  if (gz_mkdir_p(dir, e)) return -1;
  char path[4200];
  gz_csvw w;
  /* fixations.csv: 17 columns in this order (data-formats.md 1.3) */
  FILE *f = open_w(dir, "fixations.csv", path, sizeof path, e);
  if (!f) return -1;
  gz_csvw_init(&w, f, 1);
  static const char *fh[17] = {"timestamp_start_fixation", "timestamp_end_fixation", "x_position", "y_position",
                               "pupil_area_normalized", "angular_resolution_x_pixels_per_degree",
                               "angular_resolution_y_pixels_per_degree", "window_width", "window_level",
                               "xmin_shown_from_image", "ymin_shown_from_image", "xmax_shown_from_image",
                               "ymax_shown_from_image", "xmin_in_screen_coordinates", "ymin_in_screen_coordinates",
                               "xmax_in_screen_coordinates", "ymax_in_screen_coordinates"};
  for (int i = 0; i < 17; i++) gz_csvw_field(&w, fh[i]);
  gz_csvw_end(&w);
  for (int i = 0; i < R->nfix; i++) {
    const synth_fix *F = &R->fix[i];
    field_f(&w, F->t0, 3);
    field_f(&w, F->t1, 3);
    gz_csvw_fieldf(&w, "%d", F->x);
    gz_csvw_fieldf(&w, "%d", F->y);
    field_f(&w, F->pupil, 3);
    gz_csvw_fieldf(&w, "%d", F->resx);
    gz_csvw_fieldf(&w, "%d", F->resy);
    field_f(&w, F->ww, 5);
    field_f(&w, F->wl, 5);
    for (int k = 0; k < 4; k++) gz_csvw_fieldf(&w, "%d", F->shown[k]);
    for (int k = 0; k < 4; k++) gz_csvw_fieldf(&w, "%d", F->screen[k]);
    gz_csvw_end(&w);
  }
  if (close_w(f, path, e)) return -1;
  /* timestamps_transcription.csv */
  if (!(f = open_w(dir, "timestamps_transcription.csv", path, sizeof path, e))) return -1;
  gz_csvw_init(&w, f, 1);
  gz_csvw_field(&w, "word");
  gz_csvw_field(&w, "timestamp_start_word");
  gz_csvw_field(&w, "timestamp_end_word");
  gz_csvw_end(&w);
  for (int i = 0; i < R->nwords; i++) {
    gz_csvw_field(&w, R->word[i].text);
    field_f(&w, R->word[i].t0, 2);
    field_f(&w, R->word[i].t1, 2);
    gz_csvw_end(&w);
  }
  if (close_w(f, path, e)) return -1;
  /* transcription.txt: one line, no trailing newline */
  if (!(f = open_w(dir, "transcription.txt", path, sizeof path, e))) return -1;
  fputs(R->text, f);
  if (close_w(f, path, e)) return -1;
  /* anomaly_location_ellipses.csv */
  if (!(f = open_w(dir, "anomaly_location_ellipses.csv", path, sizeof path, e))) return -1;
  gz_csvw_init(&w, f, 1);
  static const char *eh[5] = {"xmin", "ymin", "xmax", "ymax", "certainty"};
  for (int i = 0; i < 5; i++) gz_csvw_field(&w, eh[i]);
  for (int i = 0; i < RL_N; i++) gz_csvw_field(&w, synth_reflacx_labels[i]);
  gz_csvw_end(&w);
  for (int i = 0; i < R->nell; i++) {
    const synth_ellipse *E = &R->ell[i];
    gz_csvw_fieldf(&w, "%ld", lroundf(E->box.x0));
    gz_csvw_fieldf(&w, "%ld", lroundf(E->box.y0));
    gz_csvw_fieldf(&w, "%ld", lroundf(E->box.x1));
    gz_csvw_fieldf(&w, "%ld", lroundf(E->box.y1));
    gz_csvw_fieldf(&w, "%d", E->certainty);
    for (int k = 0; k < RL_N; k++) gz_csvw_field(&w, (E->columns >> k) & 1 ? "True" : "False");
    gz_csvw_end(&w);
  }
  if (close_w(f, path, e)) return -1;
  /* chest_bounding_box.csv */
  if (!(f = open_w(dir, "chest_bounding_box.csv", path, sizeof path, e))) return -1;
  gz_csvw_init(&w, f, 1);
  for (int i = 0; i < 4; i++) gz_csvw_field(&w, eh[i]);
  gz_csvw_end(&w);
  gz_csvw_fieldf(&w, "%ld", lroundf(R->chestbox.x0));
  gz_csvw_fieldf(&w, "%ld", lroundf(R->chestbox.y0));
  gz_csvw_fieldf(&w, "%ld", lroundf(R->chestbox.x1));
  gz_csvw_fieldf(&w, "%ld", lroundf(R->chestbox.y1));
  gz_csvw_end(&w);
  return close_w(f, path, e);
}

typedef struct membuf { unsigned char *p; size_t n, cap; int oom; } membuf;

static void mem_put(void *ctx, void *data, int size) {
  membuf *m = ctx;
  if (m->oom || size <= 0) return;
  if (m->n + (size_t)size > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 65536;
    while (cap < m->n + (size_t)size) cap *= 2;
    unsigned char *q = realloc(m->p, cap);
    if (!q) { m->oom = 1; return; }
    m->p = q;
    m->cap = cap;
  }
  memcpy(m->p + m->n, data, (size_t)size);
  m->n += (size_t)size;
}

static int write_mem(const char *path, membuf *m, int ok, gz_err *e) {
  int rc = 0;
  if (!ok || m->oom) rc = gz_fail(e, GZ_ENOMEM, "cannot encode %s", path);
  if (!rc) {
    FILE *f = fopen(path, "wb");
    if (!f) rc = gz_fail_errno(e, "cannot create %s", path);
    else {
      fwrite(m->p, 1, m->n, f);
      rc = close_w(f, path, e);
    }
  }
  free(m->p);
  return rc;
}

/* 8-bit single-component JPEG, as MIMIC-CXR-JPG (synth_jpeg.c). */
int synth_write_jpeg(const char *path, const uint8_t *px, int w, int h, int quality, gz_err *e) {
  if (synth_mkdirs_for(path, e)) return -1;
  membuf m = {0};
  int ok = synth_jpeg_gray(px, w, h, quality, &m.p, &m.n) == 0;
  return write_mem(path, &m, ok, e);
}

/* A true lesion mask (render resolution) as a 0/255 PNG at the image's full size (nearest). */
int synth_write_mask_png(const char *path, const uint8_t *mask, int rw, int rh, int w, int h, gz_err *e) {
  if (synth_mkdirs_for(path, e)) return -1;
  uint8_t *full = gz_malloc((size_t)w * h, e);
  if (!full) return -1;
  for (int y = 0; y < h; y++) {
    int sy = (int)((long)y * rh / h);
    for (int x = 0; x < w; x++) full[(size_t)y * w + x] = mask[(size_t)sy * rw + (int)((long)x * rw / w)] ? 255 : 0;
  }
  membuf m = {0};
  int ok = stbi_write_png_to_func(mem_put, &m, w, h, 1, full, w);
  free(full);
  return write_mem(path, &m, ok, e);
}
