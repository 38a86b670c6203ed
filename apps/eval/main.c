/* gazeloc-eval: the paper's evaluation (spec method.md section 6) of trained runs.
 *
 *   gazeloc-eval --runs DIR --data DIR --out DIR [options]
 *
 * DIR/<method>/ (unannotated, ellipse, et) holds one run (best.safetensors) or one sub-folder per seed. For
 * each run: per-label AUC of C_k on the MIMIC test list, per-label IoU of the three heatmap kinds on the REFLACX
 * validation and test lists. Thresholds are chosen per method, heatmap kind and label on the validation IoU
 * averaged over seeds and applied to each seed's test IoU; cells are means over seeds with 95 % intervals.
 * Writes Tables 1, 5 and 6 (CSV and Markdown), every heatmap kind's IoU, the chosen thresholds and overlay
 * PNGs under OUT, and prints Table 5. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evalapp.h"

#define PROG "gazeloc-eval"

static const char usage[] =
    "usage: " PROG " --runs DIR --data DIR --out DIR [options]\n"
    "  --runs DIR          DIR/<method>/best.safetensors, or DIR/<method>/<seed>/best.safetensors\n"
    "  --data DIR          the dataset root (mimic/ and reflacx/main_data), or --mimic DIR and --reflacx DIR\n"
    "  --val-subjects FILE subject ids moved from train to validation (as in training)\n"
    "  --cache DIR         resized-image cache (default RUNS/../cache)\n"
    "  --out DIR           report folder: tables (CSV, Markdown), thresholds, overlays/\n"
    "  --overlays N        overlay PNGs for N random test images per method (default 4)\n"
    "  --no-gradcam        skip GradCAM (one backward pass per label and batch: the slow kind)\n"
    "  --batch N           evaluation batch (default 8); --threads N loader threads (default 2)\n";

static int die(const char *fmt, const char *a) {
  fprintf(stderr, PROG ": error: ");
  fprintf(stderr, fmt, a);
  fputc('\n', stderr);
  return 1;
}

static int is_file(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The run folders of one method, sorted (seeds in a stable order). */
static int find_runs(const char *runs, const char *method, char dirs[][1024], int max) {
  char base[1024], p[1100];
  snprintf(base, sizeof base, "%s/%s", runs, method);
  snprintf(p, sizeof p, "%s/best.safetensors", base);
  if (is_file(p)) {
    snprintf(dirs[0], 1024, "%s", base);
    return 1;
  }
  DIR *d = opendir(base);
  if (!d) return 0;
  char *names[256];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < 256) {
    if (de->d_name[0] == '.') continue;
    if (snprintf(p, sizeof p, "%s/%s/best.safetensors", base, de->d_name) >= (int)sizeof p) continue;
    if (is_file(p)) names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, cmp_str);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (k < max && snprintf(dirs[k], 1024, "%s/%s", base, names[i]) < 1024) k++;
    free(names[i]);
  }
  return k;
}

int main(int argc, char **argv) {
  eval_ctx c;
  memset(&c, 0, sizeof c);
  c.batch = 8, c.threads = 2, c.overlays = 4, c.gradcam = 1;
  const char *runs = NULL, *data = NULL, *cache = NULL, *val_subjects = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage, stdout); return 0; }
    if (!strcmp(a, "--no-gradcam")) { c.gradcam = 0; continue; }
    if (!v) return die("%s needs a value (see --help)", a);
    i++;
    if (!strcmp(a, "--runs")) runs = v;
    else if (!strcmp(a, "--data")) data = v;
    else if (!strcmp(a, "--mimic")) c.mimic = v;
    else if (!strcmp(a, "--reflacx")) c.reflacx = v;
    else if (!strcmp(a, "--cache")) cache = v;
    else if (!strcmp(a, "--out")) c.out = v;
    else if (!strcmp(a, "--val-subjects")) val_subjects = v;
    else {
      char *end;
      long x = strtol(v, &end, 10);
      if (*end || x < 0) return die("'%s' is not a non-negative integer", v);
      if (!strcmp(a, "--overlays")) c.overlays = (int)x;
      else if (!strcmp(a, "--batch") && x > 0) c.batch = (int)x;
      else if (!strcmp(a, "--threads") && x > 0) c.threads = (int)x;
      else return die("unknown option or bad value: %s (see --help)", a);
    }
  }
  if (!runs || !c.out) return die("%s", "--runs and --out are required");
  static char pm[1100], pr[1100], pc[1100];
  if (data) {
    snprintf(pm, sizeof pm, "%s/mimic", data), snprintf(pr, sizeof pr, "%s/reflacx/main_data", data);
    if (!c.mimic) c.mimic = pm;
    if (!c.reflacx) c.reflacx = pr;
  }
  if (!c.mimic || !c.reflacx) return die("%s", "--data (or --mimic and --reflacx) is required");
  if (!cache) snprintf(pc, sizeof pc, "%s/../cache", runs), cache = pc;
  c.cache = cache;
  gz_err e = {0};
  if (val_subjects && gz_read_id_list(val_subjects, &c.val_subjects, &c.n_val_subjects, &e)) return die("%s", e.msg);
  if (gz_mkdir_p(c.out, &e)) return die("%s", e.msg);

  static char dirs[EVAL_MAX_SEEDS][1024];
  int total = 0;
  for (int m = 0; m < 3; m++) {
    int n = find_runs(runs, gz_run_method_name(m), dirs, EVAL_MAX_SEEDS);
    for (int s = 0; s < n; s++) {
      run_result *r = &c.res[m][s];
      if (eval_run(&c, dirs[s], r, &e)) return die("%s", e.msg);
      if (r->cfg.method != m) return die("%s: the run's method differs from its folder's", dirs[s]);
    }
    c.n_seeds[m] = n, total += n;
  }
  if (!total) return die("no run found under %s (expected <method>/best.safetensors or <method>/<seed>/best.safetensors)", runs);
  if (eval_tables(&c, &e)) return die("%s", e.msg);
  gz_dataset_close(&c.ds);
  free(c.val_subjects);
  return 0;
}
