/* The audit trace: one CSV line per op and direction, and a comparison that names the first divergence. */
#include "autograd/autograd.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *header = "step,phase,index,op,shape,min,max,mean,l2,nan,inf,hash";

int gz_audit_open(gz_audit *a, const char *path, int *enabled, gz_err *e) {
  memset(a, 0, sizeof *a);
  if (!path || !*path) path = getenv("GAZELOC_AUDIT");
  *enabled = path && *path;
  if (!*enabled) return 0;
  a->f = fopen(path, "w");
  if (!a->f) return gz_fail_errno(e, "%s: cannot write the audit trace", path);
  a->path = gz_strdup(path, e);
  fprintf(a->f, "%s\n", header);
  return 0;
}

void gz_audit_close(gz_audit *a) {
  if (a->f) fclose(a->f);
  free(a->path);
  memset(a, 0, sizeof *a);
}

void gz_audit_step(gz_audit *a, long step) {
  a->step = step;
  a->index = 0;
}

void gz_audit_stats_of(const float *x, int64_t n, gz_audit_stats *s) {
  memset(s, 0, sizeof *s);
  s->min = INFINITY, s->max = -INFINITY;
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < n; i++) {
    double v = x[i];
    if (isnan(v)) { s->nan++; continue; }
    if (isinf(v)) { s->inf++; continue; }
    s->min = fmin(s->min, v), s->max = fmax(s->max, v);
    sum += v, sq += v * v;
    s->count++;
  }
  s->mean = s->count ? sum / (double)s->count : 0;
  s->l2 = sqrt(sq);
  if (!s->count) s->min = s->max = 0;
  s->hash = XXH3_64bits(x, (size_t)n * sizeof *x);
}

void gz_audit_record(gz_audit *a, const char *phase, const char *op, int ndim, const int64_t *shape, const float *x) {
  if (!a->f) return;
  int64_t n = 1;
  char sh[96] = "";
  size_t at = 0;
  for (int d = 0; d < ndim; d++) {
    n *= shape[d];
    at += (size_t)snprintf(sh + at, sizeof sh - at, d ? "x%" PRId64 : "%" PRId64, shape[d]);
    if (at >= sizeof sh) break;
  }
  gz_audit_stats s;
  gz_audit_stats_of(x, n, &s);
  fprintf(a->f, "%ld,%s,%ld,%s,%s,%.9g,%.9g,%.9g,%.9g,%" PRId64 ",%" PRId64 ",%016" PRIx64 "\n", a->step, phase,
          a->index++, op, sh, s.min, s.max, s.mean, s.l2, s.nan, s.inf, s.hash);
}

typedef struct {
  gz_csv *c;
  int col[12];
} trace;

static int open_trace(trace *t, const char *path, gz_err *e) {
  static const char *names[] = {"step", "phase", "index", "op", "shape", "min", "max", "mean", "l2", "nan", "inf", "hash"};
  t->c = gz_csv_open(path, 0, e);
  if (!t->c) return -1;
  for (int i = 0; i < 12; i++)
    if ((t->col[i] = gz_csv_require(t->c, names[i], e)) < 0) return -1;
  return 0;
}

static int differs(double a, double b, double floor, double tol) {
  double scale = fmax(fmax(fabs(a), fabs(b)), floor);
  return fabs(a - b) > tol * (scale > 1e-30 ? scale : 1e-30);
}

/* Elements of a "2x64x32x32" shape. */
static double numel_of(const char *shape) {
  double n = 1;
  for (const char *p = shape; *p;) {
    char *end;
    double d = strtod(p, &end);
    if (end == p) return 1;
    n *= d;
    p = *end == 'x' ? end + 1 : end;
  }
  return n;
}

int gz_audit_compare(const char *pa, const char *pb, double tol, int exact, char *report, size_t rn, gz_err *e) {
  trace a = {0}, b = {0};
  int rc = 0;
  report[0] = 0;
  if (open_trace(&a, pa, e) || open_trace(&b, pb, e)) { rc = -1; goto done; }
  for (long rec = 1;; rec++) {
    int ra = gz_csv_next(a.c, e);
    int rb = ra < 0 ? -1 : gz_csv_next(b.c, e);
    if (ra < 0 || rb < 0) { rc = -1; break; }
    if (!ra || !rb) {
      if (ra != rb) {
        snprintf(report, rn, "record %ld: %s ends here, %s goes on", rec, ra ? pb : pa, ra ? pa : pb);
        rc = 1;
      }
      break;
    }
    const char *where_fmt = "record %ld (step %s, %s op %s, %s %s)";
    char where[400];
    snprintf(where, sizeof where, where_fmt, rec, gz_csv_field(a.c, a.col[0]), gz_csv_field(a.c, a.col[1]),
             gz_csv_field(a.c, a.col[2]), gz_csv_field(a.c, a.col[3]), gz_csv_field(a.c, a.col[4]));
    for (int i = 0; i < 5; i++)
      if (strcmp(gz_csv_field(a.c, a.col[i]), gz_csv_field(b.c, b.col[i]))) {
        snprintf(report, rn, "%s: the other trace has %s there", where, gz_csv_field(b.c, b.col[i]));
        rc = 1;
        goto done;
      }
    if (exact) {
      if (strcmp(gz_csv_field(a.c, a.col[11]), gz_csv_field(b.c, b.col[11]))) {
        snprintf(report, rn, "%s: bytes differ (hash %s vs %s)", where, gz_csv_field(a.c, a.col[11]),
                 gz_csv_field(b.c, b.col[11]));
        rc = 1;
        break;
      }
      continue;
    }
    static const char *stat[] = {"min", "max", "mean", "l2", "nan", "inf"};
    /* a mean near zero (after batch norm) is compared on the scale of the values: the RMS, l2 / sqrt(n) */
    double l2a = 0;
    if (gz_csv_double(a.c, a.col[8], &l2a, e)) { rc = -1; goto done; }
    double rms = l2a / sqrt(numel_of(gz_csv_field(a.c, a.col[4])));
    for (int i = 5; i < 11; i++) {
      double va, vb;
      if (gz_csv_double(a.c, a.col[i], &va, e) || gz_csv_double(b.c, b.col[i], &vb, e)) { rc = -1; goto done; }
      if (differs(va, vb, i == 7 ? rms : 0, tol)) {
        snprintf(report, rn, "%s: %s %.9g vs %.9g (relative difference above %g)", where, stat[i - 5], va, vb, tol);
        rc = 1;
        goto done;
      }
    }
  }
done:
  if (a.c) gz_csv_close(a.c);
  if (b.c) gz_csv_close(b.c);
  return rc;
}
