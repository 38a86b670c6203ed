/* gazeloc-bench paper: one full training step of the paper's model (nn/paper.c: multi-resolution
 * ResNet-50, Block 5, decoder) at batch 2, 512x512: forward in training mode, L_I and L_T (one annotated
 * image, one not), 300 L_T + L_I, backward, AMSGrad with weight decay over the parameter arena; in
 * s/image and peak memory, beside PyTorch's same step (tools/torch_paper_bench.py) in the same run on the
 * same number of threads.
 *
 * Peak memory, as bench_resnet.c: ours = the five parameter-sized arenas (parameters, gradients, three
 * AMSGrad moments), the BN buffers, the step arena's high-water mark and the conv/GEMM workspace;
 * PyTorch's = its process's peak resident set minus the resident set right after `import torch`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "apps/bench/bench.h"
#include "nn/nn.h"

enum { NB = 2 };

typedef struct {
  gz_paper *p;
  gz_tape *t;
  gz_adam *opt;
  gz_tensor x;
  float *b, *y, *target;
  unsigned char ann[NB];
  int failed;
  char err[GZ_ERR_MSG];
} step_job;

static void train_step(void *arg) {
  step_job *j = arg;
  gz_err e = {0};
  gz_tape *t = j->t;
  gz_paper_out o;
  gz_mil_opts mo = GZ_MIL_OPTS_DEFAULT;
  gz_value *x = gz_tape_wrap(t, &j->x, 0, &e), *loss = NULL;
  if (x && gz_paper_forward(j->p, t, x, 1, &o, &e) == 0)
    loss = gz_ag_paper_loss(t, gz_ag_mil_loss(t, o.gamma, j->b, j->y, j->ann, &mo, &e),
                            gz_ag_decoder_loss(t, o.dec, j->target, j->y, j->ann, &e), GZ_PAPER_LAMBDA_T, &e);
  gz_arena_zero(&j->p->m.params.grad);
  if (!loss || gz_tape_backward(t, loss, NULL, &e) || gz_adam_step(j->opt, &j->p->m, &e)) {
    if (!j->failed) snprintf(j->err, sizeof j->err, "%s", e.msg);
    j->failed = 1;
  }
  gz_tape_reset(t);
}

/* Steps at S x S with a fresh step arena of `arena_bytes`; returns the arena's peak (0 on failure). The
 * batch lives in the arena below the tape's mark, so the peak counts it as PyTorch's RSS does. */
static size_t run(bench_ctx *ctx, gz_paper *p, int S, size_t arena_bytes, bench_stat *st, size_t *ws) {
  gz_err e = {0};
  gz_arena a;
  gz_tape t;
  if (gz_arena_init(&a, "activations", arena_bytes, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    return 0;
  }
  step_job j = {.p = p, .t = &t, .ann = {1, 0}};
  gz_adam opt;
  gz_adam_init(&opt, 1e-3, 1e-4);
  j.opt = &opt;
  int64_t G = S / 16, xs[4] = {NB, 3, S, S};
  size_t ngrid = (size_t)NB * GZ_PAPER_CLASSES * G * G, ntgt = ngrid * 64;
  gz_rng rng;
  gz_rng_init(&rng, 1, 0);
  if (gz_arena_tensor(&a, 4, xs, &j.x, &e) || !(j.b = gz_arena_alloc(&a, ngrid * 4, &e)) ||
      !(j.y = gz_arena_alloc(&a, NB * GZ_PAPER_CLASSES * 4, &e)) || !(j.target = gz_arena_alloc(&a, ntgt * 4, &e)) ||
      gz_tape_init(&t, &a, 4096, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    gz_arena_free(&a);
    return 0;
  }
  for (int64_t i = 0; i < gz_tensor_numel(&j.x); i++) j.x.data[i] = (float)gz_rng_normal(&rng);
  for (int i = 0; i < NB * GZ_PAPER_CLASSES; i++) j.y[i] = gz_rng_uniform(&rng) < 0.5f;
  for (size_t i = 0; i < ngrid; i++) j.b[i] = (gz_rng_uniform(&rng) < 0.2f) * j.y[i / (size_t)(G * G)];
  for (size_t i = 0; i < ntgt; i++) j.target[i] = gz_rng_uniform(&rng);
  if (st) *st = bench_time(ctx, train_step, &j);
  else train_step(&j);
  size_t peak = j.failed ? 0 : a.peak;
  if (j.failed) fprintf(stderr, "gazeloc-bench: error: paper step at %d px: %s\n", S, j.err);
  *ws = t.ws_bytes;
  gz_tape_free(&t);
  gz_arena_free(&a);
  return peak;
}

void bench_paper(bench_ctx *ctx) {
  gz_err e = {0};
  if (gz_threads_bind(&e) < 0) fprintf(stderr, "gazeloc-bench: warning: %s\n", e.msg);
  bench_section("paper model training step (fwd + L_I + L_T + bwd + AMSGrad), batch 2, multires + decoder");
  gz_paper *p = malloc(sizeof *p);
  gz_paper_config cfg = {.multires = 1, .decoder = 1, .normalize_twice = 1};
  if (!p || gz_paper_init(p, &cfg, 1, &e)) {
    fprintf(stderr, "gazeloc-bench: error: %s\n", e.msg);
    free(p);
    return;
  }
  size_t model_bytes = 5 * p->m.params.param.size + p->m.buffers.size, ws = 0;
  size_t probe = run(ctx, p, 64, (size_t)256 << 20, NULL, &ws); /* the arena's need scales with the pixels */
  printf("%-9s %12s %21s %12s %7s %11s %11s %7s\n", "input", "ours s/img", "[min .. max]", "torch s/img", "ratio",
         "ours MiB", "torch MiB", "ratio");
  const int S = 512;
  bench_ctx c = *ctx;
  if (c.reps > 3) c.reps = 3, c.warmup = 1; /* seconds per step on a shared machine */
  bench_stat st;
  size_t peak = probe ? run(&c, p, S, (size_t)((double)probe * (S * S / 4096.0) * 1.1) + ((size_t)64 << 20), &st, &ws) : 0;
  if (peak) {
    double ours_mem = (double)(model_bytes + peak + ws), tmm[3] = {0, 0, 0}, tmem = 0;
    int have = bench_torch_step(&c, "torch_paper_bench.py", NB, S, tmm, &tmem);
    printf("%-9s %12.4f [%8.4f .. %8.4f]", "2x512x512", st.median / NB, st.min / NB, st.max / NB);
    if (have)
      printf(" %12.4f %7.2f %11.0f %11.0f %7.2f\n", tmm[0] / NB, st.median / tmm[0], ours_mem / (1 << 20),
             tmem / (1 << 20), ours_mem / tmem);
    else
      printf(" %12s %7s %11.0f %11s %7s\n", "-", "-", ours_mem / (1 << 20), "-", "-");
    printf("          ours: model+optimizer %.0f MiB, step arena peak %.0f MiB, workspace %.0f MiB\n",
           (double)model_bytes / (1 << 20), (double)peak / (1 << 20), (double)ws / (1 << 20));
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("s/img = seconds per image (step time / 2); ratio = ours / PyTorch's; our process's max RSS %.0f MiB\n",
         (double)ru.ru_maxrss / 1024);
  gz_paper_free(p);
  free(p);
}
