/* conv2d: forward, backward data, backward weights and bias gradient, on every ISA path the CPU has
 * and on the reference loops, against PyTorch's autograd in float64 (tools/torch_conv.py, one python
 * run for all cases); bitwise equality across thread counts; banded im2col; bad input.
 *
 * Tolerance, per element: |ours - exact| <= 2 (K + 2) u S, with u = 2^-24, K the number of terms
 * summed for that element (ic*kh*kw + 1 forward, oc*kh*kw backward data, n*oh*ow for the weight and
 * bias gradients) and S the same sum over absolute values (computed by the reference kernel on |x|,
 * |w|, |dy|). (K + 2) u S bounds the error of any summation order (Higham eq. 3.5); the factor 2 covers
 * the rounding of S itself and of a prefilled buffer with accumulate. Index errors miss it by far.
 * With AVX2 and AVX-512, both methods are checked on every shape: the implicit GEMM and the blocked direct
 * convolution (tensor/conv_direct.c), forced with gz_conv2d_set_method. */
#include <math.h>
#include <omp.h>

#include "tensor/kernels.h"
#include "testutil.h"

typedef struct {
  const char *name;
  gz_conv2d d;
  int bias;
} conv_case;

/* {n, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw}: the model's kinds of conv at small, odd sizes. */
static const conv_case cases[] = {
    {"stem_k7s2", {1, 3, 11, 13, 5, 7, 7, 2, 2, 3, 3}, 1},
    {"k3s1", {3, 5, 9, 10, 7, 3, 3, 1, 1, 1, 1}, 0},
    {"k3s2", {2, 17, 12, 11, 18, 3, 3, 2, 2, 1, 1}, 1},
    {"k1s1", {3, 19, 7, 9, 20, 1, 1, 1, 1, 0, 0}, 1},
    {"k1s2", {1, 6, 9, 8, 4, 1, 1, 2, 2, 0, 0}, 0},
    {"k1s2_odd", {1, 5, 11, 13, 6, 1, 1, 2, 2, 0, 0}, 1}, /* 1x1 strided: dx written whole (tensor/conv.c) */
    {"k1s3_groups", {2, 4, 10, 11, 3, 1, 1, 3, 3, 0, 0}, 0},
    /* strided 1x1 on outputs of >= 256 pixels: image by image (POINTWISE_UNGROUPED), not grouped */
    {"k1s2_per_image", {2, 7, 33, 32, 9, 1, 1, 2, 2, 0, 0}, 1},
    {"kernel_over_input", {3, 2, 3, 2, 3, 7, 7, 1, 1, 3, 3}, 1},
    {"k3_on_1x1", {1, 4, 1, 1, 3, 3, 3, 1, 1, 1, 1}, 0},
    {"k3_nopad", {2, 33, 6, 5, 17, 3, 3, 1, 1, 0, 0}, 0},
    {"k3x1_s2x1", {1, 3, 8, 5, 2, 3, 1, 2, 1, 1, 0}, 1},
    /* several register tiles per row, output channel groups of 32 + 13, input blocks of 16 + 16 + 3 */
    {"k3s2_wide", {3, 35, 7, 53, 45, 3, 3, 2, 2, 1, 1}, 1},
    {"k3s1_wide", {1, 20, 5, 61, 33, 3, 3, 1, 1, 1, 1}, 0},
    /* the head's 10 output channels: weight-gradient tiles of 5 + 5 channels (3x3, AVX-512) */
    {"k3_head", {2, 20, 9, 11, 10, 3, 3, 1, 1, 1, 1}, 1},
    /* over 16 channel blocks summed (forward: 19 input, backward data: 18 output blocks): the direct
     * method sums them in two passes, the second adding to the stored output; bias in the first only */
    {"k3_chunks", {2, 300, 5, 7, 275, 3, 3, 1, 1, 1, 1}, 1},
    {"k3s2_chunks", {1, 290, 7, 6, 280, 3, 3, 2, 2, 1, 1}, 0},
};
#define NCASE (sizeof cases / sizeof cases[0])

typedef struct {
  float *x, *w, *b, *dy;
  double *y, *dx, *dw, *db;               /* oracle */
  float *sy, *sdx, *sdw, *sdb;            /* scales: the sums over absolute values */
  long nx, nw, ny;
} conv_data;

static float *rnd(long n, uint64_t stream, double lo) {
  float *p = malloc(sizeof(float) * (size_t)n);
  gz_rng r;
  gz_rng_init(&r, 7, stream);
  for (long i = 0; i < n; i++) p[i] = (float)gz_rng_range(&r, lo, 1.0);
  return p;
}

static void sizes(const gz_conv2d *d, long *nx, long *nw, long *ny) {
  int oh, ow;
  gz_err e = {0};
  ck_assert_int_eq(gz_conv2d_out(d, &oh, &ow, &e), 0);
  *nx = (long)d->n * d->ic * d->ih * d->iw;
  *nw = (long)d->oc * d->ic * d->kh * d->kw;
  *ny = (long)d->n * d->oc * oh * ow;
}

static void write_f32(const char *dir, const char *name, const char *ext, const float *p, long n) {
  char file[256];
  snprintf(file, sizeof file, "%s.%s", name, ext);
  free(tu_write(dir, file, (const char *)p, sizeof(float) * (size_t)n));
}

static double *read_f64(const char *dir, const char *name, const char *ext, long n) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "oracle output %s missing", path);
  double *p = malloc(sizeof(double) * (size_t)n);
  ck_assert_uint_eq(fread(p, sizeof(double), (size_t)n, f), (size_t)n);
  fclose(f);
  return p;
}

static float *absdup(const float *p, long n) {
  float *q = malloc(sizeof(float) * (size_t)n);
  for (long i = 0; i < n; i++) q[i] = fabsf(p[i]);
  return q;
}

static const char *path_name(int path);

static void expect(const char *what, const char *name, int path, const float *got, const double *exact,
                   const float *scale, const float *prefill, long n, double terms) {
  const double u = ldexp(1.0, -24);
  for (long i = 0; i < n; i++) {
    double want = exact[i] + (prefill ? prefill[i] : 0.0);
    double s = scale[i] + (prefill ? fabs(prefill[i]) : 0.0);
    double tol = 2.0 * (terms + 2) * u * s + 1e-30;
    if (!(fabs(got[i] - want) <= tol)) /* a passing ck_assert writes to Check's pipe: millions of writes */
      ck_abort_msg("%s %s path %s: [%ld] = %.9g, PyTorch %.9g, tol %.3g", name, what, path_name(path), i, got[i],
                   want, tol);
  }
}

static int best_isa(void) {
  int best;
  gz_err e = {0};
  ck_assert_int_eq(gz_isa_resolve(NULL, gz_cpu_features(), &best, &e), 0);
  return best;
}

/* Paths: -1 the reference loops; 0.. an ISA the CPU has with a method forced by gz_conv2d_set_method:
 * the scalar ISA runs the implicit GEMM, AVX2 and AVX-512 each run both the implicit GEMM and the blocked
 * direct convolution (what the automatic choice picks per shape is one of them). */
typedef struct {
  int isa, method;
  const char *name;
} conv_path;
static const conv_path paths[] = {{GZ_ISA_SCALAR, GZ_CONV_GEMM, "scalar"},
                                  {GZ_ISA_AVX2, GZ_CONV_GEMM, "avx2 gemm"},
                                  {GZ_ISA_AVX2, GZ_CONV_DIRECT, "avx2 direct"},
                                  {GZ_ISA_AVX512, GZ_CONV_GEMM, "avx512 gemm"},
                                  {GZ_ISA_AVX512, GZ_CONV_DIRECT, "avx512 direct"}};

static int last_path(void) {
  int last = 0;
  for (int p = 0; p < (int)(sizeof paths / sizeof paths[0]); p++)
    if (paths[p].isa <= best_isa()) last = p;
  return last;
}

static const char *path_name(int path) { return path < 0 ? "reference" : paths[path].name; }

/* The path of an ISA and method (the CPU must have the ISA). */
static int path_of(int isa, int method) {
  for (int p = 0; p <= last_path(); p++)
    if (paths[p].isa == isa && paths[p].method == method) return p;
  ck_abort_msg("no conv path for ISA %d, method %d", isa, method);
  return -1;
}

static void run_path(int path, const gz_conv2d *d, const conv_data *c, int bias, int accumulate, float *y, float *dx,
                     float *dw, float *db) {
  gz_err e = {0};
  size_t wsb = gz_conv2d_workspace(d);
  unsigned char *ws = tu_guarded(wsb);
  const float *b = bias ? c->b : NULL;
  float *dbp = bias ? db : NULL;
  if (path < 0) {
    ck_assert_msg(gz_conv2d_forward_ref(d, c->x, c->w, b, y, &e) == 0, "%s", e.msg);
    ck_assert_msg(gz_conv2d_backward_data_ref(d, c->dy, c->w, dx, accumulate, &e) == 0, "%s", e.msg);
    ck_assert_msg(gz_conv2d_backward_weights_ref(d, c->x, c->dy, dw, dbp, accumulate, &e) == 0, "%s", e.msg);
  } else {
    const int isa = paths[path].isa;
    gz_conv2d_set_method(paths[path].method);
    ck_assert_msg(gz_conv2d_forward_isa(isa, d, c->x, c->w, b, y, ws, wsb, &e) == 0, "%s", e.msg);
    ck_assert_msg(gz_conv2d_backward_data_isa(isa, d, c->dy, c->w, dx, accumulate, ws, wsb, &e) == 0, "%s", e.msg);
    ck_assert_msg(gz_conv2d_backward_weights_isa(isa, d, c->x, c->dy, dw, dbp, accumulate, ws, wsb, &e) == 0, "%s",
                  e.msg);
    gz_conv2d_set_method(GZ_CONV_AUTO);
  }
  const long past = tu_guard_broken(ws, wsb);
  if (past >= 0) ck_abort_msg("%s: byte %ld past the %zu-byte workspace written", path_name(path), past, wsb);
  free(ws);
}

START_TEST(against_pytorch_all_paths) {
  char *dir = tu_tempdir();
  conv_data data[NCASE];
  char list[4096];
  size_t len = 0;
  for (size_t k = 0; k < NCASE; k++) {
    const gz_conv2d *d = &cases[k].d;
    conv_data *c = &data[k];
    sizes(d, &c->nx, &c->nw, &c->ny);
    c->x = rnd(c->nx, 10 * k + 1, -1), c->w = rnd(c->nw, 10 * k + 2, -1), c->b = rnd(d->oc, 10 * k + 3, -1);
    c->dy = rnd(c->ny, 10 * k + 4, -1);
    write_f32(dir, cases[k].name, "x", c->x, c->nx);
    write_f32(dir, cases[k].name, "w", c->w, c->nw);
    write_f32(dir, cases[k].name, "b", c->b, d->oc);
    write_f32(dir, cases[k].name, "dy", c->dy, c->ny);
    len += (size_t)snprintf(list + len, sizeof list - len, "%s %d %d %d %d %d %d %d %d %d %d %d %d\n", cases[k].name,
                            d->n, d->ic, d->ih, d->iw, d->oc, d->kh, d->kw, d->sh, d->sw, d->ph, d->pw, cases[k].bias);
  }
  free(tu_write(dir, "cases.txt", list, len));
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' '%s/tools/torch_conv.py' '%s'", tu_python(), tu_root(), dir);
  ck_assert_msg(system(cmd) == 0, "oracle failed: %s", cmd);
  for (size_t k = 0; k < NCASE; k++) {
    const gz_conv2d *d = &cases[k].d;
    conv_data *c = &data[k];
    const char *nm = cases[k].name;
    c->y = read_f64(dir, nm, "y", c->ny), c->dx = read_f64(dir, nm, "dx", c->nx), c->dw = read_f64(dir, nm, "dw", c->nw);
    c->db = cases[k].bias ? read_f64(dir, nm, "db", d->oc) : NULL;
    /* scales: the reference kernel on absolute values */
    conv_data a = {.x = absdup(c->x, c->nx), .w = absdup(c->w, c->nw), .b = absdup(c->b, d->oc),
                   .dy = absdup(c->dy, c->ny)};
    float *sy = malloc(sizeof(float) * (size_t)c->ny), *sdx = malloc(sizeof(float) * (size_t)c->nx);
    float *sdw = malloc(sizeof(float) * (size_t)c->nw), *sdb = malloc(sizeof(float) * (size_t)d->oc);
    run_path(-1, d, &a, 1, 0, sy, sdx, sdw, sdb);
    int oh, ow;
    gz_err e = {0};
    gz_conv2d_out(d, &oh, &ow, &e);
    double kf = (double)d->ic * d->kh * d->kw + 1, kd = (double)d->oc * d->kh * d->kw, kw = (double)d->n * oh * ow;
    float *y = malloc(sizeof(float) * (size_t)c->ny), *dx = malloc(sizeof(float) * (size_t)c->nx);
    float *dw = malloc(sizeof(float) * (size_t)c->nw), *db = malloc(sizeof(float) * (size_t)d->oc);
    float *pre_x = rnd(c->nx, 900 + k, -1), *pre_w = rnd(c->nw, 901 + k, -1), *pre_b = rnd(d->oc, 902 + k, -1);
    for (int path = -1; path <= last_path(); path++)
      for (int acc = 0; acc < 2; acc++) {
        if (acc) {
          memcpy(dx, pre_x, sizeof(float) * (size_t)c->nx);
          memcpy(dw, pre_w, sizeof(float) * (size_t)c->nw);
          memcpy(db, pre_b, sizeof(float) * (size_t)d->oc);
        } else
          for (long i = 0; i < c->nx; i++) dx[i] = NAN; /* overwrite mode must not read dx */
        run_path(path, d, c, cases[k].bias, acc, y, dx, dw, db);
        expect("forward", nm, path, y, c->y, sy, NULL, c->ny, kf);
        expect("backward data", nm, path, dx, c->dx, sdx, acc ? pre_x : NULL, c->nx, kd);
        expect("backward weights", nm, path, dw, c->dw, sdw, acc ? pre_w : NULL, c->nw, kw);
        if (cases[k].bias) expect("bias gradient", nm, path, db, c->db, sdb, acc ? pre_b : NULL, d->oc, kw);
      }
    free(a.x), free(a.w), free(a.b), free(a.dy), free(sy), free(sdx), free(sdw), free(sdb);
    free(y), free(dx), free(dw), free(db), free(pre_x), free(pre_w), free(pre_b);
    free(c->x), free(c->w), free(c->b), free(c->dy), free(c->y), free(c->dx), free(c->dw), free(c->db);
  }
  tu_rmtree(dir);
}
END_TEST

START_TEST(bitwise_across_thread_counts) {
  const gz_conv2d shapes[] = {{3, 16, 20, 21, 24, 3, 3, 1, 1, 1, 1}, {3, 40, 15, 17, 48, 1, 1, 1, 1, 0, 0},
                              {2, 3, 30, 31, 16, 7, 7, 2, 2, 3, 3}, {2, 24, 14, 13, 36, 1, 1, 2, 2, 0, 0},
                              {3, 35, 9, 30, 45, 3, 3, 2, 2, 1, 1}, {2, 3, 36, 256, 64, 7, 7, 2, 2, 3, 3},
                              {2, 290, 7, 6, 280, 3, 3, 2, 2, 1, 1}, {2, 20, 70, 66, 12, 1, 1, 1, 1, 0, 0},
                              {2, 20, 70, 66, 20, 1, 1, 1, 1, 0, 0}, {2, 7, 33, 32, 9, 1, 1, 2, 2, 0, 0},
                              {2, 72, 66, 70, 20, 1, 1, 1, 1, 0, 0}, {2, 300, 32, 33, 40, 1, 1, 1, 1, 0, 0},
                              {2, 128, 34, 34, 600, 1, 1, 2, 2, 0, 0}};
  for (int path = 0; path <= last_path(); path++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      const gz_conv2d *d = &shapes[s];
      conv_data c;
      sizes(d, &c.nx, &c.nw, &c.ny);
      c.x = rnd(c.nx, 1, -1), c.w = rnd(c.nw, 2, -1), c.b = rnd(d->oc, 3, -1), c.dy = rnd(c.ny, 4, -1);
      float *out[4][4];
      const int threads[4] = {1, 2, 3, 8};
      for (int t = 0; t < 4; t++) {
        omp_set_num_threads(threads[t]);
        out[t][0] = malloc(sizeof(float) * (size_t)c.ny), out[t][1] = malloc(sizeof(float) * (size_t)c.nx);
        out[t][2] = malloc(sizeof(float) * (size_t)c.nw), out[t][3] = malloc(sizeof(float) * (size_t)d->oc);
        run_path(path, d, &c, 1, 0, out[t][0], out[t][1], out[t][2], out[t][3]);
      }
      omp_set_num_threads(2);
      const long n[4] = {c.ny, c.nx, c.nw, d->oc};
      for (int t = 1; t < 4; t++)
        for (int q = 0; q < 4; q++)
          ck_assert_msg(memcmp(out[0][q], out[t][q], sizeof(float) * (size_t)n[q]) == 0,
                        "%s shape %zu output %d: %d threads differ from 1", path_name(path), s, q, threads[t]);
      for (int t = 0; t < 4; t++)
        for (int q = 0; q < 4; q++) free(out[t][q]);
      free(c.x), free(c.w), free(c.b), free(c.dy);
    }
}
END_TEST

/* All four outputs of one path against the reference, inputs in [0, 1) (so the scale S of the tolerance is
 * the result itself), buffers prefilled with NaN: overwriting must read nothing and write every element. */
static void path_matches_reference(const gz_conv2d *d, int path, int label) {
  int oh, ow;
  gz_conv2d_out(d, &oh, &ow, NULL);
  conv_data c;
  sizes(d, &c.nx, &c.nw, &c.ny);
  c.x = rnd(c.nx, 1, 0), c.w = rnd(c.nw, 2, 0), c.b = rnd(d->oc, 3, 0), c.dy = rnd(c.ny, 4, 0);
  float *r[4], *f[4];
  const long n[4] = {c.ny, c.nx, c.nw, d->oc};
  for (int q = 0; q < 4; q++) {
    r[q] = malloc(sizeof(float) * (size_t)n[q]), f[q] = malloc(sizeof(float) * (size_t)n[q]);
    for (long i = 0; i < n[q]; i++) f[q][i] = NAN;
  }
  run_path(-1, d, &c, 1, 0, r[0], r[1], r[2], r[3]);
  run_path(path, d, &c, 1, 0, f[0], f[1], f[2], f[3]);
  const double khw = d->kh * d->kw, px = (double)d->n * oh * ow, u = ldexp(1.0, -24);
  const double terms[4] = {d->ic * khw + 1, d->oc * khw, px, px};
  for (int q = 0; q < 4; q++)
    for (long i = 0; i < n[q]; i++)
      if (!(fabs(f[q][i] - r[q][i]) <= 4 * (terms[q] + 2) * u * r[q][i]))
        ck_abort_msg("%s shape %d output %d [%ld]: %.9g vs %.9g", path_name(path), label, q, i, f[q][i], r[q][i]);
  for (int q = 0; q < 4; q++) free(r[q]), free(f[q]);
  free(c.x), free(c.w), free(c.b), free(c.dy);
}

/* Shapes whose backward passes take several im2col bands per image (4 MB bands, and more than the
 * 64 MB cap in all for the first): a 3x3 conv, and a strided 1x1 whose dx rows (zeros between) are
 * written band by band. On AVX-512 the 3x3 weight gradient has no bands (its panels are packed from the
 * image, 10000 pixels in 20 depth blocks): the AVX2 GEMM keeps the banded one tested. The strided 1x1's
 * weight gradient (19479 pixels) is one GEMM whose threads split dW's columns (S2T_COLS_MIN_PIXELS). */
START_TEST(banded_im2col_matches_reference) {
  const gz_conv2d shapes[] = {{1, 256, 100, 100, 4, 3, 3, 1, 1, 1, 1}, {1, 64, 301, 258, 8, 1, 1, 2, 2, 0, 0}};
  for (int isa = GZ_ISA_AVX2; isa <= best_isa(); isa++)
    for (int s = 0; s < 2; s++) path_matches_reference(&shapes[s], path_of(isa, GZ_CONV_GEMM), s);
}
END_TEST

/* 1x1 weight gradients split into pixel chunks (tensor/conv.c, SPLIT_PIXELS = 4096), each a one-thread GEMM
 * into its own partial: 4620 pixels (a full chunk and one of 524) per image, and exactly one chunk per
 * image over three images, on every GEMM path (ISA) the CPU has; their thread-count independence is in
 * bitwise_across_thread_counts (its 20 -> 20 at 70x66). On two threads the forward and backward data of the first
 * and third shapes run image-parallel (one image per thread, tensor/conv.c images_parallel_wanted): the
 * first as a small product, the third (21M multiply-adds per image) because its 64 rows are fewer than
 * its 5184 pixels. */
START_TEST(split_weight_gradient_matches_reference) {
  const gz_conv2d shapes[] = {{2, 20, 70, 66, 20, 1, 1, 1, 1, 0, 0},
                              {3, 9, 64, 64, 70, 1, 1, 1, 1, 0, 0},
                              {2, 64, 72, 72, 64, 1, 1, 1, 1, 0, 0}};
  for (int path = 0; path <= last_path(); path++)
    if (paths[path].method == GZ_CONV_GEMM)
      for (int s = 0; s < 3; s++) path_matches_reference(&shapes[s], path, s);
}
END_TEST

/* 1x1 weight gradients with more input than output channels: on AVX-512 the GEMM computes dW^T = x dy^T (x in the
 * micro-kernel's row layout, dy transposed into its panels; tensor/conv.c wgrad_transposed) and dW is read back
 * transposed. Split into pixel chunks (the first shape: 4620 pixels, chunk partials [ic][oc]) or image by image
 * (the others, 1056 and 1152 pixels: dW^T summed over the images, then added to dW in 32 x 32 blocks, here
 * with partial blocks), overwriting (dW prefilled with NaN) and
 * accumulating onto dW, on every GEMM path, against the reference. */
START_TEST(transposed_weight_gradient_matches_reference) {
  const gz_conv2d shapes[] = {{2, 72, 66, 70, 20, 1, 1, 1, 1, 0, 0},
                              {2, 300, 32, 33, 40, 1, 1, 1, 1, 0, 0},
                              {3, 200, 32, 36, 100, 1, 1, 1, 1, 0, 0}};
  const double u = ldexp(1.0, -24);
  for (int path = 0; path <= last_path(); path++)
    if (paths[path].method == GZ_CONV_GEMM)
      for (int s = 0; s < 3; s++)
        for (int acc = 0; acc <= 1; acc++) {
          const gz_conv2d *d = &shapes[s];
          conv_data c;
          sizes(d, &c.nx, &c.nw, &c.ny);
          c.x = rnd(c.nx, 1, 0), c.dy = rnd(c.ny, 4, 0);
          float *r = malloc(sizeof(float) * (size_t)c.nw), *f = malloc(sizeof(float) * (size_t)c.nw);
          for (long i = 0; i < c.nw; i++) r[i] = acc ? 0.25f * (float)(i % 7) : 0.0f, f[i] = acc ? r[i] : NAN;
          gz_err e = {0};
          size_t wsb = gz_conv2d_workspace(d);
          void *ws = malloc(wsb);
          ck_assert_msg(gz_conv2d_backward_weights_ref(d, c.x, c.dy, r, NULL, acc, &e) == 0, "%s", e.msg);
          gz_conv2d_set_method(GZ_CONV_GEMM);
          ck_assert_msg(gz_conv2d_backward_weights_isa(paths[path].isa, d, c.x, c.dy, f, NULL, acc, ws, wsb, &e) == 0,
                        "%s", e.msg);
          gz_conv2d_set_method(GZ_CONV_AUTO);
          const double px = (double)d->n * d->ih * d->iw;
          for (long i = 0; i < c.nw; i++)
            if (!(fabs(f[i] - r[i]) <= 4 * (px + 2) * u * r[i]))
              ck_abort_msg("%s shape %d accumulate %d dw[%ld]: %.9g vs %.9g", path_name(path), s, acc, i, f[i], r[i]);
          free(ws), free(r), free(f), free(c.x), free(c.dy);
        }
}
END_TEST

/* 1x1 weight gradients of at most 12 output channels: dot products along the pixels on AVX-512
 * (gz_gemm_dot_avx512; row blocks 6 + 6, 3 + 2 and 5 + 5, column blocks of 4 and a last one of 1-3, pixel
 * counts with a masked tail: 4620, 323, 15), the GEMM elsewhere, on every GEMM path; thread-count
 * independence in bitwise_across_thread_counts (the 12-channel shape). */
START_TEST(few_channel_weight_gradient_matches_reference) {
  const gz_conv2d shapes[] = {{2, 20, 70, 66, 12, 1, 1, 1, 1, 0, 0}, {3, 9, 17, 19, 5, 1, 1, 1, 1, 0, 0},
                              {1, 7, 3, 5, 10, 1, 1, 1, 1, 0, 0}};
  for (int path = 0; path <= last_path(); path++)
    if (paths[path].method == GZ_CONV_GEMM)
      for (int s = 0; s < 3; s++) path_matches_reference(&shapes[s], path, s);
}
END_TEST

/* The stem's weight gradient on phase planes (AVX-512 direct) with several bands of output rows per image
 * (256 KB of dy per band: 8 of the 18 rows here), full 16-pixel steps and no tail (ow = 128), against the
 * reference. Each band's lane sums go to the accumulator of the thread that owns the tile, the bands without
 * a barrier between them: a thread mixing up tiles would fail here. */
START_TEST(phase_planes_in_bands_match_reference) {
  if (best_isa() < GZ_ISA_AVX512) return;
  const gz_conv2d d = {2, 3, 36, 256, 64, 7, 7, 2, 2, 3, 3};
  path_matches_reference(&d, path_of(GZ_ISA_AVX512, GZ_CONV_DIRECT), 0);
}
END_TEST

/* shapes[0 .. n) on every direct path the CPU has, against the reference */
static void direct_paths_match_reference(const gz_conv2d *shapes, int n) {
  for (int path = 0; path <= last_path(); path++)
    if (paths[path].method == GZ_CONV_DIRECT)
      for (int s = 0; s < n; s++) path_matches_reference(&shapes[s], path, s);
}

/* The direct method makes every image's frame up front while they take at most 6 MB together, or 16 MB with
 * one image's output, else one image at a time (tensor/conv_direct.c, FRAMES_CAP, FRAMES_OUT_CAP). Here the
 * forward of the first shape (48 channels at 132^2 padded, 3.3 MB a frame, 16.5 MB for the 5 images) and
 * backward data of the second go one at a time, the other direction all at once (5.6 MB), on every ISA with
 * a direct path. */
START_TEST(direct_frames_one_image_at_a_time_match_reference) {
  const gz_conv2d shapes[] = {{5, 48, 130, 130, 4, 3, 3, 1, 1, 1, 1}, {5, 4, 130, 130, 48, 3, 3, 1, 1, 1, 1}};
  direct_paths_match_reference(shapes, 2);
}
END_TEST

/* Few input channels: the direct forward's frames are plain zero-padded planes (tensor/conv_direct.c, lanes 1),
 * smaller than blocks of 16 channels, so more images' frames fit the caps at once than the blocked layout's:
 * 8 images of 3 channels at 258^2 (6.4 MB, all up front with 1 MB of output), 32 of one channel at 102^2
 * (1.3 MB). gz_conv2d_workspace must count those frames (it counted the blocked layout's one frame: 4.4 and
 * 0.7 MB); run_path's guard catches a kernel writing past it. */
START_TEST(plain_frames_fit_the_workspace) {
  const gz_conv2d shapes[] = {{8, 3, 256, 256, 4, 3, 3, 1, 1, 1, 1}, {32, 1, 100, 100, 4, 3, 3, 1, 1, 1, 1}};
  direct_paths_match_reference(shapes, 2);
}
END_TEST

/* Small images go G per GEMM (tensor/conv.c, run_groups). Forward and backward data must give the bits
 * of the same images convolved one at a time (a batch split over processes relies on it), with a bias
 * and when accumulating into dx; the weight gradient is held to the reference like every path. */
START_TEST(image_groups_match_one_image_at_a_time) {
  const gz_conv2d shapes[] = {{5, 40, 9, 7, 36, 1, 1, 1, 1, 0, 0}, {4, 300, 6, 5, 20, 3, 3, 1, 1, 1, 1},
                              {3, 24, 11, 9, 40, 3, 3, 2, 2, 1, 1}};
  for (int isa = 0; isa <= best_isa(); isa++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      const gz_conv2d *d = &shapes[s];
      gz_conv2d one = *d;
      one.n = 1;
      conv_data c;
      sizes(d, &c.nx, &c.nw, &c.ny);
      c.x = rnd(c.nx, 1, -1), c.w = rnd(c.nw, 2, -1), c.b = rnd(d->oc, 3, -1), c.dy = rnd(c.ny, 4, -1);
      const long xs = c.nx / d->n, ys = c.ny / d->n;
      float *y = malloc(sizeof(float) * (size_t)c.ny), *y1 = malloc(sizeof(float) * (size_t)c.ny);
      float *dx = rnd(c.nx, 5, -1), *dx1 = malloc(sizeof(float) * (size_t)c.nx);
      memcpy(dx1, dx, sizeof(float) * (size_t)c.nx);
      gz_err e = {0};
      size_t wsb = gz_conv2d_workspace(d), wsb1 = gz_conv2d_workspace(&one);
      void *ws = malloc(wsb), *ws1 = malloc(wsb1);
      ck_assert_msg(gz_conv2d_forward_isa(isa, d, c.x, c.w, c.b, y, ws, wsb, &e) == 0, "%s", e.msg);
      ck_assert_msg(gz_conv2d_backward_data_isa(isa, d, c.dy, c.w, dx, 1, ws, wsb, &e) == 0, "%s", e.msg);
      for (int n = 0; n < d->n; n++) {
        ck_assert_msg(gz_conv2d_forward_isa(isa, &one, c.x + n * xs, c.w, c.b, y1 + n * ys, ws1, wsb1, &e) == 0, "%s",
                      e.msg);
        ck_assert_msg(gz_conv2d_backward_data_isa(isa, &one, c.dy + n * ys, c.w, dx1 + n * xs, 1, ws1, wsb1, &e) == 0,
                      "%s", e.msg);
      }
      ck_assert_msg(memcmp(y, y1, sizeof(float) * (size_t)c.ny) == 0, "isa %d shape %zu: forward differs", isa, s);
      ck_assert_msg(memcmp(dx, dx1, sizeof(float) * (size_t)c.nx) == 0, "isa %d shape %zu: backward data differs", isa,
                    s);
      free(y), free(y1), free(dx), free(dx1), free(ws), free(ws1);
      free(c.x), free(c.w), free(c.b), free(c.dy);
    }
}
END_TEST

/* One shape run twice on the same data, by path[0] and path[1] (before(k), when given, runs first: a setting to
 * change between them); out[k] = y, dx, dw, db of run k, n[q] their lengths (accumulating into random buffers). */
typedef struct {
  float *out[2][4];
  long n[4];
} run_pair;

static void run_both(const gz_conv2d *d, const int path[2], void (*before)(int k), run_pair *r) {
  conv_data c;
  sizes(d, &c.nx, &c.nw, &c.ny);
  c.x = rnd(c.nx, 1, -1), c.w = rnd(c.nw, 2, -1), c.b = rnd(d->oc, 3, -1), c.dy = rnd(c.ny, 4, -1);
  r->n[0] = c.ny, r->n[1] = c.nx, r->n[2] = c.nw, r->n[3] = d->oc;
  for (int k = 0; k < 2; k++) {
    r->out[k][0] = malloc(sizeof(float) * (size_t)c.ny), r->out[k][1] = rnd(c.nx, 5, -1);
    r->out[k][2] = rnd(c.nw, 6, -1), r->out[k][3] = rnd(d->oc, 7, -1);
    if (before) before(k);
    run_path(path[k], d, &c, 1, 1, r->out[k][0], r->out[k][1], r->out[k][2], r->out[k][3]);
  }
  free(c.x), free(c.w), free(c.b), free(c.dy);
}

static int same_bits(const run_pair *r, int q) {
  return memcmp(r->out[0][q], r->out[1][q], sizeof(float) * (size_t)r->n[q]) == 0;
}

static void free_pair(run_pair *r) {
  for (int k = 0; k < 2; k++)
    for (int q = 0; q < 4; q++) free(r->out[k][q]);
}

/* The AVX2 direct convolution computes every output element as the same sum, in the same order, with
 * FMAs, as the AVX-512 one (tensor/conv_direct_avx2.c): same bits, in all three directions, with a bias
 * and accumulating. Kernel widths 1, 3, 5, 7 cover every weight-gradient tile shape of both; the shapes
 * of 3 and 5 input channels run the forward on plain planes (one channel per block); their weight
 * gradient differs by design (AVX-512 sums it on phase planes, lanes over pixels) and is not compared. The
 * last shape (10 output channels) runs AVX-512's pixel-vector forward, which keeps the blocked order. */
START_TEST(direct_avx2_same_bits_as_avx512) {
  if (best_isa() < GZ_ISA_AVX512) return; /* nothing to compare with */
  const gz_conv2d shapes[] = {{3, 35, 9, 30, 45, 3, 3, 2, 2, 1, 1}, {2, 20, 13, 17, 33, 3, 3, 1, 1, 1, 1},
                              {1, 16, 15, 14, 40, 7, 7, 2, 2, 3, 3}, {2, 24, 14, 13, 36, 1, 1, 2, 2, 0, 0},
                              {1, 17, 9, 11, 7, 5, 5, 1, 1, 2, 2}, {2, 3, 21, 19, 40, 7, 7, 2, 2, 3, 3},
                              {1, 5, 8, 27, 20, 3, 3, 1, 1, 1, 1}, {2, 300, 5, 7, 275, 3, 3, 1, 1, 1, 1},
                              {2, 20, 9, 37, 10, 3, 3, 1, 1, 1, 1}};
  const int path[2] = {path_of(GZ_ISA_AVX2, GZ_CONV_DIRECT), path_of(GZ_ISA_AVX512, GZ_CONV_DIRECT)};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    run_pair r;
    run_both(&shapes[s], path, NULL, &r);
    for (int q = 0; q < 4; q++) /* the weight gradient of < 16 input channels: phase planes on AVX-512 only */
      ck_assert_msg((q == 2 && shapes[s].ic < 16) || same_bits(&r, q), "shape %zu output %d differs", s, q);
    free_pair(&r);
  }
}
END_TEST

/* The AVX-512 tiles' two broadcast styles (gz_fma_folded: one chosen per CPU) are the same products and sums: the
 * GEMM (1x1; 3x3 forward's implicit GEMM, the weight gradient's row-layout tiles) and the direct method, forced
 * each way, must give the same bits in every output. */
START_TEST(fma_broadcast_styles_same_bits) {
  if (best_isa() < GZ_ISA_AVX512) return;
  const gz_conv2d shapes[] = {{2, 35, 9, 30, 45, 3, 3, 2, 2, 1, 1}, {2, 40, 13, 17, 33, 3, 3, 1, 1, 1, 1},
                              {1, 70, 12, 12, 20, 1, 1, 1, 1, 0, 0}, {2, 3, 21, 19, 40, 7, 7, 2, 2, 3, 3},
                              {2, 48, 16, 16, 10, 1, 1, 1, 1, 0, 0}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int method = GZ_CONV_GEMM; method <= GZ_CONV_DIRECT; method++) {
      const int path[2] = {path_of(GZ_ISA_AVX512, method), path_of(GZ_ISA_AVX512, method)};
      run_pair r;
      run_both(&shapes[s], path, gz_fma_set_folded, &r);
      gz_fma_set_folded(-1);
      for (int q = 0; q < 4; q++) ck_assert_msg(same_bits(&r, q), "shape %zu method %d output %d", s, method, q);
      free_pair(&r);
    }
}
END_TEST

START_TEST(bad_input) {
  gz_err e = {0};
  int oh, ow;
  gz_conv2d d = {1, 3, 8, 8, 4, 3, 3, 1, 1, 3, 1};
  ck_assert_int_eq(gz_conv2d_out(&d, &oh, &ow, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "padding"));
  d = (gz_conv2d){1, 3, 2, 8, 4, 5, 3, 1, 1, 1, 1};
  ck_assert_int_eq(gz_conv2d_out(&d, &oh, &ow, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "larger than the padded input"));
  d = (gz_conv2d){0, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1};
  ck_assert_int_eq(gz_conv2d_out(&d, &oh, &ow, &e), -1);
  d = (gz_conv2d){1, 3, 8, 8, 4, 3, 3, 0, 1, 1, 1};
  ck_assert_int_eq(gz_conv2d_out(&d, &oh, &ow, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "stride"));
  ck_assert_uint_eq(gz_conv2d_workspace(&d), 0);
  d = (gz_conv2d){1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1};
  float x[192] = {0}, w[108] = {0}, y[256];
  for (int i = 0; i < 256; i++) y[i] = 5.0f;
  char ws[64];
  ck_assert_int_eq(gz_conv2d_forward(&d, x, w, NULL, y, ws, sizeof ws, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "workspace"));
  size_t wsb = gz_conv2d_workspace(&d);
  void *big = malloc(wsb);
  ck_assert_int_eq(gz_conv2d_forward(&d, NULL, w, NULL, y, big, wsb, &e), -1);
  ck_assert_int_eq(gz_conv2d_backward_weights(&d, x, y, NULL, NULL, 0, big, wsb, &e), -1);
  ck_assert_int_eq(gz_conv2d_forward_isa(9, &d, x, w, NULL, y, big, wsb, &e), -1);
  for (int i = 0; i < 256; i++) ck_assert(y[i] == 5.0f);
  ck_assert_int_eq(gz_conv2d_forward(&d, x, w, NULL, y, big, wsb, &e), 0);
  ck_assert(y[0] == 0.0f);
  ck_assert(gz_conv2d_macs(&d) == 64.0 * 4 * 27);
  free(big);
}
END_TEST

Suite *suite_tensor_conv(void) {
  Suite *s = suite_create("tensor_conv");
  TCase *t = tcase_create("conv");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, against_pytorch_all_paths);
  tcase_add_test(t, direct_avx2_same_bits_as_avx512);
  tcase_add_test(t, fma_broadcast_styles_same_bits);
  tcase_add_test(t, bitwise_across_thread_counts);
  tcase_add_test(t, banded_im2col_matches_reference);
  tcase_add_test(t, split_weight_gradient_matches_reference);
  tcase_add_test(t, transposed_weight_gradient_matches_reference);
  tcase_add_test(t, few_channel_weight_gradient_matches_reference);
  tcase_add_test(t, phase_planes_in_bands_match_reference);
  tcase_add_test(t, direct_frames_one_image_at_a_time_match_reference);
  tcase_add_test(t, plain_frames_fit_the_workspace);
  tcase_add_test(t, image_groups_match_one_image_at_a_time);
  tcase_add_test(t, bad_input);
  suite_add_tcase(s, t);
  return s;
}
