/* Random affine augmentation: identical to torchvision on tensors, and image, maps and masks stay aligned. */
#include "data/data.h"
#include "testutil.h"

#include <math.h>

/* Our table against torchvision's F.affine for random parameters and sizes (odd and even, non-square). */
START_TEST(matches_torchvision) {
  char *dir = tu_tempdir();
  int sizes[][2] = {{64, 64}, {37, 50}, {128, 96}};
  gz_rng r;
  gz_rng_init(&r, 3, 0);
  for (int c = 0; c < 6; c++) {
    int h = sizes[c % 3][0], w = sizes[c % 3][1];
    size_t n = (size_t)w * (size_t)h;
    float *img = malloc(2 * n * sizeof *img), *ours = malloc(2 * n * sizeof *ours), *ref = malloc(2 * n * sizeof *ref);
    for (size_t i = 0; i < 2 * n; i++) img[i] = (float)(i + 1); /* every pixel unique: any wrong source shows */
    gz_affine a = gz_affine_draw(&gz_affine_paper, w, h, &r);
    int *src = malloc(n * sizeof *src);
    gz_affine_table(&a, w, h, src);
    gz_affine_apply(src, img, ours, 2, w, h);
    free(tu_write(dir, "in.f32", (const char *)img, 2 * n * sizeof *img));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s/tools/torch_affine_ref.py %s/in.f32 %s/out.f32 %d %d %.9g %d %d %.9g", tu_python(),
             tu_root(), dir, dir, h, w, (double)a.angle_deg, a.tx, a.ty, (double)a.scale);
    ck_assert_msg(system(cmd) == 0, "reference failed: %s", cmd);
    snprintf(cmd, sizeof cmd, "%s/out.f32", dir);
    char *raw = gz_read_file(cmd, NULL, NULL);
    memcpy(ref, raw, 2 * n * sizeof *ref);
    free(raw);
    /* Exact, except where the sampling point falls within float rounding of a pixel boundary: PyTorch's
     * matrix product may round differently there. Allow at most 0.2 % such pixels. */
    size_t diff = 0;
    for (size_t i = 0; i < 2 * n; i++) diff += ours[i] != ref[i];
    ck_assert_msg(diff * 500 <= 2 * n, "case %d (%dx%d, angle %g, t %d %d, scale %g): %zu of %zu pixels differ", c, h, w,
                  (double)a.angle_deg, a.tx, a.ty, (double)a.scale, diff, 2 * n);
    free(img), free(ours), free(ref), free(src);
  }
  tu_rmtree(dir);
}
END_TEST

/* A bright dot in the image and the same dot in a map land on the same pixel after augmentation. */
START_TEST(image_and_maps_stay_aligned) {
  enum { W = 96, H = 80 };
  static float in[3][H][W], out[3][H][W];
  static int src[W * H];
  gz_rng r;
  gz_rng_init(&r, 9, 1);
  for (int trial = 0; trial < 20; trial++) {
    memset(in, 0, sizeof in);
    int x = 30 + (int)gz_rng_below(&r, 36), y = 25 + (int)gz_rng_below(&r, 30);
    for (int p = 0; p < 3; p++) in[p][y][x] = 1.0f + (float)p;
    gz_affine a = gz_affine_draw(&gz_affine_paper, W, H, &r);
    gz_affine_table(&a, W, H, src);
    gz_affine_apply(src, &in[0][0][0], &out[0][0][0], 3, W, H);
    for (int i = 0; i < W * H; i++) {
      float v0 = (&out[0][0][0])[i];
      ck_assert(v0 == 0.0f || v0 == 1.0f);
      ck_assert((&out[1][0][0])[i] == 2.0f * v0);
      ck_assert((&out[2][0][0])[i] == 3.0f * v0);
    }
  }
}
END_TEST

START_TEST(parameters_in_range) {
  gz_rng r;
  gz_rng_init(&r, 1, 2);
  double sum_angle = 0;
  for (int i = 0; i < 2000; i++) {
    gz_affine a = gz_affine_draw(&gz_affine_paper, 512, 512, &r);
    ck_assert(a.angle_deg >= -45 && a.angle_deg <= 45);
    ck_assert(a.tx >= -77 && a.tx <= 77 && a.ty >= -77 && a.ty <= 77); /* round(0.15 * 512 = 76.8) */
    ck_assert(a.scale >= 0.85f && a.scale <= 1.15f);
    sum_angle += a.angle_deg;
  }
  ck_assert(fabs(sum_angle / 2000) < 2.0);
  /* identity parameters give the identity mapping */
  gz_affine id = {0, 0, 0, 1};
  int src[12 * 7];
  gz_affine_table(&id, 12, 7, src);
  for (int i = 0; i < 12 * 7; i++) ck_assert_int_eq(src[i], i);
}
END_TEST

Suite *suite_data_augment(void) {
  Suite *s = suite_create("data_augment");
  TCase *t = tcase_create("affine");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, matches_torchvision);
  tcase_add_test(t, image_and_maps_stay_aligned);
  tcase_add_test(t, parameters_in_range);
  suite_add_tcase(s, t);
  return s;
}
