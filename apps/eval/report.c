/* The tables of the evaluation (method.md section 6): thresholds chosen per method, heatmap kind and label on
 * the validation IoU averaged over seeds, applied to each seed's test IoU; averages over labels per seed, then
 * means and 95 % intervals over seeds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evalapp.h"

static const char *const col_names[3] = {"Unannotated", "Ellipse", "ET model"};

/* Test IoU per seed and label for one method and kind, at the thresholds chosen on validation. thr_out [10]. */
static void test_iou_at_best(const eval_ctx *c, int m, int h, double out[EVAL_MAX_SEEDS][GZ_NLABELS + 1],
                             int thr_out[GZ_NLABELS]) {
  int ns = c->n_seeds[m];
  static double val[EVAL_MAX_SEEDS][GZ_NLABELS][GZ_N_THRESHOLDS], test[EVAL_MAX_SEEDS][GZ_NLABELS][GZ_N_THRESHOLDS];
  double at[EVAL_MAX_SEEDS * GZ_NLABELS];
  for (int s = 0; s < ns; s++) {
    memcpy(val[s], c->res[m][s].val_iou[h], sizeof val[s]);
    memcpy(test[s], c->res[m][s].test_iou[h], sizeof test[s]);
  }
  /* a label without positive validation images: no threshold can be chosen, the label is left out */
  gz_select_thresholds(&val[0][0][0], &test[0][0][0], ns, thr_out, at);
  for (int s = 0; s < ns; s++) {
    for (int k = 0; k < GZ_NLABELS; k++) out[s][k] = at[s * GZ_NLABELS + k];
    out[s][GZ_NLABELS] = gz_mean_over_labels(out[s], GZ_NLABELS);
  }
}

static int reported_kind(const eval_ctx *c, int m) {
  for (int s = 0; s < c->n_seeds[m]; s++)
    if (!c->res[m][s].cfg.decoder) return GZ_HEAT_ACT;
  return m == GZ_METHOD_UNANNOTATED ? GZ_HEAT_ACT : GZ_HEAT_UNET; /* method.md section 6 */
}

static int write_pair(const eval_ctx *c, const gz_table *t, const char *stem, gz_err *e) {
  char csv[1200], md[1200];
  snprintf(csv, sizeof csv, "%s/%s.csv", c->out, stem), snprintf(md, sizeof md, "%s/%s.md", c->out, stem);
  return gz_table_write(t, csv, md, e);
}

int eval_tables(eval_ctx *c, gz_err *e) {
  int ns = 1;
  for (int m = 0; m < 3; m++) ns = c->n_seeds[m] > ns ? c->n_seeds[m] : ns;
  const char *rows[GZ_NLABELS + 1];
  for (int k = 0; k < GZ_NLABELS; k++) rows[k] = gz_label_names[k];
  rows[GZ_NLABELS] = "Average";
  const int NR = GZ_NLABELS + 1;
  double *auc = malloc(sizeof(double) * NR * 3 * ns), *iou = malloc(sizeof(double) * NR * 3 * ns);
  double *t5 = malloc(sizeof(double) * 2 * 3 * ns), *all = malloc(sizeof(double) * NR * 9 * ns);
  int rc = -1;
  if (!auc || !iou || !t5 || !all) {
    gz_fail(e, GZ_ENOMEM, "tables: out of memory");
    goto out;
  }
  for (size_t i = 0; i < (size_t)NR * 3 * ns; i++) auc[i] = iou[i] = NAN;
  for (size_t i = 0; i < (size_t)2 * 3 * ns; i++) t5[i] = NAN;
  for (size_t i = 0; i < (size_t)NR * 9 * ns; i++) all[i] = NAN;

  char tpath[1200];
  snprintf(tpath, sizeof tpath, "%s/thresholds.csv", c->out);
  gz_afile af;
  if (gz_afile_open(&af, tpath, e)) goto out;
  gz_csvw w;
  gz_csvw_init(&w, af.f, 0);
  gz_csvw_field(&w, "method"), gz_csvw_field(&w, "heatmap"), gz_csvw_field(&w, "label"), gz_csvw_field(&w, "threshold");
  gz_csvw_field(&w, "reported"), gz_csvw_end(&w);
  const char *all_cols[9];
  static char all_names[9][64];
  for (int m = 0; m < 3; m++) {
    int rk = reported_kind(c, m);
    for (int s = 0; s < c->n_seeds[m]; s++) {
      for (int k = 0; k < GZ_NLABELS; k++) auc[((size_t)k * 3 + m) * ns + s] = c->res[m][s].auc[k];
      double a = gz_mean_over_labels(c->res[m][s].auc, GZ_NLABELS);
      auc[((size_t)GZ_NLABELS * 3 + m) * ns + s] = a;
      t5[((size_t)0 * 3 + m) * ns + s] = a;
    }
    for (int h = 0; h < GZ_N_HEAT; h++) {
      snprintf(all_names[m * 3 + h], 64, "%s: %s", col_names[m], gz_heat_names[h]);
      all_cols[m * 3 + h] = all_names[m * 3 + h];
      if (!c->n_seeds[m] || !(c->res[m][0].kinds >> h & 1u)) continue;
      double v[EVAL_MAX_SEEDS][GZ_NLABELS + 1];
      int thr[GZ_NLABELS];
      test_iou_at_best(c, m, h, v, thr);
      for (int k = 0; k < GZ_NLABELS; k++) {
        gz_csvw_field(&w, gz_run_method_name(m)), gz_csvw_field(&w, gz_heat_names[h]);
        gz_csvw_field(&w, gz_label_names[k]);
        if (thr[k] < 0) gz_csvw_field(&w, "");
        else gz_csvw_fieldf(&w, "%g", gz_thresholds[thr[k]]);
        gz_csvw_fieldf(&w, "%d", h == rk), gz_csvw_end(&w);
      }
      for (int s = 0; s < c->n_seeds[m]; s++)
        for (int r = 0; r < NR; r++) {
          all[((size_t)r * 9 + m * 3 + h) * ns + s] = v[s][r];
          if (h == rk) iou[((size_t)r * 3 + m) * ns + s] = v[s][r];
        }
      if (h == rk)
        for (int s = 0; s < c->n_seeds[m]; s++) t5[((size_t)1 * 3 + m) * ns + s] = v[s][GZ_NLABELS];
    }
  }
  if (gz_afile_commit(&af, e)) goto out;

  gz_table t1 = {"Table 1: AUC per label (MIMIC test, C_k)", "Label", rows, col_names, NR, 3, ns, auc};
  gz_table t6 = {"Table 6: IoU per label (REFLACX test; Unannotated: sigmoid(gamma), Ellipse and ET: decoder)",
                 "Label", rows, col_names, NR, 3, ns, iou};
  const char *t5rows[2] = {"AUC (MIMIC test)", "IoU (REFLACX test)"};
  gz_table t5t = {"Table 5: average over labels", "Metric", t5rows, col_names, 2, 3, ns, t5};
  gz_table ta = {"IoU per label for every heatmap kind (REFLACX test)", "Label", rows, all_cols, NR, 9, ns, all};
  if (write_pair(c, &t1, "table1_auc", e) || write_pair(c, &t5t, "table5_summary", e) ||
      write_pair(c, &t6, "table6_iou", e) || write_pair(c, &ta, "iou_all_heatmaps", e))
    goto out;
  printf("\n");
  gz_table_print_md(&t5t, stdout);
  gz_table_print_md(&t6, stdout);
  printf("seeds per method: unannotated %d, ellipse %d, et %d; tables, thresholds and overlays in %s\n", c->n_seeds[0],
         c->n_seeds[1], c->n_seeds[2], c->out);
  rc = 0;
out:
  free(auc), free(iou), free(t5), free(all);
  return rc;
}
