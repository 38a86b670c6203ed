/* IoU of thresholded heatmaps and the per-label threshold choice (method.md section 6) against the numpy
 * reference tools/iou_threshold_ref.py, on random inputs with values exactly at the thresholds, masks at
 * exactly 0.5, empty masks, empty predictions and ties in the threshold choice. */
#include "eval/eval.h"
#include "testutil.h"

#include <math.h>

enum { IOU_CASES = 16, SEEDS = 3, NPIX = 64 };

static void write_f32(FILE *f, const float *v, size_t n) { ck_assert_uint_eq(fwrite(v, sizeof *v, n, f), n); }

/* A heatmap value: often exactly a candidate threshold (strictness), else 0, 1 or uniform. */
static float heat_value(gz_rng *r) {
  float u = gz_rng_uniform(r);
  if (u < 0.3f) return gz_thresholds[gz_rng_below(r, GZ_N_THRESHOLDS)];
  if (u < 0.4f) return 0.0f;
  if (u < 0.5f) return 1.0f;
  return gz_rng_uniform(r);
}

/* Coarse levels: the IoU is constant over runs of thresholds, so the best threshold is often tied. */
static float coarse_value(gz_rng *r) {
  static const float levels[] = {0.0f, 0.05f, 0.3f, 0.6f, 0.9f, 1.0f};
  return levels[gz_rng_below(r, 6)];
}

static void run_ref(const char *dir) {
  tu_run("%s %s/tools/iou_threshold_ref.py %s", tu_python(), tu_root(), dir);
}

START_TEST(iou_matches_numpy) {
  char *dir = tu_tempdir();
  free(tu_write(dir, "thresholds.f32", (const char *)gz_thresholds, sizeof gz_thresholds));
  gz_rng r;
  gz_rng_init(&r, 23, 0);
  float *data[IOU_CASES];
  size_t n[IOU_CASES];
  for (int c = 0; c < IOU_CASES; c++) {
    n[c] = 1 + gz_rng_below(&r, 4000);
    data[c] = malloc(2 * n[c] * sizeof(float));
    float *h = data[c], *m = data[c] + n[c];
    float p = gz_rng_uniform(&r);
    for (size_t i = 0; i < n[c]; i++) {
      h[i] = c == 1 || c == 3 ? 0.0f : heat_value(&r);                   /* 1, 3: nothing predicted */
      float u = gz_rng_uniform(&r);
      m[i] = c == 2 || c == 3 ? 0.0f : u < 0.1f ? 0.5f : u < p ? 1.0f : 0.0f; /* 2, 3: empty mask; 0.5 is outside */
    }
    char name[32];
    snprintf(name, sizeof name, "iou_%d.f32", c);
    free(tu_write(dir, name, (const char *)data[c], 2 * n[c] * sizeof(float)));
  }
  run_ref(dir);
  char path[512];
  snprintf(path, sizeof path, "%s/iou_ref.f64", dir);
  FILE *f = fopen(path, "rb");
  ck_assert(f != NULL);
  double ref[IOU_CASES][GZ_N_THRESHOLDS];
  ck_assert_uint_eq(fread(ref, sizeof(double), IOU_CASES * GZ_N_THRESHOLDS, f), IOU_CASES * GZ_N_THRESHOLDS);
  fclose(f);
  double max_err = 0;
  int n_zero = 0, n_between = 0;
  for (int c = 0; c < IOU_CASES; c++) {
    double all[GZ_N_THRESHOLDS];
    gz_iou_all_thresholds(data[c], data[c] + n[c], n[c], all);
    for (int t = 0; t < GZ_N_THRESHOLDS; t++) {
      double one = gz_iou(data[c], data[c] + n[c], n[c], gz_thresholds[t]);
      max_err = fmax(max_err, fmax(fabs(one - ref[c][t]), fabs(all[t] - ref[c][t])));
      ck_assert_msg(one == ref[c][t] && all[t] == ref[c][t], "case %d threshold %d: gz_iou %.17g, all %.17g, numpy %.17g",
                    c, t, one, all[t], ref[c][t]);
      n_zero += ref[c][t] == 0.0, n_between += ref[c][t] > 0.0 && ref[c][t] < 1.0;
    }
    free(data[c]);
  }
  ck_assert_int_ge(n_zero, 3 * GZ_N_THRESHOLDS); /* the empty cases */
  ck_assert_int_ge(n_between, 10 * GZ_N_THRESHOLDS / 2);
  fprintf(stderr, "iou vs numpy: %d cases x %d thresholds, max |error| %.3g\n", IOU_CASES, GZ_N_THRESHOLDS, max_err);
  tu_rmtree(dir);
}
END_TEST

/* Three seeds' models scored on the same validation and test images (the masks are shared, the heatmaps
 * differ); odd labels have coarse heatmaps (ties), label 0 has no validation image (undefined), label 9 predicts
 * nothing (IoU 0 everywhere: tie at 0). */
START_TEST(threshold_choice_matches_numpy) {
  char *dir = tu_tempdir();
  free(tu_write(dir, "thresholds.f32", (const char *)gz_thresholds, sizeof gz_thresholds));
  gz_rng r;
  gz_rng_init(&r, 29, 0);
  char path[512];
  snprintf(path, sizeof path, "%s/sel.txt", dir);
  FILE *txt = fopen(path, "w");
  snprintf(path, sizeof path, "%s/sel.f32", dir);
  FILE *bin = fopen(path, "wb");
  ck_assert(txt && bin);
  fprintf(txt, "%d %d %d\n", SEEDS, GZ_NLABELS, NPIX);
  static double val[SEEDS][GZ_NLABELS][GZ_N_THRESHOLDS], test[SEEDS][GZ_NLABELS][GZ_N_THRESHOLDS];
  for (int split = 0; split < 2; split++) {
    int count[GZ_NLABELS];
    static float mask[GZ_NLABELS][4][NPIX];
    for (int k = 0; k < GZ_NLABELS; k++) {
      count[k] = split == 0 && k == 0 ? 0 : 1 + (int)gz_rng_below(&r, 4);
      for (int i = 0; i < count[k]; i++) {
        float p = 0.1f + 0.6f * gz_rng_uniform(&r);
        for (int j = 0; j < NPIX; j++) mask[k][i][j] = gz_rng_uniform(&r) < p ? 1.0f : 0.0f;
      }
    }
    for (int s = 0; s < SEEDS; s++) {
      gz_iou_acc acc;
      gz_iou_acc_reset(&acc);
      for (int k = 0; k < GZ_NLABELS; k++) {
        fprintf(txt, "%d %d %d %d\n", split, s, k, count[k]);
        for (int i = 0; i < count[k]; i++) {
          float h[NPIX];
          for (int j = 0; j < NPIX; j++) h[j] = k == 9 ? 0.0f : k % 2 ? coarse_value(&r) : gz_rng_uniform(&r);
          gz_iou_acc_add(&acc, k, h, mask[k][i], NPIX);
          write_f32(bin, h, NPIX), write_f32(bin, mask[k][i], NPIX);
        }
      }
      gz_iou_acc_result(&acc, split == 0 ? val[s] : test[s]);
    }
  }
  fclose(txt), fclose(bin);
  int best[GZ_NLABELS];
  double at[SEEDS * GZ_NLABELS];
  gz_select_thresholds(&val[0][0][0], &test[0][0][0], SEEDS, best, at);
  run_ref(dir);
  snprintf(path, sizeof path, "%s/sel_ref.txt", dir);
  FILE *f = fopen(path, "r");
  ck_assert(f != NULL);
  double max_err = 0;
  int ties = 0;
  for (int k = 0; k < GZ_NLABELS; k++) {
    int rb;
    ck_assert_int_eq(fscanf(f, "%d", &rb), 1);
    ck_assert_msg(best[k] == rb, "label %d: ours threshold %d, numpy %d", k, best[k], rb);
    for (int s = 0; s < SEEDS; s++) {
      char tok[64];
      ck_assert_int_eq(fscanf(f, "%63s", tok), 1);
      double rv = strtod(tok, NULL);
      if (rb < 0) {
        ck_assert(isnan(rv) && isnan(at[s * GZ_NLABELS + k]));
        continue;
      }
      max_err = fmax(max_err, fabs(at[s * GZ_NLABELS + k] - rv));
      ck_assert_msg(fabs(at[s * GZ_NLABELS + k] - rv) < 1e-12, "label %d seed %d: ours %.17g numpy %.17g", k, s,
                    at[s * GZ_NLABELS + k], rv);
    }
    /* the chosen threshold ties with the next one: the first maximum must win */
    if (best[k] >= 0 && best[k] + 1 < GZ_N_THRESHOLDS) {
      double a = 0, b = 0;
      for (int s = 0; s < SEEDS; s++) a += val[s][k][best[k]], b += val[s][k][best[k] + 1];
      ties += a == b;
    }
  }
  fclose(f);
  ck_assert_int_eq(best[0], -1);
  ck_assert_int_eq(best[9], 0);
  ck_assert_int_ge(ties, 3);
  fprintf(stderr, "threshold choice vs numpy: %d labels (%d tied at the best), max |error| %.3g\n", GZ_NLABELS, ties,
          max_err);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_eval_iou_ref(void) {
  Suite *s = suite_create("eval_iou_ref");
  TCase *t = tcase_create("numpy");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, iou_matches_numpy);
  tcase_add_test(t, threshold_choice_matches_numpy);
  suite_add_tcase(s, t);
  return s;
}
