/* gazeloc-bench: the benchmark harness. Each module adds a file apps/bench/bench_<module>.c with a
 * function `void bench_<name>(bench_ctx *ctx)`; the build finds it (no list to edit). Timings are
 * medians over ctx->reps runs after ctx->warmup runs, with min and max; where a PyTorch figure exists
 * it is measured in the same run and printed beside ours as a ratio. */
#ifndef GAZELOC_BENCH_H
#define GAZELOC_BENCH_H

#include <stdio.h>

typedef struct bench_ctx {
  int reps, warmup;
  const char *python; /* Debian's python3 with torch, for the reference figures */
  const char *root;   /* repository root (tools/ lives there) */
  int threads;
} bench_ctx;

typedef struct bench_stat {
  double median, min, max;
} bench_stat;

/* n bytes aligned to 64 (GZ_ALIGN), as the arenas hand out tensors and PyTorch's allocator its storage:
 * malloc's 16-byte alignment put every row of a large operand across cache lines, and a 1x1 conv's
 * GEMM ran up to 1.8x slower on it than on the same data aligned. Exits on failure. Free with free(). */
void *bench_alloc(size_t n);
/* Runs fn(arg) warmup + reps times and returns the statistics of the timed runs, in seconds. */
bench_stat bench_time(const bench_ctx *ctx, void (*fn)(void *), void *arg);
bench_stat bench_stats(double *samples, int n); /* sorts samples */
void bench_section(const char *title);
/* Runs tools/SCRIPT THREADS REPS WARMUP BATCH SIZE with Debian's python, which prints "median min max" then
 * "rss BASE PEAK" (bytes): one training step of the same model in PyTorch, timed in the same run as ours.
 * Returns 1 with the times and the memory the step added (PEAK - BASE), 0 when there is no figure. */
int bench_torch_step(const bench_ctx *ctx, const char *script, int batch, int size, double med_min_max[3], double *mem);

/* A PyTorch process serving timings for a whole section (apps/bench/torch_peer.c): tools/SCRIPT --serve
 * THREADS, asked "KEY REPS", answers REPS times in seconds. NULL (with a warning) if it cannot start. */
typedef struct torch_peer torch_peer;
torch_peer *torch_peer_start(const bench_ctx *ctx, const char *script);
int torch_peer_time(torch_peer *p, const char *key, int reps, double *t); /* 0, or -1 on any failure */
void torch_peer_stop(torch_peer *p);
/* Ours and PyTorch's runs of one problem alternated: ctx->warmup runs of ours, then ctx->reps rounds of a
 * turn of ours and a turn of PyTorch's for each of the nkeys keys (a turn: 30 ms of untimed runs, then one
 * timed run). Ours' statistics returned, PyTorch's in torch[k] (zeros if the peer is NULL or fails). */
bench_stat bench_paired(const bench_ctx *ctx, void (*fn)(void *), void *arg, torch_peer *peer, int nkeys,
                        const char *const *keys, bench_stat *torch);

#endif
