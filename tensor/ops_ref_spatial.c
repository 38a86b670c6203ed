/* Reference kernels for pooling and upsampling: PyTorch 1.13's CPU definitions written out directly,
 * one output at a time (aten/src/ATen/native/cpu/MaxPoolKernel.cpp, UpSample.h), single-threaded. */
#include <math.h>
#include <string.h>

#include "tensor/ops_internal.h"

/* Window clipped to the input; the first maximum in scan order wins, and a NaN always takes over
 * (`val > maxval || isnan(val)`), so NaN propagates. An all -inf window points at its first element. */
void gz_ref_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const float *xp = gz_plane(x, n, c);
      float *yp = gz_plane(y, n, c);
      int32_t *ip = idx + (n * C + c) * OH * OW;
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t h0 = oh * p->sh - p->ph, w0 = ow * p->sw - p->pw;
          int64_t h1 = h0 + p->kh < H ? h0 + p->kh : H, w1 = w0 + p->kw < W ? w0 + p->kw : W;
          if (h0 < 0) h0 = 0;
          if (w0 < 0) w0 = 0;
          float m = -INFINITY;
          int64_t mi = h0 * W + w0;
          for (int64_t ih = h0; ih < h1; ih++)
            for (int64_t iw = w0; iw < w1; iw++) {
              float v = xp[ih * W + iw];
              if (v > m || isnan(v)) {
                m = v;
                mi = ih * W + iw;
              }
            }
          yp[oh * OW + ow] = m;
          ip[oh * OW + ow] = (int32_t)mi;
        }
    }
}

int64_t gz_ref_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate) {
  int64_t N = dx->shape[0], C = dx->shape[1], HW = dx->shape[2] * dx->shape[3], OHW = dy->shape[2] * dy->shape[3];
  int64_t bad = -1;
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      float *xp = gz_plane(dx, n, c);
      const float *gp = gz_plane(dy, n, c);
      const int32_t *ip = idx + (n * C + c) * OHW;
      int64_t o = 0;
      while (o < OHW && ip[o] >= 0 && ip[o] < HW) o++; /* every index inside the plane before any write */
      if (o < OHW) {
        if (bad < 0) bad = (n * C + c) * OHW + o;
        continue;
      }
      if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)HW);
      for (o = 0; o < OHW; o++) xp[ip[o]] += gp[o];
    }
  return bad;
}

/* PyTorch's nearest_idx: identity for equal sizes, dst/2 for doubling, else floor(dst * (float)in/out). */
static int64_t nearest_src(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  float scale = (float)in / (float)out;
  int64_t s = (int64_t)floorf((float)dst * scale);
  return s < in - 1 ? s : in - 1;
}

void gz_ref_up_nearest_fwd(const gz_tensor *x, gz_tensor *y) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++)
          gz_plane(y, n, c)[oh * OW + ow] = gz_plane(x, n, c)[nearest_src(oh, H, OH) * W + nearest_src(ow, W, OW)];
}

void gz_ref_up_nearest_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  int64_t N = dx->shape[0], C = dx->shape[1], H = dx->shape[2], W = dx->shape[3], OH = dy->shape[2], OW = dy->shape[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      float *xp = gz_plane(dx, n, c);
      if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)(H * W));
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++)
          xp[nearest_src(oh, H, OH) * W + nearest_src(ow, W, OW)] += gz_plane(dy, n, c)[oh * OW + ow];
    }
}

/* align_corners=True: src = dst * (in-1)/(out-1) (in double: PyTorch's CPU kernel computes the source
 * index in its double accumulation type for float); i0 = floor(src), i1 = min(i0+1, in-1), weights 1-l
 * and l with l = src - i0. */
static void linear_src(int64_t dst, int64_t in, int64_t out, int64_t *i0, int64_t *i1, double *l) {
  double scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0;
  double src = scale * (double)dst;
  *i0 = (int64_t)src;
  *i1 = *i0 + (*i0 < in - 1);
  double lf = src - (double)*i0;
  *l = lf < 0 ? 0 : lf > 1 ? 1 : lf;
}

void gz_ref_up_bilinear_fwd(const gz_tensor *x, gz_tensor *y) {
  int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      const float *xp = gz_plane(x, n, c);
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t h0, h1, w0, w1;
          double lh, lw;
          linear_src(oh, H, OH, &h0, &h1, &lh);
          linear_src(ow, W, OW, &w0, &w1, &lw);
          double top = xp[h0 * W + w0] * (1 - lw) + xp[h0 * W + w1] * lw;
          double bot = xp[h1 * W + w0] * (1 - lw) + xp[h1 * W + w1] * lw;
          gz_plane(y, n, c)[oh * OW + ow] = (float)(top * (1 - lh) + bot * lh);
        }
    }
}

void gz_ref_up_bilinear_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  int64_t N = dx->shape[0], C = dx->shape[1], H = dx->shape[2], W = dx->shape[3], OH = dy->shape[2], OW = dy->shape[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++) {
      float *xp = gz_plane(dx, n, c);
      if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)(H * W));
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t h0, h1, w0, w1;
          double lh, lw, g = gz_plane(dy, n, c)[oh * OW + ow];
          linear_src(oh, H, OH, &h0, &h1, &lh);
          linear_src(ow, W, OW, &w0, &w1, &lw);
          xp[h0 * W + w0] += (float)(g * (1 - lh) * (1 - lw));
          xp[h0 * W + w1] += (float)(g * (1 - lh) * lw);
          xp[h1 * W + w0] += (float)(g * lh * (1 - lw));
          xp[h1 * W + w1] += (float)(g * lh * lw);
        }
    }
}
