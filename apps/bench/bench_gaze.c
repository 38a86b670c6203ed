/* gaze/: the REFLACX-sized run (issue 7): 2,500 readings of about 2,500x3,000 px with about 300 fixations,
 * written as REFLACX files to a temporary folder, then read, checked, windowed and turned into every label map
 * and the whole-report map at 512x512, one reading per thread (OpenMP). GAZELOC_BENCH_GAZE_N changes the
 * reading count. Also the per-reading cost of each stage, medians over ctx->reps.
 * GAZELOC_BENCH_GAZE_KEEP=DIR writes the readings to DIR instead (kept, with metadata_phase_3.csv and a
 * labeled_reports.csv), so gazeloc-etmaps can be timed on them. */
#include "apps/bench/bench.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "gaze/gaze.h"

/* Sentences with a finding (the word at index 1 is the mention) and normal ones. */
static const char *FINDINGS[][2] = {{"there is mild pulmonary edema .", "pulmonary edema"},
                                    {"a small right pleural effusion is seen .", "pleural effusion"},
                                    {"left basilar atelectasis is present .", "atelectasis"},
                                    {"the cardiac silhouette is enlarged .", "enlarged cardiac silhouette"},
                                    {"a right upper lobe consolidation , likely pneumonia .", "consolidation"},
                                    {"small apical pneumothorax on the left .", "pneumothorax"}};
static const char *NORMAL[] = {"no acute osseous abnormality .", "the lungs are otherwise clear .",
                               "support devices are unchanged ."};

static const gz_strategy DEF = GZ_STRATEGY_DEFAULT;

typedef struct bench_reading {
  char id[16];
  gz_mention m[8];
  int nm;
} bench_reading;

static void write_file(const char *dir, const char *name, const char *s, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%.255s/%.200s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f || fwrite(s, 1, n, f) != n) {
    fprintf(stderr, "bench_gaze: cannot write %s\n", p);
    exit(1);
  }
  fclose(f);
}

/* One reading: dictation of 7 sentences (5 with findings), fixations over the dictation. */
static void make_reading(const char *root, int idx, bench_reading *br, int *W, int *H) {
  gz_rng r;
  gz_rng_init(&r, 2026, (uint64_t)idx);
  snprintf(br->id, sizeof br->id, "P300R%06d", idx);
  char dir[256];
  snprintf(dir, sizeof dir, "%.200s/%s", root, br->id);
  mkdir(dir, 0755);
  *W = 2400 + (int)gz_rng_below(&r, 300);
  *H = 2900 + (int)gz_rng_below(&r, 250);
  size_t cap = 1 << 16, n = 0, tn = 0;
  char *words = malloc(cap), *text = malloc(8192);
  n += (size_t)snprintf(words, cap, "word,timestamp_start_word,timestamp_end_word\r\n");
  double t = 1.0 + gz_rng_range(&r, 0, 2);
  br->nm = 0;
  for (int s = 0; s < 7; s++) {
    int finding = s < 5;
    int which = (int)gz_rng_below(&r, finding ? 6 : 3);
    char sent[256];
    snprintf(sent, sizeof sent, "%s", finding ? FINDINGS[which][0] : NORMAL[which]);
    int first = 1;
    char *save = NULL;
    for (char *tok = strtok_r(sent, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
      int glued = !strcmp(tok, ".") || !strcmp(tok, ",");
      if (!glued && tn) text[tn++] = ' ';
      if (finding && first && br->nm < 8 && gz_rng_below(&r, 2) == 0) /* mention on some first words too */
        br->m[br->nm++] = (gz_mention){gz_category_index(FINDINGS[which][1]), (int)tn, (int)(tn + strlen(tok))};
      if (finding && !first && br->nm < 8 && strstr(FINDINGS[which][1], tok) == FINDINGS[which][1]) {
        br->m[br->nm++] = (gz_mention){gz_category_index(FINDINGS[which][1]), (int)tn, (int)tn + 5};
      }
      memcpy(text + tn, tok, strlen(tok));
      tn += strlen(tok);
      double d = glued ? 0.15 : gz_rng_range(&r, 0.2, 0.6);
      n += (size_t)snprintf(words + n, cap - n, "%s,%.2f,%.2f\r\n", !strcmp(tok, ",") ? "\",\"" : tok, t, t + d);
      t += d + 0.05;
      first = 0;
    }
    t += gz_rng_range(&r, 0.5, 3.0);
  }
  write_file(dir, "timestamps_transcription.csv", words, n);
  write_file(dir, "transcription.txt", text, tn);
  /* ~300 fixations spread over the dictation */
  double step = (t + 2.0) / 300;
  n = 0;
  n += (size_t)snprintf(words, cap,
                        "timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,pupil_area_normalized,"
                        "angular_resolution_x_pixels_per_degree,angular_resolution_y_pixels_per_degree,window_width,"
                        "window_level,xmin_shown_from_image,ymin_shown_from_image,xmax_shown_from_image,"
                        "ymax_shown_from_image,xmin_in_screen_coordinates,ymin_in_screen_coordinates,"
                        "xmax_in_screen_coordinates,ymax_in_screen_coordinates\r\n");
  double ft = -0.5;
  for (int i = 0; i < 300; i++) {
    double dur = step * gz_rng_range(&r, 0.6, 0.95);
    int zoom = gz_rng_below(&r, 10) == 0;
    int rx0 = zoom ? *W / 4 : 0, ry0 = zoom ? *H / 4 : 0, rx1 = zoom ? 3 * *W / 4 : *W, ry1 = zoom ? 3 * *H / 4 : *H;
    int sig = (int)gz_rng_range(&r, 90, 150) * (zoom ? 2 : 1);
    if (cap - n < 512) words = realloc(words, cap *= 2);
    n += (size_t)snprintf(words + n, cap - n, "%.3f,%.3f,%d,%d,1.0,%d,%d,1.0,0.5,%d,%d,%d,%d,0,0,3840,2160\r\n", ft,
                          ft + dur, (int)gz_rng_range(&r, rx0, rx1), (int)gz_rng_range(&r, ry0, ry1), sig, sig, rx0,
                          ry0, rx1, ry1);
    ft += step;
  }
  write_file(dir, "fixations.csv", words, n);
  const char *ell = "xmin,ymin,xmax,ymax,certainty,Atelectasis,Pleural abnormality\r\n500,600,1200,1500,4,True,False\r\n";
  write_file(dir, "anomaly_location_ellipses.csv", ell, strlen(ell));
  free(words);
  free(text);
}

/* metadata_phase_3.csv and the labeler's file for the kept folder. */
static void write_tables(const char *root, const gz_meta_row *rows, const bench_reading *br, int n) {
  char p[512];
  snprintf(p, sizeof p, "%.400s/metadata_phase_3.csv", root);
  FILE *f = fopen(p, "wb");
  snprintf(p, sizeof p, "%.400s/labeled_reports.csv", root);
  FILE *g = fopen(p, "wb");
  if (!f || !g) {
    fprintf(stderr, "bench_gaze: cannot write the tables in %s\n", root);
    exit(1);
  }
  fprintf(f, "id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,image_size_y\r\n");
  fprintf(g, "id,Reports");
  for (int c = 0; c < GZ_NCATEGORIES; c++) fprintf(g, ",%s_location", gz_category_names[c]);
  fprintf(g, "\r\n");
  for (int i = 0; i < n; i++) {
    fprintf(f, "%s,%s,False,files/p10/p1%07d/s5%07d/d%d.dcm,d%d,1%07d,%d,%d\r\n", rows[i].id,
            i % 5 == 0 ? "validate" : "train", i, i, i, i, i, rows[i].size_x, rows[i].size_y);
    char tp[512];
    snprintf(tp, sizeof tp, "%.400s/%s/transcription.txt", root, rows[i].id);
    char *text = gz_read_file(tp, NULL, NULL);
    fprintf(g, "%s,\"%s\"", rows[i].id, text ? text : "");
    free(text);
    for (int c = 0; c < GZ_NCATEGORIES; c++) {
      int any = 0;
      for (int k = 0; k < br[i].nm; k++) {
        if (br[i].m[k].category != c) continue;
        fprintf(g, "%s[%d, %d]", any ? ", " : ",\"[", br[i].m[k].start, br[i].m[k].end);
        any = 1;
      }
      fprintf(g, "%s", any ? "]\"" : ",[]");
    }
    fprintf(g, "\r\n");
  }
  fclose(f);
  fclose(g);
}

typedef struct job {
  const char *root;
  gz_meta_row *rows;
  bench_reading *br;
  int n;
  long maps, empty, failed;
} job;

static void run_all(void *arg) {
  job *j = arg;
  long maps = 0, empty = 0, failed = 0;
#pragma omp parallel reduction(+ : maps, empty, failed)
  {
    gz_label_maps lm = {0};
    float *whole = malloc(sizeof *whole * 512 * 512);
#pragma omp for schedule(dynamic, 4)
    for (int i = 0; i < j->n; i++) {
      gz_err e = {0};
      gz_reading r;
      gz_prepared p;
      if (gz_reading_load(j->root, &j->rows[i], &r, &e) != 0) {
        if (!failed++) fprintf(stderr, "bench_gaze: %s\n", e.msg);
        continue;
      }
      if (gz_prepare(&r, 512, NULL, &p, &e) || gz_label_maps_compute(&p, j->br[i].m, j->br[i].nm, &DEF, &lm, &e)) {
        if (!failed++) fprintf(stderr, "bench_gaze: %s\n", e.msg);
      } else {
        maps += __builtin_popcount(lm.present) + gz_whole_report_map(&p, whole, &e);
        empty += lm.nempty;
      }
      gz_prepared_free(&p);
      gz_reading_free(&r);
    }
    gz_label_maps_free(&lm);
    free(whole);
  }
  j->maps = maps;
  j->empty = empty;
  j->failed = failed;
}

typedef struct stage {
  const char *root;
  gz_meta_row *row;
  bench_reading *br;
  int what; /* 0 read, 1 prepare, 2 label maps, 3 whole map */
  gz_reading r;
  gz_prepared p;
  gz_label_maps lm;
  float *whole;
} stage;

static void run_stage(void *arg) {
  stage *s = arg;
  gz_err e = {0};
  if (s->what == 0) {
    gz_reading_free(&s->r);
    gz_reading_load(s->root, s->row, &s->r, &e);
  } else if (s->what == 1) {
    gz_prepared_free(&s->p);
    gz_prepare(&s->r, 512, NULL, &s->p, &e);
  } else if (s->what == 2) {
    gz_label_maps_compute(&s->p, s->br->m, s->br->nm, &DEF, &s->lm, &e);
  } else {
    gz_whole_report_map(&s->p, s->whole, &e);
  }
}

void bench_gaze(bench_ctx *ctx) {
  const char *env = getenv("GAZELOC_BENCH_GAZE_N");
  int n = env && atoi(env) > 0 ? atoi(env) : 2500;
  bench_section("gaze: REFLACX-sized eye-tracking map extraction");
  const char *keep = getenv("GAZELOC_BENCH_GAZE_KEEP");
  char root[256] = "/tmp/gazeloc-bench-gaze-XXXXXX";
  if (keep && *keep) {
    snprintf(root, sizeof root, "%.250s", keep);
    mkdir(root, 0755);
  } else if (!mkdtemp(root)) {
    fprintf(stderr, "bench_gaze: mkdtemp failed\n");
    return;
  }
  double t0 = gz_now();
  gz_meta_row *rows = calloc((size_t)n, sizeof *rows);
  bench_reading *br = calloc((size_t)n, sizeof *br);
#pragma omp parallel for schedule(dynamic, 8)
  for (int i = 0; i < n; i++) {
    int W, H;
    make_reading(root, i, &br[i], &W, &H);
    rows[i] = (gz_meta_row){.id = br[i].id, .split = "train", .size_x = W, .size_y = H, .phase = 3};
  }
  printf("generated %d readings (about 2,400-2,700 x 2,900-3,150 px, 300 fixations, 7 sentences, 5 with a "
         "finding) in %.1f s\n", n, gz_now() - t0);
  /* per stage, one reading, one thread */
  stage s = {.root = root, .row = &rows[0], .br = &br[0], .whole = malloc(sizeof(float) * 512 * 512)};
  const char *names[] = {"read the 5 files + checks", "transcript, geometry, profiles", "label maps (5 windows)",
                         "whole-report map"};
  for (int w = 0; w < 4; w++) {
    s.what = w;
    bench_stat st = bench_time(ctx, run_stage, &s);
    printf("  %-32s %8.2f ms  [%.2f .. %.2f]\n", names[w], st.median * 1e3, st.min * 1e3, st.max * 1e3);
  }
  gz_label_maps_free(&s.lm);
  gz_prepared_free(&s.p);
  gz_reading_free(&s.r);
  free(s.whole);
  /* the whole run, once (it is long) */
  job j = {root, rows, br, n, 0, 0, 0};
  double t1 = gz_now();
  run_all(&j);
  double el = gz_now() - t1;
  printf("all %d readings, %d threads: %.1f s = %.1f readings/s (%ld maps at 512x512, %ld empty windows, %ld "
         "failed)  [target: under 60 s]\n", n, ctx->threads, el, n / el, j.maps, j.empty, j.failed);
  if (keep && *keep) {
    write_tables(root, rows, br, n);
    printf("kept the readings in %s (metadata_phase_3.csv, labeled_reports.csv)\n", root);
  } else {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) fprintf(stderr, "bench_gaze: could not remove %s\n", root);
  }
  free(rows);
  free(br);
}
