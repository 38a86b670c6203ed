/* Heatmaps against the literal numpy/scipy reference (tools/gaze_reference.py: full pdf, no truncation,
 * float32 accumulation, torch geometry), within the stated truncation bound; the exact maximum; the
 * edge cases of method.md section 4 (outside the image, zero duration, overlaps, empty windows). */
#include "gaze/gaze.h"
#include "gaze_fixture.h"

enum { W = 300, H = 380, NFIX = 40, S = 512 };

static float *read_f32(const char *dir, const char *name, size_t n) {
  char *p = fx_path(dir, name);
  FILE *f = fopen(p, "rb");
  ck_assert_msg(f != NULL, "missing %s", p);
  float *v = malloc(sizeof *v * n);
  ck_assert_uint_eq(fread(v, sizeof *v, n, f), n);
  fclose(f);
  free(p);
  return v;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

/* A reading with random fixations plus one whose shown rectangle reaches outside the image. */
static gz_fixation *make_fixations(const char *dir, uint64_t seed, int *n) {
  gz_rng r;
  gz_rng_init(&r, seed, 7);
  fx_buf b = {0};
  fx_random_fixations(&b, &r, NFIX, W, H, 0.0, 20.0, 12, 30);
  fx_fix(&b, 3.0, 3.4, W - 10, 15, 25, 22, -20, -10, W + 30, H + 5);
  fx_write(dir, "fixations.csv", b.s);
  free(b.s);
  gz_fixation *f;
  gz_err e = {0};
  char *p = fx_path(dir, "fixations.csv");
  ck_assert_msg(gz_read_fixations(p, &f, n, &e) == 0, "%s", e.msg);
  free(p);
  return f;
}

static const double WIN[][2] = {{0.0, 25.0}, {2.0, 6.5}, {5.25, 9.0}, {-3.0, -1.0}, {11.0, 11.0}, {8.0, 14.5}};
enum { NWIN = sizeof WIN / sizeof WIN[0] };

static void run_reference(const char *dir) {
  char cmd[4096], wins[512] = "";
  for (int i = 0; i < NWIN; i++)
    snprintf(wins + strlen(wins), sizeof wins - strlen(wins), "%.17g,%.17g;", WIN[i][0], WIN[i][1]);
  snprintf(cmd, sizeof cmd, "%s %s/tools/gaze_reference.py heatmap --reading %s --width %d --height %d --windows '%s' --out %s",
           tu_python(), tu_root(), dir, W, H, wins, dir);
  ck_assert_msg(system(cmd) == 0, "reference failed: %s", cmd);
}

START_TEST(matches_reference_within_bound) {
  char *dir = tu_tempdir();
  int n;
  gz_fixation *f = make_fixations(dir, 11, &n);
  run_reference(dir);
  gz_err e = {0};
  gz_geom g;
  ck_assert_msg(gz_geom_init(&g, H, W, S, &e) == 0, "%s", e.msg);
  /* k = 6 (the default) and k = 2.5, where truncation is visible: the bound must hold for both */
  const double ks[2] = {6.0, 2.5};
  double worst_visible = 0;
  for (int kk = 0; kk < 2; kk++) {
    gz_heat_opts o = GZ_HEAT_OPTS_DEFAULT;
    o.k_sigma = ks[kk];
    gz_heat *h = gz_heat_new(f, n, W, H, &g, &o, &e);
    ck_assert_msg(h != NULL, "%s", e.msg);
    float *full = malloc(sizeof *full * W * H), *m512 = malloc(sizeof *m512 * S * S);
    for (int i = 0; i < NWIN; i++) {
      char name[64];
      snprintf(name, sizeof name, "empty_%d", i);
      char *ep = fx_path(dir, name);
      int ref_empty = gz_is_file(ep);
      free(ep);
      double bound, bound512;
      int rc = gz_heat_window_full(h, WIN[i][0], WIN[i][1], full, &bound, &e);
      int rc512 = gz_heat_window(h, WIN[i][0], WIN[i][1], m512, &bound512, &e);
      ck_assert_int_eq(rc, rc512);
      ck_assert_msg(rc == !ref_empty, "window %d: ours %d, reference empty %d", i, rc, ref_empty);
      if (!rc) continue;
      snprintf(name, sizeof name, "full_%d.f32", i);
      float *ref = read_f32(dir, name, (size_t)W * H);
      snprintf(name, sizeof name, "r512_%d.f32", i);
      float *ref512 = read_f32(dir, name, (size_t)S * S);
      /* float tolerance: the reference accumulates in float32 (n rounding steps of 2^-24 of at most
       * the max); torch's float32 geometry itself strays up to 1.9e-5 from float64 (test_geometry) */
      double tol = (n + 1) * ldexp(1.0, -24) + 1e-6, tol512 = tol + 2e-5;
      double d = max_abs_diff(full, ref, (size_t)W * H), d512 = max_abs_diff(m512, ref512, (size_t)S * S);
      ck_assert_msg(d <= bound + tol, "k=%g window %d: full-resolution error %.3g > bound %.3g + %.3g", ks[kk], i, d,
                    bound, tol);
      ck_assert_msg(d512 <= bound512 + tol512, "k=%g window %d: 512 error %.3g > bound %.3g + %.3g", ks[kk], i, d512,
                    bound512, tol512);
      if (getenv("GAZELOC_TEST_VERBOSE"))
        fprintf(stderr, "k=%g window %d: full %.3g, 512 %.3g, bound %.3g\n", ks[kk], i, d, d512, bound);
      if (kk == 0) ck_assert_msg(bound < 1e-5, "k=6 bound %.3g is not small", bound);
      if (kk == 1) worst_visible = fmax(worst_visible, d);
      free(ref);
      free(ref512);
    }
    free(full);
    free(m512);
    gz_heat_free(h);
  }
  /* the comparison can fail: at k = 2.5 truncation shows well above the float tolerance */
  ck_assert_msg(worst_visible > 1e-4, "truncation at 2.5 sigma not visible (%.3g)", worst_visible);
  gz_geom_free(&g);
  free(f);
  tu_rmtree(dir);
}
END_TEST

/* The branch and bound finds the exact maximum: the full map's maximum is exactly 1 for any block size. */
START_TEST(exact_maximum_any_block) {
  char *dir = tu_tempdir();
  int n;
  gz_fixation *f = make_fixations(dir, 23, &n);
  gz_err e = {0};
  float *full = malloc(sizeof *full * W * H);
  const int blocks[] = {1, 7, 16, 64, 1000};
  for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
    gz_heat_opts o = {6.0, blocks[b]};
    gz_heat *h = gz_heat_new(f, n, W, H, NULL, &o, &e);
    ck_assert_msg(h != NULL, "%s", e.msg);
    for (int i = 0; i < NWIN; i++) {
      if (gz_heat_window_full(h, WIN[i][0], WIN[i][1], full, NULL, &e) != 1) continue;
      float mx = 0;
      for (size_t j = 0; j < (size_t)W * H; j++) mx = fmaxf(mx, full[j]);
      ck_assert_msg(mx == 1.0f, "block %d window %d: max %.9g", blocks[b], i, mx);
    }
    gz_heat_free(h);
  }
  free(full);
  free(f);
  tu_rmtree(dir);
}
END_TEST

/* Maps drawn straight at 512 equal the full-resolution map put through the two-stage geometry. */
START_TEST(direct_512_equals_two_stage) {
  char *dir = tu_tempdir();
  int n;
  gz_fixation *f = make_fixations(dir, 5, &n);
  gz_err e = {0};
  gz_geom g;
  ck_assert_int_eq(gz_geom_init(&g, H, W, S, &e), 0);
  gz_heat *h = gz_heat_new(f, n, W, H, &g, NULL, &e);
  float *full = malloc(sizeof *full * W * H), *a = malloc(sizeof *a * S * S), *b = malloc(sizeof *b * S * S);
  ck_assert_int_eq(gz_heat_window_full(h, 0, 25, full, NULL, &e), 1);
  ck_assert_int_eq(gz_heat_window(h, 0, 25, a, NULL, &e), 1);
  ck_assert_int_eq(gz_resize_pad(full, H, W, b, S, &e), 0);
  double d = max_abs_diff(a, b, (size_t)S * S);
  ck_assert_msg(d < 2e-6, "direct vs two-stage: %.3g", d);
  free(full);
  free(a);
  free(b);
  gz_heat_free(h);
  gz_geom_free(&g);
  free(f);
  tu_rmtree(dir);
}
END_TEST

/* The same at a REFLACX size (3056 x 2544, sigma about 100 px, a zoomed rectangle), where stage 1 shrinks. */
START_TEST(direct_512_equals_two_stage_reflacx_size) {
  enum { HH = 3056, WW = 2544 };
  gz_rng r;
  gz_rng_init(&r, 77, 1);
  gz_fixation f[40];
  for (int i = 0; i < 40; i++) {
    double s = gz_rng_range(&r, 90, 150);
    f[i] = (gz_fixation){i * 0.3, i * 0.3 + 0.25, gz_rng_range(&r, 0, WW), gz_rng_range(&r, 0, HH), s, s * 1.05,
                         0, 0, WW, HH};
    if (i % 7 == 3) f[i].rx0 = 600, f[i].ry0 = 700, f[i].rx1 = 1900, f[i].ry1 = 2300;
  }
  gz_err e = {0};
  gz_geom g;
  ck_assert_int_eq(gz_geom_init(&g, HH, WW, S, &e), 0);
  gz_heat *h = gz_heat_new(f, 40, WW, HH, &g, NULL, &e);
  float *full = malloc(sizeof *full * WW * HH), *a = malloc(sizeof *a * S * S), *b = malloc(sizeof *b * S * S);
  ck_assert_int_eq(gz_heat_window_full(h, 1.0, 9.0, full, NULL, &e), 1);
  ck_assert_int_eq(gz_heat_window(h, 1.0, 9.0, a, NULL, &e), 1);
  ck_assert_int_eq(gz_resize_pad(full, HH, WW, b, S, &e), 0);
  double d = max_abs_diff(a, b, (size_t)S * S);
  ck_assert_msg(d < 2e-6, "direct vs two-stage: %.3g", d);
  float mx = 0;
  for (size_t j = 0; j < (size_t)WW * HH; j++) mx = fmaxf(mx, full[j]);
  ck_assert(mx == 1.0f);
  free(full);
  free(a);
  free(b);
  gz_heat_free(h);
  gz_geom_free(&g);
}
END_TEST

static gz_fixation fix(double t0, double t1, double x, double y, double s) {
  return (gz_fixation){t0, t1, x, y, s, s, 0, 0, W, H};
}

START_TEST(edge_cases) {
  gz_err e = {0};
  float *full = malloc(sizeof *full * W * H), *other = malloc(sizeof *other * W * H);
  /* a window before the first fixation, or holding only zero-duration / boundary-touching ones: no map */
  gz_fixation a[3] = {fix(1.0, 2.0, 100, 100, 20), fix(2.5, 2.5, 50, 50, 20), fix(3.0, 4.0, 10, 10, 20)};
  gz_heat *h = gz_heat_new(a, 3, W, H, NULL, NULL, &e);
  ck_assert_int_eq(gz_heat_window_full(h, -5.0, 0.5, full, NULL, &e), 0);
  ck_assert_int_eq(gz_heat_window_full(h, 2.2, 2.8, full, NULL, &e), 0);  /* zero-duration fixation only */
  ck_assert_int_eq(gz_heat_window_full(h, 2.0, 2.9, full, NULL, &e), 0);  /* ends exactly at the start: excluded */
  ck_assert_int_eq(gz_heat_window_full(h, 4.0, 3.0, full, NULL, &e), 0);  /* inverted */
  ck_assert_int_eq(gz_heat_window_full(h, 0.0, 1.0, full, NULL, &e), 0);  /* starts at the end: weight 0 */
  ck_assert_int_eq(gz_heat_window_full(h, 0.0, 1.5, full, NULL, &e), 1);
  for (size_t i = 0; i < (size_t)W * H; i++) ck_assert(isfinite(full[i]));
  gz_heat_free(h);
  /* a fixation outside the image draws its tail inside; one whose rectangle misses the image draws nothing */
  gz_fixation b[2] = {fix(0, 1, -40, H + 30, 25), fix(0, 1, 100, 100, 25)};
  b[1].rx0 = W + 5;
  b[1].rx1 = W + 50;
  h = gz_heat_new(b, 2, W, H, NULL, NULL, &e);
  ck_assert_int_eq(gz_heat_window_full(h, 0, 1, full, NULL, &e), 1);
  ck_assert(full[(size_t)(H - 1) * W + 0] == 1.0f); /* the corner nearest the outside centre is the max */
  ck_assert(full[100 * W + 100] < 1e-3f);
  gz_heat_free(h);
  /* overlapping fixations add: two identical halves = one whole */
  gz_fixation c1[2] = {fix(0, 0.5, 120, 200, 18), fix(0, 0.5, 120, 200, 18)}, c2[1] = {fix(0, 1.0, 120, 200, 18)};
  gz_heat *h1 = gz_heat_new(c1, 2, W, H, NULL, NULL, &e), *h2 = gz_heat_new(c2, 1, W, H, NULL, NULL, &e);
  ck_assert_int_eq(gz_heat_window_full(h1, 0, 1, full, NULL, &e), 1);
  ck_assert_int_eq(gz_heat_window_full(h2, 0, 1, other, NULL, &e), 1);
  ck_assert(max_abs_diff(full, other, (size_t)W * H) < 1e-7);
  /* the window clips the weight: [0.25, 1] of c2 is 0.75 of it; normalized maps are equal */
  ck_assert_int_eq(gz_heat_window_full(h2, 0.25, 2, other, NULL, &e), 1);
  ck_assert(max_abs_diff(full, other, (size_t)W * H) < 1e-7);
  gz_heat_free(h1);
  gz_heat_free(h2);
  /* bad arguments are errors, not crashes */
  ck_assert_ptr_null(gz_heat_new(c2, 1, 0, H, NULL, NULL, &e));
  ck_assert_msg(strstr(e.msg, "bad arguments"), "%s", e.msg);
  free(full);
  free(other);
}
END_TEST

Suite *suite_gaze_heatmap(void) {
  Suite *s = suite_create("gaze_heatmap");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, matches_reference_within_bound);
  tcase_add_test(tc, exact_maximum_any_block);
  tcase_add_test(tc, direct_512_equals_two_stage);
  tcase_add_test(tc, direct_512_equals_two_stage_reflacx_size);
  tcase_add_test(tc, edge_cases);
  suite_add_tcase(s, tc);
  return s;
}
