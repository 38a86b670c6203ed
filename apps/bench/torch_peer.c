/* A PyTorch process that stays up for a whole benchmark section and times one problem on request, so that
 * gazeloc-bench can alternate runs of ours and PyTorch's (bench_paired): both sides of a line then see the
 * same moments of a shared machine, whose load changes over seconds (a line timed all-ours-then-all-theirs
 * moved by 10-30 % between runs). The script runs as `SCRIPT --serve THREADS`, reads lines "KEY REPS", runs
 * the problem untimed for 30 ms, and answers with REPS run times in seconds on one line
 * (tools/torch_conv_bench.py). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apps/bench/bench.h"
#include "base/base.h"

struct torch_peer {
  pid_t pid;
  FILE *to, *from;
};

torch_peer *torch_peer_start(const bench_ctx *ctx, const char *script) {
  int in[2], out[2];
  if (pipe(in)) return NULL;
  if (pipe(out)) {
    close(in[0]), close(in[1]);
    return NULL;
  }
  char path[4200], threads[16];
  snprintf(path, sizeof path, "%s/tools/%s", ctx->root, script);
  snprintf(threads, sizeof threads, "%d", ctx->threads);
  /* OpenBLAS (torch.mm) keeps its threads spinning for 2^28 cycles (~0.1 s) after a call, across our next
   * turns: ours then ran on one core, 2-5x slower. 2^20 cycles (~0.4 ms) is as long as libgomp spins. */
  setenv("OPENBLAS_THREAD_TIMEOUT", "20", 0);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], 0), dup2(out[1], 1);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    execl(ctx->python, ctx->python, path, "--serve", threads, (char *)NULL);
    _exit(127);
  }
  close(in[0]), close(out[1]);
  torch_peer *p = calloc(1, sizeof *p);
  if (pid < 0 || !p || !(p->to = fdopen(in[1], "w")) || !(p->from = fdopen(out[0], "r"))) {
    fprintf(stderr, "gazeloc-bench: warning: could not start %s; the PyTorch column is empty\n", path);
    if (pid > 0) kill(pid, SIGTERM), waitpid(pid, NULL, 0);
    if (p && p->to) fclose(p->to);
    else close(in[1]);
    close(out[0]);
    free(p);
    return NULL;
  }
  p->pid = pid;
  signal(SIGPIPE, SIG_IGN); /* a peer that died makes the next request fail, not the benchmark */
  return p;
}

int torch_peer_time(torch_peer *p, const char *key, int reps, double *t) {
  if (!p) return -1;
  if (fprintf(p->to, "%s %d\n", key, reps) < 0 || fflush(p->to)) return -1;
  char line[8192];
  if (!fgets(line, sizeof line, p->from)) return -1;
  char *s = line, *end;
  for (int i = 0; i < reps; i++, s = end) {
    t[i] = strtod(s, &end);
    if (end == s || !(t[i] > 0)) return -1;
  }
  return 0;
}

void torch_peer_stop(torch_peer *p) {
  if (!p) return;
  fclose(p->to); /* end of input: the script exits */
  fclose(p->from);
  int st;
  while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
  }
  free(p);
}

/* Each side's OpenMP threads spin after their last parallel region before they sleep (libgomp's default
 * spin count: 8-11 ms of CPU time on a 2-core Zen 4 VM), and each side's data leaves the caches while the
 * other runs. So every turn starts with untimed runs for at least TURN_WARM seconds, longer than that
 * spin, then times one run; the script does the same (tools/torch_timing.py). With 10 ms the other
 * side's spinning threads still held a core in the timed run on that VM (1x1 64 -> 64 at 128^2: ours
 * 46-49 GFLOP/s beside PyTorch, 125-160 alone). Cutting the spin instead (GOMP_SPINCOUNT=10000) made
 * our barrier waits sleep and wake: the 128-channel stride-2 3x3 forward 181 -> 114 GFLOP/s. (Pausing
 * 20 ms between the sides left the cores idle: both sides then ran 10-20 % slower than when timed
 * apart, with single runs 4x slower.) */
#define TURN_WARM 0.030

static double turn(void (*fn)(void *), void *arg) {
  double t0 = gz_now();
  do fn(arg);
  while (gz_now() - t0 < TURN_WARM);
  t0 = gz_now();
  fn(arg);
  return gz_now() - t0;
}

bench_stat bench_paired(const bench_ctx *ctx, void (*fn)(void *), void *arg, torch_peer *peer, int nkeys,
                        const char *const *keys, bench_stat *torch) {
  memset(torch, 0, sizeof *torch * (size_t)nkeys);
  double *t = malloc(sizeof *t * (size_t)(1 + nkeys) * (size_t)ctx->reps);
  int ok = peer != NULL;
  for (int i = 0; i < ctx->warmup; i++) fn(arg);
  for (int i = 0; i < ctx->reps; i++) {
    t[i] = turn(fn, arg);
    for (int k = 0; ok && k < nkeys; k++) ok = torch_peer_time(peer, keys[k], 1, t + (1 + k) * ctx->reps + i) == 0;
  }
  for (int k = 0; ok && k < nkeys; k++) torch[k] = bench_stats(t + (1 + k) * ctx->reps, ctx->reps);
  if (peer && !ok) fprintf(stderr, "gazeloc-bench: warning: PyTorch failed on %s; its column is empty\n", keys[0]);
  bench_stat st = bench_stats(t, ctx->reps);
  free(t);
  return st;
}
