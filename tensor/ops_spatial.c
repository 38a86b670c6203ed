/* Parallel pooling and upsampling shared by every CPU table: OpenMP over the N*C planes (each plane is
 * written by one thread in a fixed order, so the scatter-adds of the backward passes are deterministic),
 * with the per-row and per-column index arithmetic hoisted out of the inner loops. Same semantics as
 * ops_ref_spatial.c, which the tests hold these to. */
#include <math.h>
#include <string.h>

#include "tensor/ops_internal.h"

#define MAX_COLS 4096 /* per-column tables on the stack up to this width; wider rows compute inline */

/* One output of a clipped window, PyTorch's scan: the first maximum wins, a NaN always takes over. */
static inline void pool_window(const float *xp, int64_t W, int64_t h0, int64_t h1, int64_t w0, int64_t w1, float *y,
                               int32_t *i) {
  float m = -INFINITY;
  int64_t mi = h0 * W + w0;
  for (int64_t ih = h0; ih < h1; ih++)
    for (int64_t iw = w0; iw < w1; iw++) {
      float v = xp[ih * W + iw];
      if (v > m || isnan(v)) m = v, mi = ih * W + iw;
    }
  *y = m;
  *i = (int32_t)mi;
}

/* Interior 3x3 windows (the stem's pool): branch-free selects, since with real data the comparisons are
 * unpredictable and mispredicted branches, not memory, would set the speed. Same scan order and rules;
 * starting from the first element is the same as starting from -inf with its index. */
static void pool3x3_row(const float *r0, int64_t W, int64_t sw, int64_t n, int64_t base, float *y, int32_t *idx) {
  const float *r1 = r0 + W, *r2 = r1 + W;
  for (int64_t o = 0; o < n; o++) {
    const float *a = r0 + o * sw, *b = r1 + o * sw, *c = r2 + o * sw;
    const float v[9] = {a[0], a[1], a[2], b[0], b[1], b[2], c[0], c[1], c[2]};
    float m = v[0];
    int k = 0;
    for (int j = 1; j < 9; j++) {
      int t = (v[j] > m) | (v[j] != v[j]);
      m = t ? v[j] : m;
      k = t ? j : k;
    }
    y[o] = m;
    idx[o] = (int32_t)(base + o * sw + (k / 3) * W + k % 3);
  }
}

static void pool_plane(const float *xp, int64_t H, int64_t W, const gz_pool2d *p, float *yp, int32_t *ip, int64_t OH,
                       int64_t OW) {
  /* output columns whose window lies inside the input: [ow0, ow1) */
  int64_t ow0 = (p->pw + p->sw - 1) / p->sw, ow1 = (W + p->pw - p->kw) / p->sw + 1;
  if (ow1 > OW) ow1 = OW;
  if (ow0 > ow1) ow0 = ow1;
  for (int64_t oh = 0; oh < OH; oh++) {
    int64_t h0 = oh * p->sh - p->ph, h1 = h0 + p->kh < H ? h0 + p->kh : H;
    int full = h0 >= 0 && h1 - h0 == p->kh && p->kh == 3 && p->kw == 3;
    if (h0 < 0) h0 = 0;
    for (int64_t ow = 0; ow < OW; ow++) {
      if (full && ow == ow0 && ow1 > ow0) {
        int64_t w0 = ow0 * p->sw - p->pw;
        pool3x3_row(xp + h0 * W + w0, W, p->sw, ow1 - ow0, h0 * W + w0, yp + oh * OW + ow0, ip + oh * OW + ow0);
        ow = ow1 - 1;
        continue;
      }
      int64_t w0 = ow * p->sw - p->pw, w1 = w0 + p->kw < W ? w0 + p->kw : W;
      pool_window(xp, W, h0, h1, w0 < 0 ? 0 : w0, w1, yp + oh * OW + ow, ip + oh * OW + ow);
    }
  }
}

void gz_par_maxpool_fwd_stem(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx,
                             gz_pool_plane_fn stem) {
  int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
  if (!(p->kh == 3 && p->kw == 3 && p->sh == 2 && p->sw == 2 && p->ph == 1 && p->pw == 1)) stem = NULL;
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < x->shape[0] * C; nc++) {
    const float *xp = gz_plane(x, nc / C, nc % C);
    float *yp = gz_plane(y, nc / C, nc % C);
    int32_t *ip = idx + nc * OH * OW;
    if (!stem || !stem(xp, H, W, yp, ip, OH, OW)) pool_plane(xp, H, W, p, yp, ip, OH, OW);
  }
}

void gz_par_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx) {
  gz_par_maxpool_fwd_stem(x, p, y, idx, NULL);
}

/* One plane of the backward pass as the reference does it: dx[idx[o]] += dy[o] for o in order, once every index
 * is known to lie in the plane. Returns -1, or the first o whose index does not (then dx is not touched). */
static int64_t pool_bwd_scatter(const float *gp, const int32_t *ip, float *xp, int64_t HW, int64_t OHW, int accumulate) {
  for (int64_t o = 0; o < OHW; o++)
    if (ip[o] < 0 || ip[o] >= HW) return o;
  if (!accumulate) memset(xp, 0, sizeof(float) * (size_t)HW);
  for (int64_t o = 0; o < OHW; o++) xp[ip[o]] += gp[o];
  return -1;
}

int64_t gz_par_maxpool_bwd_gather(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate,
                                  gz_pool_bwd_plane_fn gather, int stream) {
  int64_t C = dx->shape[1], H = dx->shape[2], W = dx->shape[3], OH = dy->shape[2], OW = dy->shape[3], bad = INT64_MAX;
  /* the stem's pool's output size; the gather checks each plane's indices against its windows itself */
  if (gather && (accumulate || OH != (H - 1) / 2 + 1 || OW != (W - 1) / 2 + 1)) gather = NULL;
#pragma omp parallel for schedule(static) reduction(min : bad)
  for (int64_t nc = 0; nc < dx->shape[0] * C; nc++) {
    float *xp = gz_plane(dx, nc / C, nc % C);
    const float *gp = gz_plane(dy, nc / C, nc % C);
    const int32_t *ip = idx + nc * OH * OW;
    if (gather && gather(gp, ip, xp, H, W, OH, OW, stream)) continue;
    int64_t o = pool_bwd_scatter(gp, ip, xp, H * W, OH * OW, accumulate);
    if (o >= 0 && nc * OH * OW + o < bad) bad = nc * OH * OW + o; /* the first bad plane's, whatever the threads */
  }
  return bad == INT64_MAX ? -1 : bad;
}

int64_t gz_par_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate) {
  return gz_par_maxpool_bwd_gather(dy, idx, dx, accumulate, NULL, 0);
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

/* Source index in double as PyTorch does (see ops_ref_spatial.c); the weight is then a float. */
static inline lin_tap linear_src(int64_t dst, int64_t in, int64_t out) {
  double scale = out > 1 ? (double)(in - 1) / (double)(out - 1) : 0.0, src = scale * (double)dst;
  lin_tap t;
  t.i0 = (int32_t)src;
  t.i1 = t.i0 + (t.i0 < in - 1);
  double l = src - (double)t.i0;
  t.l1 = (float)(l < 0 ? 0 : l > 1 ? 1 : l);
  return t;
}

void gz_lin_row(const float *restrict t, const float *restrict b, int64_t W, float l0, float l1, const int32_t *i0,
                const int32_t *i1, const float *c0, const float *c1, int64_t OW, float *restrict row, float *restrict y) {
  for (int64_t w = 0; w < W; w++) row[w] = t[w] * l0 + b[w] * l1;
  for (int64_t ow = 0; ow < OW; ow++) y[ow] = row[i0[ow]] * c0[ow] + row[i1[ow]] * c1[ow];
}

void gz_par_up_bilinear_fwd_rows(const gz_tensor *x, gz_tensor *y, gz_lin_row_fn lin_row) {
  int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < x->shape[0] * C; nc++) {
    const float *xp = gz_plane(x, nc / C, nc % C);
    float *yp = gz_plane(y, nc / C, nc % C);
    if (OW <= MAX_COLS && W <= MAX_COLS) { /* blend the two source rows once, then interpolate along the blend */
      int32_t i0[MAX_COLS], i1[MAX_COLS];
      float c0[MAX_COLS], c1[MAX_COLS], row[MAX_COLS + GZ_LIN_SLACK];
      for (int64_t ow = 0; ow < OW; ow++) {
        lin_tap c = linear_src(ow, W, OW);
        i0[ow] = c.i0, i1[ow] = c.i1, c0[ow] = 1 - c.l1, c1[ow] = c.l1;
      }
      memset(row + W, 0, sizeof(float) * GZ_LIN_SLACK);
      for (int64_t oh = 0; oh < OH; oh++) {
        lin_tap r = linear_src(oh, H, OH);
        lin_row(xp + r.i0 * W, xp + r.i1 * W, W, 1 - r.l1, r.l1, i0, i1, c0, c1, OW, row, yp + oh * OW);
      }
      continue;
    }
    for (int64_t oh = 0; oh < OH; oh++) {
      lin_tap r = linear_src(oh, H, OH);
      const float *t = xp + r.i0 * W, *b = xp + r.i1 * W;
      float l0 = 1 - r.l1;
      for (int64_t ow = 0; ow < OW; ow++) {
        lin_tap c = linear_src(ow, W, OW);
        float c0 = 1 - c.l1;
        yp[oh * OW + ow] = (t[c.i0] * c0 + t[c.i1] * c.l1) * l0 + (b[c.i0] * c0 + b[c.i1] * c.l1) * r.l1;
      }
    }
  }
}

void gz_par_up_bilinear_fwd(const gz_tensor *x, gz_tensor *y) { gz_par_up_bilinear_fwd_rows(x, y, gz_lin_row); }

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
    if (tab && W <= MAX_COLS) { /* gather one output row along W first, then add it to its two rows */
      float row[MAX_COLS];
      for (int64_t oh = 0; oh < OH; oh++) {
        lin_tap r = linear_src(oh, H, OH);
        const float *gr = gp + oh * OW;
        memset(row, 0, sizeof(float) * (size_t)W);
        for (int64_t ow = 0; ow < OW; ow++) {
          row[cols[ow].i0] += gr[ow] * (1 - cols[ow].l1);
          row[cols[ow].i1] += gr[ow] * cols[ow].l1;
        }
        float *t = xp + r.i0 * W, *b = xp + r.i1 * W;
        const float l0 = 1 - r.l1, l1 = r.l1;
        for (int64_t w = 0; w < W; w++) t[w] += row[w] * l0;
        for (int64_t w = 0; w < W; w++) b[w] += row[w] * l1;
      }
      continue;
    }
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
