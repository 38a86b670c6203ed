/* autograd: the tape, the op table, gradient checking, and the audit trace.
 *
 * Audit trace (architecture.md "Audit trace"): with --audit FILE or GAZELOC_AUDIT=FILE every op of a step
 * writes one CSV line in forward and one in backward: step, phase, index, op name, shape, min, max, mean,
 * L2 norm, NaN and Inf counts, and the XXH3-64 hash of the bytes. tools/torch_audit.py writes the same
 * format from PyTorch, and gz_audit_compare names the first op where two traces diverge. */
#ifndef GAZELOC_AUTOGRAD_H
#define GAZELOC_AUTOGRAD_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

typedef struct gz_audit {
  FILE *f;
  char *path;
  long step;
  long index; /* records in this step */
} gz_audit;

/* Opens the trace named by `path`, or by GAZELOC_AUDIT when path is NULL. *enabled says whether a trace is
 * being written (no path and no variable = disabled, not an error). */
int gz_audit_open(gz_audit *a, const char *path, int *enabled, gz_err *e);
void gz_audit_close(gz_audit *a);
void gz_audit_step(gz_audit *a, long step);
/* One record: phase "forward" or "backward"; the statistics are computed here, in double precision. */
void gz_audit_record(gz_audit *a, const char *phase, const char *op, int ndim, const int64_t *shape, const float *data);

typedef struct gz_audit_stats {
  double min, max, mean, l2;
  int64_t nan, inf, count;
  uint64_t hash;
} gz_audit_stats;
void gz_audit_stats_of(const float *data, int64_t n, gz_audit_stats *s);

/* Compares two traces record by record. Returns 0 when they agree, 1 when they diverge (report says
 * where: the first record whose op or shape differ, or whose statistics differ by more than rel_tol
 * relative to the larger magnitude; with exact, the first whose hash differs), -1 on a bad file. */
int gz_audit_compare(const char *path_a, const char *path_b, double rel_tol, int exact, char *report, size_t n,
                     gz_err *e);

#endif
