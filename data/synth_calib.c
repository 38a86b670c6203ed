/* Calibration figures of a generated dataset (spec/synthetic.md 1.4), computed from the files as written
 * and read back with base's CSV reader. A small routine of the generator's own, not the gaze module:
 *
 *  - heatmap: sum over fixations of (overlap with the window) x 2-D normal pdf with sigma = the angular
 *    resolution columns (1 degree), drawn only inside the shown rectangle (method.md 4), evaluated at the
 *    centres of a reduced grid whose long side is `grid` px, truncated at 4 sigma (mass lost < 0.1 %);
 *  - NCC: Pearson correlation over the grid between the whole-reading heatmap (all fixations) and the
 *    union of the reading's ellipses with certainty > 2; readings without such ellipses are skipped;
 *  - baseline: every whole-reading heatmap (normalized to sum 1) resampled into its chest box (expanded
 *    by 20 % on each side, 64x64 cells), averaged over all readings, mapped back into each reading's box;
 *  - IoU: per sentence with a positive or uncertain mention, the window max(sentence start - 1.5 s,
 *    previous sentence start) .. start of the word holding the sentence's last mention (method.md 4);
 *    per paper label the max of its sentences' maps (each normalized to max 1), thresholded at each of
 *    method.md 6's 26 thresholds; IoU against the union of that label's ellipses (certainty > 2),
 *    averaged over (reading, label) pairs with such ellipses; the best threshold's mean is reported.
 * Mentions come from truth/mentions.csv (the intended ones), standing in for the labeler. */
#include "data/synth_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void synth_heatmap(const synth_fixrow *f, int n, double ta, double tb, double scale, int gw, int gh, float *out) {
  memset(out, 0, sizeof(float) * (size_t)gw * gh);
  for (int i = 0; i < n; i++) {
    if (!(f[i].t1 > ta && f[i].t0 <= tb)) continue;
    double w = fmin(f[i].t1, tb) - fmax(f[i].t0, ta);
    if (w <= 0) continue;
    double sx = f[i].sx, sy = f[i].sy;
    double norm = w / (2 * M_PI * sx * sy);
    double x0 = fmax(f[i].x - 4 * sx, (double)f[i].shown[0]), x1 = fmin(f[i].x + 4 * sx, (double)f[i].shown[2]);
    double y0 = fmax(f[i].y - 4 * sy, (double)f[i].shown[1]), y1 = fmin(f[i].y + 4 * sy, (double)f[i].shown[3]);
    int gx0 = (int)floor(x0 * scale), gx1 = (int)ceil(x1 * scale), gy0 = (int)floor(y0 * scale), gy1 = (int)ceil(y1 * scale);
    if (gx0 < 0) gx0 = 0;
    if (gy0 < 0) gy0 = 0;
    if (gx1 > gw) gx1 = gw;
    if (gy1 > gh) gy1 = gh;
    for (int gy = gy0; gy < gy1; gy++) {
      double y = (gy + 0.5) / scale;
      if (y < f[i].shown[1] || y >= f[i].shown[3]) continue;
      double dy = (y - f[i].y) / sy;
      for (int gx = gx0; gx < gx1; gx++) {
        double x = (gx + 0.5) / scale;
        if (x < f[i].shown[0] || x >= f[i].shown[2]) continue;
        double dx = (x - f[i].x) / sx;
        out[(size_t)gy * gw + gx] += (float)(norm * exp(-0.5 * (dx * dx + dy * dy)));
      }
    }
  }
}

static double pearson(const float *a, const float *b, size_t n) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= (double)n; mb /= (double)n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; i++) {
    double x = a[i] - ma, y = b[i] - mb;
    sab += x * y; saa += x * x; sbb += y * y;
  }
  return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

typedef struct ell { double x0, y0, x1, y1; int cert; unsigned cols; } ell;

static void raster_ellipses(const ell *E, int n, unsigned colmask, double scale, int gw, int gh, float *m) {
  memset(m, 0, sizeof(float) * (size_t)gw * gh);
  for (int i = 0; i < n; i++) {
    if (E[i].cert <= 2 || !(E[i].cols & colmask)) continue;
    double cx = 0.5 * (E[i].x0 + E[i].x1), cy = 0.5 * (E[i].y0 + E[i].y1);
    double rx = 0.5 * fabs(E[i].x1 - E[i].x0), ry = 0.5 * fabs(E[i].y1 - E[i].y0);
    if (rx <= 0 || ry <= 0) continue;
    for (int gy = 0; gy < gh; gy++)
      for (int gx = 0; gx < gw; gx++) {
        double dx = ((gx + 0.5) / scale - cx) / rx, dy = ((gy + 0.5) / scale - cy) / ry;
        if (dx * dx + dy * dy <= 1) m[(size_t)gy * gw + gx] = 1;
      }
  }
}

/* ---------------------------------------------------------------- reading the files back */

typedef struct rdata {
  char id[32];
  int w, h;
  synth_fixrow *fix; int nfix;
  char (*word)[32]; double *wt0; int nwords;
  ell *el; int nel;
  double box[4];
} rdata;

static int read_reading(const char *dir, rdata *d, gz_err *e) {
  char path[4400];
  if (snprintf(path, sizeof path, "%s/fixations.csv", dir) >= (int)sizeof path) return gz_fail(e, GZ_EINVAL, "path too long: %s", dir);
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  static const char *fc[11] = {"timestamp_start_fixation", "timestamp_end_fixation", "x_position", "y_position",
                               "angular_resolution_x_pixels_per_degree", "angular_resolution_y_pixels_per_degree",
                               "xmin_shown_from_image", "ymin_shown_from_image", "xmax_shown_from_image",
                               "ymax_shown_from_image", "pupil_area_normalized"};
  int col[11], rc = 0, cap = 256;
  for (int k = 0; k < 11 && !rc; k++) rc = (col[k] = gz_csv_require(c, fc[k], e)) < 0 ? -1 : 0;
  d->fix = rc ? NULL : gz_malloc(sizeof(synth_fixrow) * (size_t)cap, e);
  if (!d->fix) rc = -1;
  int st;
  while (!rc && (st = gz_csv_next(c, e)) == 1) {
    if (d->nfix == cap) {
      synth_fixrow *q = gz_realloc(d->fix, sizeof(synth_fixrow) * (size_t)(cap *= 2), e);
      if (!q) { rc = -1; break; }
      d->fix = q;
    }
    synth_fixrow *f = &d->fix[d->nfix];
    double v[11];
    for (int k = 0; k < 11 && !rc; k++) rc = gz_csv_double(c, col[k], &v[k], e);
    if (rc) break;
    f->t0 = v[0]; f->t1 = v[1]; f->x = v[2]; f->y = v[3]; f->sx = v[4]; f->sy = v[5];
    for (int k = 0; k < 4; k++) f->shown[k] = (int)lround(v[6 + k]);
    if (f->sx <= 0 || f->sy <= 0) rc = gz_csv_fail(c, col[4], e, "angular resolution must be positive");
    d->nfix++;
  }
  if (!rc && st < 0) rc = -1;
  gz_csv_close(c);
  if (rc) return -1;
  if (snprintf(path, sizeof path, "%s/timestamps_transcription.csv", dir) >= (int)sizeof path) return gz_fail(e, GZ_EINVAL, "path too long: %s", dir);
  if (!(c = gz_csv_open(path, 0, e))) return -1;
  int cw = gz_csv_require(c, "word", e), ct = cw < 0 ? -1 : gz_csv_require(c, "timestamp_start_word", e);
  cap = 128;
  d->word = ct < 0 ? NULL : gz_malloc(32 * (size_t)cap, e);
  d->wt0 = ct < 0 ? NULL : gz_malloc(sizeof(double) * (size_t)cap, e);
  rc = d->word && d->wt0 ? 0 : -1;
  while (!rc && (st = gz_csv_next(c, e)) == 1) {
    if (d->nwords == cap) {
      cap *= 2;
      void *q1 = gz_realloc(d->word, 32 * (size_t)cap, e), *q2 = q1 ? gz_realloc(d->wt0, sizeof(double) * (size_t)cap, e) : NULL;
      if (q1) d->word = q1;
      if (q2) d->wt0 = q2;
      if (!q1 || !q2) { rc = -1; break; }
    }
    snprintf(d->word[d->nwords], 32, "%s", gz_csv_field(c, cw));
    rc = gz_csv_double(c, ct, &d->wt0[d->nwords], e);
    d->nwords++;
  }
  if (!rc && st < 0) rc = -1;
  gz_csv_close(c);
  if (rc) return -1;
  if (snprintf(path, sizeof path, "%s/anomaly_location_ellipses.csv", dir) >= (int)sizeof path) return gz_fail(e, GZ_EINVAL, "path too long: %s", dir);
  if (!(c = gz_csv_open(path, 0, e))) return -1;
  static const char *ec[5] = {"xmin", "ymin", "xmax", "ymax", "certainty"};
  int ecol[5], lcol[RL_N];
  for (int k = 0; k < 5 && !rc; k++) rc = (ecol[k] = gz_csv_require(c, ec[k], e)) < 0 ? -1 : 0;
  for (int k = 0; k < RL_N && !rc; k++) rc = (lcol[k] = gz_csv_require(c, synth_reflacx_labels[k], e)) < 0 ? -1 : 0;
  d->el = rc ? NULL : gz_malloc(sizeof(ell) * SYNTH_MAX_ELL * 2, e);
  if (!d->el) rc = -1;
  while (!rc && (st = gz_csv_next(c, e)) == 1) {
    if (d->nel >= SYNTH_MAX_ELL * 2) { rc = gz_csv_fail(c, 0, e, "too many ellipses"); break; }
    ell *E = &d->el[d->nel++];
    long cert;
    rc = gz_csv_double(c, ecol[0], &E->x0, e) || gz_csv_double(c, ecol[1], &E->y0, e) ||
         gz_csv_double(c, ecol[2], &E->x1, e) || gz_csv_double(c, ecol[3], &E->y1, e) || gz_csv_int(c, ecol[4], &cert, e);
    E->cert = (int)cert;
    E->cols = 0;
    for (int k = 0; k < RL_N && !rc; k++) {
      int b;
      rc = gz_csv_bool(c, lcol[k], &b, e);
      if (b) E->cols |= 1u << k;
    }
  }
  if (!rc && st < 0) rc = -1;
  gz_csv_close(c);
  if (rc) return -1;
  if (snprintf(path, sizeof path, "%s/chest_bounding_box.csv", dir) >= (int)sizeof path) return gz_fail(e, GZ_EINVAL, "path too long: %s", dir);
  if (!(c = gz_csv_open(path, 0, e))) return -1;
  int bcol[4];
  for (int k = 0; k < 4 && !rc; k++) rc = (bcol[k] = gz_csv_require(c, ec[k], e)) < 0 ? -1 : 0;
  if (!rc) {
    st = gz_csv_next(c, e);
    if (st == 0) rc = gz_fail(e, GZ_EFORMAT, "%s: no data row", path);
    else if (st < 0) rc = -1;
    for (int k = 0; k < 4 && !rc; k++) rc = gz_csv_double(c, bcol[k], &d->box[k], e);
  }
  gz_csv_close(c);
  return rc;
}

static void rdata_free(rdata *d) { free(d->fix); free(d->word); free(d->wt0); free(d->el); }

typedef struct ment { char id[32]; int col, start; } ment;

static int read_mentions(const char *root, ment **out, int *n, gz_err *e) {
  char path[4400];
  snprintf(path, sizeof path, "%s/truth/mentions.csv", root);
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int ci = gz_csv_require(c, "id", e), cl = ci < 0 ? -1 : gz_csv_require(c, "label", e);
  int cs = cl < 0 ? -1 : gz_csv_require(c, "status", e), cst = cs < 0 ? -1 : gz_csv_require(c, "start", e);
  int rc = cst < 0 ? -1 : 0, cap = 1024, st = 0;
  ment *m = rc ? NULL : gz_malloc(sizeof(ment) * (size_t)cap, e);
  if (!m) rc = -1;
  *n = 0;
  while (!rc && (st = gz_csv_next(c, e)) == 1) {
    if (!strcmp(gz_csv_field(c, cs), "negative")) continue;
    if (*n == cap) {
      ment *q = gz_realloc(m, sizeof(ment) * (size_t)(cap *= 2), e);
      if (!q) { rc = -1; break; }
      m = q;
    }
    ment *x = &m[(*n)++];
    snprintf(x->id, sizeof x->id, "%s", gz_csv_field(c, ci));
    x->col = -1;
    for (int k = 0; k < RL_N; k++)
      if (!strcmp(gz_csv_field(c, cl), synth_reflacx_labels[k])) x->col = k;
    long s;
    rc = gz_csv_int(c, cst, &s, e);
    x->start = (int)s;
    if (!rc && x->col < 0) rc = gz_csv_fail(c, cl, e, "unknown label '%s'", gz_csv_field(c, cl));
  }
  if (!rc && st < 0) rc = -1;
  gz_csv_close(c);
  if (rc) { free(m); return -1; }
  *out = m;
  return 0;
}

/* The paper-label bits of each REFLACX column (method.md 5, Table 2). */
static unsigned column_paper(int col) {
  for (int k = 0; k < SK_N; k++)
    if (synth_kind_column[k] == col) return synth_kind_paper[k];
  return 0;
}

static const double thresholds[26] = {0,   .001, .01, .025, .05, .1,  .15, .2,  .25,  .3,  .35,  .4,   .45,
                                      .5,  .55,  .6,  .65,  .7,  .75, .8,  .85, .9,   .95, .975, .99,  .999};

enum { BOX_N = 64 };

static void box_frame(const double *b, double *fx0, double *fy0, double *fw, double *fh) {
  double w = b[2] - b[0], h = b[3] - b[1];
  *fx0 = b[0] - 0.2 * w; *fy0 = b[1] - 0.2 * h; *fw = 1.4 * w; *fh = 1.4 * h;
}

static int calibrate(const char *root, int grid, double delay, gz_synth_calib *cal, gz_err *e) {
  memset(cal, 0, sizeof *cal);
  cal->grid = grid;
  char path[4400];
  snprintf(path, sizeof path, "%s/reflacx/main_data/metadata_phase_3.csv", root);
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int ci = gz_csv_require(c, "id", e), cx = ci < 0 ? -1 : gz_csv_require(c, "image_size_x", e);
  int cy = cx < 0 ? -1 : gz_csv_require(c, "image_size_y", e);
  int rc = cy < 0 ? -1 : 0, n = 0, cap = 256, st = 0;
  rdata *rs = rc ? NULL : gz_calloc((size_t)cap, sizeof(rdata), e);
  if (!rs) rc = -1;
  while (!rc && (st = gz_csv_next(c, e)) == 1) {
    if (n == cap) {
      rdata *q = gz_realloc(rs, sizeof(rdata) * (size_t)(cap *= 2), e);
      if (!q) { rc = -1; break; }
      rs = q;
    }
    rdata *d = &rs[n];
    memset(d, 0, sizeof *d);
    snprintf(d->id, sizeof d->id, "%s", gz_csv_field(c, ci));
    long w, h;
    rc = gz_csv_int(c, cx, &w, e) || gz_csv_int(c, cy, &h, e);
    d->w = (int)w; d->h = (int)h;
    n++;
  }
  if (!rc && st < 0) rc = -1;
  gz_csv_close(c);
  ment *M = NULL;
  int nm = 0;
  if (!rc) rc = read_mentions(root, &M, &nm, e);
  float *avg = gz_calloc(BOX_N * BOX_N, sizeof(float), e);
  float **masks = gz_calloc((size_t)n + 1, sizeof(float *), e);
  double *ncc = gz_calloc((size_t)n + 1, sizeof(double), e);
  double iou_sum[26] = {0};
  int mcur = 0;
  if (!avg || !masks || !ncc) rc = -1;
  for (int i = 0; i < n && !rc; i++) {
    rdata *d = &rs[i];
    snprintf(path, sizeof path, "%s/reflacx/main_data/%s", root, d->id);
    if (read_reading(path, d, e)) { rc = gz_err_prefix(e, "calibration"); break; }
    double scale = (double)grid / (d->w > d->h ? d->w : d->h);
    int gw = (int)lround(d->w * scale), gh = (int)lround(d->h * scale);
    size_t gn = (size_t)gw * gh;
    float *hm = gz_malloc(sizeof(float) * gn, e), *mk = gz_malloc(sizeof(float) * gn, e);
    float *sm = gz_malloc(sizeof(float) * gn, e), *lm = gz_malloc(sizeof(float) * gn, e);
    if (!hm || !mk || !sm || !lm) { free(hm); free(mk); free(sm); free(lm); rc = -1; break; }
    synth_heatmap(d->fix, d->nfix, -1e9, 1e9, scale, gw, gh, hm);
    raster_ellipses(d->el, d->nel, ~0u, scale, gw, gh, mk);
    double msum = 0, hsum = 0;
    for (size_t k = 0; k < gn; k++) { msum += mk[k]; hsum += hm[k]; }
    if (msum > 0) { ncc[i] = pearson(hm, mk, gn); masks[i] = mk; mk = NULL; }
    /* into the chest-box frame for the average map */
    double fx0, fy0, fw, fh;
    box_frame(d->box, &fx0, &fy0, &fw, &fh);
    for (int v = 0; v < BOX_N && hsum > 0; v++)
      for (int u = 0; u < BOX_N; u++) {
        int gx = (int)floor((fx0 + (u + 0.5) * fw / BOX_N) * scale), gy = (int)floor((fy0 + (v + 0.5) * fh / BOX_N) * scale);
        if (gx >= 0 && gy >= 0 && gx < gw && gy < gh) avg[v * BOX_N + u] += (float)(hm[(size_t)gy * gw + gx] / hsum);
      }
    /* this reading's mentions: truth/mentions.csv follows the metadata order, so a cursor finds them */
    int mfirst = mcur, mlast;
    if (mfirst >= nm || strcmp(M[mfirst].id, d->id)) {
      for (mfirst = 0; mfirst < nm && strcmp(M[mfirst].id, d->id); mfirst++) {}
    }
    for (mlast = mfirst; mlast < nm && !strcmp(M[mlast].id, d->id); mlast++) {}
    if (mlast > mfirst) mcur = mlast;
    /* sentence windows (method.md 4) */
    int sent_first[SYNTH_MAX_WORDS], nsent = 0, pos = 0;
    int *wpos = gz_malloc(sizeof(int) * (size_t)(d->nwords + 1), e);
    if (!wpos) { free(hm); free(mk); free(sm); free(lm); rc = -1; break; }
    for (int w = 0; w < d->nwords; w++) {
      int punct = !strcmp(d->word[w], ".") || !strcmp(d->word[w], ",") || !strcmp(d->word[w], ":");
      if (w && !punct) pos++;
      wpos[w] = pos;
      pos += (int)strlen(d->word[w]);
      if (nsent < SYNTH_MAX_WORDS && (w == 0 || !strcmp(d->word[w - 1], "."))) sent_first[nsent++] = w;
    }
    unsigned labels_done = 0;
    memset(lm, 0, sizeof(float) * gn);
    float *lab_maps = gz_calloc(10 * gn, sizeof(float), e);
    if (!lab_maps) { free(wpos); free(hm); free(mk); free(sm); free(lm); rc = -1; break; }
    for (int s = 0; s < nsent; s++) {
      int w0 = sent_first[s], w1 = s + 1 < nsent ? sent_first[s + 1] : d->nwords; /* [w0, w1) */
      int c0 = wpos[w0], c1 = w1 < d->nwords ? wpos[w1] : 1 << 30;
      unsigned bits = 0;
      int last = -1;
      for (int m = mfirst; m < mlast; m++)
        if (!strcmp(M[m].id, d->id) && M[m].start >= c0 && M[m].start < c1) {
          bits |= column_paper(M[m].col);
          if (M[m].start > last) last = M[m].start;
        }
      if (!bits) continue;
      double tend = 0;
      for (int w = w0; w < w1; w++)
        if (wpos[w] <= last && last < wpos[w] + (int)strlen(d->word[w])) tend = d->wt0[w];
      double tstart = fmax(d->wt0[w0] - delay, s ? d->wt0[sent_first[s - 1]] : 0);
      synth_heatmap(d->fix, d->nfix, tstart, tend, scale, gw, gh, sm);
      float mx = 0;
      for (size_t k = 0; k < gn; k++) mx = fmaxf(mx, sm[k]);
      if (mx <= 0) continue;
      for (int k = 0; k < 10; k++)
        if (bits >> k & 1) {
          float *L = lab_maps + (size_t)k * gn;
          for (size_t q = 0; q < gn; q++) L[q] = fmaxf(L[q], sm[q] / mx);
          labels_done |= 1u << k;
        }
    }
    for (int k = 0; k < 10; k++) {
      if (!(labels_done >> k & 1)) continue;
      unsigned cols = 0;
      for (int q = 0; q < RL_N; q++)
        if (column_paper(q) >> k & 1) cols |= 1u << q;
      raster_ellipses(d->el, d->nel, cols, scale, gw, gh, lm);
      double gt = 0;
      for (size_t q = 0; q < gn; q++) gt += lm[q];
      if (gt <= 0) continue;
      const float *L = lab_maps + (size_t)k * gn;
      for (int t = 0; t < 26; t++) {
        double in = 0, un = 0;
        for (size_t q = 0; q < gn; q++) {
          int p = L[q] > thresholds[t], g = lm[q] > 0.5f;
          in += p && g;
          un += p || g;
        }
        iou_sum[t] += un > 0 ? in / un : 0;
      }
      cal->n_iou++;
    }
    free(lab_maps); free(wpos); free(hm); free(mk); free(sm); free(lm);
  }
  /* the average map against each reading's ellipses */
  double s1 = 0, s2 = 0, b1 = 0, b2 = 0;
  for (int i = 0; i < n && !rc; i++) {
    if (!masks[i]) continue;
    rdata *d = &rs[i];
    double scale = (double)grid / (d->w > d->h ? d->w : d->h);
    int gw = (int)lround(d->w * scale), gh = (int)lround(d->h * scale);
    float *bm = gz_calloc((size_t)gw * gh, sizeof(float), e);
    if (!bm) { rc = -1; break; }
    double fx0, fy0, fw, fh;
    box_frame(d->box, &fx0, &fy0, &fw, &fh);
    for (int gy = 0; gy < gh; gy++)
      for (int gx = 0; gx < gw; gx++) {
        int u = (int)floor(((gx + 0.5) / scale - fx0) / fw * BOX_N), v = (int)floor(((gy + 0.5) / scale - fy0) / fh * BOX_N);
        if (u >= 0 && v >= 0 && u < BOX_N && v < BOX_N) bm[(size_t)gy * gw + gx] = avg[v * BOX_N + u];
      }
    double b = pearson(bm, masks[i], (size_t)gw * gh);
    free(bm);
    cal->n_ncc++;
    s1 += ncc[i]; s2 += ncc[i] * ncc[i];
    b1 += b; b2 += b * b;
  }
  if (!rc && cal->n_ncc > 0) {
    double k = cal->n_ncc;
    cal->ncc_mean = s1 / k;
    cal->ncc_sd = sqrt(fmax(0, s2 / k - cal->ncc_mean * cal->ncc_mean));
    cal->base_mean = b1 / k;
    cal->base_sd = sqrt(fmax(0, b2 / k - cal->base_mean * cal->base_mean));
  }
  if (!rc && cal->n_iou > 0) {
    int best = 0;
    for (int t = 1; t < 26; t++)
      if (iou_sum[t] > iou_sum[best]) best = t;
    cal->iou_mean = iou_sum[best] / cal->n_iou;
    cal->iou_thr = thresholds[best];
  }
  for (int i = 0; i < n; i++) { rdata_free(&rs[i]); if (masks) free(masks[i]); }
  free(rs); free(M); free(avg); free(masks); free(ncc);
  return rc;
}

int gz_synth_calibrate(const char *root, int grid, gz_synth_calib *cal, gz_err *e) {
  return calibrate(root, grid, 1.5, cal, e);
}

int gz_synth_window_iou(const char *root, int grid, double delay, double *iou, double *thr, gz_err *e) {
  gz_synth_calib c;
  if (calibrate(root, grid, delay, &c, e)) return -1;
  *iou = c.iou_mean;
  *thr = c.iou_thr;
  return 0;
}
