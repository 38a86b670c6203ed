/* The data side end to end on a generated dataset, through the programs as a user runs them:
 * gazeloc-synth -> gazeloc-label (F1 against the generator's intended labels) -> gazeloc-etmaps --search
 * (the best delay of the paper's default rule lies within 0.5 s of the generator's true eye-voice lag)
 * -> the training data pipeline (splits, cache, batches). */
#include "data/data.h"
#include "testutil.h"

#include <math.h>
#include <stdarg.h>

#define LAG 2.5

static char *g_root;

static void setup(void) {
  g_root = tu_tempdir();
  const char *bin = getenv("GAZELOC_BIN");
  /* programs run as child processes: nothing here touches OpenMP in the runner */
  tu_run("%s/gazeloc-synth --out %s/d --seed 3 --images 100 --readings 80 --size 256 --lag %g --no-calibration --quiet",
      bin, g_root, LAG);
  tu_run("%s/gazeloc-label %s/d/reflacx/main_data --out %s/labels.csv 2>/dev/null", bin, g_root, g_root);
}

static void teardown(void) { tu_rmtree(g_root); }

static int find_col(gz_csv *c, const char *name) {
  gz_err e;
  int k = gz_csv_require(c, name, &e);
  ck_assert_msg(k >= 0, "%s", e.msg);
  return k;
}

/* The labeler recovers the labels the generator meant each report to carry. */
START_TEST(labeler_recovers_intended_labels) {
  char p1[600], p2[600];
  snprintf(p1, sizeof p1, "%s/d/truth/readings.csv", g_root);
  snprintf(p2, sizeof p2, "%s/labels.csv", g_root);
  gz_err e = {0};
  gz_csv *truth = gz_csv_open(p1, 0, &e), *lab = gz_csv_open(p2, 0, &e);
  ck_assert_msg(truth && lab, "%s", e.msg);
  unsigned want_cols[64];
  int nt = gz_csv_ncols(truth);
  for (int k = 0; k < nt && k < 64; k++) want_cols[k] = gz_label_mask_for_name(gz_csv_header(truth, k));
  int paper_col[GZ_NLABELS];
  for (int k = 0; k < GZ_NLABELS; k++) {
    char name[96];
    snprintf(name, sizeof name, "paper:%s", gz_label_names[k]);
    paper_col[k] = find_col(lab, name);
  }
  int tid = find_col(truth, "id"), lid = find_col(lab, "id");
  long tp = 0, fp = 0, fn = 0;
  int rows = 0;
  while (gz_csv_next(truth, &e) == 1) {
    ck_assert_int_eq(gz_csv_next(lab, &e), 1);
    ck_assert_str_eq(gz_csv_field(truth, tid), gz_csv_field(lab, lid)); /* same readings, same order */
    unsigned want = 0, got = 0;
    for (int k = 0; k < nt && k < 64; k++) {
      const char *v = gz_csv_field(truth, k);
      if (want_cols[k] && (!strcmp(v, "1.0") || !strcmp(v, "-1.0"))) want |= want_cols[k];
    }
    for (int k = 0; k < GZ_NLABELS; k++) {
      const char *v = gz_csv_field(lab, paper_col[k]);
      if (!strcmp(v, "1.0") || !strcmp(v, "-1.0")) got |= 1u << k;
    }
    tp += __builtin_popcount(want & got), fp += __builtin_popcount(got & ~want), fn += __builtin_popcount(want & ~got);
    rows++;
  }
  gz_csv_close(truth), gz_csv_close(lab);
  double f1 = 2.0 * tp / (2.0 * tp + fp + fn);
  fprintf(stderr, "labeler vs intended report labels: %d reports, tp %ld fp %ld fn %ld, micro F1 %.3f\n", rows, tp, fp,
          fn, f1);
  ck_assert_int_eq(rows, 80);
  ck_assert_msg(f1 >= 0.95, "micro F1 %.3f below 0.95", f1);
}
END_TEST

/* The section 2.8 search, refining the paper's default rule pair, puts the best delay near the true lag. */
START_TEST(search_finds_the_lag) {
  tu_run("%s/gazeloc-etmaps %s/d/reflacx/main_data --labels %s/labels.csv --search --refine startofsentence_lastmention "
      "--size 256 --out %s/et --quiet > /dev/null 2>&1",
      getenv("GAZELOC_BIN"), g_root, g_root, g_root);
  char path[600];
  snprintf(path, sizeof path, "%s/et/search.csv", g_root);
  gz_err e = {0};
  gz_csv *c = gz_csv_open(path, 0, &e);
  ck_assert_msg(c != NULL, "%s", e.msg);
  int sc = find_col(c, "strategy"), mc = find_col(c, "mean_iou");
  double best = -1, best_delay = -1;
  while (gz_csv_next(c, &e) == 1) {
    const char *s = gz_csv_field(c, sc);
    double delay, iou;
    if (!strstr(s, "s_startofsentence_lastmention") || sscanf(s, "%lfs_", &delay) != 1) continue;
    ck_assert_int_eq(gz_csv_double(c, mc, &iou, &e), 0);
    if (iou > best) best = iou, best_delay = delay;
  }
  gz_csv_close(c);
  fprintf(stderr, "search: best startofsentence_lastmention delay %.1f s (IoU %.3f), true lag %.1f s\n", best_delay, best,
          LAG);
  ck_assert_msg(fabs(best_delay - LAG) <= 0.5, "best delay %.1f s, true lag %.1f s", best_delay, LAG);
}
END_TEST

static int dataset_child(void *arg) {
  (void)arg;
  char m[600], r[600], l[600], c[600];
  snprintf(m, sizeof m, "%s/d/mimic", g_root);
  snprintf(r, sizeof r, "%s/d/reflacx/main_data", g_root);
  snprintf(l, sizeof l, "%s/labels.csv", g_root);
  snprintf(c, sizeof c, "%s/cache", g_root);
  gz_data_opts o;
  gz_data_opts_default(&o);
  o.mimic_root = m, o.reflacx_main = r, o.labels_csv = l, o.cache_dir = c, o.size = 128;
  gz_dataset d;
  gz_err e = {0};
  if (gz_dataset_open(&d, &o, &e) || gz_dataset_cache(&d, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
  int ok = d.nrx == 80 && d.n_discarded == 0 && d.train.n > 0 && d.test_mimic.n > 0 && d.test_reflacx.n > 0;
  gz_loader ld;
  int rc, annotated = 0, with_target = 0;
  if (gz_loader_start(&ld, &d, &d.train, 4, 1, 1, 1, 1, 0, 2, 0, &e)) return 1;
  const gz_batch *b;
  while ((b = gz_loader_next(&ld, &rc, &e)))
    for (int i = 0; i < b->n; i++) {
      if (!b->annotated[i]) continue;
      annotated++;
      double s = 0;
      for (size_t j = 0; j < (size_t)GZ_NLABELS * b->grid * b->grid; j++) s += b->b[(size_t)i * GZ_NLABELS * b->grid * b->grid + j];
      with_target += s > 0;
    }
  gz_loader_stop(&ld);
  fprintf(stderr, "dataset: %d train samples, %d annotated in the epoch, %d with a MIL target\n", d.train.n, annotated,
          with_target);
  ok = ok && rc == 0 && annotated > 20 && with_target > annotated / 2;
  gz_dataset_close(&d);
  return ok ? 0 : 1;
}

START_TEST(training_pipeline_on_generated_data) { ck_assert_int_eq(tu_in_child(dataset_child, NULL), 0); }
END_TEST

/* --degrade-labeler on the generated readings: only training reports change; the achieved recall and precision
 * of their Pleural-abnormality labels (against the labeler's output) are what was asked, within rounding; a
 * deleted report has no window carrying the label, a false one has; the same seed degrades the same reports. */
static int open_et(gz_dataset *d, const gz_degrade *dg, uint64_t seed) {
  char m[600], r[600], l[600];
  snprintf(m, sizeof m, "%s/d/mimic", g_root);
  snprintf(r, sizeof r, "%s/d/reflacx/main_data", g_root);
  snprintf(l, sizeof l, "%s/labels.csv", g_root);
  gz_data_opts o;
  gz_data_opts_default(&o);
  o.mimic_root = m, o.reflacx_main = r, o.labels_csv = l, o.size = 128;
  if (dg) o.degrade = *dg, o.degrade_seed = seed;
  gz_err e = {0};
  int rc = gz_dataset_open(d, &o, &e);
  if (rc) fprintf(stderr, "%s\n", e.msg);
  return rc;
}

static unsigned window_labels(const gz_rx *x) {
  unsigned b = 0;
  for (int i = 0; i < x->nwin; i++) b |= x->win[i].labels;
  return b;
}

static int degrade_child(void *arg) {
  (void)arg;
  gz_degrade dg = {3, 0.5, 0.75};
  static gz_dataset plain, deg, again;
  if (open_et(&plain, NULL, 0) || open_et(&deg, &dg, 4) || open_et(&again, &dg, 4)) return 1;
  const unsigned bit = 1u << 3;
  int ok = plain.nrx == deg.nrx, P = 0, tp = 0, fp = 0, same = 1;
  for (int i = 0; ok && i < plain.nrx; i++) {
    const gz_rx *a = &plain.rx[i], *b = &deg.rx[i];
    unsigned before = a->et_labels & bit, after = b->et_labels & bit;
    if (a->split != GZ_TRAIN) ok &= a->et_labels == b->et_labels && a->nwin == b->nwin; /* untouched */
    else P += !!before, tp += before && after, fp += !before && after;
    ok &= (b->et_labels & ~bit) == (a->et_labels & ~bit); /* other labels keep their mentions */
    unsigned wa = window_labels(a) & bit, wb = window_labels(b) & bit;
    if (!after) ok &= !wb;                 /* deleted (or never there): no map for the label */
    else if (before) ok &= wb == wa;       /* kept as it was (a mention after the last '.' has no window) */
    else ok &= wb != 0;                    /* a false mention sits in a sentence: its window draws a map */
    same &= again.rx[i].et_labels == b->et_labels && again.rx[i].nwin == b->nwin;
  }
  double recall = (double)tp / P, precision = (double)tp / (tp + fp);
  fprintf(stderr, "degraded labeler on %d training reports with the label: recall %.3f precision %.3f (%d deleted, %d added)\n",
          P, recall, precision, deg.degraded.deleted, deg.degraded.added);
  ok = ok && same && P >= 8 && fabs(recall - 0.5) <= 0.5 / P && fabs(precision - 0.75) <= 1.0 / (tp + fp);
  ok = ok && deg.degraded.positives == P && fabs(deg.degraded.recall - recall) < 1e-12 && fp == deg.degraded.added;
  gz_dataset_close(&plain), gz_dataset_close(&deg), gz_dataset_close(&again);
  return ok ? 0 : 1;
}

START_TEST(degraded_labeler_on_generated_data) { ck_assert_int_eq(tu_in_child(degrade_child, NULL), 0); }
END_TEST

Suite *suite_data_pipeline(void) {
  Suite *s = suite_create("data_pipeline");
  TCase *t = tcase_create("end_to_end");
  tcase_add_unchecked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, labeler_recovers_intended_labels);
  tcase_add_test(t, search_finds_the_lag);
  tcase_add_test(t, training_pipeline_on_generated_data);
  tcase_add_test(t, degraded_labeler_on_generated_data);
  suite_add_tcase(s, t);
  return s;
}
