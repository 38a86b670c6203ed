/* The labeler's output (data-formats.md 1.9): the authors' labeled_reports CSV with a leading `id` column.
 * Only the `<category>_location` columns matter here: they hold the positive and uncertain mentions. */
#include "gaze/gaze.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

static int parse_nonneg(const char **pp, long *v) {
  const char *p = skip_ws(*pp);
  if (!isdigit((unsigned char)*p)) return -1;
  long x = 0;
  while (isdigit((unsigned char)*p)) {
    x = x * 10 + (*p++ - '0');
    if (x > 1L << 30) return -1;
  }
  *v = x;
  *pp = skip_ws(p);
  return 0;
}

int gz_parse_locations(const char *cell, int category, gz_mention **m, int *nm, int *cap, gz_err *e) {
  const char *p = skip_ws(cell);
  if (!*p) return 0; /* an empty cell (NaN) holds no mention */
  if (*p++ != '[') return gz_fail(e, GZ_EFORMAT, "'%s' is not a list of [start, end] ranges", cell);
  p = skip_ws(p);
  if (*p == ']') {
    p = skip_ws(p + 1);
    return *p ? gz_fail(e, GZ_EFORMAT, "'%s': text after the list", cell) : 0;
  }
  for (;;) {
    long a, b;
    if (*p++ != '[' || parse_nonneg(&p, &a) || *p++ != ',' || parse_nonneg(&p, &b) || *p++ != ']')
      return gz_fail(e, GZ_EFORMAT, "'%s' is not a list of [start, end] ranges", cell);
    if (b < a) return gz_fail(e, GZ_EFORMAT, "'%s': range [%ld, %ld] ends before it starts", cell, a, b);
    if (*nm == *cap) {
      int nc = *cap ? *cap * 2 : 16;
      gz_mention *q = gz_realloc(*m, sizeof *q * (size_t)nc, e);
      if (!q) return -1;
      *m = q;
      *cap = nc;
    }
    (*m)[(*nm)++] = (gz_mention){category, (int)a, (int)b};
    p = skip_ws(p);
    if (*p == ']') break;
    if (*p++ != ',') return gz_fail(e, GZ_EFORMAT, "'%s' is not a list of [start, end] ranges", cell);
    p = skip_ws(p);
  }
  p = skip_ws(p + 1);
  return *p ? gz_fail(e, GZ_EFORMAT, "'%s': text after the list", cell) : 0;
}

void gz_labels_free(gz_labels_file *lf) {
  if (!lf) return;
  for (int i = 0; i < lf->n; i++) {
    free(lf->rows[i].id);
    free(lf->rows[i].report);
    free(lf->rows[i].m);
  }
  free(lf->rows);
  memset(lf, 0, sizeof *lf);
}

int gz_labels_read(const char *path, gz_labels_file *lf, gz_err *e) {
  memset(lf, 0, sizeof *lf);
  gz_csv *c = gz_csv_open(path, 0, e);
  if (!c) return -1;
  int cid = gz_csv_require(c, "id", e), crep = cid < 0 ? -1 : gz_csv_require(c, "Reports", e), cap = 0, r;
  int loc[GZ_NCATEGORIES];
  if (cid < 0 || crep < 0) goto fail;
  int found = 0;
  for (int k = 0; k < GZ_NCATEGORIES; k++) {
    char name[128];
    snprintf(name, sizeof name, "%s_location", gz_category_names[k]);
    loc[k] = gz_csv_find(c, name);
    found += loc[k] >= 0;
  }
  if (!found) {
    gz_fail(e, GZ_EFORMAT, "%s: no '<category>_location' column in the header (is this a labeled_reports file?)", path);
    goto fail;
  }
  while ((r = gz_csv_next(c, e)) == 1) {
    if (lf->n == cap) {
      int nc = cap ? cap * 2 : 256;
      gz_report_labels *q = gz_realloc(lf->rows, sizeof *q * (size_t)nc, e);
      if (!q) goto fail;
      lf->rows = q;
      cap = nc;
    }
    gz_report_labels *row = &lf->rows[lf->n++];
    memset(row, 0, sizeof *row);
    if (!(row->id = gz_strdup(gz_csv_field(c, cid), e)) || !(row->report = gz_strdup(gz_csv_field(c, crep), e)))
      goto fail;
    if (!row->id[0]) { gz_csv_fail(c, cid, e, "empty reading id"); goto fail; }
    int mcap = 0;
    for (int k = 0; k < GZ_NCATEGORIES; k++) {
      if (loc[k] < 0) continue;
      gz_err sub = {0};
      if (gz_parse_locations(gz_csv_field(c, loc[k]), k, &row->m, &row->nm, &mcap, &sub)) {
        gz_csv_fail(c, loc[k], e, "%s", sub.msg);
        goto fail;
      }
    }
  }
  if (r < 0) goto fail;
  gz_csv_close(c);
  return 0;
fail:
  gz_csv_close(c);
  gz_labels_free(lf);
  return -1;
}

const gz_report_labels *gz_labels_find(const gz_labels_file *lf, const char *id) {
  for (int i = 0; i < lf->n; i++)
    if (!strcmp(lf->rows[i].id, id)) return &lf->rows[i];
  return NULL;
}
