/* Heatmap scoring (method.md section 6) against hand computations and the plain gz_iou of gaze/, and the
 * result tables' cells (mean, 1.96 std(ddof=0) / sqrt(n)). */
#include "eval/eval.h"
#include "testutil.h"

#include <math.h>

/* PyTorch's legacy nearest: out x takes in floor(x * in / out). 3 -> 7: 0 0 0 1 1 2 2. */
START_TEST(nearest_upscale_by_hand) {
  float in[3] = {10, 20, 30}, out[7];
  gz_upscale_nearest(in, 1, 3, 1, 7, out);
  const float want[7] = {10, 10, 10, 20, 20, 30, 30};
  for (int i = 0; i < 7; i++) ck_assert_float_eq(out[i], want[i]);
  /* 2x2 -> 32x32: 16x16 blocks (the grid 32 -> 512 case scaled down) */
  float g[4] = {1, 2, 3, 4}, big[32 * 32];
  gz_upscale_nearest(g, 2, 2, 32, 32, big);
  for (int y = 0; y < 32; y++)
    for (int x = 0; x < 32; x++) ck_assert_float_eq(big[y * 32 + x], g[(y / 16) * 2 + x / 16]);
}
END_TEST

/* alpha = (sum grad_0, sum grad_1) = (1, -0.5); cam = relu(1*A0 - 0.5*A1) / max. */
START_TEST(gradcam_by_hand) {
  const float act[8] = {1, 2, 0, 4, /* channel 1 */ 2, 0, 2, 2};
  const float grad[8] = {0.25f, 0.25f, 0.25f, 0.25f, /* */ -0.5f, 0, 0, 0};
  float cam[4];
  gz_gradcam(act, grad, 2, 4, cam);
  /* raw: 1-1=0, 2-0=2, 0-1=-1 -> 0, 4-1=3; max 3 */
  const float want[4] = {0, 2.0f / 3, 0, 1};
  for (int i = 0; i < 4; i++) ck_assert_msg(fabsf(cam[i] - want[i]) < 1e-6f, "cam[%d] = %g, want %g", i, cam[i], want[i]);
  const float zero_grad[8] = {0};
  gz_gradcam(act, zero_grad, 2, 4, cam); /* all-zero CAM stays zero (the 1e-20) */
  for (int i = 0; i < 4; i++) ck_assert_float_eq(cam[i], 0);
}
END_TEST

/* The one-pass IoU at the 26 thresholds equals gz_iou at each, including values exactly on a threshold
 * (strict >) and an empty mask. */
START_TEST(iou_all_thresholds_matches_gz_iou) {
  gz_rng r;
  gz_rng_init(&r, 5, 0);
  enum { N = 4096 };
  static float map[N], mask[N];
  for (int c = 0; c < 20; c++) {
    for (int i = 0; i < N; i++) {
      float u = gz_rng_uniform(&r);
      map[i] = c % 2 ? gz_thresholds[gz_rng_below(&r, GZ_N_THRESHOLDS)] : u; /* on-threshold values */
      mask[i] = c == 3 ? 0.0f : (float)(gz_rng_uniform(&r) < 0.2f + 0.5f * u);
    }
    double iou[GZ_N_THRESHOLDS];
    gz_iou_all_thresholds(map, mask, N, iou);
    for (int t = 0; t < GZ_N_THRESHOLDS; t++) {
      double want = gz_iou(map, mask, N, gz_thresholds[t]);
      ck_assert_msg(fabs(iou[t] - want) < 1e-12, "case %d thr %g: %.15g vs %.15g", c, gz_thresholds[t], iou[t], want);
    }
  }
}
END_TEST

/* Per-label IoU averaged over the positive images only; a label without one is NaN; the threshold is the
 * argmax of the seed average (first on ties). */
START_TEST(per_label_iou_and_threshold_by_hand) {
  gz_iou_acc a;
  gz_iou_acc_reset(&a);
  const float map1[4] = {0.9f, 0.9f, 0.0f, 0.0f}, mask1[4] = {1, 0, 0, 0}; /* thr < .9: 1/2; >= .9: 0 */
  const float map2[4] = {0.3f, 0.0f, 0.0f, 0.0f}, mask2[4] = {1, 0, 0, 0}; /* thr < .3: 1;  >= .3: 0 */
  gz_iou_acc_add(&a, 2, map1, mask1, 4);
  gz_iou_acc_add(&a, 2, map2, mask2, 4);
  double out[GZ_NLABELS][GZ_N_THRESHOLDS];
  gz_iou_acc_result(&a, out);
  ck_assert(isnan(out[0][0]));
  for (int t = 0; t < GZ_N_THRESHOLDS; t++) {
    float th = gz_thresholds[t]; /* compared in float, as the maps are */
    double want = ((th < 0.9f ? 0.5 : 0.0) + (th < 0.3f ? 1.0 : 0.0)) / 2;
    ck_assert_msg(fabs(out[2][t] - want) < 1e-12, "thr %g: %g vs %g", th, out[2][t], want);
  }
  /* two seeds: seed 0 peaks at t=3, seed 1 at t=5; the average peaks at t=5 (0.6 + 0.5 > 0.7 + 0.3) */
  double v[2 * GZ_N_THRESHOLDS] = {0};
  v[3] = 0.7, v[5] = 0.6, v[GZ_N_THRESHOLDS + 3] = 0.3, v[GZ_N_THRESHOLDS + 5] = 0.5;
  ck_assert_int_eq(gz_best_threshold(v, 2, GZ_N_THRESHOLDS), 5);
  v[GZ_N_THRESHOLDS + 3] = 0.4; /* tie 1.1 vs 1.1: the first wins */
  ck_assert_int_eq(gz_best_threshold(v, 2, GZ_N_THRESHOLDS), 3);
}
END_TEST

/* Cells: {0.2, 0.3, 0.4}: mean 0.3, std(ddof=0) = sqrt(0.02/3), half = 1.96 std / sqrt(3) = 0.0923953;
 * NaN seeds are skipped. Then the CSV and Markdown as written. */
START_TEST(table_cells_and_files) {
  double v[4] = {0.2, NAN, 0.3, 0.4};
  gz_cell c;
  gz_table_cell(v, 4, &c);
  ck_assert_int_eq(c.n, 3);
  ck_assert(fabs(c.mean - 0.3) < 1e-12);
  ck_assert(fabs(c.half - 1.96 * sqrt(0.02 / 3) / sqrt(3)) < 1e-12);
  ck_assert(fabs(c.half - 0.0923953) < 1e-6);
  const char *rows[2] = {"Edema", "Average"}, *cols[2] = {"Unannotated", "ET model"};
  double vals[2 * 2 * 2] = {0.5, 0.7, 0.25, NAN, NAN, NAN, 0.1, 0.1};
  gz_table t = {"Table", "Label", rows, cols, 2, 2, 2, vals};
  char *dir = tu_tempdir();
  char csv[600], md[600];
  snprintf(csv, sizeof csv, "%s/t.csv", dir), snprintf(md, sizeof md, "%s/t.md", dir);
  gz_err e = {0};
  ck_assert_msg(gz_table_write(&t, csv, md, &e) == 0, "%s", e.msg);
  size_t n;
  char *s = gz_read_file(csv, &n, &e);
  ck_assert_msg(s != NULL, "%s", e.msg);
  /* Edema / Unannotated: mean 0.6, std 0.1, half 1.96 * 0.1 / sqrt(2) = 0.138593 */
  ck_assert_msg(strstr(s, "Edema,0.600000,0.461407,0.738593,2,0.250000,0.250000,0.250000,1\n") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "Average,,,,0,0.100000,0.100000,0.100000,2\n") != NULL, "%s", s);
  free(s);
  s = gz_read_file(md, &n, &e);
  ck_assert_msg(strstr(s, "| Edema | 0.600 [0.461, 0.739] | 0.250 |") != NULL, "%s", s);
  ck_assert_msg(strstr(s, "| Average | - | 0.100 [0.100, 0.100] |") != NULL, "%s", s);
  free(s);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_eval_heatmaps(void) {
  Suite *s = suite_create("eval_heatmaps");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, nearest_upscale_by_hand);
  tcase_add_test(tc, gradcam_by_hand);
  tcase_add_test(tc, iou_all_thresholds_matches_gz_iou);
  tcase_add_test(tc, per_label_iou_and_threshold_by_hand);
  tcase_add_test(tc, table_cells_and_files);
  suite_add_tcase(s, tc);
  return s;
}
