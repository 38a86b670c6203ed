/* Reports in (one-report-per-line CSV, REFLACX main_data folders), labels out (the authors' CSV),
 * gold labels in and precision / recall / F1 out. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "labeler/internal.h"

/* ------------------------------------------------------------------ reports */

int lb_reports_add(lb_reports *rp, const char *id, const char *text, size_t len, gz_err *e) {
  if (rp->n == rp->cap) {
    int nc = rp->cap ? 2 * rp->cap : 256;
    char **t = gz_realloc(rp->text, sizeof *t * (size_t)nc, e);
    if (!t) return -1;
    rp->text = t;
    size_t *l = gz_realloc(rp->len, sizeof *l * (size_t)nc, e);
    if (!l) return -1;
    rp->len = l;
    char **d = gz_realloc(rp->id, sizeof *d * (size_t)nc, e);
    if (!d) return -1;
    rp->id = d;
    rp->cap = nc;
  }
  char *copy = gz_malloc(len + 1, e);
  if (!copy) return -1;
  memcpy(copy, text, len);
  copy[len] = 0;
  char *idc = NULL;
  if (id && !(idc = gz_strdup(id, e))) {
    free(copy);
    return -1;
  }
  rp->text[rp->n] = copy;
  rp->len[rp->n] = len;
  rp->id[rp->n] = idc;
  rp->has_ids |= id != NULL;
  rp->n++;
  return 0;
}

void lb_reports_free(lb_reports *rp) {
  for (int i = 0; i < rp->n; i++) free(rp->text[i]), free(rp->id[i]);
  free(rp->text);
  free(rp->len);
  free(rp->id);
  memset(rp, 0, sizeof *rp);
}

int lb_reports_read_csv(lb_reports *rp, const char *path, gz_err *e) {
  gz_csv *c = gz_csv_open(path, GZ_CSV_NO_HEADER | GZ_CSV_RAGGED, e);
  if (!c) return -1;
  int rc;
  while ((rc = gz_csv_next(c, e)) == 1) {
    if (gz_csv_nfields(c) != 1) {
      gz_csv_fail(c, 1, e,
                  "%d fields where one report per line was expected: a report holding a comma must be wrapped in "
                  "\"...\" (as the CheXpert labeler's input)",
                  gz_csv_nfields(c));
      rc = -1;
      break;
    }
    if (lb_reports_add(rp, NULL, gz_csv_field(c, 0), gz_csv_field_len(c, 0), e)) {
      rc = -1;
      break;
    }
  }
  gz_csv_close(c);
  return rc < 0 ? -1 : 0;
}

static int add_reading(lb_reports *rp, const char *main_data, const char *id, gz_err *e) {
  size_t n = strlen(main_data) + strlen(id) + 32;
  char *path = gz_malloc(n, e);
  if (!path) return -1;
  snprintf(path, n, "%s/%s/transcription.txt", main_data, id);
  size_t len;
  char *text = gz_read_file(path, &len, e);
  if (!text) {
    gz_err_prefix(e, "reading %s", id);
    free(path);
    return -1;
  }
  if (memchr(text, 0, len)) {
    free(text);
    int rc = gz_fail(e, GZ_EFORMAT, "%s: a NUL byte: not a text transcription", path);
    free(path);
    return rc;
  }
  free(path);
  int rc = lb_reports_add(rp, id, text, len, e);
  free(text);
  return rc;
}

typedef struct walk_ud {
  lb_reports *rp;
  const char *root;
} walk_ud;

static int walk_fn(const char *path, const char *name, int kind, int depth, void *ud, gz_err *e) {
  walk_ud *w = ud;
  (void)path;
  if (kind != GZ_WALK_DIR || depth != 1) return 0;
  char p[4096];
  snprintf(p, sizeof p, "%s/%s/transcription.txt", w->root, name);
  if (!gz_is_file(p)) return 1;
  return add_reading(w->rp, w->root, name, e) ? -1 : 1;
}

int lb_reports_read_reflacx(lb_reports *rp, const char *main_data, gz_err *e) {
  int tables = 0;
  for (int phase = 1; phase <= 3; phase++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metadata_phase_%d.csv", main_data, phase);
    if (!gz_is_file(path)) continue;
    tables++;
    gz_csv *c = gz_csv_open(path, 0, e);
    if (!c) return -1;
    int cid = gz_csv_require(c, "id", e);
    int cdis = gz_csv_find(c, "eye_tracking_data_discarded");
    int rc = cid < 0 ? -1 : 0;
    while (rc == 0 && (rc = gz_csv_next(c, e)) == 1) {
      rc = 0;
      int discarded = 0;
      if (cdis >= 0 && gz_csv_bool(c, cdis, &discarded, e)) rc = -1;
      else if (discarded) rp->nskipped++;
      else if (!*gz_csv_field(c, cid)) rc = gz_csv_fail(c, cid, e, "empty reading id");
      else if (strchr(gz_csv_field(c, cid), '/')) rc = gz_csv_fail(c, cid, e, "a reading id with '/' in it");
      else rc = add_reading(rp, main_data, gz_csv_field(c, cid), e);
    }
    gz_csv_close(c);
    if (rc < 0) return -1;
  }
  if (tables) return 0;
  if (!gz_is_dir(main_data)) return gz_fail(e, GZ_EIO, "%s: no such folder", main_data);
  walk_ud w = {rp, main_data};
  if (gz_walk(main_data, 1, walk_fn, &w, e)) return -1;
  if (rp->n == 0)
    return gz_fail(e, GZ_EFORMAT, "%s: neither metadata_phase_N.csv tables nor <id>/transcription.txt readings",
                   main_data);
  return 0;
}

/* ------------------------------------------------------------------ output */

static const char *value_text(int v) {
  return v == LB_POSITIVE ? "1.0" : v == LB_NEGATIVE ? "0.0" : v == LB_UNCERTAIN ? "-1.0" : "";
}

void lb_write_header(const lb_rules *r, gz_csvw *w, int with_id) {
  if (with_id) gz_csvw_field(w, "id");
  gz_csvw_field(w, "Reports");
  for (int c = 0; c < r->ncat; c++) gz_csvw_field(w, r->cat[c].name);
  for (int c = 0; c < r->ncat; c++) gz_csvw_fieldf(w, "%s_location", r->cat[c].name);
  for (int p = 0; p < LB_NPAPER; p++) gz_csvw_fieldf(w, "paper:%s", lb_paper_labels[p]);
  gz_csvw_end(w);
}

void lb_format_locations(const lb_result *res, int c, char *buf, size_t n) {
  size_t k = 0;
  k += (size_t)snprintf(buf, n, "[");
  int first = 1;
  for (int i = 0; i < res->nmentions && k < n; i++) {
    const lb_mention *m = &res->mentions[i];
    if (m->category != c || m->status == LB_NEGATIVE) continue;
    k += (size_t)snprintf(buf + k, n - k, "%s[%zu, %zu]", first ? "" : ", ", m->start, m->end);
    first = 0;
  }
  if (k < n) snprintf(buf + k, n - k, "]");
}

void lb_write_row(const lb_rules *r, gz_csvw *w, const char *id, const char *text, size_t len, const lb_result *res) {
  if (id) gz_csvw_field(w, id);
  /* the report may hold NUL-free bytes of any kind; the writer quotes as needed */
  char small[4096];
  char *t = len < sizeof small ? small : malloc(len + 1);
  if (!t) return;
  memcpy(t, text, len);
  t[len] = 0;
  gz_csvw_field(w, t);
  if (t != small) free(t);
  for (int c = 0; c < r->ncat; c++) gz_csvw_field(w, value_text(res->value[c]));
  char small_buf[8192];
  size_t need = (size_t)res->nmentions * 48 + 8; /* "[123456789012, 123456789012], " per mention at most */
  char *buf = need <= sizeof small_buf ? small_buf : malloc(need);
  if (!buf) return;
  size_t bn = buf == small_buf ? sizeof small_buf : need;
  for (int c = 0; c < r->ncat; c++) {
    lb_format_locations(res, c, buf, bn);
    gz_csvw_field(w, buf);
  }
  if (buf != small_buf) free(buf);
  for (int p = 0; p < LB_NPAPER; p++) gz_csvw_field(w, value_text(res->paper[p]));
  gz_csvw_end(w);
}

/* ------------------------------------------------------------------ evaluation */

void lb_eval_init(lb_eval *ev, int ncat) {
  memset(ev, 0, sizeof *ev);
  ev->ncat = ncat;
}

static int present(int v) { return v == LB_POSITIVE || v == LB_UNCERTAIN; }

void lb_eval_add(lb_eval *ev, const lb_rules *r, const int8_t *gold, const int8_t *pred) {
  ev->nreports++;
  for (int c = 0; c < ev->ncat; c++) {
    if (!ev->has_gold[c]) continue;
    int g = present(gold[c]), p = present(pred[c]);
    ev->tp[c] += g && p, ev->fp[c] += !g && p, ev->fn[c] += g && !p, ev->tn[c] += !g && !p;
  }
  for (int q = 0; q < LB_NPAPER; q++) {
    int any = 0, g = 0, p = 0;
    for (int c = 0; c < ev->ncat; c++) {
      if (!(r->cat[c].paper >> q & 1)) continue;
      p |= present(pred[c]);
      if (ev->has_gold[c]) any = 1, g |= present(gold[c]);
    }
    if (!any) continue;
    ev->ptp[q] += g && p, ev->pfp[q] += !g && p, ev->pfn[q] += g && !p, ev->ptn[q] += !g && !p;
  }
}

static void print_line(FILE *out, const char *name, long tp, long fp, long fn) {
  double prec = tp + fp ? (double)tp / (double)(tp + fp) : 0, rec = tp + fn ? (double)tp / (double)(tp + fn) : 0;
  double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
  char ps[16], rs[16], fs[16];
  if (tp + fp) snprintf(ps, sizeof ps, "%.3f", prec); else snprintf(ps, sizeof ps, "-");
  if (tp + fn) snprintf(rs, sizeof rs, "%.3f", rec); else snprintf(rs, sizeof rs, "-");
  if (tp + fp && tp + fn) snprintf(fs, sizeof fs, "%.3f", f1); else snprintf(fs, sizeof fs, "-");
  fprintf(out, "%-50s %6ld %6ld %6ld %9s %9s %9s\n", name, tp + fn, tp + fp, tp, ps, rs, fs);
}

void lb_eval_print(const lb_eval *ev, const lb_rules *r, FILE *out) {
  fprintf(out, "%ld reports; a label counts when it is 1 or -1 (positive or uncertain)\n", ev->nreports);
  fprintf(out, "%-50s %6s %6s %6s %9s %9s %9s\n", "category", "gold", "pred", "tp", "precision", "recall", "F1");
  long a = 0, b = 0, d = 0;
  for (int c = 0; c < ev->ncat; c++) {
    if (!ev->has_gold[c]) continue;
    print_line(out, r->cat[c].name, ev->tp[c], ev->fp[c], ev->fn[c]);
    a += ev->tp[c], b += ev->fp[c], d += ev->fn[c];
  }
  print_line(out, "(micro average)", a, b, d);
  fprintf(out, "\n%-50s %6s %6s %6s %9s %9s %9s\n", "paper label", "gold", "pred", "tp", "precision", "recall", "F1");
  a = b = d = 0;
  for (int q = 0; q < LB_NPAPER; q++) {
    if (ev->ptp[q] + ev->pfp[q] + ev->pfn[q] + ev->ptn[q] == 0) continue;
    print_line(out, lb_paper_labels[q], ev->ptp[q], ev->pfp[q], ev->pfn[q]);
    a += ev->ptp[q], b += ev->pfp[q], d += ev->pfn[q];
  }
  print_line(out, "(micro average)", a, b, d);
}

static int parse_label_value(const char *s, int *v) {
  if (!*s) return *v = LB_BLANK, 0;
  double x;
  if (gz_parse_double(s, &x)) return -1;
  if (x == 1) return *v = LB_POSITIVE, 0;
  if (x == 0) return *v = LB_NEGATIVE, 0;
  if (x == -1) return *v = LB_UNCERTAIN, 0;
  return -1;
}

int lb_read_gold(const lb_rules *r, const char *path, const lb_reports *rp, int8_t *gold, lb_eval *ev, gz_err *e) {
  for (long i = 0; i < (long)rp->n * LB_MAX_CATEGORIES; i++) gold[i] = LB_NO_GOLD;
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int col_cat[512];
  int ncols = gz_csv_ncols(c);
  if (ncols > 512) {
    gz_csv_close(c);
    return gz_fail(e, GZ_EFORMAT, "%s: more than 512 columns", path);
  }
  int cid = gz_csv_find(c, "id"), crep = gz_csv_find(c, "Reports");
  int reflacx = cid >= 0;
  if (!reflacx && crep < 0) {
    gz_csv_close(c);
    return gz_fail(e, GZ_EFORMAT,
                   "%s: neither a REFLACX metadata table (an 'id' column) nor a CheXpert-format labeled CSV (a "
                   "'Reports' column)",
                   path);
  }
  if (reflacx && !rp->has_ids) {
    gz_csv_close(c);
    return gz_fail(e, GZ_EINVAL, "%s is a REFLACX metadata table: label a REFLACX main_data folder to compare with it",
                   path);
  }
  int nmapped = 0;
  for (int k = 0; k < ncols; k++) {
    const char *h = gz_csv_header(c, k);
    col_cat[k] = reflacx ? lb_category_for_reflacx(r, h) : (k == crep ? -1 : lb_category_find(r, h));
    if (col_cat[k] >= 0) ev->has_gold[col_cat[k]] = 1, nmapped++;
  }
  if (!nmapped) {
    gz_csv_close(c);
    return gz_fail(e, GZ_EFORMAT, "%s: no column names a label this labeler knows", path);
  }
  int row = 0, rc;
  while ((rc = gz_csv_next(c, e)) == 1) {
    int i = -1;
    if (reflacx) {
      const char *id = gz_csv_field(c, cid);
      for (int k = 0; k < rp->n; k++)
        if (rp->id[k] && !strcmp(rp->id[k], id)) {
          i = k;
          break;
        }
      if (i < 0) continue; /* a reading not labeled here (discarded, or another phase) */
    } else {
      if (row >= rp->n) {
        rc = gz_csv_fail(c, crep, e, "more gold rows than the %d reports labeled", rp->n);
        break;
      }
      i = row;
      if (strcmp(gz_csv_field(c, crep), rp->text[i])) {
        rc = gz_csv_fail(c, crep, e, "the report differs from report %d of the input: the rows do not line up", i + 1);
        break;
      }
    }
    int8_t *g = gold + (size_t)i * LB_MAX_CATEGORIES;
    for (int k = 0; k < r->ncat; k++) g[k] = LB_BLANK;
    for (int k = 0; k < ncols && rc == 1; k++) {
      int cat = col_cat[k];
      if (cat < 0) continue;
      const char *s = gz_csv_field(c, k);
      int v;
      if (reflacx) {
        long cert;
        int b;
        if (!*s) v = LB_BLANK;
        else if (!gz_parse_int(s, &cert)) v = cert > 0 ? LB_POSITIVE : LB_NEGATIVE;
        else if (!gz_csv_bool(c, k, &b, NULL)) v = b ? LB_POSITIVE : LB_NEGATIVE;
        else {
          rc = gz_csv_fail(c, k, e, "'%s' is neither a certainty 0-5 nor True/False", s);
          break;
        }
      } else if (parse_label_value(s, &v)) {
        rc = gz_csv_fail(c, k, e, "'%s' is not a label value (1, 0, -1 or empty)", s);
        break;
      }
      g[cat] = (int8_t)lb_aggregate(g[cat], v);
    }
    if (rc != 1) break;
    row++;
  }
  gz_csv_close(c);
  if (rc < 0) return -1;
  if (!reflacx && row != rp->n)
    return gz_fail(e, GZ_EFORMAT, "%s: %d gold rows for %d reports: the rows do not line up", path, row, rp->n);
  return 0;
}
