/* Small REFLACX readings written by the tests themselves (the synthetic dataset is another module). */
#ifndef GAZELOC_TESTS_GAZE_FIXTURE_H
#define GAZELOC_TESTS_GAZE_FIXTURE_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "gaze/gaze.h"
#include "testutil.h"

#define FX_HEADER                                                                                                   \
  "timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,pupil_area_normalized,"                   \
  "angular_resolution_x_pixels_per_degree,angular_resolution_y_pixels_per_degree,window_width,window_level,"       \
  "xmin_shown_from_image,ymin_shown_from_image,xmax_shown_from_image,ymax_shown_from_image,"                      \
  "xmin_in_screen_coordinates,ymin_in_screen_coordinates,xmax_in_screen_coordinates,ymax_in_screen_coordinates\r\n"

#define ELL_HEADER_P3                                                                                               \
  "xmin,ymin,xmax,ymax,certainty,Abnormal mediastinal contour,Acute fracture,Atelectasis,Consolidation,"           \
  "Enlarged cardiac silhouette,Enlarged hilum,Groundglass opacity,Hiatal hernia,High lung volume / emphysema,"     \
  "Interstitial lung disease,Lung nodule or mass,Other,Pleural abnormality,Pneumothorax,Pulmonary edema,"          \
  "Support devices\r\n"

static inline char *fx_path(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", a, b);
  return p;
}

static inline void fx_write(const char *dir, const char *name, const char *s) { free(tu_write(dir, name, s, strlen(s))); }

/* A text buffer that grows. */
typedef struct fx_buf {
  char *s;
  size_t n, cap;
} fx_buf;

static inline void fx_printf(fx_buf *b, const char *fmt, ...) GZ_PRINTF(2, 3);
static inline void fx_printf(fx_buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    b->cap = (b->cap + (size_t)k + 1) * 2;
    b->s = realloc(b->s, b->cap);
  }
}

/* One fixation row (the screen columns are filler). */
static inline void fx_fix(fx_buf *b, double t0, double t1, int x, int y, int sx, int sy, int rx0, int ry0, int rx1,
                          int ry1) {
  fx_printf(b, "%.3f,%.3f,%d,%d,1.0,%d,%d,1.0,0.5,%d,%d,%d,%d,0,0,3840,2160\r\n", t0, t1, x, y, sx, sy, rx0, ry0, rx1,
            ry1);
}

/* Random fixations over [tmin, tmax]: positions may fall outside the image, rectangles are the whole
 * image or a zoomed part of it; a few zero-duration and overlapping fixations. */
static inline void fx_random_fixations(fx_buf *b, gz_rng *r, int n, int W, int H, double tmin, double tmax, int sigmin,
                                       int sigmax) {
  fx_printf(b, FX_HEADER);
  double t = tmin;
  for (int i = 0; i < n; i++) {
    double dur = i % 17 == 5 ? 0 : gz_rng_range(r, 0.05, 0.6);
    double t0 = t, t1 = t + dur;
    t = i % 13 == 7 ? t0 + dur / 2 : t1 + gz_rng_range(r, 0.02, 0.06); /* some overlap the next */
    int x = (int)gz_rng_range(r, -0.1 * W, 1.1 * W), y = (int)gz_rng_range(r, -0.1 * H, 1.1 * H);
    int s = (int)gz_rng_range(r, sigmin, sigmax);
    int rx0 = 0, ry0 = 0, rx1 = W, ry1 = H;
    if (i % 5 == 3) { /* zoomed in: a sub-rectangle */
      rx0 = (int)gz_rng_range(r, 0, W / 3.0);
      ry0 = (int)gz_rng_range(r, 0, H / 3.0);
      rx1 = rx0 + (int)gz_rng_range(r, W / 3.0, W - rx0);
      ry1 = ry0 + (int)gz_rng_range(r, H / 3.0, H - ry0);
    }
    fx_fix(b, t0, t1, x, y, s + (i % 3), s, rx0, ry0, rx1, ry1);
    if (t > tmax) t = tmin + gz_rng_range(r, 0, 0.5);
  }
}

/* Words from a space-separated token list ("the heart is enlarged . no effusion ."), each `step` s long. */
static inline void fx_words(const char *dir, const char *tokens, double t0, double step, char **text_out) {
  fx_buf b = {0}, t = {0};
  fx_printf(&b, "word,timestamp_start_word,timestamp_end_word\r\n");
  fx_printf(&t, "%s", "");
  char *copy = strdup(tokens);
  int first = 1;
  for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
    fx_printf(&b, "%s,%.2f,%.2f\r\n", strchr(tok, ',') ? "\",\"" : tok, t0, t0 + step * 0.9);
    int glued = !strcmp(tok, ".") || !strcmp(tok, ",") || !strcmp(tok, ":");
    fx_printf(&t, "%s%s", glued || first ? "" : " ", tok);
    first = 0;
    t0 += step;
  }
  free(copy);
  fx_write(dir, "timestamps_transcription.csv", b.s);
  fx_write(dir, "transcription.txt", t.s);
  if (text_out) *text_out = t.s;
  else free(t.s);
  free(b.s);
}

static inline char *fx_mkreading(const char *root, const char *id) {
  char *d = fx_path(root, id);
  mkdir(d, 0755);
  return d;
}

#endif
