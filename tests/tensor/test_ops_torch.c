/* Forward and backward against PyTorch 1.13 (tools/torch_ops_ref.py, one python run for every case):
 * batch norm (training with running-stat update, eval), max-pool 3x3/2 pad 1 with ties, -inf and NaN,
 * adaptive max-pool, nearest and bilinear (align_corners=True) upsampling, sigmoid, log-sigmoid, BCE
 * with logits (mean), and the AMSGrad step.
 *
 * Tolerances (max |ours - torch| <= atol + rtol |torch|):
 *   bitwise: max-pool values, indices and gradients (no arithmetic but the scatter-adds, which both do in
 *     output order), nearest forward, AMSGrad (the same operations with the same roundings).
 *   nearest backward: the same scatter order: bitwise too.
 *   batch norm y/dx: both in float with different summation orders over up to 2*33*31 elements:
 *     rtol = atol = 2e-5 (y), 5e-5 (dx, a difference of two sums); mean 1e-6, invstd 1e-5;
 *     running var 1e-5; dgamma/dbeta (sums of up to 2046 terms) rtol 1e-5, atol 1e-4.
 *   bilinear: PyTorch's fused float products vs ours: rtol 2e-6, atol 1e-6 (y), 1e-5 (dx).
 *   sigmoid family: PyTorch's float exp (Sleef, 1 ulp) vs ours in double: rtol 1e-6, atol 1e-7.
 *   BCE mean: float vs double accumulation over 1000 terms: rtol 1e-5. */
#include <math.h>
#include <omp.h>

#include "tensor/tensor.h"
#include "testutil.h"

static char *dir;
static FILE *manifest;

static void fill(float *p, size_t n, uint64_t seed, float lo, float hi) {
  gz_rng r;
  gz_rng_init(&r, seed, 3);
  for (size_t i = 0; i < n; i++) p[i] = lo + (hi - lo) * gz_rng_uniform(&r);
}

static void wr(const char *name, const char *key, const float *p, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.%s.f32", dir, name, key);
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  ck_assert_uint_eq(fwrite(p, 4, n, f), n);
  fclose(f);
}

static float *rd(const char *name, const char *key, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.%s.f32", dir, name, key);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "PyTorch wrote no %s", path);
  float *p = malloc(n * 4 + 4);
  size_t got = fread(p, 4, n + 1, f);
  fclose(f);
  ck_assert_msg(got == n, "%s: %zu floats, expected %zu", path, got, n);
  return p;
}

/* Compares ours with PyTorch's and frees theirs. NaN equals NaN. */
static void cmp(const char *name, const char *label, const char *key, const float *ours, size_t n, double rtol,
                double atol) {
  float *t = rd(name, key, n);
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)ours[i] - t[i]);
    int ok = (isnan(ours[i]) && isnan(t[i])) || ours[i] == t[i] || d <= atol + rtol * fabs((double)t[i]);
    if (rtol == 0 && atol == 0) ok = (isnan(ours[i]) && isnan(t[i])) || memcmp(&ours[i], &t[i], 4) == 0;
    ck_assert_msg(ok, "%s %s[%zu]: ours %.9g, PyTorch %.9g (rtol %g, atol %g)", label, key, i, ours[i], t[i], rtol, atol);
  }
  free(t);
}

typedef struct {
  char name[32];
  int64_t n, c, h, w, oh, ow;
  gz_pool2d pool;
  int kind; /* 0 bn train, 1 bn eval, 2 maxpool, 3 adaptive, 4 nearest, 5 bilinear */
  float *x, *dy, *gamma, *beta, *rm, *rv;
} case_t;

#define NCASES 13
static case_t cases[NCASES];
static const char *ops[] = {"bn_train", "bn_eval", "maxpool", "adaptive", "nearest", "bilinear"};

static void add_case(int k, int kind, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  case_t *cs = &cases[k];
  memset(cs, 0, sizeof *cs);
  snprintf(cs->name, sizeof cs->name, "c%d", k);
  cs->kind = kind, cs->n = n, cs->c = c, cs->h = h, cs->w = w;
  cs->pool = (gz_pool2d){3, 3, 2, 2, 1, 1};
  if (kind == 2) oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
  if (kind <= 1) oh = h, ow = w;
  cs->oh = oh, cs->ow = ow;
  size_t nx = (size_t)(n * c * h * w), ny = (size_t)(n * c * oh * ow);
  cs->x = malloc(nx * 4), cs->dy = malloc(ny * 4);
  fill(cs->x, nx, 100 + (uint64_t)k, -2, 3);
  fill(cs->dy, ny, 200 + (uint64_t)k, -1, 1);
  if (kind == 2 || kind == 3) { /* ties, -inf and one NaN: PyTorch's first-max and NaN rules */
    for (size_t i = 0; i < nx; i++) cs->x[i] = roundf(cs->x[i]);
    cs->x[nx / 3] = -INFINITY;
    if (k % 2) cs->x[nx / 2] = NAN;
  }
  wr(cs->name, "x", cs->x, nx);
  wr(cs->name, "dy", cs->dy, ny);
  if (kind <= 1) {
    cs->gamma = malloc((size_t)c * 4), cs->beta = malloc((size_t)c * 4), cs->rm = malloc((size_t)c * 4), cs->rv = malloc((size_t)c * 4);
    fill(cs->gamma, (size_t)c, 300 + (uint64_t)k, 0.5f, 1.5f);
    fill(cs->beta, (size_t)c, 400 + (uint64_t)k, -1, 1);
    fill(cs->rm, (size_t)c, 500 + (uint64_t)k, -1, 1);
    fill(cs->rv, (size_t)c, 600 + (uint64_t)k, 0.5f, 2);
    wr(cs->name, "gamma", cs->gamma, (size_t)c);
    wr(cs->name, "beta", cs->beta, (size_t)c);
    wr(cs->name, "rm", cs->rm, (size_t)c);
    wr(cs->name, "rv", cs->rv, (size_t)c);
  }
  fprintf(manifest, "%s %s %lld %lld %lld %lld", ops[kind], cs->name, (long long)n, (long long)c, (long long)h, (long long)w);
  if (kind == 0) fprintf(manifest, " 0.01 1e-5\n");
  else if (kind == 1) fprintf(manifest, " 1e-5\n");
  else if (kind == 2) fprintf(manifest, " 3 3 2 2 1 1\n");
  else fprintf(manifest, " %lld %lld\n", (long long)oh, (long long)ow);
}

#define NELT 1001
static float ex[NELT], edy[NELT], et[NELT];
#define NADAM 1003
#define ADAM_STEPS 4
static float ap[NADAM], ag[ADAM_STEPS][NADAM];

/* Writes every case, runs PyTorch once. */
static void setup(void) {
  dir = tu_tempdir();
  char path[512];
  snprintf(path, sizeof path, "%s/manifest.txt", dir);
  manifest = fopen(path, "w");
  ck_assert(manifest != NULL);
  int k = 0;
  add_case(k++, 0, 2, 19, 33, 31, 0, 0);
  add_case(k++, 0, 1, 5, 7, 3, 0, 0);
  add_case(k++, 0, 3, 16, 8, 8, 0, 0);
  add_case(k++, 1, 3, 7, 5, 9, 0, 0);
  add_case(k++, 2, 2, 3, 15, 17, 0, 0);
  add_case(k++, 2, 1, 4, 2, 1, 0, 0); /* window larger than the input */
  add_case(k++, 2, 3, 5, 64, 64, 0, 0);
  add_case(k++, 3, 2, 3, 24, 16, 3, 2);
  add_case(k++, 3, 1, 2, 9, 9, 3, 3);
  add_case(k++, 4, 2, 3, 16, 16, 32, 32);
  add_case(k++, 4, 1, 2, 7, 5, 17, 12);
  add_case(k++, 5, 2, 3, 32, 32, 64, 64);
  add_case(k++, 5, 1, 2, 5, 7, 13, 8);
  ck_assert_int_eq(k, NCASES);
  fill(ex, NELT, 700, -30, 30);
  ex[0] = -100, ex[1] = 100, ex[2] = 0;
  fill(edy, NELT, 701, -1, 1);
  fill(et, NELT, 702, 0, 1);
  const char *names[3] = {"sigmoid", "logsigmoid", "bce"};
  for (int i = 0; i < 3; i++) {
    fprintf(manifest, "%s %s %d\n", names[i], names[i], NELT);
    wr(names[i], "x", ex, NELT);
    wr(names[i], i == 2 ? "t" : "dy", i == 2 ? et : edy, NELT);
  }
  fill(ap, NADAM, 800, -1, 1);
  wr("adam", "p", ap, NADAM);
  for (int s = 0; s < ADAM_STEPS; s++) {
    char key[16];
    snprintf(key, sizeof key, "g%d", s + 1);
    fill(ag[s], NADAM, 801 + (uint64_t)s, -0.1f, 0.1f);
    ag[s][s] = 0; /* an exact zero gradient */
    wr("adam", key, ag[s], NADAM);
  }
  fprintf(manifest, "amsgrad adam %d %d 1e-3 0.9 0.999 1e-8 1e-5\n", NADAM, ADAM_STEPS);
  fclose(manifest);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "'%s' '%s/tools/torch_ops_ref.py' '%s'", tu_python(), tu_root(), dir);
  ck_assert_msg(system(cmd) == 0, "PyTorch oracle failed: %s", cmd);
}

static void teardown(void) {
  for (int k = 0; k < NCASES; k++) {
    free(cases[k].x), free(cases[k].dy), free(cases[k].gamma), free(cases[k].beta), free(cases[k].rm), free(cases[k].rv);
  }
  tu_rmtree(dir);
  dir = NULL;
}

/* Each table (the reference, then every CPU path the machine has) against PyTorch, through the table's
 * entries; the validated wrappers on top are the same calls (tested in tensor_core). */
START_TEST(spatial_and_bn_vs_torch) {
  gz_err e = {0};
  const gz_ops_table *t = _i < 0 ? gz_ops_reference() : gz_ops_cpu(_i);
  if (!t) return; /* the CPU lacks this ISA */
  for (int k = 0; k < NCASES; k++) {
    case_t *cs = &cases[k];
    size_t nx = (size_t)(cs->n * cs->c * cs->h * cs->w), ny = (size_t)(cs->n * cs->c * cs->oh * cs->ow), C = (size_t)cs->c;
    float *y = malloc(ny * 4), *dx = malloc(nx * 4), *mean = malloc(C * 4), *var = malloc(C * 4);
    float *dg = malloc(C * 4), *db = malloc(C * 4), *rm = malloc(C * 4), *rv = malloc(C * 4);
    int32_t *idx = malloc(ny * 4);
    gz_tensor tx, tdy, ty, tdx;
    gz_tensor_wrap4(&tx, cs->x, cs->n, cs->c, cs->h, cs->w, &e);
    gz_tensor_wrap4(&tdx, dx, cs->n, cs->c, cs->h, cs->w, &e);
    gz_tensor_wrap4(&ty, y, cs->n, cs->c, cs->oh, cs->ow, &e);
    gz_tensor_wrap4(&tdy, cs->dy, cs->n, cs->c, cs->oh, cs->ow, &e);
    char nm[64];
    snprintf(nm, sizeof nm, "%.20s (%.30s)", cs->name, t->name);
#define CMP(key, ours, n, rtol, atol) cmp(cs->name, nm, key, ours, n, rtol, atol)
    if (cs->kind == 0) {
      t->bn_fwd_train(&tx, cs->gamma, cs->beta, 1e-5f, &ty, mean, var);
      t->bn_bwd(&tx, &tdy, cs->gamma, mean, var, 1e-5f, 1, &tdx, dg, db, 0);
      CMP("y", y, ny, 2e-5, 2e-5);
      CMP("mean", mean, C, 1e-6, 1e-6);
      memcpy(rm, cs->rm, C * 4), memcpy(rv, cs->rv, C * 4);
      gz_bn_update_running(rm, rv, mean, var, cs->c, cs->n * cs->h * cs->w, 0.01f);
      CMP("rm", rm, C, 1e-6, 1e-7);
      CMP("rv", rv, C, 1e-5, 0);
      for (size_t c = 0; c < C; c++) var[c] = (float)(1.0 / sqrt((double)var[c] + 1e-5)); /* as invstd */
      CMP("invstd", var, C, 1e-5, 0);
      CMP("dx", dx, nx, 5e-5, 5e-5);
    } else if (cs->kind == 1) {
      t->bn_fwd_eval(&tx, cs->gamma, cs->beta, cs->rm, cs->rv, 1e-5f, &ty);
      t->bn_bwd(&tx, &tdy, cs->gamma, cs->rm, cs->rv, 1e-5f, 0, &tdx, dg, db, 0);
      CMP("y", y, ny, 2e-5, 2e-5);
      CMP("dx", dx, nx, 2e-5, 2e-5);
    } else if (cs->kind == 2 || cs->kind == 3) {
      int fh = (int)(cs->h / cs->oh), fw = (int)(cs->w / cs->ow);
      gz_pool2d adaptive = {fh, fw, fh, fw, 0, 0};
      t->maxpool_fwd(&tx, cs->kind == 2 ? &cs->pool : &adaptive, &ty, idx);
      t->maxpool_bwd(&tdy, idx, &tdx, 0);
      float *fi = malloc(ny * 4);
      for (size_t i = 0; i < ny; i++) fi[i] = (float)idx[i];
      CMP("y", y, ny, 0, 0);
      CMP("idx", fi, ny, 0, 0);
      CMP("dx", dx, nx, 0, 0);
      free(fi);
    } else if (cs->kind == 4) {
      t->up_nearest_fwd(&tx, &ty);
      t->up_nearest_bwd(&tdy, &tdx, 0);
      CMP("y", y, ny, 0, 0);
      CMP("dx", dx, nx, 0, 0);
    } else {
      t->up_bilinear_fwd(&tx, &ty);
      t->up_bilinear_bwd(&tdy, &tdx, 0);
      CMP("y", y, ny, 2e-6, 1e-6);
      CMP("dx", dx, nx, 2e-6, 1e-5);
    }
    if (cs->kind <= 1) {
      CMP("dgamma", dg, C, 1e-5, 1e-4);
      CMP("dbeta", db, C, 1e-5, 1e-4);
    }
#undef CMP
    free(y), free(dx), free(mean), free(var), free(dg), free(db), free(rm), free(rv), free(idx);
  }
}
END_TEST

START_TEST(sigmoid_bce_vs_torch) {
  gz_err e = {0};
  float y[NELT], dx[NELT], loss[NELT], mean;
  gz_tensor tx, tdy, tt, ty, tdx, tl, tm;
  int64_t n = NELT, one = 1;
  gz_tensor_wrap(&tx, ex, 1, &n, &e);
  gz_tensor_wrap(&tdy, edy, 1, &n, &e);
  gz_tensor_wrap(&tt, et, 1, &n, &e);
  gz_tensor_wrap(&ty, y, 1, &n, &e);
  gz_tensor_wrap(&tdx, dx, 1, &n, &e);
  gz_tensor_wrap(&tl, loss, 1, &n, &e);
  gz_tensor_wrap(&tm, &mean, 1, &one, &e);
  ck_assert_int_eq(gz_sigmoid_fwd(&tx, &ty, &e), 0);
  ck_assert_int_eq(gz_sigmoid_bwd(&ty, &tdy, &tdx, 0, &e), 0);
  cmp("sigmoid", "sigmoid", "y", y, NELT, 1e-6, 1e-7);
  cmp("sigmoid", "sigmoid", "dx", dx, NELT, 1e-5, 1e-7);
  ck_assert_int_eq(gz_logsigmoid_fwd(&tx, &ty, &e), 0);
  ck_assert_int_eq(gz_logsigmoid_bwd(&tx, &tdy, &tdx, 0, &e), 0);
  cmp("logsigmoid", "logsigmoid", "y", y, NELT, 1e-6, 1e-7);
  cmp("logsigmoid", "logsigmoid", "dx", dx, NELT, 1e-6, 1e-7);
  ck_assert_int_eq(gz_bce_logits_fwd(&tx, &tt, &tl, &e), 0);
  ck_assert_int_eq(gz_reduce(&tl, 1, GZ_REDUCE_MEAN, &tm, NULL, 0, &e), 0);
  ck_assert_int_eq(gz_bce_logits_bwd(&tx, &tt, NULL, 1.0f / NELT, &tdx, 0, &e), 0);
  cmp("bce", "bce", "loss", &mean, 1, 1e-5, 0);
  cmp("bce", "bce", "dx", dx, NELT, 1e-5, 1e-9);
}
END_TEST

START_TEST(amsgrad_vs_torch) {
  gz_err e = {0};
  /* the reference and every CPU path the machine has, each bitwise equal to torch.optim.Adam(amsgrad=True) */
  for (int isa = -1; isa <= GZ_ISA_AVX512; isa++) { /* -1: the reference */
    const gz_ops_table *t = isa < 0 ? gz_ops_reference() : gz_ops_cpu(isa);
    if (!t) continue;
    float p[NADAM], m[NADAM] = {0}, v[NADAM] = {0}, vm[NADAM] = {0};
    memcpy(p, ap, sizeof p);
    for (int s = 1; s <= ADAM_STEPS; s++) {
      gz_adam_hp hp = {1e-3, 0.9, 0.999, 1e-8, 1e-5, s};
      t->amsgrad(p, ag[s - 1], m, v, vm, NADAM, &hp);
    }
    cmp("adam", "adam", "p", p, NADAM, 0, 0);
    cmp("adam", "adam", "m", m, NADAM, 0, 0);
    cmp("adam", "adam", "v", v, NADAM, 0, 0);
    cmp("adam", "adam", "vmax", vm, NADAM, 0, 0);
  }
  (void)e;
}
END_TEST

Suite *suite_tensor_ops_torch(void) {
  Suite *s = suite_create("tensor_ops_torch");
  TCase *tc = tcase_create("torch");
  tcase_set_timeout(tc, 120);
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_add_loop_test(tc, spatial_and_bn_vs_torch, -1, GZ_ISA_AVX512 + 1); /* -1: the reference */
  tcase_add_test(tc, sigmoid_bce_vs_torch);
  tcase_add_test(tc, amsgrad_vs_torch);
  suite_add_tcase(s, tc);
  return s;
}
