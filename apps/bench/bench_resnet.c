/* gazeloc-bench resnet: the whole ResNet-50 training step (forward in training mode, mean BCE-with-logits
 * over 1000 classes, backward, AMSGrad with weight decay over the parameter arena) at batch 2, 256x256 and
 * 512x512, in s/image and peak memory, beside PyTorch's same step (tools/torch_resnet_bench.py) measured
 * in the same run on the same number of threads.
 *
 * Peak memory. Ours: the five parameter-sized arenas (parameters, gradients, three AMSGrad moments), the
 * BN buffers, the step arena's high-water mark (activations, saved tensors, activation gradients) and the
 * conv/GEMM workspace: everything a training step holds. PyTorch's: its process's peak resident set minus
 * the resident set right after `import torch` (the same parts, plus the allocator's slack). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "apps/bench/bench.h"
#include "apps/bench/peak.h"
#include "nn/nn.h"

typedef struct {
  gz_resnet *r;
  gz_tape *t;
  gz_adam *opt;
  gz_tensor x, target;
  int failed;
  char err[GZ_ERR_MSG];
  double macs; /* convolution and fc multiply-adds of one step: forward, backward data, backward weights */
} step_job;

static void train_step(void *arg) {
  step_job *j = arg;
  gz_err e = {0};
  gz_tape *t = j->t;
  gz_resnet_out out;
  gz_value *x = gz_tape_wrap(t, &j->x, 0, &e), *target = gz_tape_wrap(t, &j->target, 0, &e);
  gz_value *loss = NULL;
  if (x && target && gz_resnet50_forward(j->r, t, x, 1, 4, &out, &e) == 0)
    loss = gz_ag_mean(t, gz_ag_bce_logits(t, out.logits, target, &e), 3, &e);
  if (loss && !j->macs)
    for (int i = 0; i < t->n; i++) {
      const gz_node *n = &t->nodes[i];
      if (n->op == GZ_OP_CONV2D) j->macs += gz_conv2d_macs(&n->a.conv) * (2 + n->in[0]->requires_grad);
      if (n->op == GZ_OP_LINEAR)
        j->macs += 3.0 * (double)n->in[0]->data.shape[0] * (double)n->in[0]->data.shape[1] * (double)n->in[1]->data.shape[0];
    }
  gz_arena_zero(&j->r->m.params.grad);
  if (!loss || gz_tape_backward(t, loss, NULL, &e) || gz_adam_step(j->opt, &j->r->m, &e)) {
    if (!j->failed) snprintf(j->err, sizeof j->err, "%s", e.msg);
    j->failed = 1;
  }
  gz_tape_reset(t);
}

/* Runs steps at S x S with a fresh step arena of `arena_bytes`; returns the arena's peak (0 on failure). */
static size_t run(bench_ctx *ctx, gz_resnet *r, int S, size_t arena_bytes, bench_stat *st, size_t *ws, double *macs) {
  gz_err e = {0};
  gz_arena a;
  gz_tape t;
  if (gz_arena_init(&a, "activations", arena_bytes, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    return 0;
  }
  step_job j = {.r = r, .t = &t};
  gz_adam opt;
  gz_adam_init(&opt, 1e-3, 1e-4);
  j.opt = &opt;
  int64_t xs[4] = {2, 3, S, S}, ts[2] = {2, 1000};
  gz_rng rng;
  gz_rng_init(&rng, 1, 0);
  if (gz_arena_tensor(&a, 4, xs, &j.x, &e) || gz_arena_tensor(&a, 2, ts, &j.target, &e) ||
      gz_tape_init(&t, &a, 4096, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    gz_arena_free(&a);
    return 0;
  }
  for (int64_t i = 0; i < gz_tensor_numel(&j.x); i++) j.x.data[i] = (float)gz_rng_normal(&rng);
  for (int64_t i = 0; i < gz_tensor_numel(&j.target); i++) j.target.data[i] = gz_rng_uniform(&rng) < 0.3f;
  if (st) *st = bench_time(ctx, train_step, &j);
  else train_step(&j);
  size_t peak = j.failed ? 0 : a.peak;
  if (j.failed) fprintf(stderr, "gazeloc-bench: error: resnet50 step at %d px: %s\n", S, j.err);
  *ws = t.ws_bytes;
  if (macs) *macs = j.macs;
  gz_tape_free(&t);
  gz_arena_free(&a);
  return peak;
}

void bench_resnet(bench_ctx *ctx) {
  gz_err e = {0};
  if (gz_threads_bind(&e) < 0) fprintf(stderr, "gazeloc-bench: warning: %s\n", e.msg);
  bench_section("ResNet-50 training step (fwd + bwd + AMSGrad), batch 2, torchvision v1.5, 1000 classes");
  gz_resnet *r = malloc(sizeof *r);
  gz_resnet_config cfg = {.in_channels = 3, .num_classes = 1000, .seed = 1};
  if (!r || gz_resnet50_init(r, &cfg, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    free(r);
    return;
  }
  size_t model_bytes = 5 * r->m.params.param.size + r->m.buffers.size, ws = 0;
  /* the step arena's need grows with the pixels: measure it at 64 px, then scale */
  size_t probe = run(ctx, r, 64, (size_t)256 << 20, NULL, &ws, NULL);
  double peak_gf = peak_refresh(ctx->threads);
  printf("%-8s %12s %21s %12s %7s %11s %11s %7s\n", "input", "ours s/img", "[min .. max]", "torch s/img", "ratio",
         "ours MiB", "torch MiB", "ratio");
  static const int sizes[2] = {256, 512};
  for (int i = 0; i < 2 && probe; i++) {
    int S = sizes[i];
    bench_ctx c = *ctx;
    if (S >= 512 && c.reps > 3) c.reps = 3, c.warmup = 1; /* seconds per step on a shared machine */
    double scale = (double)S * S / (64.0 * 64.0);
    bench_stat st;
    double macs = 0;
    size_t peak = run(&c, r, S, (size_t)((double)probe * scale * 1.1) + ((size_t)64 << 20), &st, &ws, &macs);
    if (!peak) break;
    double ours_mem = (double)(model_bytes + peak + ws), tmm[3] = {0, 0, 0}, tmem = 0;
    int have = bench_torch_step(&c, "torch_resnet_bench.py", 2, S, tmm, &tmem);
    char in[16];
    snprintf(in, sizeof in, "2x%dx%d", S, S);
    printf("%-8s %12.4f [%8.4f .. %8.4f]", in, st.median / 2, st.min / 2, st.max / 2);
    if (have)
      printf(" %12.4f %7.2f %11.0f %11.0f %7.2f\n", tmm[0] / 2, st.median / tmm[0], ours_mem / (1 << 20),
             tmem / (1 << 20), ours_mem / tmem);
    else
      printf(" %12s %7s %11.0f %11s %7s\n", "-", "-", ours_mem / (1 << 20), "-", "-");
    double gf = 2 * macs / st.median / 1e9;
    printf("         ours: %.1f GFLOP/step (convolutions and fc) at %.0f GFLOP/s, %.0f%% of the FMA peak (%.0f GFLOP/s)\n",
           2 * macs / 1e9, gf, 100 * gf / peak_gf, peak_gf);
    if (have) printf("         PyTorch, same work: %.0f GFLOP/s, %.0f%% of peak\n", 2 * macs / tmm[0] / 1e9, 100 * 2 * macs / tmm[0] / 1e9 / peak_gf);
    printf("         ours: model+optimizer %.0f MiB, step arena peak %.0f MiB, workspace %.0f MiB\n",
           (double)model_bytes / (1 << 20), (double)peak / (1 << 20), (double)ws / (1 << 20));
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("s/img = seconds per image (step time / 2); ratio = ours / PyTorch's; our process's max RSS %.0f MiB\n",
         (double)ru.ru_maxrss / 1024);
  gz_resnet50_free(r);
  free(r);
}
