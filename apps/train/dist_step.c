/* The training step and the validation of a data-parallel run (docs/mpi.md; Eq. 7 as apps/train/step.c).
 *
 * L_I (Eq. 5) is a sum over the images, so each rank's part of the gradient is already the global loss's.
 * L_T (Eq. 6) is a mean over the global batch's B x K x pixels: the decoder-loss node below calls the
 * kernel one image at a time with the upstream gradient divided by the global B, so an image's gradient
 * does not depend on which rank, or which other images, it sits with. The logged values are gathered per
 * image and added in image order: the same number on every rank and for any number of ranks. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"
#include "train_dist.h"

typedef struct {
  const float *t, *y;
  const unsigned char *a;
  int nb, nk, npix;
  double inv_batch; /* 1 / global batch */
  double *value;    /* [nb] per image: sum of its BCE terms / (K pixels), log 2 when it has no positive map */
} dec_ctx;

static int has_pair(const dec_ctx *c, int i) {
  for (int k = 0; k < c->nk; k++)
    if (c->a[i] && c->y[i * c->nk + k] > 0.5f) return 1;
  return 0;
}

static int dec_fwd(const void *ctx, const gz_tensor *x, gz_tensor *y, gz_err *e) {
  (void)e;
  const dec_ctx *c = ctx;
  size_t per = (size_t)c->nk * (size_t)c->npix;
  double s = 0;
  for (int i = 0; i < c->nb; i++) {
    /* an image without an (annotated, positive) pair has every logit masked to 0: BCE(0, t) = log 2 each */
    double v = has_pair(c, i) ? gz_decoder_loss(x->data + i * per, c->t + i * per, c->y + i * c->nk, c->a + i, 1, c->nk,
                                                c->npix, NULL, 0, 0)
                              : log(2.0);
    c->value[i] = v, s += v;
  }
  y->data[0] = (float)(s * c->inv_batch); /* this rank's share of L_T */
  return 0;
}

static int dec_bwd(const void *ctx, const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int acc, gz_err *e) {
  (void)e;
  const dec_ctx *c = ctx;
  size_t per = (size_t)c->nk * (size_t)c->npix;
  float scale = (float)(dy->data[0] * c->inv_batch);
  for (int i = 0; i < c->nb; i++)
    gz_decoder_loss(x->data + i * per, c->t + i * per, c->y + i * c->nk, c->a + i, 1, c->nk, c->npix, dx->data + i * per,
                    scale, acc);
  return 0;
}

static gz_value *decoder_loss(gz_tape *t, gz_value *z, const gz_batch *b, int global_batch, double *value, gz_err *e) {
  dec_ctx *c = gz_arena_alloc(t->arena, sizeof *c, e);
  if (!c) return NULL;
  *c = (dec_ctx){b->t, b->y, b->annotated, b->n, (int)z->data.shape[1], (int)(z->data.shape[2] * z->data.shape[3]),
                 1.0 / global_batch, value};
  gz_ext_op op = {dec_fwd, dec_bwd, c};
  int64_t one[1] = {1};
  return gz_ag_ext(t, GZ_OP_DECODER_LOSS, &op, z, 1, one, e);
}

int train_dist_step(train_run *r, const gz_batch *b, double *loss, double *loss_t, gz_err *e) {
  gz_tape *t = &r->tape;
  const int B = r->cfg.batch, N = train_dist_size(), rank = train_dist_rank();
  if (b->n * N != B) return gz_fail(e, GZ_EINVAL, "a part of %d images, expected %d of %d", b->n, B / N, B);
  /* fault injection (docs/mpi.md "Faults"): GAZELOC_FAULT_RANK=r kills rank r at its first step */
  const char *fault = getenv("GAZELOC_FAULT_RANK");
  if (fault && *fault && fault[strlen(fault) - 1] != 's' && atoi(fault) == rank) raise(SIGKILL);
  gz_tape_reset(t);
  gz_arena_zero(&r->net.m.params.grad);
  gz_tensor xt;
  if (gz_tensor_wrap4(&xt, b->x, b->n, 3, b->size, b->size, e)) return -1;
  gz_value *x = gz_tape_wrap(t, &xt, 0, e);
  if (!x) return -1;
  gz_paper_out o;
  if (gz_paper_forward(&r->net, t, x, 1, &o, e)) return -1;
  gz_value *l = gz_ag_mil_loss(t, o.gamma, b->b, b->y, b->annotated, &r->mil, e);
  if (!l) return -1;
  /* per image of the global batch: L_I term, L_T term, has an (annotated, positive) pair */
  double *v = calloc(3 * (size_t)B + (size_t)b->n, sizeof *v), *dv = v + 3 * (size_t)B;
  if (!v) return gz_fail(e, GZ_ENOMEM, "step: out of memory");
  int rc = -1;
  gz_value *lt = NULL;
  if (r->cfg.decoder && o.dec && !(lt = decoder_loss(t, o.dec, b, B, dv, e))) goto out;
  if (!(l = gz_ag_paper_loss(t, l, lt, (float)r->cfg.lambda_t, e))) goto out; /* Eq. 7 */
  int nk = (int)o.gamma->data.shape[1], ncell = (int)(o.gamma->data.shape[2] * o.gamma->data.shape[3]);
  for (int i = 0; i < b->n; i++) {
    size_t g = (size_t)(rank * b->n + i), off = (size_t)i * (size_t)nk * (size_t)ncell;
    v[3 * g] = gz_mil_loss(o.gamma->data.data + off, b->b + off, b->y + i * nk, b->annotated + i, 1, nk, ncell, &r->mil,
                           NULL, 0, 0);
    v[3 * g + 1] = lt ? dv[i] : 0;
    for (int k = 0; k < nk; k++) v[3 * g + 2] += b->annotated[i] && b->y[i * nk + k] > 0.5f;
  }
  if (train_dist_gather_sum(v, 3 * (size_t)B, e)) goto out;
  double li = 0, ltv = 0, pairs = 0;
  for (int i = 0; i < B; i++) li += v[3 * i], ltv += v[3 * i + 1], pairs += v[3 * i + 2];
  *loss_t = lt && pairs > 0 ? ltv / B : 0; /* Eq. 6: 0 without an (annotated, positive) pair in the batch */
  *loss = li + r->cfg.lambda_t * *loss_t;
  if (!isfinite(*loss)) {
    gz_fail(e, GZ_EINVAL, "the loss is not a finite number (%g) at step %lld", *loss, (long long)r->opt.hp.step + 1);
    goto out;
  }
  if (gz_tape_backward(t, l, NULL, e) || train_dist_reduce_grads(r, e) || gz_adam_step(&r->opt, &r->net.m, e)) goto out;
  rc = 0;
out:
  free(v);
  return rc;
}

int train_dist_score(train_run *r, const gz_sample_list *list, double per_label[GZ_NLABELS], double *mean, gz_err *e) {
  int n = list->n, N = train_dist_size(), rank = train_dist_rank(), K = GZ_NLABELS;
  int lo = (int)((long)n * rank / N), hi = (int)((long)n * (rank + 1) / N);
  gz_sample_list part = {list->s + lo, hi - lo};
  /* [n][K] scores, then [n][K] labels: each rank fills its rows, the sum over ranks gathers them exactly */
  double *v = calloc(2 * (size_t)n * (size_t)K + 1, sizeof *v);
  float *sk = malloc(((size_t)n + 1) * sizeof *sk), *ck = malloc(((size_t)r->cfg.batch * K + 1) * sizeof *ck);
  unsigned char *lk = malloc((size_t)n + 1);
  double *work = malloc((2 * (size_t)n + 1) * sizeof *work);
  int rc = -1, got = 0, lrc = 0, prev = gz_tape_set_grad(&r->tape, 0);
  if (!v || !sk || !ck || !lk || !work) {
    gz_fail(e, GZ_ENOMEM, "AUC: out of memory for %d samples", n);
    goto out;
  }
  if (part.n > 0) {
    gz_loader ld;
    if (gz_loader_start(&ld, &r->ds, &part, r->cfg.batch, 0, 0, 0, 0, 0, r->threads, 0, e)) goto out;
    const gz_batch *b;
    while ((b = gz_loader_next(&ld, &lrc, e))) {
      gz_tape_reset(&r->tape);
      gz_tensor xt;
      gz_value *x = gz_tensor_wrap4(&xt, b->x, b->n, 3, b->size, b->size, e) ? NULL : gz_tape_wrap(&r->tape, &xt, 0, e);
      gz_paper_out o;
      if (!x || gz_paper_forward(&r->net, &r->tape, x, 0, &o, e)) {
        gz_loader_stop(&ld);
        goto out;
      }
      gz_mil_ck(o.gamma->data.data, b->n, K, (int)(o.gamma->data.shape[2] * o.gamma->data.shape[3]), GZ_CK_FIXED, ck);
      for (int i = 0; i < b->n * K; i++) {
        v[(size_t)(lo + got) * K + i] = ck[i];
        v[(size_t)n * K + (size_t)(lo + got) * K + i] = b->y[i] > 0.5f;
      }
      got += b->n;
    }
    gz_loader_stop(&ld);
    if (lrc) goto out;
  }
  if (train_dist_gather_sum(v, 2 * (size_t)n * K, e)) goto out;
  for (int k = 0; k < K; k++) {
    for (int i = 0; i < n; i++) sk[i] = (float)v[(size_t)i * K + k], lk[i] = v[(size_t)n * K + (size_t)i * K + k] > 0.5;
    gz_err undefined = {0};
    if (gz_auc(sk, lk, (size_t)n, work, &per_label[k], &undefined)) per_label[k] = NAN; /* one class absent */
  }
  *mean = gz_mean_over_labels(per_label, K);
  rc = 0;
out:
  gz_tape_reset(&r->tape);
  gz_tape_set_grad(&r->tape, prev);
  free(v), free(sk), free(ck), free(lk), free(work);
  return rc;
}
