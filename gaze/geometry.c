/* The image geometry (method.md section 7): utils_dataset.XRayResizerPadRound32(512) followed by
 * transforms.Resize(512, antialias=True), on float planes.
 *
 * Antialiased bilinear resampling is torch's _upsample_bilinear2d_aa (the same as PIL's BILINEAR):
 * for output index i, scale = in/out, center = scale*(i+0.5), support = max(scale,1), the taps
 * j in [trunc(center-support+0.5) clipped at 0, trunc(center+support+0.5) clipped at in) get the
 * triangle weight max(0, 1-|(j-center+0.5)/max(scale,1)|), normalized to sum 1. */
#include "gaze/gaze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void gz_axis_free(gz_axis *a) {
  free(a->lo);
  free(a->len);
  free(a->off);
  free(a->w);
  memset(a, 0, sizeof *a);
}

static int axis_alloc(gz_axis *a, int n_in, int n_out, size_t nw, gz_err *e) {
  memset(a, 0, sizeof *a);
  a->n_in = n_in;
  a->n_out = n_out;
  a->lo = gz_malloc(sizeof *a->lo * (size_t)n_out, e);
  a->len = gz_malloc(sizeof *a->len * (size_t)n_out, e);
  a->off = gz_malloc(sizeof *a->off * (size_t)(n_out + 1), e);
  a->w = gz_malloc(sizeof *a->w * (nw ? nw : 1), e);
  if (!a->lo || !a->len || !a->off || !a->w) {
    gz_axis_free(a);
    return -1;
  }
  return 0;
}

/* One antialiased-bilinear stage n_in -> n_out. */
static int aa_axis(int n_in, int n_out, gz_axis *a, gz_err *e) {
  double scale = (double)n_in / n_out;
  double support = scale >= 1.0 ? scale : 1.0, inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  size_t maxtaps = (size_t)ceil(support) * 2 + 2;
  if (axis_alloc(a, n_in, n_out, maxtaps * (size_t)n_out, e)) return -1;
  size_t off = 0;
  for (int i = 0; i < n_out; i++) {
    double center = scale * (i + 0.5);
    long lo = (long)(center - support + 0.5), hi = (long)(center + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > n_in) hi = n_in;
    double total = 0;
    a->lo[i] = (int)lo;
    a->len[i] = (int)(hi - lo);
    a->off[i] = off;
    for (long j = lo; j < hi; j++) {
      double x = fabs((j - center + 0.5) * inv);
      double wt = x < 1.0 ? 1.0 - x : 0.0;
      a->w[off + (size_t)(j - lo)] = wt;
      total += wt;
    }
    if (total != 0.0)
      for (long j = lo; j < hi; j++) a->w[off + (size_t)(j - lo)] /= total;
    off += (size_t)(hi - lo);
  }
  a->off[n_out] = off;
  return 0;
}

/* Resamples the rows (horizontal) or columns (vertical) of a plane through an axis. */
static void apply_h(const gz_axis *a, const float *in, int rows, float *out) {
  for (int r = 0; r < rows; r++) {
    const float *src = in + (size_t)r * a->n_in;
    float *dst = out + (size_t)r * a->n_out;
    for (int o = 0; o < a->n_out; o++) {
      const double *w = a->w + a->off[o];
      const float *s = src + a->lo[o];
      double acc = 0;
      for (int j = 0; j < a->len[o]; j++) acc += w[j] * s[j];
      dst[o] = (float)acc;
    }
  }
}

static void apply_v(const gz_axis *a, const float *in, int cols, float *out) {
  for (int o = 0; o < a->n_out; o++) {
    float *dst = out + (size_t)o * cols;
    const double *w = a->w + a->off[o];
    for (int c = 0; c < cols; c++) dst[c] = 0;
    for (int j = 0; j < a->len[o]; j++) {
      const float *s = in + (size_t)(a->lo[o] + j) * cols;
      float wj = (float)w[j];
      for (int c = 0; c < cols; c++) dst[c] += wj * s[c];
    }
  }
}

int gz_resize_aa(const float *in, int h, int w, float *out, int oh, int ow, gz_err *e) {
  if (h < 1 || w < 1 || oh < 1 || ow < 1) return gz_fail(e, GZ_EINVAL, "resize: bad sizes %dx%d -> %dx%d", h, w, oh, ow);
  gz_axis ax = {0}, ay = {0};
  float *tmp = gz_malloc(sizeof *tmp * (size_t)h * (size_t)ow, e);
  if (!tmp || aa_axis(w, ow, &ax, e) || aa_axis(h, oh, &ay, e)) {
    free(tmp);
    gz_axis_free(&ax);
    gz_axis_free(&ay);
    return -1;
  }
  apply_h(&ax, in, h, tmp); /* horizontal first, then vertical, as torch and PIL do */
  apply_v(&ay, tmp, ow, out);
  free(tmp);
  gz_axis_free(&ax);
  gz_axis_free(&ay);
  return 0;
}

/* Sizes of XRayResizerPadRound32(size): stage-1 size, padded side, padding before. */
static int plan(int h, int w, int size, int *mh, int *mw, int *side, int *top, int *left, gz_err *e) {
  if (h < 1 || w < 1 || size < 1) return gz_fail(e, GZ_EINVAL, "geometry: bad sizes %dx%d -> %d", h, w, size);
  int mn = h < w ? h : w, mx = h > w ? h : w;
  /* get_32_size: round(size/min*max/16)*16 (Python round = half to even = nearbyint) */
  double L = nearbyint((double)size / mn * mx / 16.0) * 16.0;
  double ratio = L / mx; /* XRayResizerAR(L, max) */
  *mh = (int)nearbyint(h * ratio);
  *mw = (int)nearbyint(w * ratio);
  if (*mh < 1 || *mw < 1) return gz_fail(e, GZ_ERANGE, "geometry: %dx%d is too thin to resize", h, w);
  *side = *mh > *mw ? *mh : *mw;
  *top = (*side - *mh) / 2; /* floor before, ceil after */
  *left = (*side - *mw) / 2;
  return 0;
}

int gz_resize_pad(const float *in, int h, int w, float *out, int size, gz_err *e) {
  int mh, mw, side, top, left;
  if (plan(h, w, size, &mh, &mw, &side, &top, &left, e)) return -1;
  float *mid = gz_malloc(sizeof *mid * (size_t)mh * mw, e);
  float *sq = gz_calloc((size_t)side * side, sizeof *sq, e);
  int rc = -1;
  if (!mid || !sq) goto out;
  if (gz_resize_aa(in, h, w, mid, mh, mw, e)) goto out;
  for (int y = 0; y < mh; y++) memcpy(sq + (size_t)(y + top) * side + left, mid + (size_t)y * mw, sizeof *mid * mw);
  if (gz_resize_aa(sq, side, side, out, size, size, e)) goto out;
  rc = 0;
out:
  free(mid);
  free(sq);
  return rc;
}

/* Composes stage 1 (n_in -> mid), zero padding (mid -> side at offset pad) and stage 2 (side -> size). */
static int compose(int n_in, int mid, int side, int pad, int size, gz_axis *out, gz_err *e) {
  gz_axis s1, s2;
  if (aa_axis(n_in, mid, &s1, e)) return -1;
  if (aa_axis(side, size, &s2, e)) {
    gz_axis_free(&s1);
    return -1;
  }
  int rc = -1;
  /* spans first, to size the weight array */
  size_t total = 0;
  int *lo = gz_malloc(sizeof *lo * (size_t)size * 2, e);
  double *dense = gz_calloc((size_t)n_in, sizeof *dense, e);
  if (!lo || !dense) goto out;
  int *hi = lo + size;
  for (int o = 0; o < size; o++) {
    lo[o] = n_in;
    hi[o] = 0;
    for (int j = 0; j < s2.len[o]; j++) {
      int k = s2.lo[o] + j - pad;
      if (k < 0 || k >= mid) continue;
      if (s1.lo[k] < lo[o]) lo[o] = s1.lo[k];
      if (s1.lo[k] + s1.len[k] > hi[o]) hi[o] = s1.lo[k] + s1.len[k];
    }
    if (hi[o] < lo[o]) lo[o] = hi[o] = 0; /* an output in the padding */
    total += (size_t)(hi[o] - lo[o]);
  }
  if (axis_alloc(out, n_in, size, total, e)) goto out;
  size_t off = 0;
  for (int o = 0; o < size; o++) {
    for (int j = 0; j < s2.len[o]; j++) {
      int k = s2.lo[o] + j - pad;
      if (k < 0 || k >= mid) continue;
      double w2 = s2.w[s2.off[o] + (size_t)j];
      for (int i = 0; i < s1.len[k]; i++) dense[s1.lo[k] + i] += w2 * s1.w[s1.off[k] + (size_t)i];
    }
    out->lo[o] = lo[o];
    out->len[o] = hi[o] - lo[o];
    out->off[o] = off;
    for (int i = lo[o]; i < hi[o]; i++) {
      out->w[off++] = dense[i];
      dense[i] = 0;
    }
  }
  out->off[size] = off;
  rc = 0;
out:
  free(lo);
  free(dense);
  gz_axis_free(&s1);
  gz_axis_free(&s2);
  return rc;
}

int gz_geom_init(gz_geom *g, int h, int w, int size, gz_err *e) {
  memset(g, 0, sizeof *g);
  int top, left;
  if (plan(h, w, size, &g->mid_h, &g->mid_w, &g->side, &top, &left, e)) return -1;
  g->h = h;
  g->w = w;
  g->size = size;
  if (compose(h, g->mid_h, g->side, top, size, &g->ay, e)) return -1;
  if (compose(w, g->mid_w, g->side, left, size, &g->ax, e)) {
    gz_axis_free(&g->ay);
    return -1;
  }
  return 0;
}

void gz_geom_free(gz_geom *g) {
  if (!g) return;
  gz_axis_free(&g->ay);
  gz_axis_free(&g->ax);
}

int gz_geom_apply_crop(const gz_geom *g, const float *crop, int y0, int x0, int ch, int cw, float *out, gz_err *e) {
  int S = g->size;
  memset(out, 0, sizeof *out * (size_t)S * S);
  if (ch <= 0 || cw <= 0) return 0;
  float *tmp = gz_calloc((size_t)ch * S, sizeof *tmp, e);
  if (!tmp) return -1;
  for (int X = 0; X < S; X++) {
    int lo = g->ax.lo[X], hi = lo + g->ax.len[X];
    int a = lo > x0 ? lo : x0, b = hi < x0 + cw ? hi : x0 + cw;
    if (a >= b) continue;
    const double *w = g->ax.w + g->ax.off[X] - lo;
    for (int r = 0; r < ch; r++) {
      const float *src = crop + (size_t)r * cw - x0;
      double acc = 0;
      for (int x = a; x < b; x++) acc += w[x] * src[x];
      tmp[(size_t)r * S + X] = (float)acc;
    }
  }
  for (int Y = 0; Y < S; Y++) {
    int lo = g->ay.lo[Y], hi = lo + g->ay.len[Y];
    int a = lo > y0 ? lo : y0, b = hi < y0 + ch ? hi : y0 + ch;
    float *dst = out + (size_t)Y * S;
    for (int y = a; y < b; y++) {
      float wy = (float)g->ay.w[g->ay.off[Y] + (size_t)(y - lo)];
      const float *src = tmp + (size_t)(y - y0) * S;
      for (int X = 0; X < S; X++) dst[X] += wy * src[X];
    }
  }
  free(tmp);
  return 0;
}

void gz_maxpool(const float *in, int n, int k, float *out) {
  int m = n / k;
  for (int by = 0; by < m; by++)
    for (int bx = 0; bx < m; bx++) {
      float v = in[(size_t)by * k * n + (size_t)bx * k];
      for (int y = 0; y < k; y++)
        for (int x = 0; x < k; x++) {
          float u = in[(size_t)(by * k + y) * n + (size_t)bx * k + x];
          if (u > v) v = u;
        }
      out[(size_t)by * m + bx] = v;
    }
}

void gz_threshold(const float *in, size_t n, float thr, float *out) {
  for (size_t i = 0; i < n; i++) out[i] = in[i] > thr ? 1.0f : 0.0f;
}

int gz_map_targets(const float *map512, float thr, float *t256, float *b32, gz_err *e) {
  float p[32 * 32];
  float *mid = t256 ? t256 : gz_malloc(sizeof *mid * 256 * 256, e);
  if (!mid) return -1;
  gz_maxpool(map512, 512, 2, mid);
  if (b32) {
    gz_maxpool(mid, 256, 8, p);
    gz_threshold(p, 32 * 32, thr, b32);
  }
  if (!t256) free(mid);
  return 0;
}
