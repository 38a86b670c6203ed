/* gazeloc-audit: compares two audit traces (ours, or one written by tools/torch_audit.py) and names the
 * first op where they diverge.
 *
 *   gazeloc-audit A.csv B.csv [--tol 1e-4] [--exact]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"

static void usage(FILE *f) {
  fprintf(f, "usage: gazeloc-audit A.csv B.csv [--tol REL] [--exact]\n"
             "  compares two audit traces record by record; exits 0 when they agree, 1 at the first\n"
             "  divergence (printed), 2 on bad input.\n"
             "  --tol REL   relative tolerance on min, max, mean and L2 (default 1e-4)\n"
             "  --exact     compare the byte hashes instead (bitwise equality)\n");
}

int main(int argc, char **argv) {
  const char *files[2] = {NULL, NULL};
  double tol = 1e-4;
  int exact = 0, nf = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { usage(stdout); return 0; }
    if (!strcmp(argv[i], "--exact")) { exact = 1; continue; }
    if (!strcmp(argv[i], "--tol") && i + 1 < argc) {
      char *end;
      tol = strtod(argv[++i], &end);
      if (*end || !(tol >= 0)) { fprintf(stderr, "gazeloc-audit: error: --tol '%s' is not a number >= 0\n", argv[i]); return 2; }
      continue;
    }
    if (argv[i][0] == '-' || nf == 2) { usage(stderr); return 2; }
    files[nf++] = argv[i];
  }
  if (nf != 2) { usage(stderr); return 2; }
  char report[1024];
  gz_err e = {0};
  int rc = gz_audit_compare(files[0], files[1], tol, exact, report, sizeof report, &e);
  if (rc < 0) { fprintf(stderr, "gazeloc-audit: error: %s\n", e.msg); return 2; }
  if (rc) { printf("first divergence: %s\n", report); return 1; }
  printf("traces agree (%s)\n", exact ? "bitwise" : "within tolerance");
  return 0;
}
