/* conv2d reference: the plain direct loops, one thread, float accumulation in a fixed order. The
 * audit baseline for the GEMM-based kernels in conv.c (kept forever; tests compare against it). */
#include "tensor/kernels.h"

static int check(const gz_conv2d *d, const void *a, const void *b, const void *c, int *oh, int *ow, const char *what,
                 gz_err *e) {
  if (gz_conv2d_out(d, oh, ow, e)) return gz_err_prefix(e, "%s", what);
  if (!a || !b || !c) return gz_fail(e, GZ_EINVAL, "%s: NULL tensor", what);
  return 0;
}

int gz_conv2d_forward_ref(const gz_conv2d *d, const float *x, const float *w, const float *bias, float *y, gz_err *e) {
  int oh = 0, ow = 0;
  if (check(d, x, w, y, &oh, &ow, "conv2d forward (reference)", e)) return -1;
  for (int n = 0; n < d->n; n++)
    for (int o = 0; o < d->oc; o++)
      for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
          float s = 0.0f;
          for (int c = 0; c < d->ic; c++)
            for (int i = 0; i < d->kh; i++) {
              int iy = oy * d->sh - d->ph + i;
              if (iy < 0 || iy >= d->ih) continue;
              for (int j = 0; j < d->kw; j++) {
                int ix = ox * d->sw - d->pw + j;
                if (ix < 0 || ix >= d->iw) continue;
                s += x[(((long)n * d->ic + c) * d->ih + iy) * d->iw + ix] *
                     w[(((long)o * d->ic + c) * d->kh + i) * d->kw + j];
              }
            }
          y[(((long)n * d->oc + o) * oh + oy) * ow + ox] = bias ? s + bias[o] : s;
        }
  return 0;
}

int gz_conv2d_backward_data_ref(const gz_conv2d *d, const float *dy, const float *w, float *dx, int accumulate,
                                gz_err *e) {
  int oh = 0, ow = 0;
  if (check(d, dy, w, dx, &oh, &ow, "conv2d backward data (reference)", e)) return -1;
  /* Gather form: dx[n][c][iy][ix] = sum over o, i, j with iy = oy*sh - ph + i (likewise x). */
  for (int n = 0; n < d->n; n++)
    for (int c = 0; c < d->ic; c++)
      for (int iy = 0; iy < d->ih; iy++)
        for (int ix = 0; ix < d->iw; ix++) {
          float s = 0.0f;
          for (int o = 0; o < d->oc; o++)
            for (int i = 0; i < d->kh; i++) {
              int ty = iy + d->ph - i;
              if (ty < 0 || ty % d->sh || ty / d->sh >= oh) continue;
              for (int j = 0; j < d->kw; j++) {
                int tx = ix + d->pw - j;
                if (tx < 0 || tx % d->sw || tx / d->sw >= ow) continue;
                s += dy[(((long)n * d->oc + o) * oh + ty / d->sh) * ow + tx / d->sw] *
                     w[(((long)o * d->ic + c) * d->kh + i) * d->kw + j];
              }
            }
          float *t = &dx[(((long)n * d->ic + c) * d->ih + iy) * d->iw + ix];
          *t = accumulate ? *t + s : s;
        }
  return 0;
}

int gz_conv2d_backward_weights_ref(const gz_conv2d *d, const float *x, const float *dy, float *dw, float *dbias,
                                   int accumulate, gz_err *e) {
  int oh = 0, ow = 0;
  if (check(d, x, dy, dw, &oh, &ow, "conv2d backward weights (reference)", e)) return -1;
  for (int o = 0; o < d->oc; o++) {
    for (int c = 0; c < d->ic; c++)
      for (int i = 0; i < d->kh; i++)
        for (int j = 0; j < d->kw; j++) {
          float s = 0.0f;
          for (int n = 0; n < d->n; n++)
            for (int oy = 0; oy < oh; oy++) {
              int iy = oy * d->sh - d->ph + i;
              if (iy < 0 || iy >= d->ih) continue;
              for (int ox = 0; ox < ow; ox++) {
                int ix = ox * d->sw - d->pw + j;
                if (ix < 0 || ix >= d->iw) continue;
                s += dy[(((long)n * d->oc + o) * oh + oy) * ow + ox] * x[(((long)n * d->ic + c) * d->ih + iy) * d->iw + ix];
              }
            }
          float *t = &dw[(((long)o * d->ic + c) * d->kh + i) * d->kw + j];
          *t = accumulate ? *t + s : s;
        }
    if (dbias) {
      float s = 0.0f;
      for (int n = 0; n < d->n; n++)
        for (long p = 0; p < (long)oh * ow; p++) s += dy[((long)n * d->oc + o) * oh * ow + p];
      dbias[o] = accumulate ? dbias[o] + s : s;
    }
  }
  return 0;
}
