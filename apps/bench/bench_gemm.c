/* gazeloc-bench gemm: our SGEMM beside PyTorch's torch.mm (OpenBLAS 0.3.21 in Debian's python3-torch)
 * for the same problems, both on ctx->threads threads, in the same run, and the FMA peak. Cubes, the
 * transposed variants at 1024, and ResNet-50's 1x1 stride-1 convolutions at 512x512 input as the
 * per-image GEMMs they are (M = out channels, N = pixels, K = in channels). Runs of ours, of torch.mm and
 * of the oneDNN product alternate one by one (bench_paired, one PyTorch process for the section). Debian's torch may be linked to netlib's reference BLAS (then torch.mm is
 * ~8 GFLOP/s); the oneDNN column (the product as a 1x1 convolution) is PyTorch's fast GEMM. */
#include <stdlib.h>
#include <string.h>

#include "apps/bench/bench.h"
#include "apps/bench/peak.h"
#include "tensor/kernels.h"

typedef struct {
  const char *name;
  long m, n, k;
  int ta, tb;
} gemm_problem;

static const gemm_problem problems[] = {
    {"256^3", 256, 256, 256, 0, 0},
    {"512^3", 512, 512, 512, 0, 0},
    {"1024^3", 1024, 1024, 1024, 0, 0},
    {"1024^3 A^T", 1024, 1024, 1024, 1, 0},
    {"1024^3 B^T", 1024, 1024, 1024, 0, 1},
    {"1024^3 A^T B^T", 1024, 1024, 1024, 1, 1},
    {"2048^3", 2048, 2048, 2048, 0, 0},
    {"1x1 64->64 @128^2", 64, 16384, 64, 0, 0},
    {"1x1 64->256 @128^2", 256, 16384, 64, 0, 0},
    {"1x1 256->64 @128^2", 64, 16384, 256, 0, 0},
    {"1x1 256->128 @128^2", 128, 16384, 256, 0, 0},
    {"1x1 128->512 @64^2", 512, 4096, 128, 0, 0},
    {"1x1 512->128 @64^2", 128, 4096, 512, 0, 0},
    {"1x1 512->256 @64^2", 256, 4096, 512, 0, 0},
    {"1x1 256->1024 @32^2", 1024, 1024, 256, 0, 0},
    {"1x1 1024->256 @32^2", 256, 1024, 1024, 0, 0},
    {"1x1 1024->512 @32^2", 512, 1024, 1024, 0, 0},
    {"1x1 512->2048 @16^2", 2048, 256, 512, 0, 0},
    {"1x1 2048->512 @16^2", 512, 256, 2048, 0, 0},
    {"1x1 512->10 @32^2", 10, 1024, 512, 0, 0},
};
#define NPROB (sizeof problems / sizeof problems[0])

typedef struct {
  const gemm_problem *p;
  const float *a, *b;
  float *c;
  void *ws;
  size_t wsb;
} gemm_run;

static void run_ours(void *arg) {
  gemm_run *r = arg;
  const gemm_problem *p = r->p;
  gz_err e = {0};
  if (gz_sgemm(p->ta, p->tb, p->m, p->n, p->k, 1.0f, r->a, p->ta ? p->m : p->k, r->b, p->tb ? p->k : p->n, 0.0f, r->c,
               p->n, r->ws, r->wsb, &e))
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
}

void bench_gemm(bench_ctx *ctx) {
  bench_section("gemm: SGEMM C = A B (row-major); PyTorch: torch.mm (its BLAS) and oneDNN (1x1 conv); same threads");
  torch_peer *peer = torch_peer_start(ctx, "torch_gemm_bench.py");
  static bench_stat ours[NPROB], torch[NPROB][2];
  double peak = peak_refresh(ctx->threads);
  for (size_t i = 0; i < NPROB; i++) {
    const gemm_problem *p = &problems[i];
    fprintf(stderr, "gazeloc-bench gemm: problem %zu of %zu, %s\n", i + 1, (size_t)NPROB, p->name);
    gemm_run r = {.p = p};
    float *a = bench_alloc(sizeof(float) * (size_t)(p->m * p->k));
    float *b = bench_alloc(sizeof(float) * (size_t)(p->k * p->n));
    r.c = bench_alloc(sizeof(float) * (size_t)(p->m * p->n));
    for (long j = 0; j < p->m * p->k; j++) a[j] = (float)(j % 13) * 0.1f - 0.6f;
    for (long j = 0; j < p->k * p->n; j++) b[j] = (float)(j % 7) * 0.1f - 0.3f;
    r.a = a, r.b = b;
    r.wsb = gz_sgemm_workspace(p->m, p->n, p->k);
    r.ws = bench_alloc(r.wsb);
    peak = peak_refresh(ctx->threads);
    char mm[96], dnn[96];
    snprintf(mm, sizeof mm, "%ld,%ld,%ld,%d,%d:mm", p->m, p->n, p->k, p->ta, p->tb);
    snprintf(dnn, sizeof dnn, "%ld,%ld,%ld,%d,%d:dnn", p->m, p->n, p->k, p->ta, p->tb);
    const char *keys[2] = {mm, dnn};
    ours[i] = bench_paired(ctx, run_ours, &r, peer, 2, keys, torch[i]);
    free(a), free(b), free(r.c), free(r.ws);
  }
  torch_peer_stop(peer);
  peak = peak_table_header(ctx->threads, "problem");
  printf("ours, torch.mm and oneDNN alternate run by run on each line\n");
  printf("%-22s %8s %18s %7s %9s %9s %9s %9s\n", "problem", "GFLOP/s", "[min .. max]", "%peak", "torch.mm", "t:ours/mm",
         "oneDNN", "t:ours/dnn");
  for (size_t i = 0; i < NPROB; i++) {
    const gemm_problem *p = &problems[i];
    const bench_stat s = ours[i];
    double gf = 2.0 * p->m * p->n * p->k / 1e9;
    printf("%-22s %8.1f [%7.1f .. %7.1f] %6.1f%%", p->name, gf / s.median, gf / s.max, gf / s.min,
           100 * gf / s.median / peak);
    if (torch[i][0].median > 0)
      printf(" %9.1f %9.2f %9.1f %9.2f\n", gf / torch[i][0].median, s.median / torch[i][0].median,
             gf / torch[i][1].median, s.median / torch[i][1].median);
    else printf(" %9s %9s %9s %9s\n", "-", "-", "-", "-");
  }
}
