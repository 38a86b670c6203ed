/* conv2d reference: the plain direct loops. Each output is one float64 sum over its taps in a fixed order,
 * (input or output channel, kernel row, kernel column) for the data directions and (image, output row,
 * output column) for the weights, rounded to float once: near-exact, so tests measure the fast kernels'
 * own error, and GAZELOC_ISA=reference shows what a float32 network computes when only storage rounds
 * (docs/autograd.md, "Parity with PyTorch"). The audit baseline for conv.c (kept forever).
 *
 * The data directions keep a row of up to ROW running sums and add one tap to all of them at a time (the
 * same sums in the same order as a loop per output, only the loop nest is turned so that the inner loop
 * walks memory); independent outputs are split over threads. Neither changes a bit. */
#include "tensor/kernels.h"

#define ROW 256

static int check(const gz_conv2d *d, const void *a, const void *b, const void *c, int *oh, int *ow, const char *what,
                 gz_err *e) {
  if (gz_conv2d_out(d, oh, ow, e)) return gz_err_prefix(e, "%s", what);
  if (!a || !b || !c) return gz_fail(e, GZ_EINVAL, "%s: NULL tensor", what);
  return 0;
}

/* The k in [k0, k1) with 0 <= k * s + off < n: where a tap of a row of outputs lands inside the input. */
static void inside(int k0, int k1, int s, int off, int n, int *lo, int *hi) {
  int a = k0, b = k1;
  if (off < 0) a = a > (-off + s - 1) / s ? a : (-off + s - 1) / s;
  int last = n - 1 - off; /* k * s <= last */
  b = last < 0 ? a : (b < last / s + 1 ? b : last / s + 1);
  *lo = a, *hi = b > a ? b : a;
}

int gz_conv2d_forward_ref(const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y, gz_err *e) {
  int oh = 0, ow = 0;
  if (check(d, x, w, y, &oh, &ow, "conv2d forward (reference)", e)) return -1;
  /* y[n][o][oy][ox] = bias[o] + sum over c, i, j of x[n][c][oy*sh - ph + i][ox*sw - pw + j] w[o][c][i][j] */
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < d->n; n++)
    for (int o = 0; o < d->oc; o++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox0 = 0; ox0 < ow; ox0 += ROW) {
          int nx = ow - ox0 < ROW ? ow - ox0 : ROW;
          double acc[ROW] = {0};
          for (int c = 0; c < d->ic; c++)
            for (int i = 0; i < d->kh; i++) {
              int iy = oy * d->sh - d->ph + i;
              if (iy < 0 || iy >= d->ih) continue;
              const float *xr = x + (((long)n * d->ic + c) * d->ih + iy) * d->iw;
              for (int j = 0; j < d->kw; j++) {
                double wv = w[(((long)o * d->ic + c) * d->kh + i) * d->kw + j];
                int lo, hi;
                inside(ox0, ox0 + nx, d->sw, j - d->pw, d->iw, &lo, &hi);
                for (int ox = lo; ox < hi; ox++) acc[ox - ox0] += (double)xr[ox * d->sw - d->pw + j] * wv;
              }
            }
          float *yr = y + (((long)n * d->oc + o) * oh + oy) * ow + ox0;
          for (int k = 0; k < nx; k++) yr[k] = (float)(bias ? acc[k] + bias[o] : acc[k]);
        }
  return 0;
}

int gz_conv2d_backward_data_ref(const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                                gz_err *e) {
  int oh = 0, ow = 0;
  if (check(d, dy, w, dx, &oh, &ow, "conv2d backward data (reference)", e)) return -1;
  /* Gather form: dx[n][c][iy][ix] = sum over o, i, j of dy[n][o][ty / sh][tx / sw] w[o][c][i][j], with
   * ty = iy + ph - i and tx = ix + pw - j, where both divide and land inside dy. */
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < d->n; n++)
    for (int c = 0; c < d->ic; c++)
      for (int iy = 0; iy < d->ih; iy++)
        for (int ix0 = 0; ix0 < d->iw; ix0 += ROW) {
          int nx = d->iw - ix0 < ROW ? d->iw - ix0 : ROW;
          double acc[ROW] = {0};
          for (int o = 0; o < d->oc; o++)
            for (int i = 0; i < d->kh; i++) {
              int ty = iy + d->ph - i;
              if (ty < 0 || ty % d->sh || ty / d->sh >= oh) continue;
              const float *dyr = dy + (((long)n * d->oc + o) * oh + ty / d->sh) * ow;
              for (int j = 0; j < d->kw; j++) {
                double wv = w[(((long)o * d->ic + c) * d->kh + i) * d->kw + j];
                /* the ix of this row with tx >= 0, tx divisible by sw and tx / sw < ow */
                int a = ix0 > j - d->pw ? ix0 : j - d->pw, b = (ow - 1) * d->sw + j - d->pw + 1;
                if (b > ix0 + nx) b = ix0 + nx;
                if ((a + d->pw - j) % d->sw) a += d->sw - (a + d->pw - j) % d->sw;
                for (int ix = a; ix < b; ix += d->sw) acc[ix - ix0] += (double)dyr[(ix + d->pw - j) / d->sw] * wv;
              }
            }
          float *t = dx + (((long)n * d->ic + c) * d->ih + iy) * d->iw + ix0;
          for (int k = 0; k < nx; k++) t[k] = (float)(accumulate ? t[k] + acc[k] : acc[k]);
        }
  return 0;
}

int gz_conv2d_backward_weights_ref(const gz_conv2d *d, const float *x, const float *dy, float *dw, float *dbias,
                                   int accumulate, gz_err *e) {
  int oh = 0, ow = 0;
  if (check(d, x, dy, dw, &oh, &ow, "conv2d backward weights (reference)", e)) return -1;
  /* dw[o][c][i][j] = sum over n, oy, ox of dy[n][o][oy][ox] x[n][c][oy*sh - ph + i][ox*sw - pw + j] */
#pragma omp parallel for schedule(static)
  for (int o = 0; o < d->oc; o++) {
    for (int c = 0; c < d->ic; c++)
      for (int i = 0; i < d->kh; i++)
        for (int j = 0; j < d->kw; j++) {
          double s = 0.0;
          int lo, hi;
          inside(0, ow, d->sw, j - d->pw, d->iw, &lo, &hi);
          for (int n = 0; n < d->n; n++)
            for (int oy = 0; oy < oh; oy++) {
              int iy = oy * d->sh - d->ph + i;
              if (iy < 0 || iy >= d->ih) continue;
              const float *dyr = dy + (((long)n * d->oc + o) * oh + oy) * ow;
              const float *xr = x + (((long)n * d->ic + c) * d->ih + iy) * d->iw;
              for (int ox = lo; ox < hi; ox++) s += (double)dyr[ox] * xr[ox * d->sw - d->pw + j];
            }
          float *t = &dw[(((long)o * d->ic + c) * d->kh + i) * d->kw + j];
          *t = (float)(accumulate ? *t + s : s);
        }
    if (dbias) {
      double s = 0.0;
      for (int n = 0; n < d->n; n++)
        for (long p = 0; p < (long)oh * ow; p++) s += dy[((long)n * d->oc + o) * oh * ow + p];
      dbias[o] = (float)(accumulate ? dbias[o] + s : s);
    }
  }
  return 0;
}
