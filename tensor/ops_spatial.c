/* Parallel pooling and upsampling shared by every CPU table: OpenMP over the N*C planes (each plane is
 * written by one thread in a fixed order, so the scatter-adds of the backward passes are deterministic),
 * with the per-row and per-column index arithmetic hoisted out of the inner loops. Same semantics as
 * ops_ref_spatial.c, which the tests hold these to. */
#include <math.h>
#include <string.h>

#include "tensor/ops_internal.h"

#define MAX_COLS 4096 /* per-column tables on the stack up to this width; wider rows compute inline */

static void pool_plane(const float *xp, int64_t H, int64_t W, const gz_pool2d *p, float *yp, int32_t *ip, int64_t OH,
                       int64_t OW) {
  for (int64_t oh = 0; oh < OH; oh++) {
    int64_t h0 = oh * p->sh - p->ph, h1 = h0 + p->kh < H ? h0 + p->kh : H;
    if (h0 < 0) h0 = 0;
    for (int64_t ow = 0; ow < OW; ow++) {
      int64_t w0 = ow * p->sw - p->pw, w1 = w0 + p->kw < W ? w0 + p->kw : W;
      if (w0 < 0) w0 = 0;
      float m = -INFINITY;
      int64_t mi = h0 * W + w0;
      if (p->kh == 3 && p->kw == 3 && h1 - h0 == 3 && w1 - w0 == 3) { /* the stem's interior windows */
        const float *r = xp + h0 * W + w0;
        const int64_t off[9] = {0, 1, 2, W, W + 1, W + 2, 2 * W, 2 * W + 1, 2 * W + 2};
        for (int k = 0; k < 9; k++) {
          float v = r[off[k]];
          if (v > m || isnan(v)) m = v, mi = h0 * W + w0 + off[k];
        }
      } else {
        for (int64_t ih = h0; ih < h1; ih++) {
          const float *r = xp + ih * W;
          for (int64_t iw = w0; iw < w1; iw++)
            if (r[iw] > m || isnan(r[iw])) m = r[iw], mi = ih * W + iw;
        }
      }
      yp[oh * OW + ow] = m;
      ip[oh * OW + ow] = (int32_t)mi;
    }
  }
}

void gz_par_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx) {
  int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < x->shape[0] * C; nc++)
    pool_plane(gz_plane(x, nc / C, nc % C), H, W, p, gz_plane(y, nc / C, nc % C), idx + nc * OH * OW, OH, OW);
}

void gz_par_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate) {
  int64_t C = dx->shape[1], HW = dx->shape[2] * dx->shape[3], OHW = dy->shape[2] * dy->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < dx->shape[0] * C; nc++) {
    float *xp = gz_plane(dx, nc / C, nc % C);
    const float *gp = gz_plane(dy, nc / C, nc % C);
    const int32_t *ip = idx + nc * OHW;
    if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)HW);
    for (int64_t o = 0; o < OHW; o++) xp[ip[o]] += gp[o];
  }
}

static inline int64_t nearest_src(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  int64_t s = (int64_t)floorf((float)dst * ((float)in / (float)out));
  return s < in - 1 ? s : in - 1;
}

void gz_par_up_nearest_fwd(const gz_tensor *x, gz_tensor *y) {
  int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < x->shape[0] * C; nc++) {
    const float *xp = gz_plane(x, nc / C, nc % C);
    float *yp = gz_plane(y, nc / C, nc % C);
    int32_t cols[MAX_COLS];
    int tab = OW <= MAX_COLS;
    if (tab)
      for (int64_t ow = 0; ow < OW; ow++) cols[ow] = (int32_t)nearest_src(ow, W, OW);
    int64_t prev = -1;
    for (int64_t oh = 0; oh < OH; oh++) {
      int64_t ih = nearest_src(oh, H, OH);
      float *yr = yp + oh * OW;
      if (ih == prev) { /* the same source row again: copy the row just made */
        memcpy(yr, yr - OW, sizeof(float) * (size_t)OW);
        continue;
      }
      const float *xr = xp + ih * W;
      for (int64_t ow = 0; ow < OW; ow++) yr[ow] = xr[tab ? cols[ow] : nearest_src(ow, W, OW)];
      prev = ih;
    }
  }
}

void gz_par_up_nearest_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  int64_t C = dx->shape[1], H = dx->shape[2], W = dx->shape[3], OH = dy->shape[2], OW = dy->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < dx->shape[0] * C; nc++) {
    float *xp = gz_plane(dx, nc / C, nc % C);
    const float *gp = gz_plane(dy, nc / C, nc % C);
    int32_t cols[MAX_COLS];
    int tab = OW <= MAX_COLS;
    if (tab)
      for (int64_t ow = 0; ow < OW; ow++) cols[ow] = (int32_t)nearest_src(ow, W, OW);
    if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)(H * W));
    for (int64_t oh = 0; oh < OH; oh++) {
      float *xr = xp + nearest_src(oh, H, OH) * W;
      const float *gr = gp + oh * OW;
      for (int64_t ow = 0; ow < OW; ow++) xr[tab ? cols[ow] : nearest_src(ow, W, OW)] += gr[ow];
    }
  }
}

typedef struct {
  int32_t i0, i1;
  float l1;
} lin_tap;

static inline lin_tap linear_src(int64_t dst, int64_t in, int64_t out) {
  float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f, src = scale * (float)dst;
  lin_tap t;
  t.i0 = (int32_t)src;
  t.i1 = t.i0 + (t.i0 < in - 1);
  t.l1 = src - (float)t.i0;
  t.l1 = t.l1 < 0 ? 0 : t.l1 > 1 ? 1 : t.l1;
  return t;
}

void gz_par_up_bilinear_fwd(const gz_tensor *x, gz_tensor *y) {
  int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < x->shape[0] * C; nc++) {
    const float *xp = gz_plane(x, nc / C, nc % C);
    float *yp = gz_plane(y, nc / C, nc % C);
    lin_tap cols[MAX_COLS];
    int tab = OW <= MAX_COLS;
    if (tab)
      for (int64_t ow = 0; ow < OW; ow++) cols[ow] = linear_src(ow, W, OW);
    for (int64_t oh = 0; oh < OH; oh++) {
      lin_tap r = linear_src(oh, H, OH);
      const float *t = xp + r.i0 * W, *b = xp + r.i1 * W;
      float l0 = 1 - r.l1;
      for (int64_t ow = 0; ow < OW; ow++) {
        lin_tap c = tab ? cols[ow] : linear_src(ow, W, OW);
        float c0 = 1 - c.l1;
        yp[oh * OW + ow] = (t[c.i0] * c0 + t[c.i1] * c.l1) * l0 + (b[c.i0] * c0 + b[c.i1] * c.l1) * r.l1;
      }
    }
  }
}

void gz_par_up_bilinear_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  int64_t C = dx->shape[1], H = dx->shape[2], W = dx->shape[3], OH = dy->shape[2], OW = dy->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < dx->shape[0] * C; nc++) {
    float *xp = gz_plane(dx, nc / C, nc % C);
    const float *gp = gz_plane(dy, nc / C, nc % C);
    lin_tap cols[MAX_COLS];
    int tab = OW <= MAX_COLS;
    if (tab)
      for (int64_t ow = 0; ow < OW; ow++) cols[ow] = linear_src(ow, W, OW);
    if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)(H * W));
    for (int64_t oh = 0; oh < OH; oh++) {
      lin_tap r = linear_src(oh, H, OH);
      float *t = xp + r.i0 * W, *b = xp + r.i1 * W, l0 = 1 - r.l1;
      for (int64_t ow = 0; ow < OW; ow++) {
        lin_tap c = tab ? cols[ow] : linear_src(ow, W, OW);
        float g = gp[oh * OW + ow], c0 = 1 - c.l1;
        t[c.i0] += g * l0 * c0;
        t[c.i1] += g * l0 * c.l1;
        b[c.i0] += g * r.l1 * c0;
        b[c.i1] += g * r.l1 * c.l1;
      }
    }
  }
}
