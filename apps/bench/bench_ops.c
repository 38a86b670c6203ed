/* tensor/ ops other than GEMM and convolution: batch norm, ReLU, max-pool, bilinear upsampling and the
 * AMSGrad step, in GB/s beside the machine's copy bandwidth measured in the same run, and PyTorch's
 * time for the same problem (tools/torch_ops_bench.py, also in this run) as the ratio ours/PyTorch.
 *
 * GB/s counts the bytes the op must move at the least (each input read once, each output written
 * once), so it is directly comparable with the copy figure (read + write). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "apps/bench/bench.h"
#include "base/base.h"
#include "tensor/tensor.h"

typedef struct {
  const char *op;   /* torch_ops_bench.py's name */
  const char *what; /* our label */
  int64_t n, c, h, w;
  double bytes;     /* least bytes moved */
  bench_stat ours;
  double torch_s;   /* median, 0 when not measured */
} problem;

typedef struct {
  problem *p;
  gz_tensor x, y, dy, dx, pooled;
  float *gamma, *beta, *mean, *var, *dg, *db, *m, *v, *vm;
  int32_t *idx;
} job;

/* dst = src (n floats) by memcpy in 64 chunks shared among the threads */
static void copy_chunks(float *dst, const float *src, size_t n) {
  size_t per = (n + 63) / 64;
#pragma omp parallel for schedule(static)
  for (size_t k = 0; k < 64; k++) {
    size_t a = k * per, b = a + per < n ? a + per : n;
    if (a < b) memcpy(dst + a, src + a, (b - a) * sizeof(float));
  }
}
static void copy_job(void *arg) {
  job *j = arg;
  copy_chunks(j->y.data, j->x.data, (size_t)gz_tensor_numel(&j->x));
}
/* The same copy over buffers far larger than any last-level cache: the machine's memory bandwidth. The
 * 33.5 MB copy above is partly served by the L3 on this VM (2 threads, 64 chunks: 127-145 GB/s at 32 MB,
 * 72-77 at 128 MB, 55-61 at 256 and 512 MB), and so are the ops of the same size. */
typedef struct {
  float *src, *dst;
  size_t n;
} mem_copy;
static void mem_copy_job(void *arg) {
  mem_copy *m = arg;
  copy_chunks(m->dst, m->src, m->n);
}
#define MEM_COPY_BYTES ((size_t)256 << 20)

static void bn_fwd_job(void *arg) {
  job *j = arg;
  gz_bn_fwd_train(&j->x, j->gamma, j->beta, 1e-5f, &j->y, j->mean, j->var, NULL);
}
static void bn_bwd_job(void *arg) {
  job *j = arg;
  gz_bn_bwd(&j->x, &j->dy, j->gamma, j->mean, j->var, 1e-5f, 1, &j->dx, j->dg, j->db, 0, NULL);
}
static void relu_job(void *arg) {
  job *j = arg;
  gz_relu_fwd(&j->x, &j->y, NULL);
}
static void relu_bwd_job(void *arg) {
  job *j = arg;
  gz_relu_bwd(&j->y, &j->dy, &j->dx, 0, NULL);
}
static void pool_bwd_job(void *arg) {
  job *j = arg;
  gz_maxpool_bwd(&j->pooled, j->idx, &j->dx, 0, NULL); /* pooled holds the output gradient here */
}
static void pool_job(void *arg) {
  job *j = arg;
  gz_maxpool3s2_fwd(&j->x, &j->pooled, j->idx, NULL);
}
static void up_job(void *arg) {
  job *j = arg;
  gz_upsample_bilinear_fwd(&j->pooled, &j->x, NULL); /* pooled (H/2) -> x (H) */
}
static void bce_job(void *arg) { /* the decoder loss's shape: 2x10x256x256, in the first part of x, dy, y */
  job *j = arg;
  gz_tensor x, t, l;
  gz_tensor_wrap4(&x, j->x.data, 2, 10, 256, 256, NULL);
  gz_tensor_wrap4(&t, j->dy.data, 2, 10, 256, 256, NULL);
  gz_tensor_wrap4(&l, j->y.data, 2, 10, 256, 256, NULL);
  gz_bce_logits_fwd(&x, &t, &l, NULL);
}
static void adam_job(void *arg) {
  job *j = arg;
  static int64_t step = 0;
  gz_adam_hp hp = {1e-3, 0.9, 0.999, 1e-8, 1e-5, ++step};
  gz_amsgrad_step(j->x.data, j->dy.data, j->m, j->v, j->vm, (size_t)gz_tensor_numel(&j->x), &hp, NULL);
}

/* Runs tools/torch_ops_bench.py once for every problem and fills torch_s. */
static void torch_times(const bench_ctx *ctx, problem *ps, int np) {
  char cmd[4096];
  size_t k = (size_t)snprintf(cmd, sizeof cmd, "'%s' '%s/tools/torch_ops_bench.py' %d %d %d", ctx->python, ctx->root,
                              ctx->threads, ctx->reps, ctx->warmup);
  for (int i = 0; i < np; i++)
    if (ps[i].op)
      k += (size_t)snprintf(cmd + k, sizeof cmd - k, " %s:%lld,%lld,%lld,%lld", ps[i].op, (long long)ps[i].n,
                            (long long)ps[i].c, (long long)ps[i].h, (long long)ps[i].w);
  FILE *f = popen(cmd, "r");
  if (!f) return;
  char line[256], op[64], dims[64];
  double med, lo, hi;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "%63s %63s %lf %lf %lf", op, dims, &med, &lo, &hi) == 5)
      for (int i = 0; i < np; i++) {
        char want[64];
        snprintf(want, sizeof want, "%lld,%lld,%lld,%lld", (long long)ps[i].n, (long long)ps[i].c, (long long)ps[i].h,
                 (long long)ps[i].w);
        if (ps[i].op && !strcmp(ps[i].op, op) && !strcmp(want, dims) && !ps[i].torch_s) ps[i].torch_s = med;
      }
  if (pclose(f) != 0) fprintf(stderr, "gazeloc-bench: warning: PyTorch figures incomplete (%s)\n", cmd);
}

void bench_ops(bench_ctx *ctx) {
  gz_err e = {0};
  if (gz_threads_bind(&e) < 0) fprintf(stderr, "gazeloc-bench: warning: %s\n", e.msg);
  bench_section("tensor ops: batch norm, ReLU, max-pool, upsampling, AMSGrad (GB/s = least bytes moved / time)");
  const int64_t N = 2, C = 64, H = 256, W = 256; /* ResNet-50 after the stem at 512 px, batch 2 */
  const double S = (double)(N * C * H * W) * 4;
  problem ps[] = {
      {NULL, "copy (memcpy, read+write)", N, C, H, W, 2 * S, {0, 0, 0}, 0},
      {"bn_fwd", "batch norm fwd (train)", N, C, H, W, 2 * S, {0, 0, 0}, 0},
      {"bn_bwd", "batch norm bwd (dx,dg,db)", N, C, H, W, 3 * S, {0, 0, 0}, 0},
      {"relu", "relu fwd", N, C, H, W, 2 * S, {0, 0, 0}, 0},
      {"relu_bwd", "relu bwd", N, C, H, W, 3 * S, {0, 0, 0}, 0},
      {"maxpool", "max-pool 3x3/2 fwd", N, C, H, W, S + S / 4 * 2, {0, 0, 0}, 0},
      {"maxpool_bwd", "max-pool 3x3/2 bwd", N, C, H, W, S / 4 * 2 + S, {0, 0, 0}, 0},
      {"upsample_bilinear", "bilinear x2 fwd", N, C, H / 2, W / 2, S / 4 + S, {0, 0, 0}, 0},
      {"bce", "BCE with logits fwd", 2, 10, 256, 256, 3 * S * 10 / 64, {0, 0, 0}, 0},
      {"amsgrad", "AMSGrad step", N * C * H * W, 1, 1, 1, 9 * S, {0, 0, 0}, 0},
  };
  const int np = (int)(sizeof ps / sizeof ps[0]);
  void (*fns[])(void *) = {copy_job, bn_fwd_job, bn_bwd_job, relu_job, relu_bwd_job, pool_job, pool_bwd_job, up_job, bce_job,
                           adam_job};

  size_t n = (size_t)(N * C * H * W), nc = (size_t)C;
  gz_arena a;
  if (gz_arena_init(&a, "bench", 9 * n * 4 + 8 * nc * 4 + 64 * 16, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    return;
  }
  job j = {0};
  int64_t shp[4] = {N, C, H, W}, pshp[4] = {N, C, (H - 1) / 2 + 1, (W - 1) / 2 + 1};
  gz_arena_tensor(&a, 4, shp, &j.x, &e);
  gz_arena_tensor(&a, 4, shp, &j.y, &e);
  gz_arena_tensor(&a, 4, shp, &j.dy, &e);
  gz_arena_tensor(&a, 4, shp, &j.dx, &e);
  gz_arena_tensor(&a, 4, pshp, &j.pooled, &e);
  j.idx = gz_arena_alloc(&a, (size_t)gz_tensor_numel(&j.pooled) * 4, &e);
  j.m = gz_arena_alloc(&a, n * 4, &e), j.v = gz_arena_alloc(&a, n * 4, &e), j.vm = gz_arena_alloc(&a, n * 4, &e);
  float **pp[] = {&j.gamma, &j.beta, &j.mean, &j.var, &j.dg, &j.db};
  for (int i = 0; i < 6; i++) *pp[i] = gz_arena_alloc(&a, nc * 4, &e);
  gz_rng r;
  gz_rng_init(&r, 5, 0);
  for (size_t i = 0; i < n; i++) j.x.data[i] = gz_rng_uniform(&r) - 0.5f, j.dy.data[i] = gz_rng_uniform(&r) * 0.1f;
  for (size_t i = 0; i < nc; i++) j.gamma[i] = 1, j.beta[i] = 0;
  bn_fwd_job(&j);

  for (int i = 0; i < np; i++) ps[i].ours = bench_time(ctx, fns[i], &j);
  mem_copy mc = {bench_alloc(MEM_COPY_BYTES), bench_alloc(MEM_COPY_BYTES), MEM_COPY_BYTES / sizeof(float)};
  memset(mc.src, 1, MEM_COPY_BYTES), memset(mc.dst, 0, MEM_COPY_BYTES); /* pages mapped before the timing */
  bench_stat mem = bench_time(ctx, mem_copy_job, &mc);
  free(mc.src), free(mc.dst);
  torch_times(ctx, ps, np);
  const double mb2 = 2.0 * MEM_COPY_BYTES / 1e9; /* GB read + written by the memory copy */
  double copy_gbs = ps[0].bytes / ps[0].ours.median / 1e9, mem_gbs = mb2 / mem.median;
  printf("%-27s %-14s %9s %8s %7s %6s %17s %9s %8s %7s\n", "op", "shape", "ours ms", "GB/s", "%copy", "%mem",
         "[GB/s min..max]", "torch ms", "GB/s", "ratio");
  for (int i = 0; i < np; i++) {
    if (i == 1)
      printf("%-27s %-14s %9.3f %8.2f %6.0f%% %5.0f%% [%6.2f .. %6.2f] %9s %8s %7s\n", "copy, memory (2x256 MB)", "-",
             mem.median * 1e3, mem_gbs, 100 * mem_gbs / copy_gbs, 100.0, mb2 / mem.max, mb2 / mem.min, "-", "-", "-");
    problem *p = &ps[i];
    double gbs = p->bytes / p->ours.median / 1e9;
    char shape[48];
    snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lld", (long long)p->n, (long long)p->c, (long long)p->h, (long long)p->w);
    printf("%-27s %-14s %9.3f %8.2f %6.0f%% %5.0f%% [%6.2f .. %6.2f]", p->what, shape, p->ours.median * 1e3, gbs,
           100 * gbs / copy_gbs, 100 * gbs / mem_gbs, p->bytes / p->ours.max / 1e9, p->bytes / p->ours.min / 1e9);
    if (p->torch_s > 0)
      printf(" %9.3f %8.2f %7.2f\n", p->torch_s * 1e3, p->bytes / p->torch_s / 1e9, p->ours.median / p->torch_s);
    else
      printf(" %9s %8s %7s\n", "-", "-", "-");
  }
  printf("ratio = our time / PyTorch's (below 1: faster); %%copy = share of the copy of the same size (first line);\n"
         "%%mem = share of the copy over 2x256 MB (second line), beyond any cache: the memory bandwidth.\n"
         "At 2x64x256x256 the L3 holds part of the operands, as for the first copy: ops can pass 100 %%\n");
  gz_arena_free(&a);
}
