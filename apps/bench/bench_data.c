/* data/: synthetic dataset generation speed (images/s, end to end: render, JPEG, masks, readings, tables,
 * calibration) at the demo size and at full MIMIC size, and the generator's JPEG encoder alone. */
#include "apps/bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "data/data.h"
#include "data/synth_internal.h"

typedef struct {
  gz_synth_opts o;
  gz_synth_summary s;
  char dir[256];
  int n;
} gen_job;

static void generate(void *arg) {
  gen_job *j = arg;
  char out[300];
  snprintf(out, sizeof out, "%s/run%d", j->dir, j->n++); /* a fresh folder per run */
  j->o.out = out;
  gz_err e = {0};
  if (gz_synth_generate(&j->o, &j->s, &e)) fprintf(stderr, "bench_data: %s\n", e.msg);
}

typedef struct { uint8_t *px; int w, h; size_t bytes; } jpg_job;

static void encode(void *arg) {
  jpg_job *j = arg;
  uint8_t *out;
  if (synth_jpeg_gray(j->px, j->w, j->h, 92, &out, &j->bytes) == 0) free(out);
}

void bench_data(bench_ctx *ctx) {
  bench_section("data: synthetic dataset generation (all threads)");
  char tmpl[] = "/tmp/gazeloc-bench-synth-XXXXXX";
  if (!mkdtemp(tmpl)) { perror("mkdtemp"); return; }
  struct { const char *name; int studies, readings, size, masks; } cfg[] = {
      {"demo preset (300 studies, 200 readings, 384 px)", 300, 200, 384, 1},
      {"full size (12 studies, 6 readings, 2800 px)", 12, 6, 2800, 1}};
  for (int c = 0; c < 2; c++) {
    gen_job j;
    memset(&j, 0, sizeof j);
    gz_synth_defaults(&j.o, GZ_SYNTH_DEMO);
    j.o.seed = 1;
    j.o.n_studies = cfg[c].studies;
    j.o.n_readings = cfg[c].readings;
    j.o.size = cfg[c].size;
    j.o.progress = 0;
    j.o.examples = 0;
    j.o.write_masks = cfg[c].masks;
    snprintf(j.dir, sizeof j.dir, "%s/cfg%d", tmpl, c);
    bench_ctx one = *ctx;
    if (one.reps > 3) one.reps = 3;
    one.warmup = 0;
    bench_stat s = bench_time(&one, generate, &j);
    printf("%-50s %7.1f images/s  %6.2f s/dataset  [%.2f .. %.2f s]\n", cfg[c].name, j.s.n_images / s.median, s.median,
           s.min, s.max);
  }
  jpg_job jj = {NULL, 2544, 3056, 0};
  jj.px = malloc((size_t)jj.w * jj.h);
  gz_rng r;
  gz_rng_init(&r, 1, 1);
  for (size_t i = 0; i < (size_t)jj.w * jj.h; i++) jj.px[i] = (uint8_t)(96 + (i % 2544) / 40 + (gz_rng_u32(&r) & 15));
  bench_stat s = bench_time(ctx, encode, &jj);
  printf("%-50s %7.1f Mpixel/s  %6.3f s/image   [%.3f .. %.3f s], %.2f MB\n", "JPEG encoder, 2544x3056 grey, quality 92",
         jj.w * (double)jj.h / s.median / 1e6, s.median, s.min, s.max, jj.bytes / 1e6);
  free(jj.px);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpl);
  if (system(cmd) != 0) fprintf(stderr, "bench_data: could not remove %s\n", tmpl);
}
