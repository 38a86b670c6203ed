/* Result tables in the paper's layout (Tables 1, 5, 6): one row per label (and the average), one column per
 * method, each cell the mean over seeds with its 95 % interval (method.md section 6), as CSV and Markdown. */
#include "eval/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void gz_table_cell(const double *values, int n_seeds, gz_cell *c) {
  double x[64];
  int n = 0;
  for (int s = 0; s < n_seeds && n < 64; s++)
    if (isfinite(values[s])) x[n++] = values[s];
  c->n = n;
  if (n == 0) {
    c->mean = c->half = NAN;
    return;
  }
  gz_mean_ci95(x, n, &c->mean, &c->half);
}

int gz_table_write(const gz_table *t, const char *csv_path, const char *md_path, gz_err *e) {
  gz_afile a;
  if (csv_path) {
    if (gz_afile_open(&a, csv_path, e)) return -1;
    gz_csvw w;
    gz_csvw_init(&w, a.f, 0);
    gz_csvw_field(&w, t->row_header);
    for (int c = 0; c < t->n_cols; c++) {
      gz_csvw_fieldf(&w, "%s_mean", t->col_names[c]);
      gz_csvw_fieldf(&w, "%s_ci95_lo", t->col_names[c]);
      gz_csvw_fieldf(&w, "%s_ci95_hi", t->col_names[c]);
      gz_csvw_fieldf(&w, "%s_n", t->col_names[c]);
    }
    gz_csvw_end(&w);
    for (int r = 0; r < t->n_rows; r++) {
      gz_csvw_field(&w, t->row_names[r]);
      for (int c = 0; c < t->n_cols; c++) {
        gz_cell cell;
        gz_table_cell(t->values + ((size_t)r * t->n_cols + c) * t->n_seeds, t->n_seeds, &cell);
        if (cell.n == 0) {
          for (int i = 0; i < 3; i++) gz_csvw_field(&w, "");
        } else {
          gz_csvw_fieldf(&w, "%.6f", cell.mean);
          gz_csvw_fieldf(&w, "%.6f", cell.mean - cell.half);
          gz_csvw_fieldf(&w, "%.6f", cell.mean + cell.half);
        }
        gz_csvw_fieldf(&w, "%d", cell.n);
      }
      gz_csvw_end(&w);
    }
    if (gz_afile_commit(&a, e)) return -1;
  }
  if (md_path) {
    if (gz_afile_open(&a, md_path, e)) return -1;
    if (gz_table_print_md(t, a.f)) {
      gz_afile_abort(&a);
      return gz_fail(e, GZ_EIO, "%s: write failed", md_path);
    }
    if (gz_afile_commit(&a, e)) return -1;
  }
  return 0;
}

int gz_table_print_md(const gz_table *t, FILE *f) {
  if (t->title) fprintf(f, "**%s**\n\n", t->title);
  fprintf(f, "| %s |", t->row_header);
  for (int c = 0; c < t->n_cols; c++) fprintf(f, " %s |", t->col_names[c]);
  fprintf(f, "\n|---|");
  for (int c = 0; c < t->n_cols; c++) fprintf(f, "---|");
  fprintf(f, "\n");
  for (int r = 0; r < t->n_rows; r++) {
    fprintf(f, "| %s |", t->row_names[r]);
    for (int c = 0; c < t->n_cols; c++) {
      gz_cell cell;
      gz_table_cell(t->values + ((size_t)r * t->n_cols + c) * t->n_seeds, t->n_seeds, &cell);
      if (cell.n == 0) fprintf(f, " - |");
      else if (cell.n == 1) fprintf(f, " %.3f |", cell.mean);
      else fprintf(f, " %.3f [%.3f, %.3f] |", cell.mean, cell.mean - cell.half, cell.mean + cell.half);
    }
    fprintf(f, "\n");
  }
  fprintf(f, "\n");
  return ferror(f) ? -1 : 0;
}
