/* Every fast CPU table (scalar, AVX2, AVX-512: each the CPU has) against the reference kernels on
 * random shapes with odd sizes, batch 1 and 3, channel views with a batch stride, kernels larger than
 * the input with padding; and every kernel bitwise identical for 1, 2, 3 and 8 threads.
 *
 * Tolerances (max |fast - ref| <= atol + rtol |ref|), from how each fast kernel differs from its
 * reference:
 *   exact ops (ReLU, add, max-pool, nearest, copy, AMSGrad with the same fused roundings): bitwise.
 *   sigmoid family: the SIMD tables use float Cephes exp/log (a few ulp) against double libm:
 *   rtol 1e-6 (2e-6 for BCE, whose max(x,0) - x t rounds at the scale of x: atol 2e-6 for |x| <= 5).
 *   batch norm: the fast path sums in float over chunks of at most 4096 (16-64 lanes, so at most a
 *   few hundred sequential adds per lane, error ~ 1e-5 relative) and the reference in double.
 *   y and dx are O(1) values: atol = rtol = 2e-5 (dx: 5e-5, it subtracts two such sums).
 *   bilinear: float weights and products against double: rtol 2e-6, atol 2e-6 * max|x|.
 *   reductions: double sums in a different grouping, rounded to float once: rtol 1e-6. */
#include <math.h>
#include <omp.h>

#include "tensor/ops_internal.h"
#include "tensor/tensor.h"
#include "testutil.h"

typedef struct {
  const char *name;
  float *data;
  size_t n;
  double rtol, atol; /* 0, 0: bitwise */
} out_buf;

#define MAX_OUT 96
typedef struct {
  out_buf o[MAX_OUT];
  int n;
} outs;

static float *out_new(outs *os, const char *name, size_t n, double rtol, double atol) {
  ck_assert_int_lt(os->n, MAX_OUT);
  float *p = calloc(n ? n : 1, sizeof(float));
  os->o[os->n++] = (out_buf){name, p, n, rtol, atol};
  return p;
}
static void outs_free(outs *os) {
  for (int i = 0; i < os->n; i++) free(os->o[i].data);
  os->n = 0;
}

static void fill(float *p, size_t n, uint64_t seed, float lo, float hi) {
  gz_rng r;
  gz_rng_init(&r, seed, 7);
  for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * gz_rng_uniform(&r);
}

typedef struct {
  int64_t n, c, h, w;
  int view; /* inputs and outputs are channel views of wider buffers (batch stride > C*H*W) */
} shape4;

/* A tensor of shape s over fresh memory; with s.view, a channel view at channel 1 of a C+2 buffer. */
static gz_tensor t_new(outs *os, const char *name, shape4 s, uint64_t seed, float lo, float hi) {
  gz_err e = {0};
  int64_t cc = s.view ? s.c + 2 : s.c;
  size_t n = (size_t)(s.n * cc * s.h * s.w);
  float *p = out_new(os, name, n, 0, 0);
  if (seed) fill(p, n, seed, lo, hi);
  gz_tensor full, v;
  ck_assert_int_eq(gz_tensor_wrap4(&full, p, s.n, cc, s.h, s.w, &e), 0);
  ck_assert_int_eq(gz_tensor_channels(&full, s.view ? 1 : 0, s.c, &v, &e), 0);
  return v;
}
static void set_tol(outs *os, double rtol, double atol) {
  os->o[os->n - 1].rtol = rtol;
  os->o[os->n - 1].atol = atol;
}

/* Runs every entry of table t on inputs made from (s, seed); outputs are appended to os in a fixed
 * order, so two runs can be compared buffer by buffer. Inputs are appended too (compared bitwise,
 * which also checks that no kernel writes to its inputs). */
static void run_all(const gz_ops_table *t, shape4 s, outs *os) {
  const int64_t C = s.c, HW = s.h * s.w;
  gz_tensor x = t_new(os, "x", s, 11, -3, 5), dy = t_new(os, "dy", s, 12, -1, 1);
  float *gamma = out_new(os, "gamma", (size_t)C, 0, 0), *beta = out_new(os, "beta", (size_t)C, 0, 0);
  fill(gamma, (size_t)C, 13, 0.5f, 1.5f);
  fill(beta, (size_t)C, 14, -0.5f, 0.5f);
  /* batch norm: statistics from the table itself, then backward from the reference's statistics so
   * the comparison isolates each kernel */
  gz_tensor y = t_new(os, "bn y", s, 0, 0, 0);
  set_tol(os, 2e-5, 2e-5);
  float *mean = out_new(os, "bn mean", (size_t)C, 1e-5, 2e-6), *var = out_new(os, "bn var", (size_t)C, 2e-5, 0);
  t->bn_fwd_train(&x, gamma, beta, 1e-5f, &y, mean, var);
  float *rmean = out_new(os, "ref mean", (size_t)C, 0, 0), *rvar = out_new(os, "ref var", (size_t)C, 0, 0);
  {
    outs tmp = {0};
    gz_tensor ty = t_new(&tmp, "tmp", s, 0, 0, 0);
    gz_ops_reference()->bn_fwd_train(&x, gamma, beta, 1e-5f, &ty, rmean, rvar);
    outs_free(&tmp);
  }
  gz_tensor ye = t_new(os, "bn eval y", s, 0, 0, 0);
  set_tol(os, 2e-5, 2e-5);
  t->bn_fwd_eval(&x, gamma, beta, rmean, rvar, 1e-5f, &ye);
  gz_tensor dx = t_new(os, "bn dx", s, 0, 0, 0);
  set_tol(os, 5e-5, 5e-5);
  float *dg = out_new(os, "bn dgamma", (size_t)C, 2e-5, 1e-4), *db = out_new(os, "bn dbeta", (size_t)C, 2e-5, 1e-4);
  fill(dg, (size_t)C, 15, -1, 1); /* accumulate into these */
  t->bn_bwd(&x, &dy, gamma, rmean, rvar, 1e-5f, 1, &dx, dg, db, 1);
  gz_tensor dxe = t_new(os, "bn eval dx", s, 16, -1, 1);
  set_tol(os, 2e-5, 2e-5);
  t->bn_bwd(&x, &dy, gamma, rmean, rvar, 1e-5f, 0, &dxe, NULL, NULL, 1);

  gz_tensor r = t_new(os, "relu", s, 0, 0, 0), dr = t_new(os, "relu dx", s, 17, -1, 1), sum = t_new(os, "add", s, 0, 0, 0);
  t->relu_fwd(&x, &r);
  t->relu_bwd(&r, &dy, &dr, 1);
  t->add(&x, &dy, &sum);

  /* max-pool: the stem's 3x3/2 pad 1, a 2x2/2 (adaptive by 2) and a 5x5/1 pad 2 window that is larger
   * than a 1- or 2-pixel input; x gets ties (values rounded to 0.5) so the first-max rule matters */
  gz_tensor xt = t_new(os, "x ties", s, 18, -2, 2);
  for (int64_t n = 0; n < s.n; n++)
    for (int64_t i = 0; i < C * HW; i++) {
      float *q = &xt.data[n * xt.stride[0] + i];
      *q = i % 89 == 5 ? -INFINITY : i % 97 == 3 ? NAN : roundf(*q * 2) / 2; /* NaN: the last one wins */
      /* windows of -inf only at the left edge (rows 0-1 and 3-5, columns 0-1): the index is the first element
       * inside the plane, never the padding's */
      int64_t ih = i % HW / s.w, iw = i % s.w;
      if (iw < 2 && (ih < 2 || (ih >= 3 && ih <= 5))) *q = -INFINITY;
    }
  gz_pool2d pools[3] = {{3, 3, 2, 2, 1, 1}, {2, 2, 2, 2, 0, 0}, {5, 5, 1, 1, 2, 2}};
  for (int k = 0; k < 3; k++) {
    gz_pool2d *p = &pools[k];
    if (s.h + 2 * p->ph < p->kh || s.w + 2 * p->pw < p->kw) continue;
    shape4 so = {s.n, C, (s.h + 2 * p->ph - p->kh) / p->sh + 1, (s.w + 2 * p->pw - p->kw) / p->sw + 1, s.view};
    gz_tensor py = t_new(os, "maxpool y", so, 0, 0, 0), pg = t_new(os, "maxpool dy", so, 19, -1, 1);
    float *idxf = out_new(os, "maxpool idx", (size_t)(so.n * C * so.h * so.w), 0, 0); /* int32 in float-sized slots */
    int32_t *idx = (int32_t *)idxf;
    t->maxpool_fwd(&xt, p, &py, idx);
    gz_tensor pdx = t_new(os, "maxpool dx", s, 20, -1, 1);
    t->maxpool_bwd(&pg, idx, &pdx, k == 1);
    if (k == 2) continue;
    /* the other mode: the 3x3/2's without accumulating is the fast tables' gather, which also takes the 2x2/2's
     * indices at even sizes (its windows lie in the 3x3/2's) */
    gz_tensor pdx2 = t_new(os, "maxpool dx (other mode)", s, 25, -1, 1);
    t->maxpool_bwd(&pg, idx, &pdx2, k != 1);
    if (k == 1) continue;
    /* indices outside their windows in every other plane (two rows down, wrapped): the gather must find them
     * and leave those planes to the scatter */
    float *fidxf = out_new(os, "maxpool foreign idx", (size_t)(so.n * C * so.h * so.w), 0, 0);
    int32_t *fidx = (int32_t *)fidxf;
    for (int64_t pl = 0, ohw = so.h * so.w; pl < so.n * C; pl++)
      for (int64_t o = 0; o < ohw; o++) fidx[pl * ohw + o] = pl % 2 ? (int32_t)((idx[pl * ohw + o] + 2 * s.w) % HW) : idx[pl * ohw + o];
    gz_tensor pdx3 = t_new(os, "maxpool dx (foreign idx)", s, 26, -1, 1);
    t->maxpool_bwd(&pg, fidx, &pdx3, 0);
  }
  /* upsampling: x2 (the decoder and layer4), x1.5-ish odd sizes, and 1 -> 1; and resizing down along W by about 2
   * (the SIMD row's two-load window still holds 16 outputs' sources) and 3 (it does not: one output at a time) */
  shape4 ups[5] = {{s.n, C, 2 * s.h, 2 * s.w, s.view}, {s.n, C, s.h + s.h / 2 + 1, 3 * s.w + 2, s.view}, {s.n, C, s.h, 1, 0},
                   {s.n, C, s.h, s.w / 2 + 1, s.view}, {s.n, C, s.h + 1, s.w / 3 + 1, 0}};
  for (int k = 0; k < 5; k++) {
    gz_tensor un = t_new(os, "nearest y", ups[k], 0, 0, 0), ub = t_new(os, "bilinear y", ups[k], 0, 0, 0);
    set_tol(os, 2e-6, 2e-6 * 5);
    gz_tensor ug = t_new(os, "up dy", ups[k], 21, -1, 1);
    t->up_nearest_fwd(&x, &un);
    t->up_bilinear_fwd(&x, &ub);
    gz_tensor dn = t_new(os, "nearest dx", s, 22, -1, 1), dbl = t_new(os, "bilinear dx", s, 0, 0, 0);
    set_tol(os, 1e-5, 1e-5);
    t->up_nearest_bwd(&ug, &dn, 1);
    t->up_bilinear_bwd(&ug, &dbl, 0);
  }
  /* sigmoid family, BCE with targets in [0, 1] */
  gz_tensor tg = t_new(os, "target", s, 23, 0, 1);
  gz_tensor sg = t_new(os, "sigmoid", s, 0, 0, 0);
  set_tol(os, 1e-6, 1e-30);
  gz_tensor dsg = t_new(os, "sigmoid dx", s, 0, 0, 0);
  set_tol(os, 2e-6, 3e-7); /* dy (1 - y) y from each table's own y: 1 - y cancels, an ulp of 1 is 6e-8 */
  gz_tensor ls = t_new(os, "logsigmoid", s, 0, 0, 0);
  set_tol(os, 1e-6, 1e-7);
  gz_tensor dls = t_new(os, "logsigmoid dx", s, 24, -1, 1);
  set_tol(os, 1e-6, 1e-7);
  gz_tensor bl = t_new(os, "bce", s, 0, 0, 0);
  set_tol(os, 2e-6, 2e-6);
  gz_tensor dbl2 = t_new(os, "bce dx", s, 0, 0, 0);
  set_tol(os, 1e-6, 1e-7);
  t->sigmoid_fwd(&x, &sg);
  t->sigmoid_bwd(&sg, &dy, &dsg, 0);
  t->logsigmoid_fwd(&x, &ls);
  t->logsigmoid_bwd(&x, &dy, &dls, 1);
  t->bce_logits_fwd(&x, &tg, &bl);
  t->bce_logits_bwd(&x, &tg, &dy, 0.25f, &dbl2, 0);
  /* copy into a channel view */
  gz_tensor cp = t_new(os, "copy", s, 0, 0, 0);
  t->copy(&x, &cp);
  /* reductions: per channel (BN-like), everything, over C, over W */
  unsigned axes[4] = {0xd, 0xf, 0x2, 0x8};
  for (int k = 0; k < 4; k++)
    for (int op = 0; op < 3; op++) {
      gz_tensor ry;
      gz_err e = {0};
      int64_t shp[4];
      for (int d = 0; d < 4; d++) shp[d] = axes[k] >> d & 1 ? 1 : x.shape[d];
      float *p = out_new(os, "reduce", (size_t)(shp[0] * shp[1] * shp[2] * shp[3]), op == GZ_REDUCE_MAX ? 0 : 1e-6, 1e-30);
      ck_assert_int_eq(gz_tensor_wrap(&ry, p, 4, shp, &e), 0);
      size_t wsn = gz_reduce_ws(&x, axes[k]);
      double *ws = calloc(wsn + 1, sizeof(double));
      t->reduce(&x, axes[k], (gz_reduce_op)op, &ry, ws);
      free(ws);
    }
  /* three AMSGrad steps over a flat buffer of odd length */
  size_t n = (size_t)(s.n * C * HW) + 5;
  float *pp = out_new(os, "adam p", n, 0, 0), *m = out_new(os, "adam m", n, 0, 0), *v = out_new(os, "adam v", n, 0, 0);
  float *vm = out_new(os, "adam vmax", n, 0, 0), *gr = out_new(os, "adam grad", n, 0, 0);
  fill(pp, n, 25, -1, 1);
  for (int step = 1; step <= 3; step++) {
    fill(gr, n, 26 + (uint64_t)step, -0.1f, 0.1f);
    gz_adam_hp hp = {1e-3, 0.9, 0.999, 1e-8, 1e-5, step};
    t->amsgrad(pp, gr, m, v, vm, n, &hp);
  }
}

static void compare(const outs *a, const outs *b, const char *what, shape4 s) {
  ck_assert_int_eq(a->n, b->n);
  for (int i = 0; i < a->n; i++) {
    const out_buf *x = &a->o[i], *r = &b->o[i];
    ck_assert_uint_eq(x->n, r->n);
    double worst = 0, used = 0; /* used: the largest share of its tolerance any element needed */
    size_t at = 0;
    for (size_t j = 0; j < x->n; j++) {
      double d = fabs((double)x->data[j] - r->data[j]), lim = r->atol + r->rtol * fabs((double)r->data[j]);
      if (lim > 0 && d / lim > used) used = d / lim;
      int same = memcmp(&x->data[j], &r->data[j], 4) == 0 || (isnan(x->data[j]) && isnan(r->data[j]));
      if (!same && (r->rtol == 0 && r->atol == 0 ? 1 : !(d <= lim)) && d - lim >= worst) worst = d - lim + 1e-300, at = j;
    }
    if (getenv("GAZELOC_TEST_TOL") && used > 0.01)
      fprintf(stderr, "%s %lldx%lldx%lldx%lld: '%s' used %.0f%% of its tolerance\n", what, (long long)s.n, (long long)s.c,
              (long long)s.h, (long long)s.w, x->name, 100 * used);
    ck_assert_msg(worst == 0, "%s, shape %lldx%lldx%lldx%lld%s: '%s' [%zu] = %.9g vs %.9g (rtol %g, atol %g)", what,
                  (long long)s.n, (long long)s.c, (long long)s.h, (long long)s.w, s.view ? " (views)" : "", x->name, at,
                  x->data[at], r->data[at], r->rtol, r->atol);
  }
}

static const shape4 shapes[] = {
    {1, 3, 5, 7, 0}, {3, 17, 13, 11, 1}, {1, 3, 9, 141, 1}, {1, 5, 1, 1, 0}, {3, 2, 2, 1, 1}, {2, 19, 33, 31, 0}, {1, 4, 64, 67, 1},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

START_TEST(fast_vs_reference) {
  int isa = _i;
  const gz_ops_table *t = gz_ops_cpu(isa);
  if (!t) return; /* this CPU lacks the ISA: nothing to test here */
  for (int k = 0; k < NSHAPES; k++) {
    outs ref = {0}, fast = {0};
    run_all(gz_ops_reference(), shapes[k], &ref);
    run_all(t, shapes[k], &fast);
    compare(&fast, &ref, t->name, shapes[k]);
    outs_free(&ref);
    outs_free(&fast);
  }
}
END_TEST

START_TEST(bitwise_across_threads) {
  int isa = _i;
  const gz_ops_table *t = gz_ops_cpu(isa);
  if (!t) return;
  int saved = omp_get_max_threads();
  const int threads[4] = {1, 2, 3, 8};
  for (int k = 0; k < NSHAPES; k++) {
    outs one = {0};
    omp_set_num_threads(1);
    run_all(t, shapes[k], &one);
    for (int i = 0; i < one.n; i++) one.o[i].rtol = one.o[i].atol = 0; /* bitwise */
    for (int ti = 1; ti < 4; ti++) {
      outs more = {0};
      omp_set_num_threads(threads[ti]);
      run_all(t, shapes[k], &more);
      char what[64];
      snprintf(what, sizeof what, "%s, %d threads vs 1", t->name, threads[ti]);
      compare(&more, &one, what, shapes[k]);
      outs_free(&more);
    }
    outs_free(&one);
  }
  omp_set_num_threads(saved);
}
END_TEST

/* A large reduction and a BN channel big enough for several chunks per plane and many chunks per
 * thread: the chunking, not the thread split, fixes the bits. */
START_TEST(large_reductions_bitwise) {
  gz_err e = {0};
  const gz_ops_table *t;
  int isa;
  ck_assert_int_eq(gz_isa_active(&isa, &e), 0);
  t = gz_ops_cpu(isa);
  int64_t N = 2, C = 3, H = 97, W = 101;
  size_t n = (size_t)(N * C * H * W);
  float *x = malloc(n * 4), *y = malloc(n * 4), g[3] = {1, 2, 3}, b[3] = {0, 1, 2}, mean[4][3], var[4][3], tot[4];
  fill(x, n, 99, -1, 3);
  gz_tensor tx, ty, ts;
  gz_tensor_wrap4(&tx, x, N, C, H, W, &e);
  gz_tensor_wrap4(&ty, y, N, C, H, W, &e);
  int64_t one[4] = {1, 1, 1, 1};
  gz_tensor_wrap(&ts, tot, 4, one, &e);
  double ws[64];
  ck_assert_uint_le(gz_reduce_ws(&tx, 0xf), 64);
  const int threads[4] = {1, 2, 3, 8};
  for (int k = 0; k < 4; k++) {
    omp_set_num_threads(threads[k]);
    t->bn_fwd_train(&tx, g, b, 1e-5f, &ty, mean[k], var[k]);
    gz_tensor_wrap(&ts, &tot[k], 4, one, &e);
    ck_assert_int_eq(gz_reduce(&tx, 0xf, GZ_REDUCE_SUM, &ts, ws, 64, &e), 0);
    ck_assert_int_eq(memcmp(mean[k], mean[0], sizeof mean[0]), 0);
    ck_assert_int_eq(memcmp(var[k], var[0], sizeof var[0]), 0);
    ck_assert_int_eq(memcmp(&tot[k], &tot[0], 4), 0);
  }
  omp_set_num_threads(2);
  free(x);
  free(y);
}
END_TEST

/* Batch norm and ReLU outputs of more than gz_stream_min_floats are written with streaming stores (batch norm: planes
 * that start on a vector boundary, odd plane sizes here, so some do and some do not; ReLU: from the first aligned
 * float of each block). Each channel of such a tensor must get the bits of that channel computed alone (a
 * one-channel view, small enough for ordinary stores): batch norm's forward y and, from the same statistics,
 * backward dx, then ReLU's forward and backward, on every ISA table the CPU has. */
START_TEST(streamed_outputs_same_bits) {
  gz_err e = {0};
  const int64_t N = 2, C = 3, side = (int64_t)sqrt(1.1 * (double)gz_stream_min_floats() / (double)(N * C)) | 1;
  ck_assert_int_gt(N * C * side * side, gz_stream_min_floats()); /* streamed whole; each channel alone is not */
  ck_assert_int_le(side * side, gz_stream_min_floats());
  const size_t n = (size_t)(N * C * side * side);
  float *x = malloc(n * 4), *dy = malloc(n * 4), *y = malloc(n * 4), *dx = malloc(n * 4), *y1 = malloc(n * 4),
        *dx1 = malloc(n * 4), g[3] = {0.5f, 1, 2}, be[3] = {0, 1, -1}, mean[3], var[3], m1[3], v1[3];
  fill(x, n, 41, -2, 3);
  fill(dy, n, 42, -1, 1);
  gz_tensor tx, tdy, ty, tdx, ty1, tdx1;
  gz_tensor_wrap4(&tx, x, N, C, side, side, &e);
  gz_tensor_wrap4(&tdy, dy, N, C, side, side, &e);
  gz_tensor_wrap4(&ty, y, N, C, side, side, &e);
  gz_tensor_wrap4(&tdx, dx, N, C, side, side, &e);
  gz_tensor_wrap4(&ty1, y1, N, C, side, side, &e);
  gz_tensor_wrap4(&tdx1, dx1, N, C, side, side, &e);
  for (int isa = GZ_ISA_SCALAR; isa <= GZ_ISA_AVX512; isa++) {
    const gz_ops_table *t = gz_ops_cpu(isa);
    if (!t) continue;
    t->bn_fwd_train(&tx, g, be, 1e-5f, &ty, mean, var);
    t->bn_bwd(&tx, &tdy, g, mean, var, 1e-5f, 1, &tdx, NULL, NULL, 0);
    for (int c = 0; c < C; c++) {
      gz_tensor xc, dyc, yc, dxc;
      gz_tensor_channels(&tx, c, 1, &xc, &e), gz_tensor_channels(&tdy, c, 1, &dyc, &e);
      gz_tensor_channels(&ty1, c, 1, &yc, &e), gz_tensor_channels(&tdx1, c, 1, &dxc, &e);
      t->bn_fwd_train(&xc, &g[c], &be[c], 1e-5f, &yc, &m1[c], &v1[c]);
      t->bn_bwd(&xc, &dyc, &g[c], &mean[c], &var[c], 1e-5f, 1, &dxc, NULL, NULL, 0);
    }
    ck_assert_msg(memcmp(mean, m1, sizeof mean) == 0 && memcmp(var, v1, sizeof var) == 0, "%s: statistics", t->name);
    ck_assert_msg(memcmp(y, y1, n * 4) == 0, "%s: streamed forward differs", t->name);
    ck_assert_msg(memcmp(dx, dx1, n * 4) == 0, "%s: streamed backward differs", t->name);
    t->relu_fwd(&tx, &ty);
    t->relu_bwd(&tx, &tdy, &tdx, 0);
    for (int c = 0; c < C; c++) {
      gz_tensor xc, dyc, yc, dxc;
      gz_tensor_channels(&tx, c, 1, &xc, &e), gz_tensor_channels(&tdy, c, 1, &dyc, &e);
      gz_tensor_channels(&ty1, c, 1, &yc, &e), gz_tensor_channels(&tdx1, c, 1, &dxc, &e);
      t->relu_fwd(&xc, &yc);
      t->relu_bwd(&xc, &dyc, &dxc, 0);
    }
    ck_assert_msg(memcmp(y, y1, n * 4) == 0, "%s: streamed ReLU forward differs", t->name);
    ck_assert_msg(memcmp(dx, dx1, n * 4) == 0, "%s: streamed ReLU backward differs", t->name);
  }
  free(x), free(dy), free(y), free(dx), free(y1), free(dx1);
}
END_TEST

/* The SIMD tables' max-pool backward gathers (ops_pool_body.h) and falls back to the scatter when an index lies
 * outside its window, so comparing results alone would not see a gather that always gave up: here each plane
 * function must take the stem pool's indices itself (and the 2x2/2's at even sizes), bitwise equal to the
 * scatter, and refuse indices three rows off. */
START_TEST(pool_gather_takes_its_planes) {
  static const int64_t hw[][2] = {{1, 1}, {2, 1}, {1, 2}, {5, 7}, {13, 11}, {33, 31}, {64, 67}, {9, 141}, {40, 256}, {6, 64}};
  for (int isa = GZ_ISA_AVX2; isa <= GZ_ISA_AVX512; isa++) {
    if (!gz_ops_cpu(isa)) continue;
    gz_pool_bwd_plane_fn gather = isa == GZ_ISA_AVX2 ? gz_pool3s2_bwd_plane_avx2 : gz_pool3s2_bwd_plane_avx512;
    for (size_t k = 0; k < sizeof hw / sizeof hw[0]; k++)
      for (int pk = 0; pk < 2; pk++) { /* 3x3/2 pad 1; 2x2/2 */
        const int64_t H = hw[k][0], W = hw[k][1], OH = (H - 1) / 2 + 1, OW = (W - 1) / 2 + 1;
        if (pk == 1 && (H % 2 || W % 2)) continue;
        gz_pool2d p = pk ? (gz_pool2d){2, 2, 2, 2, 0, 0} : (gz_pool2d){3, 3, 2, 2, 1, 1};
        float *x = malloc((size_t)(H * W) * 4), *y = malloc((size_t)(OH * OW) * 4), *dy = malloc((size_t)(OH * OW) * 4);
        const size_t sz = (size_t)(H * W + 16 + 15) / 16 * 64; /* a multiple of the alignment, as C11 asks */
        float *ref = aligned_alloc(64, sz), *got = aligned_alloc(64, sz);
        int32_t *idx = malloc((size_t)(OH * OW) * 4);
        fill(x, (size_t)(H * W), 31 + k, -2, 2);
        for (int64_t i = 0; i < H * W; i++) x[i] = i % 37 == 4 ? NAN : roundf(x[i] * 2) / 2; /* ties and NaN */
        fill(dy, (size_t)(OH * OW), 32 + k, -1, 1);
        gz_tensor tx, ty, tdy, tref;
        gz_err e = {0};
        gz_tensor_wrap4(&tx, x, 1, 1, H, W, &e), gz_tensor_wrap4(&ty, y, 1, 1, OH, OW, &e);
        gz_tensor_wrap4(&tdy, dy, 1, 1, OH, OW, &e), gz_tensor_wrap4(&tref, ref, 1, 1, H, W, &e);
        gz_ops_reference()->maxpool_fwd(&tx, &p, &ty, idx);
        gz_ops_reference()->maxpool_bwd(&tdy, idx, &tref, 0);
        for (int stream = 0; stream < 2; stream++) {
          for (int64_t i = 0; i < H * W; i++) got[i] = 7;
          ck_assert_msg(gather(dy, idx, got, H, W, OH, OW, stream), "%s: %lldx%lld (%s) left to the scatter",
                        gz_ops_cpu(isa)->name, (long long)H, (long long)W, pk ? "2x2/2" : "3x3/2");
          ck_assert_msg(memcmp(got, ref, (size_t)(H * W) * 4) == 0, "%s: %lldx%lld (%s) differs from the scatter",
                        gz_ops_cpu(isa)->name, (long long)H, (long long)W, pk ? "2x2/2" : "3x3/2");
        }
        if (H >= 5) {
          for (int64_t o = 0; o < OH * OW; o++) idx[o] = (int32_t)((idx[o] + 3 * W) % (H * W));
          ck_assert_msg(!gather(dy, idx, got, H, W, OH, OW, 0), "%s: %lldx%lld: indices three rows off taken",
                        gz_ops_cpu(isa)->name, (long long)H, (long long)W);
        }
        free(x), free(y), free(dy), free(ref), free(got), free(idx);
      }
  }
}
END_TEST

/* The SIMD stem pool keeps one row of scans per 1024 output columns: wider planes go in strips, the last one
 * overlapping the one before when narrower than a vector. Values and indices as the reference's. */
START_TEST(stem_pool_wide_planes) {
  static const int64_t hw[][2] = {{5, 4200}, {4, 4100}, {3, 2049}};
  const gz_pool2d p = {3, 3, 2, 2, 1, 1};
  for (size_t k = 0; k < sizeof hw / sizeof hw[0]; k++) {
    const int64_t H = hw[k][0], W = hw[k][1], OH = (H - 1) / 2 + 1, OW = (W - 1) / 2 + 1;
    float *x = malloc((size_t)(H * W) * 4), *y0 = malloc((size_t)(OH * OW) * 4), *y1 = malloc((size_t)(OH * OW) * 4);
    int32_t *i0 = malloc((size_t)(OH * OW) * 4), *i1 = malloc((size_t)(OH * OW) * 4);
    fill(x, (size_t)(H * W), 61 + k, -2, 2);
    for (int64_t i = 0; i < H * W; i++) x[i] = roundf(x[i] * 2) / 2; /* ties */
    gz_tensor tx, ty0, ty1;
    gz_err e = {0};
    gz_tensor_wrap4(&tx, x, 1, 1, H, W, &e);
    gz_tensor_wrap4(&ty0, y0, 1, 1, OH, OW, &e);
    gz_tensor_wrap4(&ty1, y1, 1, 1, OH, OW, &e);
    gz_ops_reference()->maxpool_fwd(&tx, &p, &ty0, i0);
    for (int isa = GZ_ISA_SCALAR; isa <= GZ_ISA_AVX512; isa++) {
      const gz_ops_table *t = gz_ops_cpu(isa);
      if (!t) continue;
      t->maxpool_fwd(&tx, &p, &ty1, i1);
      const size_t bytes = (size_t)(OH * OW) * 4;
      ck_assert_msg(!memcmp(y0, y1, bytes) && !memcmp(i0, i1, bytes), "%s: %lldx%lld", t->name, (long long)H,
                    (long long)W);
    }
    free(x), free(y0), free(y1), free(i0), free(i1);
  }
}
END_TEST

/* Indices outside the plane (which only a caller's own buffer can hold) are refused before the plane is touched,
 * on every table, in both modes; the entry point names the first one. */
START_TEST(maxpool_bwd_refuses_indices_off_the_plane) {
  const int64_t N = 2, C = 3, H = 40, W = 64, OH = 20, OW = 32, n = N * C * H * W, on = N * C * OH * OW;
  float *x = malloc(n * 4), *y = malloc(on * 4), *dx = malloc(n * 4), *keep = malloc(n * 4);
  int32_t *idx = malloc(on * 4);
  fill(x, (size_t)n, 51, -1, 1);
  gz_tensor tx, ty, tdx;
  gz_err e = {0};
  gz_tensor_wrap4(&tx, x, N, C, H, W, &e), gz_tensor_wrap4(&ty, y, N, C, OH, OW, &e), gz_tensor_wrap4(&tdx, dx, N, C, H, W, &e);
  ck_assert_int_eq(gz_maxpool3s2_fwd(&tx, &ty, idx, &e), 0);
  const int64_t at = (1 * C + 2) * OH * OW + 77; /* image 1, channel 2, output 77 */
  for (int bad = 0; bad < 2; bad++) {
    idx[at] = bad ? -5 : (int32_t)(H * W);
    for (int isa = GZ_ISA_SCALAR; isa <= GZ_ISA_AVX512 + 1; isa++) {
      const gz_ops_table *t = isa > GZ_ISA_AVX512 ? gz_ops_reference() : gz_ops_cpu(isa);
      if (!t) continue;
      for (int acc = 0; acc < 2; acc++) {
        fill(dx, (size_t)n, 52, -1, 1);
        memcpy(keep, dx, n * 4);
        ck_assert_msg(t->maxpool_bwd(&ty, idx, &tdx, acc) == at, "%s: position of the bad index", t->name);
        if (acc) /* a gradient being summed into is not changed; an output plane is simply not computed */
          ck_assert_msg(memcmp(dx + (1 * C + 2) * H * W, keep + (1 * C + 2) * H * W, H * W * 4) == 0, "%s: bad plane touched",
                        t->name);
      }
    }
    e = (gz_err){0};
    ck_assert_int_eq(gz_maxpool_bwd(&ty, idx, &tdx, 0, &e), -1);
    ck_assert_msg(strstr(e.msg, "output 77 of image 1, channel 2") && strstr(e.msg, "40x64"), "%s", e.msg);
  }
  free(x), free(y), free(dx), free(keep), free(idx);
}
END_TEST

Suite *suite_tensor_ops(void) {
  Suite *s = suite_create("tensor_ops");
  TCase *tc = tcase_create("ops");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, fast_vs_reference, GZ_ISA_SCALAR, GZ_ISA_AVX512 + 1);
  tcase_add_loop_test(tc, bitwise_across_threads, GZ_ISA_SCALAR, GZ_ISA_AVX512 + 1);
  tcase_add_test(tc, large_reductions_bitwise);
  tcase_add_test(tc, streamed_outputs_same_bits);
  tcase_add_test(tc, pool_gather_takes_its_planes);
  tcase_add_test(tc, maxpool_bwd_refuses_indices_off_the_plane);
  tcase_add_test(tc, stem_pool_wide_planes);
  suite_add_tcase(s, tc);
  return s;
}
