/* gazeloc-etmaps DIR: label-specific eye-tracking heatmaps for every reading of a REFLACX main_data folder
 * (method.md section 4), or, with --search, the window-strategy search of the paper's section 2.8. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "apps/etmaps/etmaps.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: gazeloc-etmaps DIR [options]\n"
          "\n"
          "Eye-tracking heatmaps from a REFLACX main_data folder DIR (metadata_phase_<p>.csv and one folder per\n"
          "reading): per reading and paper label, the fixations of the sentences that mention it (2-D Gaussians of\n"
          "1 degree, weighted by duration, max-normalized), in the image geometry (long side 512, padded).\n"
          "\n"
          "  --labels FILE     the labeler's labeled_reports CSV (leading `id` column); without it only the\n"
          "                    whole-report maps are written\n"
          "  --out DIR         output folder (default etmaps-out): OUT/<id>/<label>.etm (+ .png), OUT/maps.csv\n"
          "  --phases LIST     phases to read, e.g. 3 or 1,2 (default 3)\n"
          "  --split NAME      only readings of this split: train, validate, test or all (default all)\n"
          "  --strategy NAME   window rule (default 1.5s_startofsentence_lastmention); DELAYs_START_END with START in\n"
          "                    startofsentence|endofsentence|mention, or START_END with START in single|double|all|\n"
          "                    allsentences|andpause; END in endofsentence|firstmention|lastmention|startofsentence\n"
          "  --mimic DIR       MIMIC-CXR-JPG root: PNG overlays on files/pXX/pSUBJECT/sSTUDY/DICOM_ID.jpg when present\n"
          "  --u16             store maps as 16-bit fixed point (error <= 7.7e-6, half the size) instead of float32\n"
          "  --size N          map side (default 512)\n"
          "  --k-sigma K       Gaussian truncation radius in sigmas (default 6; error bound exp(-K^2/2) per map, see\n"
          "                    docs/gaze.md)\n"
          "  --limit N         only the first N readings\n"
          "  --threads N       worker threads (default: OpenMP's)\n"
          "  --search          rank every start x end rule x delay (2.5/5/7.5 s, then 0.5..5 s for the best rule) by\n"
          "                    IoU against the ellipses (certainty >= 3) with the best threshold per label; needs\n"
          "                    --labels; prints the table and writes --search-csv (default OUT/search.csv)\n"
          "  --refine START_END  the rule pair whose delays stage 2 refines (default: the best of stage 1),\n"
          "                    e.g. startofsentence_lastmention\n"
          "  --quiet           no progress line\n"
          "  --help            this text\n");
}

static int die(const char *fmt, const char *a) {
  fprintf(stderr, "gazeloc-etmaps: error: ");
  fprintf(stderr, fmt, a);
  fprintf(stderr, "\n");
  return 2;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  long v;
  if (gz_parse_int(s, &v) || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

static int parse_args(int argc, char **argv, et_opts *o) {
  *o = (et_opts){.refine_start = -1, .refine_end = -1, .out = "etmaps-out", .phases = {3}, .nphases = 1, .strategy = GZ_STRATEGY_DEFAULT,
                 .heat = GZ_HEAT_OPTS_DEFAULT, .size = 512};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    gz_err e = {0};
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    } else if (!strcmp(a, "--search")) {
      o->search = 1;
    } else if (!strcmp(a, "--quiet")) {
      o->quiet = 1;
    } else if (!strcmp(a, "--u16")) {
      o->u16 = 1;
    } else if (a[0] == '-' && a[1] == '-') {
      if (!v) return die("%s needs a value", a);
      i++;
      if (!strcmp(a, "--labels")) o->labels = v;
      else if (!strcmp(a, "--out")) o->out = v;
      else if (!strcmp(a, "--mimic")) o->mimic = v;
      else if (!strcmp(a, "--split")) {
        if (strcmp(v, "train") && strcmp(v, "validate") && strcmp(v, "test") && strcmp(v, "all"))
          return die("--split '%s': expected train, validate, test or all", v);
        o->split = v;
      } else if (!strcmp(a, "--search-csv")) o->search_csv = v;
      else if (!strcmp(a, "--refine")) {
        gz_strategy r;
        char spec[128];
        snprintf(spec, sizeof spec, "1s_%s", v); /* a delayed rule pair, e.g. startofsentence_lastmention */
        if (gz_strategy_parse(spec, &r, &e) || r.start_rule > GZ_START_MENTION)
          return die("--refine '%s': expected a delayed START_END pair such as startofsentence_lastmention", v);
        o->refine_start = r.start_rule, o->refine_end = r.end_rule;
      }
      else if (!strcmp(a, "--strategy")) {
        if (gz_strategy_parse(v, &o->strategy, &e)) return die("%s", e.msg);
      } else if (!strcmp(a, "--size")) {
        if (parse_int(v, 16, 4096, &o->size)) return die("--size '%s': expected an integer in 16..4096", v);
      } else if (!strcmp(a, "--limit")) {
        if (parse_int(v, 1, 1 << 30, &o->limit)) return die("--limit '%s': expected a positive integer", v);
      } else if (!strcmp(a, "--threads")) {
        if (parse_int(v, 1, 1024, &o->threads)) return die("--threads '%s': expected 1..1024", v);
      } else if (!strcmp(a, "--k-sigma")) {
        if (gz_parse_double(v, &o->heat.k_sigma) || o->heat.k_sigma < 1 || o->heat.k_sigma > 40)
          return die("--k-sigma '%s': expected a number in 1..40", v);
      } else if (!strcmp(a, "--phases")) {
        o->nphases = 0;
        for (const char *p = v; *p; p++) {
          if (*p == ',') continue;
          if (*p < '1' || *p > '3' || o->nphases == 3 || (p[1] && p[1] != ','))
            return die("--phases '%s': expected a list of 1, 2, 3", v);
          o->phases[o->nphases++] = *p - '0';
        }
        if (!o->nphases) return die("--phases '%s': expected a list of 1, 2, 3", v);
      } else {
        return die("unknown option %s (see --help)", a);
      }
    } else if (!o->dir) {
      o->dir = a;
    } else {
      return die("unexpected argument '%s' (one DIR only)", a);
    }
  }
  if (!o->dir) return die("%s", "missing DIR (the REFLACX main_data folder); see --help");
  if (!gz_is_dir(o->dir)) return die("%s is not a folder", o->dir);
  if (o->search && !o->labels) return die("%s", "--search needs --labels (the mentions define the windows)");
  return 0;
}

typedef struct rec {
  int status; /* 0 ok, 1 discarded layout, 2 skipped (error), 3 no labels row */
  unsigned mentioned, present;
  int windows, empty, orphans, whole;
} rec;

static int write_summary(const et_opts *o, const et_set *s, const rec *recs, gz_err *e) {
  char path[4200];
  snprintf(path, sizeof path, "%s/maps.csv", o->out);
  gz_afile a;
  if (gz_afile_open(&a, path, e)) return -1;
  gz_csvw w;
  gz_csvw_init(&w, a.f, 0);
  const char *hdr[] = {"id", "status", "labels_mentioned", "labels_with_map", "windows", "empty_windows",
                       "orphan_mentions", "whole_report_map"};
  for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) gz_csvw_field(&w, hdr[i]);
  gz_csvw_end(&w);
  static const char *status[] = {"ok", "discarded", "skipped", "no_labels_row"};
  for (int i = 0; i < s->n; i++) {
    const rec *r = &recs[i];
    gz_csvw_field(&w, s->rows[i]->id);
    gz_csvw_field(&w, status[r->status]);
    for (int pass = 0; pass < 2; pass++) {
      char buf[512] = "";
      unsigned m = pass ? r->present : r->mentioned;
      for (int k = 0; k < GZ_NLABELS; k++)
        if (m >> k & 1) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "|" : "", gz_label_names[k]);
      gz_csvw_field(&w, buf);
    }
    gz_csvw_fieldf(&w, "%d", r->windows);
    gz_csvw_fieldf(&w, "%d", r->empty);
    gz_csvw_fieldf(&w, "%d", r->orphans);
    gz_csvw_fieldf(&w, "%d", r->whole);
    gz_csvw_end(&w);
  }
  return gz_afile_commit(&a, e);
}

/* One reading: load, mentions, maps, files. Warnings go to stderr; the reading is skipped, never fatal. */
static void one_reading(const et_opts *o, const gz_meta_row *row, const gz_labels_file *lf, rec *r, float *whole,
                        gz_label_maps *lm) {
  gz_err e = {0};
  gz_reading rd;
  gz_prepared p = {0};
  float *gray = NULL;
  int rc = gz_reading_load(o->dir, row, &rd, &e);
  if (rc) {
    r->status = rc == 1 ? 1 : 2;
    if (rc < 0) gz_warn("skipping %s: %s", row->id, e.msg);
    return;
  }
  const gz_mention *m = NULL;
  int nm = 0;
  if (lf) {
    rc = et_mentions(lf, &rd, &m, &nm, &e);
    if (rc < 0) goto skip;
    if (rc == 1) r->status = 3;
  }
  if (gz_prepare(&rd, o->size, &o->heat, &p, &e)) goto skip;
  char dir[4200], path[4400], slug[64];
  snprintf(dir, sizeof dir, "%s/%s", o->out, row->id);
  if (gz_mkdir_p(dir, &e)) goto skip;
  if (lf && !r->status) {
    if (gz_label_maps_compute(&p, m, nm, &o->strategy, lm, &e)) goto skip;
    r->mentioned = lm->mentioned;
    r->present = lm->present;
    r->windows = lm->nwindows;
    r->empty = lm->nempty;
    r->orphans = lm->orphans;
    size_t n = (size_t)o->size * o->size;
    for (int k = 0; k < GZ_NLABELS; k++) {
      if (!(lm->present >> k & 1)) continue;
      et_label_slug(k, slug, sizeof slug);
      snprintf(path, sizeof path, "%s/%s.etm", dir, slug);
      if (gz_etm_write(path, lm->maps + n * k, o->size, k, o->u16, &e)) goto skip;
      snprintf(path, sizeof path, "%s/%s.png", dir, slug);
      if (o->mimic && et_overlay(o, row, lm->maps + n * k, path, &gray, &e) < 0) goto skip;
    }
  }
  if ((rc = gz_whole_report_map(&p, whole, &e)) < 0) goto skip;
  r->whole = rc;
  if (rc) {
    snprintf(path, sizeof path, "%s/whole_report.etm", dir);
    if (gz_etm_write(path, whole, o->size, -1, o->u16, &e)) goto skip;
    snprintf(path, sizeof path, "%s/whole_report.png", dir);
    if (o->mimic && et_overlay(o, row, whole, path, &gray, &e) < 0) goto skip;
  }
  goto done;
skip:
  r->status = 2;
  gz_warn("skipping %s: %s", row->id, e.msg);
done:
  free(gray);
  gz_prepared_free(&p);
  gz_reading_free(&rd);
}

int main(int argc, char **argv) {
  et_opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc;
  if (o.threads) omp_set_num_threads(o.threads);
  gz_err e = {0};
  et_set s;
  gz_labels_file lf = {0};
  if (et_set_load(&o, &s, &e)) return die("%s", e.msg);
  if (o.labels && gz_labels_read(o.labels, &lf, &e)) {
    et_set_free(&s);
    return die("%s", e.msg);
  }
  if (gz_mkdir_p(o.out, &e)) {
    et_set_free(&s);
    gz_labels_free(&lf);
    return die("%s", e.msg);
  }
  if (o.search) {
    rc = et_search(&o, &s, &lf, &e) ? die("%s", e.msg) : 0;
    et_set_free(&s);
    gz_labels_free(&lf);
    return rc;
  }
  char sname[128];
  gz_strategy_format(&o.strategy, sname, sizeof sname);
  if (!o.labels) gz_info("no --labels: writing only the whole-report maps (no label-specific maps)");
  else gz_info("%d readings, strategy %s, maps %dx%d", s.n, sname, o.size, o.size);
  rec *recs = calloc((size_t)(s.n ? s.n : 1), sizeof *recs);
  gz_progress pr;
  gz_progress_start(&pr, "etmaps", s.n);
  pr.enabled = pr.enabled && !o.quiet;
  int done = 0;
#pragma omp parallel
  {
    float *whole = malloc(sizeof *whole * (size_t)o.size * o.size);
    gz_label_maps lm = {0};
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < s.n; i++) {
      one_reading(&o, s.rows[i], o.labels ? &lf : NULL, &recs[i], whole, &lm);
#pragma omp critical(etmaps_progress)
      gz_progress_update(&pr, ++done, NULL);
    }
    gz_label_maps_free(&lm);
    free(whole);
  }
  int ok = 0, skipped = 0, discarded = s.discarded, nolab = 0, maps = 0, empty = 0, orphans = 0;
  for (int i = 0; i < s.n; i++) {
    ok += recs[i].status == 0;
    skipped += recs[i].status == 2;
    discarded += recs[i].status == 1;
    nolab += recs[i].status == 3;
    maps += __builtin_popcount(recs[i].present) + recs[i].whole;
    empty += recs[i].empty;
    orphans += recs[i].orphans;
  }
  char extra[256];
  snprintf(extra, sizeof extra, "%d maps", maps);
  gz_progress_finish(&pr, extra);
  rc = write_summary(&o, &s, recs, &e);
  printf("gazeloc-etmaps: %d readings written, %d skipped (errors above), %d discarded, %d without a labels row; "
         "%d maps, %d empty windows, %d mentions outside any sentence; summary in %s/maps.csv\n",
         ok + nolab, skipped, discarded, nolab, maps, empty, orphans, o.out);
  free(recs);
  et_set_free(&s);
  gz_labels_free(&lf);
  if (rc) return die("%s", e.msg);
  return 0; /* skipped readings are reported above and in maps.csv, not fatal */
}
