/* gazeloc-train and gazeloc-eval as a user runs them, on a tiny generated dataset (64 px, a few dozen images):
 * the training loss decreases, the evaluation writes its tables, and a run interrupted after one epoch and
 * resumed ends bitwise equal to an uninterrupted one (checkpoint files compared byte for byte). The
 * uninterrupted ET run is made once, in the fixture, and serves both tests (each 600 MB checkpoint write
 * costs seconds). */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>

#include "base/base.h"

static char *g_root;

static void teardown(void) { tu_rmtree(g_root); }

/* the tiny configuration: 64 px (grid 4), batch 4, 3 batches per epoch */
#define TINY "--preset demo --size 64 --batch 4 --batches-per-epoch 3 --threads 1 --quiet"

static void train(const char *method, const char *out, const char *extra) {
  tu_run("%s/gazeloc-train --method %s " TINY " --data %s/d --labels %s/labels.csv --cache %s/cache --out %s/%s %s 2>%s/%s.log",
      getenv("GAZELOC_BIN"), method, g_root, g_root, g_root, g_root, out, extra, g_root, method);
}

static void setup(void) {
  g_root = tu_tempdir();
  const char *bin = getenv("GAZELOC_BIN");
  tu_run("%s/gazeloc-synth --out %s/d --seed 2 --images 60 --readings 30 --size 128 --no-calibration --quiet", bin, g_root);
  tu_run("%s/gazeloc-label %s/d/reflacx/main_data --out %s/labels.csv 2>/dev/null", bin, g_root, g_root);
  train("et", "runs/et", "--epochs 3"); /* the uninterrupted run */
}

static void read_log(const char *run_dir, double *loss, double *auc, int *n) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s/log.csv", g_root, run_dir);
  gz_err e = {0};
  gz_csv *c = gz_csv_open(path, 0, &e);
  ck_assert_msg(c != NULL, "%s", e.msg);
  int cl = gz_csv_require(c, "train_loss", &e), ca = gz_csv_require(c, "val_auc", &e);
  ck_assert(cl >= 0 && ca >= 0);
  *n = 0;
  while (gz_csv_next(c, &e) == 1) {
    ck_assert_int_eq(gz_csv_double(c, cl, &loss[*n], &e), 0);
    ck_assert_int_eq(gz_csv_double(c, ca, &auc[*n], &e), 0);
    (*n)++;
  }
  gz_csv_close(c);
}

START_TEST(loss_decreases_then_eval_writes_tables) {
  double loss[16], auc[16];
  int n;
  read_log("runs/et", loss, auc, &n);
  ck_assert_int_eq(n, 3);
  fprintf(stderr, "train loss by epoch: %.4f %.4f %.4f\n", loss[0], loss[1], loss[2]);
  ck_assert_msg(loss[2] < loss[0], "loss did not decrease: %g -> %g", loss[0], loss[2]);
  char path[600];
  snprintf(path, sizeof path, "%s/runs/et/curves.png", g_root);
  ck_assert(access(path, R_OK) == 0);
  tu_run("%s/gazeloc-eval --runs %s/runs --data %s/d --cache %s/cache --out %s/report --batch 4 --threads 1 --overlays 2 "
      "> %s/eval.out 2>&1",
      getenv("GAZELOC_BIN"), g_root, g_root, g_root, g_root, g_root);
  const char *files[] = {"table1_auc.csv", "table1_auc.md", "table5_summary.csv", "table6_iou.md",
                         "iou_all_heatmaps.csv", "thresholds.csv"};
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/report/%s", g_root, files[i]);
    ck_assert_msg(access(path, R_OK) == 0, "missing %s", path);
  }
  snprintf(path, sizeof path, "%s/report/table5_summary.csv", g_root);
  gz_err e = {0};
  size_t len;
  char *s = gz_read_file(path, &len, &e);
  ck_assert_msg(s && strstr(s, "IoU (REFLACX test)"), "%s", s ? s : e.msg);
  free(s);
}
END_TEST

START_TEST(resume_is_exact) {
  train("et", "resumed", "--epochs 3 --stop-after 1");
  train("et", "resumed", "--resume");
  tu_run("cmp -s %s/runs/et/last.safetensors %s/resumed/last.safetensors", g_root, g_root);
  tu_run("cmp -s %s/runs/et/best.safetensors %s/resumed/best.safetensors", g_root, g_root);
  tu_run("cmp -s %s/runs/et/log.csv %s/resumed/log.csv", g_root, g_root);
}
END_TEST

Suite *suite_train_programs(void) {
  Suite *s = suite_create("train_programs");
  TCase *tc = tcase_create("core");
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, loss_decreases_then_eval_writes_tables);
  tcase_add_test(tc, resume_is_exact);
  suite_add_tcase(s, tc);
  return s;
}
