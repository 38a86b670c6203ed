/* The image geometry (method.md section 7) against torchvision's own Resize(antialias=True) and
 * XRayResizerPadRound32 (tools/gaze_reference.py), in float32 (as the authors ran it) and float64. */
#include "gaze/gaze.h"
#include "gaze_fixture.h"

static const int SHAPES[][2] = {{380, 300}, {300, 380}, {512, 512}, {97, 700}, {1203, 1000}, {40, 33}, {3056, 2544}};
enum { NSH = sizeof SHAPES / sizeof SHAPES[0] };

static float *random_plane(int h, int w, uint64_t seed) {
  gz_rng r;
  gz_rng_init(&r, seed, 1);
  float *p = malloc(sizeof *p * (size_t)h * w);
  for (size_t i = 0; i < (size_t)h * w; i++) p[i] = gz_rng_uniform(&r);
  return p;
}

static void write_f32(const char *path, const float *v, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(v, sizeof *v, n, f), n);
  fclose(f);
}

static float *read_f32(const char *path, size_t n) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "missing %s", path);
  float *v = malloc(sizeof *v * n);
  ck_assert_uint_eq(fread(v, sizeof *v, n, f), n);
  fclose(f);
  return v;
}

START_TEST(matches_torchvision) {
  char *dir = tu_tempdir(), path[4200], batch[4200];
  snprintf(batch, sizeof batch, "%s/batch.txt", dir);
  FILE *bf = fopen(batch, "w");
  for (int i = 0; i < NSH; i++) {
    snprintf(path, sizeof path, "%s/in%d.f32", dir, i);
    float *p = random_plane(SHAPES[i][0], SHAPES[i][1], (uint64_t)i);
    write_f32(path, p, (size_t)SHAPES[i][0] * SHAPES[i][1]);
    free(p);
    for (int d = 0; d < 2; d++)
      fprintf(bf, "%s/in%d.f32 %d %d 512 %s/out%d_%d.f32 %d\n", dir, i, SHAPES[i][0], SHAPES[i][1], dir, i, d, d);
  }
  fclose(bf);
  char cmd[9000];
  snprintf(cmd, sizeof cmd, "%s %s/tools/gaze_reference.py resize --batch %s", tu_python(), tu_root(), batch);
  ck_assert_msg(system(cmd) == 0, "reference failed: %s", cmd);
  gz_err e = {0};
  float *ours = malloc(sizeof *ours * 512 * 512), *direct = malloc(sizeof *direct * 512 * 512);
  for (int i = 0; i < NSH; i++) {
    int h = SHAPES[i][0], w = SHAPES[i][1];
    float *p = random_plane(h, w, (uint64_t)i);
    ck_assert_msg(gz_resize_pad(p, h, w, ours, 512, &e) == 0, "%s", e.msg);
    double err[2];
    for (int d = 0; d < 2; d++) {
      snprintf(path, sizeof path, "%s/out%d_%d.f32", dir, i, d);
      float *ref = read_f32(path, 512 * 512);
      err[d] = 0;
      for (size_t j = 0; j < 512 * 512; j++) err[d] = fmax(err[d], fabs((double)ours[j] - ref[j]));
      free(ref);
    }
    /* float64 torch: only our float32 data and rounding differ (1e-6); float32 torch strays up to ~2e-5 */
    ck_assert_msg(err[1] < 1e-6, "%dx%d: vs torch float64 %.3g", h, w, err[1]);
    ck_assert_msg(err[0] < 3e-5, "%dx%d: vs torch float32 %.3g", h, w, err[0]);
    /* the composed per-axis map (used to draw heatmaps at 512) gives the same plane */
    gz_geom g;
    ck_assert_int_eq(gz_geom_init(&g, h, w, 512, &e), 0);
    ck_assert_int_eq(gz_geom_apply_crop(&g, p, 0, 0, h, w, direct, &e), 0);
    double dd = 0;
    for (size_t j = 0; j < 512 * 512; j++) dd = fmax(dd, fabs((double)ours[j] - direct[j]));
    ck_assert_msg(dd < 1e-6, "%dx%d: composed vs two-stage %.3g", h, w, dd);
    gz_geom_free(&g);
    free(p);
  }
  free(ours);
  free(direct);
  tu_rmtree(dir);
}
END_TEST

START_TEST(sizes_and_padding) {
  gz_err e = {0};
  gz_geom g;
  /* 3056 x 2544 (a typical MIMIC image): L = round(512/2544*3056/16)*16 = 608, stage 1 608 x 506, pad 51+51 */
  ck_assert_int_eq(gz_geom_init(&g, 3056, 2544, 512, &e), 0);
  ck_assert_int_eq(g.mid_h, 608);
  ck_assert_int_eq(g.mid_w, 506);
  ck_assert_int_eq(g.side, 608);
  /* padding columns are exactly zero weight: output columns 0..41 see only padding */
  ck_assert_int_eq(g.ax.len[0], 0);
  ck_assert_int_gt(g.ax.len[256], 0);
  gz_geom_free(&g);
  ck_assert_int_eq(gz_resize_pad(NULL, 0, 5, NULL, 512, &e), -1);
  ck_assert_msg(strstr(e.msg, "bad sizes"), "%s", e.msg);
  /* a constant plane stays constant inside the image (weights sum to 1) */
  float *one = malloc(sizeof *one * 200 * 100), *out = malloc(sizeof *out * 512 * 512);
  for (int i = 0; i < 200 * 100; i++) one[i] = 1.0f;
  ck_assert_int_eq(gz_resize_pad(one, 200, 100, out, 512, &e), 0);
  ck_assert(fabsf(out[256 * 512 + 256] - 1.0f) < 1e-6f);
  ck_assert(out[256 * 512 + 0] == 0.0f); /* padding */
  free(one);
  free(out);
}
END_TEST

START_TEST(pool_and_threshold) {
  float in[16 * 16], p8[8 * 8], p2[2 * 2], t[4];
  for (int i = 0; i < 256; i++) in[i] = (float)((i * 37) % 101) / 100.0f;
  in[5 * 16 + 12] = 2.0f;
  gz_maxpool(in, 16, 2, p8);
  gz_maxpool(in, 16, 8, p2);
  ck_assert(p8[2 * 8 + 6] == 2.0f);
  ck_assert(p2[0 * 2 + 1] == 2.0f);
  float mx = 0;
  for (int y = 8; y < 16; y++)
    for (int x = 0; x < 8; x++) mx = fmaxf(mx, in[y * 16 + x]);
  ck_assert(p2[1 * 2 + 0] == mx);
  float v[4] = {0.15f, 0.150001f, 0.0f, 1.0f};
  gz_threshold(v, 4, 0.15f, t);
  ck_assert(t[0] == 0.0f && t[1] == 1.0f && t[2] == 0.0f && t[3] == 1.0f); /* strict > */
  /* targets: 512 -> 256 (2x2 max) and -> 32 (16x16 max overall) > 0.15 */
  float *m = calloc(512 * 512, sizeof *m), *t256 = malloc(sizeof *t256 * 256 * 256), b32[32 * 32];
  m[(100) * 512 + 37] = 0.2f;  /* cell (6, 2) */
  m[(300) * 512 + 511] = 0.15f; /* cell (18, 31): not above 0.15 */
  ck_assert_int_eq(gz_map_targets(m, 0.15f, t256, b32, NULL), 0);
  ck_assert(t256[50 * 256 + 18] == 0.2f);
  int on = 0;
  for (int i = 0; i < 32 * 32; i++) on += b32[i] > 0;
  ck_assert_int_eq(on, 1);
  ck_assert(b32[6 * 32 + 2] == 1.0f);
  ck_assert_int_eq(gz_map_targets(m, 0.15f, NULL, b32, NULL), 0);
  ck_assert(b32[6 * 32 + 2] == 1.0f);
  free(m);
  free(t256);
}
END_TEST

Suite *suite_gaze_geometry(void) {
  Suite *s = suite_create("gaze_geometry");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, matches_torchvision);
  tcase_add_test(tc, sizes_and_padding);
  tcase_add_test(tc, pool_and_threshold);
  suite_add_tcase(s, tc);
  return s;
}
