/* The paper's losses: against the authors' formulas written literally in PyTorch (float64 autograd), on
 * random and on extreme inputs, and gradient checks by central differences in double precision. */
#include "nn/loss.h"
#include "testutil.h"

#include <cJSON.h>
#include <math.h>

typedef struct {
  int nb, nk, ncell, npix;
  unsigned char ann[4];
  gz_mil_opts o;
  float *gamma, *b, *y, *z, *t;
} lcase;

static void fill_case(lcase *c, int kind, gz_rng *r) {
  size_t ng = (size_t)c->nb * c->nk * c->ncell, nz = (size_t)c->nb * c->nk * c->npix;
  c->gamma = calloc(ng, sizeof(float)), c->b = calloc(ng, sizeof(float));
  c->y = calloc((size_t)c->nb * c->nk, sizeof(float));
  c->z = calloc(nz, sizeof(float)), c->t = calloc(nz, sizeof(float));
  for (size_t i = 0; i < ng; i++) {
    c->gamma[i] = kind == 4 ? ((i / (size_t)c->ncell) % 2 ? 50.0f : -50.0f) : (float)(2.0 * gz_rng_normal(r));
    c->b[i] = gz_rng_uniform(r) < 0.1f;
  }
  for (int i = 0; i < c->nb * c->nk; i++) c->y[i] = gz_rng_uniform(r) < 0.4f;
  if (kind == 4) /* image 0: all logits -50 with y = 1 (C_k ~ 4e-20: a float product says exactly 0) */
    for (int k = 0; k < c->nk; k++) {
      c->y[k] = 1;
      for (int j = 0; j < c->ncell; j++) c->gamma[(size_t)k * c->ncell + j] = -50.0f;
    }
  /* annotated image 0: class 3 has no positive cell (n+ = 0); class 1 exactly one */
  for (int j = 0; j < c->ncell; j++) c->b[3 * c->ncell + j] = 0, c->b[1 * c->ncell + j] = j == 5;
  for (size_t i = 0; i < nz; i++) c->z[i] = (float)(3.0 * gz_rng_normal(r)), c->t[i] = gz_rng_uniform(r);
  if (kind == 5) memset(c->ann, 0, sizeof c->ann); /* no annotated image: L_T = 0 */
}

static void write_case(const char *dir, int i, const lcase *c) {
  char name[64], json[512], flags[64] = "";
  size_t ng = (size_t)c->nb * c->nk * c->ncell, nz = (size_t)c->nb * c->nk * c->npix;
  for (int k = 0; k < c->nb; k++) snprintf(flags + strlen(flags), sizeof flags - strlen(flags), k ? ",%d" : "%d", c->ann[k]);
  snprintf(json, sizeof json,
           "{\"nb\":%d,\"nk\":%d,\"ncell\":%d,\"npix\":%d,\"annotated\":[%s],\"lambda_a\":%g,"
           "\"balanced\":%s,\"ck_balanced\":%s}",
           c->nb, c->nk, c->ncell, c->npix, flags, c->o.lambda_a, c->o.balanced ? "true" : "false",
           c->o.ck_range == GZ_CK_BALANCED ? "true" : "false");
  snprintf(name, sizeof name, "case_%d.json", i);
  free(tu_write(dir, name, json, strlen(json)));
#define W(arr, cnt)                                                 \
  snprintf(name, sizeof name, #arr "_%d", i);                       \
  free(tu_write(dir, name, (const char *)c->arr, (cnt) * sizeof(float)));
  W(gamma, ng) W(b, ng) W(y, (size_t)c->nb * c->nk) W(z, nz) W(t, nz)
#undef W
}

static double *read_doubles(const char *dir, const char *what, int i, size_t n) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s_%d", dir, what, i);
  size_t len;
  char *raw = gz_read_file(path, &len, NULL);
  ck_assert_msg(raw && len == n * sizeof(double), "%s: %zu bytes", path, len);
  double *v = malloc(n * sizeof *v);
  memcpy(v, raw, n * sizeof *v);
  free(raw);
  return v;
}

/* norm-wise relative error ||a - b|| / ||b|| (absolute when b is 0) */
static double rel_err(const float *a, const double *b, size_t n, double *max_abs) {
  double num = 0, den = 0;
  *max_abs = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    num += d * d, den += b[i] * b[i];
    *max_abs = fmax(*max_abs, fabs(d));
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

START_TEST(against_pytorch) {
  enum { N = 6 };
  lcase cs[N] = {
      {3, 10, 64, 16, {1, 0, 1}, GZ_MIL_OPTS_DEFAULT, 0, 0, 0, 0, 0},
      {3, 10, 64, 16, {1, 0, 1}, {3.0, 0, GZ_CK_FIXED}, 0, 0, 0, 0, 0},
      {3, 10, 64, 16, {0, 0, 1}, {3.0, 1, GZ_CK_BALANCED}, 0, 0, 0, 0, 0},
      {2, 10, 1024, 64, {1, 0}, GZ_MIL_OPTS_DEFAULT, 0, 0, 0, 0, 0},
      {3, 10, 1024, 16, {0, 0, 1}, GZ_MIL_OPTS_DEFAULT, 0, 0, 0, 0, 0},
      {2, 10, 64, 16, {1, 1}, GZ_MIL_OPTS_DEFAULT, 0, 0, 0, 0, 0},
  };
  char *dir = tu_tempdir();
  gz_rng r;
  gz_rng_init(&r, 77, 0);
  for (int i = 0; i < N; i++) {
    fill_case(&cs[i], i, &r);
    write_case(dir, i, &cs[i]);
  }
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s/tools/torch_loss_ref.py %s %d", tu_python(), tu_root(), dir, N);
  ck_assert_msg(system(cmd) == 0, "reference failed: %s", cmd);
  for (int i = 0; i < N; i++) {
    lcase *c = &cs[i];
    size_t ng = (size_t)c->nb * c->nk * c->ncell, nz = (size_t)c->nb * c->nk * c->npix;
    char path[600];
    snprintf(path, sizeof path, "%s/out_%d.json", dir, i);
    char *text = gz_read_file(path, NULL, NULL);
    cJSON *o = cJSON_Parse(text);
    free(text);
    double mil_ref = cJSON_GetObjectItem(o, "mil")->valuedouble, mil_log = cJSON_GetObjectItem(o, "mil_logspace")->valuedouble;
    double dec_ref = cJSON_GetObjectItem(o, "dec")->valuedouble;
    float *dg = calloc(ng, sizeof *dg), *dz = calloc(nz, sizeof *dz), *ck = calloc((size_t)c->nb * c->nk, sizeof *ck);
    double mil = gz_mil_loss(c->gamma, c->b, c->y, c->ann, c->nb, c->nk, c->ncell, &c->o, dg, 1.0f, 0);
    double dec = gz_decoder_loss(c->z, c->t, c->y, c->ann, c->nb, c->nk, c->npix, dz, 1.0f, 0);
    double *dg_ref = read_doubles(dir, "dgamma", i, ng), *dz_ref = read_doubles(dir, "dz", i, nz), ma;
    ck_assert(isfinite(mil));
    if (i == 4) {
      /* Extreme logits: the literal product rounds C_k to 0 for image 0 (loss -log(1e-20) = 46.05 per
       * class); the log-space value, and ours, resolve C_k ~ 4e-20. */
      ck_assert_msg(fabs(mil - mil_log) <= 1e-5 * fabs(mil_log), "case %d: ours %.10g, log-space %.10g", i, mil, mil_log);
      ck_assert_msg(mil_ref - mil > 1.0, "case %d: the literal product was expected to lose accuracy (%g vs %g)", i,
                    mil_ref, mil);
      for (size_t j = 0; j < ng; j++) ck_assert(isfinite(dg[j]));
    } else {
      ck_assert_msg(fabs(mil - mil_ref) <= 1e-5 * fabs(mil_ref), "case %d: L_I ours %.10g torch %.10g", i, mil, mil_ref);
      double re = rel_err(dg, dg_ref, ng, &ma);
      ck_assert_msg(re <= 1e-5, "case %d: dL_I/dgamma relative error %g (max abs %g)", i, re, ma);
      gz_mil_ck(c->gamma, c->nb, c->nk, c->ncell, c->o.ck_range, ck);
      cJSON *cks = cJSON_GetObjectItem(o, "ck");
      for (int k = 0; k < c->nb * c->nk; k++) {
        double want = cJSON_GetArrayItem(cks, k)->valuedouble;
        ck_assert_msg(fabs(ck[k] - want) <= 1e-5 * fabs(want) + 1e-12, "case %d: C_%d %g vs %g", i, k, ck[k], want);
      }
    }
    ck_assert_msg(fabs(dec - dec_ref) <= 1e-5 * fmax(fabs(dec_ref), 1e-30) || (dec == 0 && dec_ref == 0),
                  "case %d: L_T ours %.10g torch %.10g", i, dec, dec_ref);
    double re = rel_err(dz, dz_ref, nz, &ma);
    ck_assert_msg(re <= 1e-5, "case %d: dL_T/dz relative error %g (max abs %g)", i, re, ma);
    if (i == 5) ck_assert(dec == 0.0);
    cJSON_Delete(o);
    free(dg), free(dz), free(ck), free(dg_ref), free(dz_ref);
    free(c->gamma), free(c->b), free(c->y), free(c->z), free(c->t);
  }
  tu_rmtree(dir);
}
END_TEST

/* Central differences in double precision on the double-precision path. */
START_TEST(gradient_check) {
  enum { NB = 2, NK = 3, NC = 16, NP = 9 };
  double g[NB * NK * NC], b[NB * NK * NC], y[NB * NK], d[NB * NK * NC], z[NB * NK * NP], t[NB * NK * NP], dz[NB * NK * NP];
  unsigned char ann[NB] = {1, 0};
  gz_rng r;
  gz_rng_init(&r, 5, 5);
  for (int i = 0; i < NB * NK * NC; i++) g[i] = 3 * gz_rng_normal(&r), b[i] = gz_rng_uniform(&r) < 0.3;
  for (int i = 0; i < NB * NK; i++) y[i] = i % 2;
  y[0] = 1; /* an annotated positive pair, so L_T is not 0 */
  for (int i = 0; i < NB * NK * NP; i++) z[i] = 2 * gz_rng_normal(&r), t[i] = gz_rng_uniform(&r);
  gz_mil_opts opts[3] = {GZ_MIL_OPTS_DEFAULT, {3.0, 0, GZ_CK_FIXED}, {3.0, 1, GZ_CK_BALANCED}};
  const double h = 1e-6;
  for (int v = 0; v < 3; v++) {
    gz_mil_loss_d(g, b, y, ann, NB, NK, NC, &opts[v], d);
    for (int i = 0; i < NB * NK * NC; i++) {
      double keep = g[i];
      g[i] = keep + h;
      double up = gz_mil_loss_d(g, b, y, ann, NB, NK, NC, &opts[v], NULL);
      g[i] = keep - h;
      double dn = gz_mil_loss_d(g, b, y, ann, NB, NK, NC, &opts[v], NULL);
      g[i] = keep;
      double fd = (up - dn) / (2 * h);
      ck_assert_msg(fabs(fd - d[i]) <= 1e-6 * fmax(1.0, fabs(d[i])), "variant %d cell %d: fd %g analytic %g", v, i, fd, d[i]);
    }
  }
  gz_decoder_loss_d(z, t, y, ann, NB, NK, NP, dz);
  for (int i = 0; i < NB * NK * NP; i++) {
    double keep = z[i];
    z[i] = keep + h;
    double up = gz_decoder_loss_d(z, t, y, ann, NB, NK, NP, NULL);
    z[i] = keep - h;
    double dn = gz_decoder_loss_d(z, t, y, ann, NB, NK, NP, NULL);
    z[i] = keep;
    ck_assert_msg(fabs((up - dn) / (2 * h) - dz[i]) <= 1e-8, "decoder element %d", i);
  }
}
END_TEST

Suite *suite_nn_loss(void) {
  Suite *s = suite_create("nn_loss");
  TCase *t = tcase_create("losses");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, against_pytorch);
  tcase_add_test(t, gradient_check);
  suite_add_tcase(s, t);
  return s;
}
