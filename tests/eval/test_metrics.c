/* Metrics against sklearn (AUC), numpy semantics (argmax ties, std ddof=0) and hand computations. */
#include "eval/eval.h"
#include "testutil.h"

#include <math.h>

/* Random scores with many ties (scores rounded to a coarse grid), random sizes and prevalences. */
START_TEST(auc_matches_sklearn) {
  enum { CASES = 12 };
  char *dir = tu_tempdir();
  double ours[CASES];
  gz_rng r;
  gz_rng_init(&r, 11, 0);
  for (int c = 0; c < CASES; c++) {
    size_t n = 5 + gz_rng_below(&r, 3000);
    float *s = malloc(n * sizeof *s);
    unsigned char *y = malloc(n);
    double *work = malloc(2 * n * sizeof *work);
    float prevalence = 0.05f + 0.9f * gz_rng_uniform(&r);
    int grid = c % 3 == 0 ? 4 : c % 3 == 1 ? 50 : 0; /* heavy ties, some ties, none */
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
      y[i] = gz_rng_uniform(&r) < prevalence;
      float v = 0.3f * (float)y[i] + gz_rng_uniform(&r);
      s[i] = grid ? floorf(v * (float)grid) / (float)grid : v;
      pos += y[i];
    }
    if (pos == 0) y[0] = 1;
    if (pos == n) y[0] = 0;
    gz_err e = {0};
    ck_assert_msg(gz_auc(s, y, n, work, &ours[c], &e) == 0, "%s", e.msg);
    char name[64];
    snprintf(name, sizeof name, "score_%d.f32", c);
    free(tu_write(dir, name, (const char *)s, n * sizeof *s));
    snprintf(name, sizeof name, "label_%d.u8", c);
    free(tu_write(dir, name, (const char *)y, n));
    free(s), free(y), free(work);
  }
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s/tools/sklearn_auc_ref.py %s %d", tu_python(), tu_root(), dir, CASES);
  FILE *p = popen(cmd, "r");
  for (int c = 0; c < CASES; c++) {
    double ref;
    ck_assert_msg(fscanf(p, "%lf", &ref) == 1, "sklearn reference failed: %s", cmd);
    ck_assert_msg(fabs(ours[c] - ref) < 1e-12, "case %d: ours %.17g sklearn %.17g", c, ours[c], ref);
  }
  ck_assert_int_eq(pclose(p), 0);
  tu_rmtree(dir);
}
END_TEST

START_TEST(auc_by_hand) {
  float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
  unsigned char y[] = {0, 0, 1, 1};
  double w[8], auc;
  gz_err e = {0};
  ck_assert_int_eq(gz_auc(s, y, 4, w, &auc, &e), 0);
  ck_assert(fabs(auc - 0.75) < 1e-15);
  float tie[] = {0.5f, 0.5f, 0.5f, 0.5f};
  ck_assert_int_eq(gz_auc(tie, y, 4, w, &auc, &e), 0);
  ck_assert(fabs(auc - 0.5) < 1e-15);
  unsigned char all[] = {1, 1, 1, 1};
  ck_assert_int_eq(gz_auc(s, all, 4, w, &auc, &e), -1);
  ck_assert_str_eq(e.msg, "AUC is undefined: 4 positive and 0 negative cases");
  float bad[] = {0.1f, NAN, 0.2f, 0.3f};
  ck_assert_int_eq(gz_auc(bad, y, 4, w, &auc, &e), -1);
  ck_assert_str_eq(e.msg, "AUC: score 1 is not a finite number");
}
END_TEST

START_TEST(iou_and_thresholds) {
  float h[] = {0.0f, 0.2f, 0.5f, 0.9f};
  float m[] = {0, 1, 1, 0};
  ck_assert(fabs(gz_iou(h, m, 4, 0.1f) - 2.0 / 3.0) < 1e-15); /* pred {1,2,3}, gt {1,2} */
  ck_assert(fabs(gz_iou(h, m, 4, 0.5f) - 0.0) < 1e-15);       /* strict: 0.5 is not > 0.5 */
  float none[] = {0, 0, 0, 0};
  ck_assert(gz_iou(h, none, 4, 0.95f) == 0.0); /* empty union is 0, not NaN */
  ck_assert_int_eq(GZ_N_THRESHOLDS, 26);
  ck_assert(gz_thresholds[7] == 0.2f && gz_thresholds[22] == 0.95f && gz_thresholds[25] == 0.999f);
  /* two seeds, four thresholds: means .25 .5 .5 .1 -> first maximum (index 1), as numpy.argmax */
  double v[] = {0.2, 0.6, 0.4, 0.1, 0.3, 0.4, 0.6, 0.1};
  ck_assert_int_eq(gz_best_threshold(v, 2, 4), 1);
}
END_TEST

START_TEST(intervals_by_hand) {
  double x[] = {0.20, 0.25, 0.30, 0.22, 0.28}, m, hw;
  gz_mean_ci95(x, 5, &m, &hw);
  /* mean .25; population variance (.0025+0+.0025+.0009+.0009)/5 = .00136 */
  ck_assert(fabs(m - 0.25) < 1e-15);
  ck_assert(fabs(hw - 1.96 * sqrt(0.00136) / sqrt(5.0)) < 1e-15);
  double labels[] = {0.7, NAN, 0.9};
  ck_assert(fabs(gz_mean_over_labels(labels, 3) - 0.8) < 1e-15);
  double none[] = {NAN};
  ck_assert(isnan(gz_mean_over_labels(none, 1)));
}
END_TEST

Suite *suite_eval_metrics(void) {
  Suite *s = suite_create("eval_metrics");
  TCase *t = tcase_create("metrics");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, auc_matches_sklearn);
  tcase_add_test(t, auc_by_hand);
  tcase_add_test(t, iou_and_thresholds);
  tcase_add_test(t, intervals_by_hand);
  suite_add_tcase(s, t);
  return s;
}
