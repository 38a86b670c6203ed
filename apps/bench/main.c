/* gazeloc-bench [NAME...]: runs every registered benchmark (or those whose names start with NAME). */
#include "apps/bench/bench.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

#define BENCH(name) void bench_##name(bench_ctx *ctx);
#include "benches.inc"
#undef BENCH

static const struct {
  const char *name;
  void (*run)(bench_ctx *);
} benches[] = {
#define BENCH(name) {#name, bench_##name},
#include "benches.inc"
#undef BENCH
};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

bench_stat bench_stats(double *s, int n) {
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  bench_stat st = {n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]), s[0], s[n - 1]};
  return st;
}

bench_stat bench_time(const bench_ctx *ctx, void (*fn)(void *), void *arg) {
  for (int i = 0; i < ctx->warmup; i++) fn(arg);
  double *t = malloc(sizeof *t * (size_t)ctx->reps);
  for (int i = 0; i < ctx->reps; i++) {
    double t0 = gz_now();
    fn(arg);
    t[i] = gz_now() - t0;
  }
  bench_stat st = bench_stats(t, ctx->reps);
  free(t);
  return st;
}

void bench_section(const char *title) { printf("\n== %s\n", title); }

int bench_torch_step(const bench_ctx *ctx, const char *script, int batch, int size, double med_min_max[3], double *mem) {
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "'%s' '%s/tools/%s' %d %d %d %d %d", ctx->python, ctx->root, script, ctx->threads, ctx->reps,
           ctx->warmup, batch, size);
  FILE *f = popen(cmd, "r");
  double base = 0, peak = 0;
  int ok = f && fscanf(f, "%lf %lf %lf rss %lf %lf", &med_min_max[0], &med_min_max[1], &med_min_max[2], &base, &peak) == 5;
  if (f && pclose(f) != 0) ok = 0;
  if (!ok) fprintf(stderr, "gazeloc-bench: warning: no PyTorch figure (%s)\n", cmd);
  *mem = peak - base;
  return ok;
}

void *bench_alloc(size_t n) {
  void *p = aligned_alloc(64, (n + 63) / 64 * 64 + 64);
  if (!p) {
    fprintf(stderr, "gazeloc-bench: error: out of memory (%zu bytes)\n", n);
    exit(1);
  }
  return p;
}

int main(int argc, char **argv) {
  bench_ctx ctx = {.reps = 7, .warmup = 2, .python = getenv("GAZELOC_PYTHON"), .root = getenv("GAZELOC_ROOT"),
                   .threads = omp_get_max_threads()};
  const char *reps = getenv("GAZELOC_BENCH_REPS");
  if (reps && atoi(reps) > 0) ctx.reps = atoi(reps);
  if (!ctx.python) ctx.python = "/usr/bin/python3";
  if (!ctx.root) ctx.root = ".";
  int isa;
  gz_err e = {0};
  if (gz_isa_active(&isa, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    return 1;
  }
  printf("gazeloc-bench: %d threads, ISA %s, medians of %d runs after %d warm-up runs [min .. max]\n", ctx.threads,
         gz_isa_name(isa), ctx.reps, ctx.warmup);
  /* PyTorch's CPU allocator is malloc. With glibc's defaults a tensor of a few MB is a fresh mmap (or heap
   * top that is trimmed again on free), and its first-touch page faults cost this kind of VM more than
   * many ops themselves: the stem conv's forward took 172 ms that way, 8 ms with the heap kept. The
   * python children (which inherit the environment) therefore run with mmap off and trimming off, the
   * way a tuned PyTorch runs with jemalloc; ours allocate from arenas once and do not care.
   * GAZELOC_BENCH_TORCH_MALLOC=default keeps glibc's defaults (docs/kernels.md). */
  const char *tm = getenv("GAZELOC_BENCH_TORCH_MALLOC");
  if (!tm || strcmp(tm, "default")) {
    setenv("MALLOC_MMAP_MAX_", "0", 0);
    setenv("MALLOC_TRIM_THRESHOLD_", "1000000000000", 0);
  }
  printf("PyTorch's malloc: %s\n", !tm || strcmp(tm, "default") ? "heap only, never trimmed (MALLOC_MMAP_MAX_=0, "
                                                                   "MALLOC_TRIM_THRESHOLD_=1e12)"
                                                                 : "glibc defaults");
  int ran = 0;
  for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
    int pick = argc < 2;
    for (int a = 1; a < argc; a++) pick |= !strncmp(benches[i].name, argv[a], strlen(argv[a]));
    if (!pick) continue;
    benches[i].run(&ctx);
    ran++;
  }
  if (!ran) {
    fprintf(stderr, "gazeloc-bench: error: no benchmark matches\n");
    return 2;
  }
  return 0;
}
