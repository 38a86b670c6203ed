/* Charts: the PNG decodes, has the canvas size, and shows each series in its colour where its points are. */
#include "eval/eval.h"
#include "testutil.h"

#include <math.h>

START_TEST(line_chart) {
  char *dir = tu_tempdir();
  char path[512];
  snprintf(path, sizeof path, "%s/curves.png", dir);
  double x[50], loss[50], auc[50];
  for (int i = 0; i < 50; i++) {
    x[i] = i + 1;
    loss[i] = 2.0 * exp(-i / 12.0) + 0.1;
    auc[i] = i == 20 ? NAN : 0.5 + 0.4 * (1 - exp(-i / 10.0)); /* a gap in the line */
  }
  gz_series s[2] = {{"train loss", x, loss, 50}, {"val AUC", x, auc, 50}};
  gz_err e = {0};
  ck_assert_msg(gz_plot_png(path, "training curves", "epoch", "value", s, 2, 0, 0, &e) == 0, "%s", e.msg);
  int w, h;
  unsigned char *px = gz_read_image(path, 3, &w, &h, &e);
  ck_assert_ptr_nonnull(px);
  ck_assert_int_eq(w, 900);
  ck_assert_int_eq(h, 540);
  int blue = 0, orange = 0;
  for (int i = 0; i < w * h; i++) {
    blue += px[3 * i] == 31 && px[3 * i + 1] == 119 && px[3 * i + 2] == 180;
    orange += px[3 * i] == 255 && px[3 * i + 1] == 127 && px[3 * i + 2] == 14;
  }
  ck_assert_int_gt(blue, 500);
  ck_assert_int_gt(orange, 500);
  free(px);
  double nan1 = NAN;
  gz_series empty = {"none", &nan1, &nan1, 1};
  ck_assert_int_eq(gz_plot_png(path, "t", "x", "y", &empty, 1, 0, 0, &e), -1);
  ck_assert_msg(strstr(e.msg, "nothing to plot"), "%s", e.msg);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_eval_plot(void) {
  Suite *s = suite_create("eval_plot");
  TCase *t = tcase_create("plot");
  tcase_add_test(t, line_chart);
  suite_add_tcase(s, t);
  return s;
}
