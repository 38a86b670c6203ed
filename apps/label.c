/* gazeloc-label: CheXpert-style labels and mention spans for radiology reports.
 *
 *   gazeloc-label INPUT [--out FILE] [--rules DIR] [--explain] [--threads N] [--evaluate GOLD.csv]
 *
 * INPUT is a headerless one-report-per-line CSV (as the CheXpert labeler takes) or a REFLACX main_data
 * folder (each reading's transcription.txt, in metadata order). The output is the authors' format:
 * Reports, the categories (1.0 / 0.0 / -1.0 / empty), <category>_location columns with [[start, end], ...]
 * offsets into the original text of the positive and uncertain mentions, then the paper's 10 labels;
 * folder input adds a leading id column. Without --out the table goes to standard output. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "labeler/labeler.h"

#define PROG "gazeloc-label"

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " INPUT [options]\n"
          "  INPUT               a one-report-per-line CSV (no header), or a REFLACX main_data folder\n"
          "  --out FILE          write the labeled table to FILE (atomically); default: standard output\n"
          "  --rules DIR         the rule files (default: $GAZELOC_LABELER_RULES, $GAZELOC_ROOT/labeler/rules, ...)\n"
          "  --explain           print, per mention, its status and the rules that decided it (to standard\n"
          "                      error, or to standard output when --out is given)\n"
          "  --evaluate GOLD     precision, recall and F1 per label against GOLD: a REFLACX metadata table\n"
          "                      (certainty > 0 is present) or a CheXpert-format labeled CSV (1 or -1 is present)\n"
          "  --threads N         label with N threads (default: OMP_NUM_THREADS or all cores)\n"
          "  --crlf              end output lines with CRLF (default LF)\n"
          "  --help              this text\n");
}

static int die(const gz_err *e) {
  fprintf(stderr, PROG ": error: %s\n", e->msg);
  return 1;
}

int main(int argc, char **argv) {
  const char *input = NULL, *out = NULL, *rules_dir = NULL, *gold_path = NULL;
  int explain = 0, threads = 0, crlf = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--out") && more) out = argv[++i];
    else if (!strcmp(a, "--rules") && more) rules_dir = argv[++i];
    else if (!strcmp(a, "--evaluate") && more) gold_path = argv[++i];
    else if (!strcmp(a, "--threads") && more) {
      char *end;
      long t = strtol(argv[++i], &end, 10);
      if (*end || t < 1 || t > 1024) {
        fprintf(stderr, PROG ": error: --threads wants a number from 1 to 1024, not '%s'\n", argv[i]);
        return 2;
      }
      threads = (int)t;
    } else if (!strcmp(a, "--explain")) explain = 1;
    else if (!strcmp(a, "--crlf")) crlf = 1;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, PROG ": error: unknown option or missing value: %s\n", a);
      usage(stderr);
      return 2;
    } else if (!input) input = a;
    else {
      fprintf(stderr, PROG ": error: more than one input: '%s' and '%s'\n", input, a);
      return 2;
    }
  }
  if (!input) {
    usage(stderr);
    return 2;
  }
  gz_err e = {0};
  char dirbuf[4096];
  if (!rules_dir) {
    if (lb_rules_default_dir(dirbuf, sizeof dirbuf, &e)) return die(&e);
    rules_dir = dirbuf;
  }
  lb_rules *r = lb_rules_load(rules_dir, &e);
  if (!r) return die(&e);
  int nlines, nphrases;
  lb_rules_counts(r, &nlines, &nphrases);
  gz_info(PROG ": %d categories, %d rule lines, %d phrases from %s", lb_ncategories(r), nlines, nphrases, rules_dir);

  lb_reports rp = {0};
  int rc = gz_is_dir(input) ? lb_reports_read_reflacx(&rp, input, &e) : lb_reports_read_csv(&rp, input, &e);
  if (rc) {
    lb_rules_free(r);
    return die(&e);
  }
  if (rp.nskipped) gz_info(PROG ": %d discarded readings skipped", rp.nskipped);

  /* label in parallel: each report's values are kept (for --evaluate) and each chunk's rows are
   * formatted into memory, then written in order */
  if (threads) omp_set_num_threads(threads);
  int n = rp.n, ncat = lb_ncategories(r);
  enum { CHUNK = 512 };
  int nchunks = (n + CHUNK - 1) / CHUNK;
  int8_t *values = calloc((size_t)(n ? n : 1), LB_MAX_CATEGORIES);
  char **chunk_buf = calloc((size_t)(nchunks ? nchunks : 1), sizeof *chunk_buf);
  size_t *chunk_len = calloc((size_t)(nchunks ? nchunks : 1), sizeof *chunk_len);
  char **explain_buf = explain ? calloc((size_t)(nchunks ? nchunks : 1), sizeof *explain_buf) : NULL;
  size_t *explain_len = explain ? calloc((size_t)(nchunks ? nchunks : 1), sizeof *explain_len) : NULL;
  if (!values || !chunk_buf || !chunk_len || (explain && (!explain_buf || !explain_len))) {
    fprintf(stderr, PROG ": error: out of memory\n");
    return 1;
  }
  gz_progress prog;
  gz_progress_start(&prog, "labeling", n);
  int failed = 0;
  gz_err fail_err = {0};
  double t0 = gz_now();
  long done = 0;
#pragma omp parallel
  {
    gz_err te = {0};
    lb_result *res = lb_result_new(&te);
    if (!res) {
#pragma omp critical
      failed = 1, fail_err = te;
    }
#pragma omp for schedule(dynamic, 1)
    for (int ch = 0; ch < nchunks; ch++) {
      if (!res || failed) continue;
      FILE *mf = open_memstream(&chunk_buf[ch], &chunk_len[ch]);
      FILE *xf = explain ? open_memstream(&explain_buf[ch], &explain_len[ch]) : NULL;
      if (!mf || (explain && !xf)) {
#pragma omp critical
        failed = 1, gz_fail(&fail_err, GZ_ENOMEM, "cannot open a memory stream");
        if (mf) fclose(mf);
        if (xf) fclose(xf);
        continue;
      }
      gz_csvw w;
      gz_csvw_init(&w, mf, crlf);
      int end = ch * CHUNK + CHUNK < n ? ch * CHUNK + CHUNK : n;
      for (int i = ch * CHUNK; i < end; i++) {
        if (lb_label(r, rp.text[i], rp.len[i], res, &te)) {
#pragma omp critical
          failed = 1, fail_err = te;
          break;
        }
        memcpy(values + (size_t)i * LB_MAX_CATEGORIES, res->value, LB_MAX_CATEGORIES);
        lb_write_row(r, &w, rp.has_ids ? rp.id[i] : NULL, rp.text[i], rp.len[i], res);
        if (xf) {
          fprintf(xf, "report %d%s%s: %s\n", i + 1, rp.has_ids ? " " : "", rp.has_ids ? rp.id[i] : "", rp.text[i]);
          lb_explain(r, rp.text[i], rp.len[i], res, xf);
        }
      }
      fclose(mf);
      if (xf) fclose(xf);
#pragma omp atomic
      done += end - ch * CHUNK;
      if (omp_get_thread_num() == 0) gz_progress_update(&prog, (double)done, NULL);
    }
    lb_result_free(res);
  }
  double secs = gz_now() - t0;
  gz_progress_finish(&prog, NULL);
  if (failed) return die(&fail_err);
  gz_info(PROG ": %d reports in %.3f s (%.0f reports/s)", n, secs, secs > 0 ? n / secs : 0.0);

  FILE *xo = out ? stdout : stderr;
  for (int ch = 0; explain && ch < nchunks; ch++) fwrite(explain_buf[ch], 1, explain_len[ch], xo);

  gz_afile af = {0};
  FILE *f = stdout;
  if (out) {
    if (gz_afile_open(&af, out, &e)) return die(&e);
    f = af.f;
  }
  gz_csvw w;
  gz_csvw_init(&w, f, crlf);
  lb_write_header(r, &w, rp.has_ids);
  for (int ch = 0; ch < nchunks; ch++) fwrite(chunk_buf[ch], 1, chunk_len[ch], f);
  if (out) {
    if (gz_afile_commit(&af, &e)) return die(&e);
  } else if (fflush(stdout)) {
    fprintf(stderr, PROG ": error: writing standard output failed\n");
    return 1;
  }

  int status = 0;
  if (gold_path) {
    int8_t *gold = malloc((size_t)(n ? n : 1) * LB_MAX_CATEGORIES);
    lb_eval ev;
    lb_eval_init(&ev, ncat);
    if (!gold || lb_read_gold(r, gold_path, &rp, gold, &ev, &e)) {
      status = die(&e);
    } else {
      for (int i = 0; i < n; i++)
        if (gold[(size_t)i * LB_MAX_CATEGORIES] != LB_NO_GOLD)
          lb_eval_add(&ev, r, gold + (size_t)i * LB_MAX_CATEGORIES, values + (size_t)i * LB_MAX_CATEGORIES);
      FILE *eo = out ? stdout : stderr;
      fprintf(eo, "evaluation against %s\n", gold_path);
      lb_eval_print(&ev, r, eo);
    }
    free(gold);
  }
  for (int ch = 0; ch < nchunks; ch++) {
    free(chunk_buf[ch]);
    if (explain) free(explain_buf[ch]);
  }
  free(chunk_buf), free(chunk_len), free(explain_buf), free(explain_len), free(values);
  lb_reports_free(&rp);
  lb_rules_free(r);
  return status;
}
