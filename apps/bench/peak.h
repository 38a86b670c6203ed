/* The machine's FMA peak, measured in the same run as every benchmark so that each kernel can be
 * printed as a share of it (performance.md: the machines are shared and noisy; side-by-side ratios
 * are the figures that count). */
#ifndef GAZELOC_BENCH_PEAK_H
#define GAZELOC_BENCH_PEAK_H

/* Peak fp32 GFLOP/s of the active ISA on `threads` threads (best of a few 0.1 s runs; cached per
 * thread count for the rest of the process). */
double peak_gflops(int threads);

/* Measures again and returns the highest figure seen so far: on a shared machine a single
 * measurement taken while other jobs run would understate the peak (and overstate every % of it). */
double peak_refresh(int threads);

/* For a table printed at the end of a section: peak_refresh, and the line that says which figure its % use
 * (the highest seen since the section began: the machine's speed drifts over a run, 413 -> 459 GFLOP/s in
 * one minute of one, and a line measured early must not count against a lower figure). `items` names what
 * the section measured the peak before ("shape", "problem"). */
double peak_table_header(int threads, const char *items);

/* One ISA's FMA loop: `iters` iterations of 16 independent FMAs; returns the FLOPs done. */
double peak_loop_avx512(long iters);
double peak_loop_avx2(long iters);

#endif
