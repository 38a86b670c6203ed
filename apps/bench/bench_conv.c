/* gazeloc-bench conv: every distinct convolution of the paper's model (ResNet-50 v1.5 encoder,
 * Block 5, decoder) at batch 2 and 512x512 input, forward, backward data and backward weights (+ bias
 * gradient where the layer has a bias): ours in GFLOP/s and % of the FMA peak measured in the same
 * run, PyTorch's (oneDNN) for the same problem from tools/torch_conv_bench.py in the same run, and the
 * ratio of times ours/PyTorch (below 1 = faster). One PyTorch process serves the whole section, and runs
 * of ours and of PyTorch alternate one by one (bench_paired), so both halves of a line see the same
 * moments of a shared machine. The table is printed when all shapes are done, each line's % against the
 * highest FMA peak of the section (progress goes to stderr meanwhile). With GAZELOC_BENCH_CONV_GEMM=1 each line also times the GEMM method alone
 * (gz_conv2d_set_method: what every shape ran before the blocked direct convolution), in the same run,
 * and prints the ratio of times ours/GEMM. GAZELOC_BENCH_CONV_METHOD=direct (or gemm) forces one method for
 * "ours" where it can run the shape (for tuning the per-shape choice of gz_cdir_wanted; GAZELOC_ISA picks
 * the ISA). GAZELOC_BENCH_CONV_ONLY=TEXT runs only the problems whose name contains TEXT. The closing count
 * is over the lines the targets name (>= 75 % of peak and no slower than PyTorch for every 3x3 and
 * 1x1 conv): the stem's 7x7 lines are printed but not counted. */
#include <stdlib.h>
#include <string.h>

#include "apps/bench/bench.h"
#include "apps/bench/peak.h"
#include "base/base.h"
#include "tensor/kernels.h"

typedef struct {
  gz_conv2d d;
  int bias;
} conv_problem;

/* {n, ic, ih, iw, oc, kh, kw, sh, sw, ph, pw}, bias */
static const conv_problem problems[] = {
    {{2, 3, 512, 512, 64, 7, 7, 2, 2, 3, 3}, 0},        /* stem */
    {{2, 64, 128, 128, 64, 1, 1, 1, 1, 0, 0}, 0},       /* layer1 */
    {{2, 64, 128, 128, 64, 3, 3, 1, 1, 1, 1}, 0},
    {{2, 64, 128, 128, 256, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 256, 128, 128, 64, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 256, 128, 128, 128, 1, 1, 1, 1, 0, 0}, 0},     /* layer2 */
    {{2, 128, 128, 128, 128, 3, 3, 2, 2, 1, 1}, 0},
    {{2, 128, 64, 64, 512, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 256, 128, 128, 512, 1, 1, 2, 2, 0, 0}, 0},
    {{2, 512, 64, 64, 128, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 128, 64, 64, 128, 3, 3, 1, 1, 1, 1}, 0},
    {{2, 512, 64, 64, 256, 1, 1, 1, 1, 0, 0}, 0},       /* layer3 */
    {{2, 256, 64, 64, 256, 3, 3, 2, 2, 1, 1}, 0},
    {{2, 256, 32, 32, 1024, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 512, 64, 64, 1024, 1, 1, 2, 2, 0, 0}, 0},
    {{2, 1024, 32, 32, 256, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 256, 32, 32, 256, 3, 3, 1, 1, 1, 1}, 0},
    {{2, 1024, 32, 32, 512, 1, 1, 1, 1, 0, 0}, 0},      /* layer4 */
    {{2, 512, 32, 32, 512, 3, 3, 2, 2, 1, 1}, 0},
    {{2, 512, 16, 16, 2048, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 1024, 32, 32, 2048, 1, 1, 2, 2, 0, 0}, 0},
    {{2, 2048, 16, 16, 512, 1, 1, 1, 1, 0, 0}, 0},
    {{2, 512, 16, 16, 512, 3, 3, 1, 1, 1, 1}, 0},
    {{2, 3072, 32, 32, 512, 3, 3, 1, 1, 1, 1}, 0},      /* Block 5 */
    {{2, 512, 32, 32, 10, 1, 1, 1, 1, 0, 0}, 1},
    {{2, 512, 64, 64, 128, 3, 3, 1, 1, 1, 1}, 1},       /* decoder */
    {{2, 128, 128, 128, 64, 3, 3, 1, 1, 1, 1}, 1},
    {{2, 64, 256, 256, 10, 3, 3, 1, 1, 1, 1}, 1},
};
#define NPROB (sizeof problems / sizeof problems[0])

typedef struct {
  const conv_problem *p;
  float *x, *w, *b, *dy, *y, *dx, *dw, *db;
  void *ws;
  size_t wsb;
} conv_run;

static void report(int rc, const gz_err *e) {
  if (rc) fprintf(stderr, "gazeloc-bench: error: %s\n", e->msg);
}
static void run_fwd(void *arg) {
  conv_run *r = arg;
  gz_err e = {0};
  report(gz_conv2d_forward(&r->p->d, r->x, r->w, r->p->bias ? r->b : NULL, r->y, r->ws, r->wsb, &e), &e);
}
static void run_bwd_data(void *arg) {
  conv_run *r = arg;
  gz_err e = {0};
  report(gz_conv2d_backward_data(&r->p->d, r->dy, r->w, r->dx, 0, r->ws, r->wsb, &e), &e);
}
static void run_bwd_weights(void *arg) {
  conv_run *r = arg;
  gz_err e = {0};
  report(gz_conv2d_backward_weights(&r->p->d, r->x, r->dy, r->dw, r->p->bias ? r->db : NULL, 0, r->ws, r->wsb, &e),
         &e);
}

static float *filled(long n, float scale) {
  float *p = bench_alloc(sizeof(float) * (size_t)n);
  for (long i = 0; i < n; i++) p[i] = scale * ((float)(i * 7919 % 1000) / 1000.0f - 0.5f);
  return p;
}

/* One line of the table: measured during the run, printed at the end against the final peak. */
typedef struct {
  char name[48];
  int dir;
  double gf;                  /* GFLOP per call */
  bench_stat ours, torch, gemm; /* torch / gemm median 0: no figure */
  int kh, kw;                 /* the kernel: the targets name the 3x3 and 1x1 convs (issue #3) */
} conv_line;

void bench_conv(bench_ctx *ctx) {
  bench_section("conv: the model's convolutions, batch 2, 512x512 input; ours vs PyTorch (oneDNN), same threads");
  torch_peer *peer = torch_peer_start(ctx, "torch_conv_bench.py");
  const char *both_env = getenv("GAZELOC_BENCH_CONV_GEMM");
  const int both = both_env && atoi(both_env) > 0;
  const char *method_env = getenv("GAZELOC_BENCH_CONV_METHOD");
  const int method = !method_env ? GZ_CONV_AUTO
                     : !strcmp(method_env, "direct") ? GZ_CONV_DIRECT
                     : !strcmp(method_env, "gemm")   ? GZ_CONV_GEMM
                                                     : GZ_CONV_AUTO;
  if (method_env && method == GZ_CONV_AUTO)
    fprintf(stderr, "gazeloc-bench: warning: GAZELOC_BENCH_CONV_METHOD='%s' is not direct or gemm; ignored\n",
            method_env);
  gz_conv2d_set_method(method);
  const char *only = getenv("GAZELOC_BENCH_CONV_ONLY");
  static conv_line rows[NPROB * 3];
  int nrows = 0;
  const double t_start = gz_now();
  double peak = peak_refresh(ctx->threads);
  for (size_t i = 0; i < NPROB; i++) {
    const conv_problem *p = &problems[i];
    const gz_conv2d *d = &p->d;
    int oh, ow;
    gz_err e = {0};
    if (gz_conv2d_out(d, &oh, &ow, &e)) {
      fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
      continue;
    }
    char name[48];
    snprintf(name, sizeof name, "mb%d_ic%doc%d_ih%doh%dkh%dsh%dph%d%s", d->n, d->ic, d->oc, d->ih, oh, d->kh, d->sh,
             d->ph, p->bias ? "_bias" : "");
    if (only && !strstr(name, only)) continue;
    const double el = gz_now() - t_start;
    fprintf(stderr, "gazeloc-bench conv: shape %zu of %zu, %s, %.0f s so far", i + 1, (size_t)NPROB, name, el);
    if (i > 0 && !only) fprintf(stderr, ", about %.0f s to go", el / (double)i * (double)(NPROB - i));
    fprintf(stderr, "\n");
    long nx = (long)d->n * d->ic * d->ih * d->iw, nw = (long)d->oc * d->ic * d->kh * d->kw;
    long ny = (long)d->n * d->oc * oh * ow;
    conv_run r = {.p = p, .x = filled(nx, 1), .w = filled(nw, 0.1f), .b = filled(d->oc, 1), .dy = filled(ny, 1),
                  .y = bench_alloc(sizeof(float) * (size_t)ny), .dx = bench_alloc(sizeof(float) * (size_t)nx),
                  .dw = bench_alloc(sizeof(float) * (size_t)nw), .db = bench_alloc(sizeof(float) * (size_t)d->oc)};
    r.wsb = gz_conv2d_workspace(d);
    r.ws = bench_alloc(r.wsb);
    void (*fns[3])(void *) = {run_fwd, run_bwd_data, run_bwd_weights};
    peak = peak_refresh(ctx->threads);
    for (int k = 0; k < 3; k++) {
      conv_line *l = &rows[nrows++];
      memset(l, 0, sizeof *l);
      snprintf(l->name, sizeof l->name, "%s", name);
      l->dir = k, l->gf = 2.0 * gz_conv2d_macs(d) / 1e9;
      l->kh = d->kh, l->kw = d->kw;
      char key[128];
      const char *keys[1] = {key};
      snprintf(key, sizeof key, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d:%d", d->n, d->ic, d->ih, d->iw, d->oc, d->kh,
               d->kw, d->sh, d->sw, d->ph, d->pw, p->bias, k);
      l->ours = bench_paired(ctx, fns[k], &r, peer, 1, keys, &l->torch);
      if (both) {
        gz_conv2d_set_method(GZ_CONV_GEMM);
        l->gemm = bench_time(ctx, fns[k], &r);
        gz_conv2d_set_method(method);
      }
    }
    free(r.x), free(r.w), free(r.b), free(r.dy), free(r.y), free(r.dx), free(r.dw), free(r.db), free(r.ws);
  }
  torch_peer_stop(peer);
  gz_conv2d_set_method(GZ_CONV_AUTO);
  peak = peak_table_header(ctx->threads, "shape");
  printf("ours and PyTorch alternate run by run on each line; t:ours/torch < 1 means ours is faster\n");
  printf("%-38s %-4s %8s %18s %7s %9s %11s%s\n", "problem", "dir", "GFLOP/s", "[min .. max]", "%peak", "torch",
         "t:ours/torch", both ? "    gemm t:ours/gemm" : "");
  const char *dirs[3] = {"fwd", "bwdd", "bwdw"};
  double tot_ours = 0, tot_torch = 0, tot_flop = 0;
  int meet = 0, ntargeted = 0, all_torch = 1;
  for (int i = 0; i < nrows; i++) {
    const conv_line *l = &rows[i];
    const int targeted = l->kh == l->kw && (l->kh == 1 || l->kh == 3); /* the 7x7 stem is shown */
    const double pct = 100 * l->gf / l->ours.median / peak;
    printf("%-38s %-4s %8.1f [%7.1f .. %7.1f] %6.1f%%", l->name, dirs[l->dir], l->gf / l->ours.median,
           l->gf / l->ours.max, l->gf / l->ours.min, pct);
    tot_ours += l->ours.median, tot_flop += l->gf;
    if (l->torch.median > 0) {
      const double ratio = l->ours.median / l->torch.median;
      printf(" %9.1f %11.2f", l->gf / l->torch.median, ratio);
      tot_torch += l->torch.median;
      const int ok = pct >= 75 && ratio <= 1.0;
      meet += targeted && ok;
      ntargeted += targeted;
      if (both) printf(" %7.1f %5.2f", l->gf / l->gemm.median, l->ours.median / l->gemm.median);
      if (!targeted) printf("  (%dx%d: no target)\n", l->kh, l->kw);
      else printf("%s\n", ok ? "" : "  (misses)");
    } else {
      all_torch = 0;
      printf(" %9s %11s", "-", "-");
      if (both) printf(" %7.1f %5.2f", l->gf / l->gemm.median, l->ours.median / l->gemm.median);
      printf("\n");
    }
  }
  printf("all shapes once, fwd+bwd: ours %.3f s (%.1f GFLOP/s, %.1f%% of peak)", tot_ours, tot_flop / tot_ours,
         100 * tot_flop / tot_ours / peak);
  if (all_torch && nrows > 0)
    printf(", PyTorch %.3f s (%.1f GFLOP/s), t:ours/torch %.2f", tot_torch, tot_flop / tot_torch, tot_ours / tot_torch);
  printf("\nlines meeting both targets (>= 75%% of peak and t:ours/torch <= 1.0): %d of the %d 3x3 and 1x1 lines "
         "(the targets' scope; the stem's 7x7 lines are shown, not counted)\n",
         meet, ntargeted);
}
