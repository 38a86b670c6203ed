/* The FMA peak (peak.h) and `gazeloc-bench peak`, which prints it on one thread and on all. */
#include "apps/bench/peak.h"

#include <omp.h>
#include <stdio.h>

#include "apps/bench/bench.h"
#include "base/base.h"

/* Scalar ISA: a plain-C loop the compiler turns into SSE mul+add; a baseline, not a peak. */
static double peak_loop_scalar(long iters) {
  float acc[32];
  for (int i = 0; i < 32; i++) acc[i] = (float)i;
  for (long it = 0; it < iters; it++)
    for (int i = 0; i < 32; i++) acc[i] = acc[i] * 0.999999f + 1e-7f;
  volatile float sink = acc[0] + acc[31];
  (void)sink;
  return (double)iters * 32 * 2;
}

static double run(int isa, int threads) {
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    double flops = 0, t0 = gz_now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    {
      if (isa == GZ_ISA_AVX512) flops += peak_loop_avx512(6000000);
      else if (isa == GZ_ISA_AVX2) flops += peak_loop_avx2(8000000);
      else flops += peak_loop_scalar(3000000);
    }
    double g = flops / (gz_now() - t0) / 1e9;
    if (g > best) best = g;
  }
  return best;
}

static double cache[257];

static double peak_store(int threads, double v) { return cache[threads < 1 ? 1 : threads > 256 ? 256 : threads] = v; }

double peak_gflops(int threads) {
  if (threads < 1) threads = 1;
  if (threads > 256) threads = 256;
  if (cache[threads] > 0) return cache[threads];
  int isa = GZ_ISA_SCALAR;
  gz_err e = {0};
  if (gz_isa_active(&isa, &e)) isa = GZ_ISA_SCALAR;
  return cache[threads] = run(isa, threads);
}

double peak_refresh(int threads) {
  double old = peak_gflops(threads);
  int isa = GZ_ISA_SCALAR;
  gz_err e = {0};
  if (gz_isa_active(&isa, &e)) isa = GZ_ISA_SCALAR;
  double now = run(isa, threads);
  return now > old ? peak_store(threads, now) : old;
}

void bench_peak(bench_ctx *ctx) {
  bench_section("peak: FMA loop of the active ISA (the 100 % of every '% of peak' below)");
  printf("fma peak, 1 thread          %8.1f GFLOP/s\n", peak_gflops(1));
  if (ctx->threads > 1) printf("fma peak, %d threads         %8.1f GFLOP/s\n", ctx->threads, peak_gflops(ctx->threads));
}

double peak_table_header(int threads, const char *items) {
  double peak = peak_refresh(threads);
  printf("fma peak %d threads: %.1f GFLOP/s (highest of the measurements before each %s and after the last);\n",
         threads, peak, items);
  return peak;
}
