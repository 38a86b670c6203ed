/* base/: CSV parsing throughput (a fixations-like table) and Philox throughput. */
#include "apps/bench/bench.h"

#include <stdlib.h>
#include <string.h>

#include "base/base.h"

typedef struct {
  char *data;
  size_t len;
  long rows;
} csv_job;

static void parse_csv(void *arg) {
  csv_job *j = arg;
  gz_err e = {0};
  gz_csv *c = gz_csv_open_mem("bench.csv", j->data, j->len, 0, &e);
  double sum = 0, v;
  long n = 0;
  while (gz_csv_next(c, &e) == 1) {
    for (int k = 0; k < 4; k++)
      if (gz_csv_double(c, k, &v, &e) == 0) sum += v;
    n++;
  }
  gz_csv_close(c);
  j->rows = n + (sum < 0);
}

static void philox(void *arg) {
  uint32_t acc = 0;
  gz_rng r;
  gz_rng_init(&r, 1, 2);
  for (int i = 0; i < 1 << 22; i++) acc ^= gz_rng_u32(&r);
  *(uint32_t *)arg = acc;
}

void bench_base(bench_ctx *ctx) {
  bench_section("base: CSV reader and random numbers (one thread)");
  size_t cap = (size_t)64 << 20, len = 0;
  char *buf = malloc(cap);
  len += (size_t)snprintf(buf, cap, "timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,note\r\n");
  for (long i = 0; len + 128 < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, "%ld.125,%ld.375,%ld,%ld,\"a, \"\"q\"\"\"\r\n", i, i, i % 3000, i % 2500);
  csv_job j = {buf, len, 0};
  bench_stat s = bench_time(ctx, parse_csv, &j);
  printf("csv parse + 4 numbers/row   %8.1f MB/s  %8.2f M rows/s   [%.1f .. %.1f MB/s]\n", len / s.median / 1e6,
         j.rows / s.median / 1e6, len / s.max / 1e6, len / s.min / 1e6);
  free(buf);
  uint32_t sink;
  s = bench_time(ctx, philox, &sink);
  printf("philox4x32-10 u32           %8.1f M words/s                [%.1f .. %.1f]\n", (1 << 22) / s.median / 1e6,
         (1 << 22) / s.max / 1e6, (1 << 22) / s.min / 1e6);
}
