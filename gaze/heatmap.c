/* Eye-tracking heatmaps (method.md section 4, gotcha 6; the authors' create_heatmap), fast and exact up to a
 * stated truncation bound.
 *
 * The authors add, per fixation f overlapping the window, w_f * N(y,x; (y_f,x_f), diag(sy^2, sx^2)) at the
 * integer pixels of the shown rectangle, and divide by the maximum. That pdf is separable:
 *     F(y,x) = sum_f a_f gy_f(y) gx_f(x),  a_f = w_f / (2 pi sx sy),  g(i) = exp(-(i-mu)^2 / (2 s^2)),
 * with gx_f, gy_f zero outside the rectangle. Three consequences make it fast:
 *   1. each profile is truncated at +-k sigma (default k = 6). Every omitted value is at most
 *      a_f exp(-k^2/2), so before normalization 0 <= F - F_trunc <= E = exp(-k^2/2) sum_f a_f, and after it
 *      |F/M - F_trunc/M_trunc| <= E / M_trunc (both ratios lie in that interval; see docs/gaze.md);
 *   2. the image geometry (resize + pad + resize) is linear and separable, so the 512x512 map is
 *      sum_f a_f/M (Ay gy_f)(Ax gx_f)^T: each fixation is projected to 512 once per reading and a window
 *      costs one small outer product per fixation;
 *   3. M, the maximum over the full-resolution grid, is found exactly without the full-resolution map:
 *      on blocks of BxB pixels, sum_f a_f max_block(gy_f) max_block(gx_f) bounds F from above and a sample
 *      pixel bounds M from below; only blocks whose upper bound reaches the best value found are
 *      evaluated pixel by pixel (branch and bound, in descending bound order).
 * Profiles use the recurrence g(i+1) = g(i) r(i), r(i+1) = r(i) exp(-1/s^2), restarted from exp() every
 * 32 samples, so relative error stays near 1e-14. */
#include "gaze/gaze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct prof {
  int a, b;         /* full-resolution support [a, b) */
  size_t g;         /* offset of g[b-a] in the double arena */
  int ba, bb;       /* block range [ba, bb) */
  size_t bmax, bmid; /* offsets of per-block max and mid-sample values */
  int A, B;         /* output support [A, B) */
  size_t p;         /* offset of the projected profile in the float arena */
} prof;

struct gz_heat {
  int n, W, H, S, blk, nbx, nby;
  double k;
  const gz_fixation *f;
  const gz_geom *g;
  prof *px, *py;
  double *norm; /* 1/(2 pi sx sy) */
  double *arena;
  float *farena;
  /* scratch for one window */
  double *a;    /* a_f per fixation, 0 when inactive */
  int *act, nact;
  double *ub, *lb, *blkbuf;
  int *cand;
};

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void gauss_profile(double mu, double s, int a, int b, double *g) {
  double q = exp(-1.0 / (s * s)), inv = 1.0 / (2 * s * s), r = 0, v = 0;
  for (int i = a; i < b; i++) {
    if ((i - a) % 32 == 0) {
      double d = i - mu;
      v = exp(-d * d * inv);
      r = exp(-(2 * d + 1) * inv);
    } else {
      v *= r;
      r *= q;
    }
    g[i - a] = v;
  }
}

/* Support of one axis: the rectangle [r0, r1) clipped to the image [0, n) and to mu +- k s. */
static void support(double mu, double s, double k, int r0, int r1, int n, int *a, int *b) {
  double lo = ceil(mu - k * s), hi = floor(mu + k * s) + 1;
  long A = r0 > 0 ? r0 : 0, B = r1 < n ? r1 : n;
  if (lo > A) A = lo > (double)n ? n : (long)lo;
  if (hi < B) B = hi < 0 ? 0 : (long)hi;
  if (B < A) B = A;
  *a = (int)A;
  *b = (int)B;
}

static size_t blocks_of(int a, int b, int blk, int *ba, int *bb) {
  if (b <= a) {
    *ba = *bb = 0;
    return 0;
  }
  *ba = a / blk;
  *bb = (b - 1) / blk + 1;
  return (size_t)(*bb - *ba);
}

/* First pass sizes the arenas, second fills them. */
static void fill_axis(gz_heat *h, prof *p, double mu, double s, int r0, int r1, int n, const gz_axis *ax, size_t *doff,
                      size_t *foff, int fill) {
  support(mu, s, h->k, r0, r1, n, &p->a, &p->b);
  int len = p->b - p->a;
  p->g = *doff;
  *doff += (size_t)len;
  size_t nb = blocks_of(p->a, p->b, h->blk, &p->ba, &p->bb);
  p->bmax = *doff;
  p->bmid = *doff + nb;
  *doff += 2 * nb;
  p->A = p->B = 0;
  if (ax && len > 0) {
    int A = ax->n_out, B = 0;
    for (int o = 0; o < ax->n_out; o++)
      if (ax->len[o] && ax->lo[o] < p->b && ax->lo[o] + ax->len[o] > p->a) {
        if (o < A) A = o;
        B = o + 1;
      }
    if (B > A) {
      p->A = A;
      p->B = B;
    }
  }
  p->p = *foff;
  *foff += (size_t)(p->B - p->A);
  if (!fill || len <= 0) return;
  double *g = h->arena + p->g;
  gauss_profile(mu, s, p->a, p->b, g);
  double *bmax = h->arena + p->bmax, *bmid = h->arena + p->bmid;
  for (int bk = p->ba; bk < p->bb; bk++) {
    int lo = bk * h->blk, hi = lo + h->blk, mid = clampi(lo + h->blk / 2, 0, n - 1);
    double m = 0;
    for (int i = lo > p->a ? lo : p->a; i < (hi < p->b ? hi : p->b); i++)
      if (g[i - p->a] > m) m = g[i - p->a];
    bmax[bk - p->ba] = m;
    bmid[bk - p->ba] = mid >= p->a && mid < p->b ? g[mid - p->a] : 0;
  }
  if (ax) {
    float *out = h->farena + p->p;
    for (int o = p->A; o < p->B; o++) {
      const double *w = ax->w + ax->off[o] - ax->lo[o];
      int lo = ax->lo[o] > p->a ? ax->lo[o] : p->a, hi = ax->lo[o] + ax->len[o] < p->b ? ax->lo[o] + ax->len[o] : p->b;
      double acc = 0;
      for (int i = lo; i < hi; i++) acc += w[i] * g[i - p->a];
      out[o - p->A] = (float)acc;
    }
  }
}

void gz_heat_free(gz_heat *h) {
  if (!h) return;
  free(h->px);
  free(h->py);
  free(h->norm);
  free(h->arena);
  free(h->farena);
  free(h->a);
  free(h->act);
  free(h->ub);
  free(h->lb);
  free(h->blkbuf);
  free(h->cand);
  free(h);
}

gz_heat *gz_heat_new(const gz_fixation *f, int nfix, int width, int height, const gz_geom *g, const gz_heat_opts *o,
                     gz_err *e) {
  gz_heat_opts opts = o ? *o : GZ_HEAT_OPTS_DEFAULT;
  if (width < 1 || height < 1 || nfix < 0 || !(opts.k_sigma > 0) || opts.k_sigma > 40 || opts.block < 1 ||
      opts.block > 4096) {
    gz_fail(e, GZ_EINVAL, "heatmap: bad arguments (%dx%d image, %d fixations, k %g, block %d)", width, height, nfix,
            opts.k_sigma, opts.block);
    return NULL;
  }
  if (g && (g->h != height || g->w != width)) {
    gz_fail(e, GZ_EINVAL, "heatmap: geometry made for %dx%d, image is %dx%d", g->w, g->h, width, height);
    return NULL;
  }
  gz_heat *h = gz_calloc(1, sizeof *h, e);
  if (!h) return NULL;
  *h = (gz_heat){.n = nfix, .W = width, .H = height, .S = g ? g->size : 0, .blk = opts.block, .k = opts.k_sigma,
                 .f = f, .g = g};
  h->nbx = (width + h->blk - 1) / h->blk;
  h->nby = (height + h->blk - 1) / h->blk;
  size_t nf = (size_t)(nfix ? nfix : 1), nb = (size_t)h->nbx * h->nby;
  h->px = gz_malloc(sizeof *h->px * nf, e);
  h->py = gz_malloc(sizeof *h->py * nf, e);
  h->norm = gz_malloc(sizeof *h->norm * nf, e);
  h->a = gz_malloc(sizeof *h->a * nf, e);
  h->act = gz_malloc(sizeof *h->act * nf, e);
  h->ub = gz_malloc(sizeof *h->ub * nb, e);
  h->lb = gz_malloc(sizeof *h->lb * nb, e);
  h->cand = gz_malloc(sizeof *h->cand * nb, e);
  h->blkbuf = gz_malloc(sizeof *h->blkbuf * (size_t)h->blk * h->blk, e);
  if (!h->px || !h->py || !h->norm || !h->a || !h->act || !h->ub || !h->lb || !h->cand || !h->blkbuf) goto fail;
  size_t doff = 0, foff = 0;
  for (int pass = 0; pass < 2; pass++) {
    doff = foff = 0;
    for (int i = 0; i < nfix; i++) {
      fill_axis(h, &h->px[i], f[i].x, f[i].sx, f[i].rx0, f[i].rx1, width, g ? &g->ax : NULL, &doff, &foff, pass);
      fill_axis(h, &h->py[i], f[i].y, f[i].sy, f[i].ry0, f[i].ry1, height, g ? &g->ay : NULL, &doff, &foff, pass);
      h->norm[i] = 1.0 / (2 * M_PI * f[i].sx * f[i].sy);
    }
    if (pass == 0) {
      h->arena = gz_malloc(sizeof *h->arena * (doff ? doff : 1), e);
      h->farena = gz_malloc(sizeof *h->farena * (foff ? foff : 1), e);
      if (!h->arena || !h->farena) goto fail;
    }
  }
  return h;
fail:
  gz_heat_free(h);
  return NULL;
}

/* Candidate blocks live in a max-heap keyed by their upper bound (no global comparator: thread-safe). */
static void sift_down(int *hp, int n, int i, const double *ub) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && ub[hp[l]] > ub[hp[m]]) m = l;
    if (r < n && ub[hp[r]] > ub[hp[m]]) m = r;
    if (m == i) return;
    int t = hp[i];
    hp[i] = hp[m];
    hp[m] = t;
    i = m;
  }
}

/* Selects the window's fixations and weights; returns the count with a positive weight and support. */
static int select_window(gz_heat *h, double t0, double t1, double *sum_a) {
  h->nact = 0;
  *sum_a = 0;
  for (int i = 0; i < h->n; i++) {
    const gz_fixation *f = &h->f[i];
    h->a[i] = 0;
    if (!(f->t1 > t0 && f->t0 <= t1)) continue; /* the authors' inclusion test */
    double w = (f->t1 < t1 ? f->t1 : t1) - (f->t0 > t0 ? f->t0 : t0);
    if (!(w > 0)) continue; /* zero (or, for an inverted window, negative) overlap adds nothing */
    if (h->px[i].b <= h->px[i].a || h->py[i].b <= h->py[i].a) continue; /* nothing drawn inside the image */
    h->a[i] = w * h->norm[i];
    *sum_a += h->a[i];
    h->act[h->nact++] = i;
  }
  return h->nact;
}

/* Exact maximum over the full-resolution grid of the truncated map (branch and bound on blocks). */
static double exact_max(gz_heat *h) {
  size_t nb = (size_t)h->nbx * h->nby;
  memset(h->ub, 0, sizeof *h->ub * nb);
  memset(h->lb, 0, sizeof *h->lb * nb);
  for (int k = 0; k < h->nact; k++) {
    int i = h->act[k];
    const prof *px = &h->px[i], *py = &h->py[i];
    const double *mx = h->arena + px->bmax, *cx = h->arena + px->bmid;
    for (int by = py->ba; by < py->bb; by++) {
      double vu = h->a[i] * h->arena[py->bmax + (size_t)(by - py->ba)];
      double vl = h->a[i] * h->arena[py->bmid + (size_t)(by - py->ba)];
      double *ub = h->ub + (size_t)by * h->nbx + px->ba, *lb = h->lb + (size_t)by * h->nbx + px->ba;
      for (int j = 0; j < px->bb - px->ba; j++) {
        ub[j] += vu * mx[j];
        lb[j] += vl * cx[j];
      }
    }
  }
  double best = 0;
  for (size_t b = 0; b < nb; b++)
    if (h->lb[b] > best) best = h->lb[b];
  int nc = 0;
  for (size_t b = 0; b < nb; b++)
    if (h->ub[b] > 0 && h->ub[b] * (1 + 1e-12) >= best) h->cand[nc++] = (int)b;
  for (int i = nc / 2 - 1; i >= 0; i--) sift_down(h->cand, nc, i, h->ub);
  int B = h->blk;
  while (nc > 0) {
    int b = h->cand[0];
    if (h->ub[b] * (1 + 1e-12) < best) break; /* no block left can beat the best pixel */
    h->cand[0] = h->cand[--nc];
    sift_down(h->cand, nc, 0, h->ub);
    int by = b / h->nbx, bx = b % h->nbx, y0 = by * B, x0 = bx * B;
    int y1 = y0 + B < h->H ? y0 + B : h->H, x1 = x0 + B < h->W ? x0 + B : h->W;
    double *buf = h->blkbuf;
    memset(buf, 0, sizeof *buf * (size_t)B * B);
    for (int k = 0; k < h->nact; k++) {
      int i = h->act[k];
      const prof *px = &h->px[i], *py = &h->py[i];
      int ya = py->a > y0 ? py->a : y0, yb = py->b < y1 ? py->b : y1;
      int xa = px->a > x0 ? px->a : x0, xb = px->b < x1 ? px->b : x1;
      if (ya >= yb || xa >= xb) continue;
      const double *gx = h->arena + px->g - px->a, *gy = h->arena + py->g - py->a;
      for (int y = ya; y < yb; y++) {
        double v = h->a[i] * gy[y];
        double *row = buf + (size_t)(y - y0) * B - x0;
        for (int x = xa; x < xb; x++) row[x] += v * gx[x];
      }
    }
    for (int y = 0; y < y1 - y0; y++)
      for (int x = 0; x < x1 - x0; x++)
        if (buf[(size_t)y * B + x] > best) best = buf[(size_t)y * B + x];
  }
  return best;
}

int gz_heat_window(gz_heat *h, double t0, double t1, float *out, double *bound, gz_err *e) {
  if (!h->g) return gz_fail(e, GZ_EINVAL, "heatmap: made without a geometry; use gz_heat_window_full");
  double sum_a;
  if (!select_window(h, t0, t1, &sum_a)) return 0;
  double M = exact_max(h);
  if (!(M > 0)) return 0;
  int S = h->S;
  memset(out, 0, sizeof *out * (size_t)S * S);
  for (int k = 0; k < h->nact; k++) {
    int i = h->act[k];
    const prof *px = &h->px[i], *py = &h->py[i];
    if (px->B <= px->A || py->B <= py->A) continue;
    const float *fx = h->farena + px->p, *fy = h->farena + py->p;
    float c = (float)(h->a[i] / M);
    int n = px->B - px->A;
    for (int Y = py->A; Y < py->B; Y++) {
      float v = c * fy[Y - py->A];
      float *row = out + (size_t)Y * S + px->A;
      for (int j = 0; j < n; j++) row[j] += v * fx[j];
    }
  }
  if (bound) *bound = exp(-h->k * h->k / 2) * sum_a / M;
  return 1;
}

int gz_heat_window_full(gz_heat *h, double t0, double t1, float *out, double *bound, gz_err *e) {
  (void)e;
  double sum_a;
  if (!select_window(h, t0, t1, &sum_a)) return 0;
  double M = exact_max(h);
  if (!(M > 0)) return 0;
  size_t n = (size_t)h->W * h->H;
  double *acc = gz_calloc(n, sizeof *acc, e);
  if (!acc) return -1;
  for (int k = 0; k < h->nact; k++) {
    int i = h->act[k];
    const prof *px = &h->px[i], *py = &h->py[i];
    const double *gx = h->arena + px->g, *gy = h->arena + py->g;
    for (int y = py->a; y < py->b; y++) {
      double v = h->a[i] * gy[y - py->a];
      double *row = acc + (size_t)y * h->W;
      for (int x = px->a; x < px->b; x++) row[x] += v * gx[x - px->a];
    }
  }
  for (size_t i = 0; i < n; i++) out[i] = (float)(acc[i] / M);
  free(acc);
  if (bound) *bound = exp(-h->k * h->k / 2) * sum_a / M;
  return 1;
}
