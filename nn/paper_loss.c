/* The paper's losses as tape ops (nn.h "the paper's model"): thin gz_ext_op wrappers over the fused
 * log-space kernels of nn/loss.c (method.md Eqs. 1-7). Each op's forward and backward call the kernel
 * (backward recomputes the value: the kernels form the gradient in the same pass, and the value is cheap
 * next to the network), so the arithmetic and its finite-difference tests stay in one place. */
#include <math.h>
#include <string.h>

#include "nn/nn.h"

typedef struct {
  const float *b, *y, *target;
  const unsigned char *annotated;
  gz_mil_opts opts;
  int nb, nk, ncell, ck_range;
} loss_ctx;

/* The grid logits' dimensions: [B, K, H, W], contiguous. */
static int dims(const char *op, const gz_value *v, int *nb, int *nk, int *ncell, gz_err *e) {
  if (!v) return e && e->code ? -1 : gz_fail(e, GZ_EINVAL, "%s: input is missing", op);
  if (v->data.ndim != 4 || !gz_tensor_is_contiguous(&v->data))
    return gz_fail(e, GZ_EINVAL, "%s: logits must be a contiguous [B, K, H, W] tensor (got %d dims)", op, v->data.ndim);
  *nb = (int)v->data.shape[0], *nk = (int)v->data.shape[1], *ncell = (int)(v->data.shape[2] * v->data.shape[3]);
  return 0;
}

/* A copy of n elements of `size` bytes in the step arena (NULL src: NULL). */
static void *keep(gz_tape *t, const void *src, size_t n, size_t size, gz_err *e, int *rc) {
  if (!src) return NULL;
  void *d = gz_arena_alloc(t->arena, n * size, e);
  if (!d) *rc = -1;
  else memcpy(d, src, n * size);
  return d;
}

/* ------------------------------------------------------------------ L_I (Eq. 5) */

static int mil_fwd(const void *ctx, const gz_tensor *x, gz_tensor *y, gz_err *e) {
  (void)e;
  const loss_ctx *c = ctx;
  y->data[0] = (float)gz_mil_loss(x->data, c->b, c->y, c->annotated, c->nb, c->nk, c->ncell, &c->opts, NULL, 0, 0);
  return 0;
}

static int mil_bwd(const void *ctx, const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int acc, gz_err *e) {
  (void)e;
  const loss_ctx *c = ctx;
  gz_mil_loss(x->data, c->b, c->y, c->annotated, c->nb, c->nk, c->ncell, &c->opts, dx->data, dy->data[0], acc);
  return 0;
}

gz_value *gz_ag_mil_loss(gz_tape *t, gz_value *gamma, const float *b, const float *y, const unsigned char *annotated,
                         const gz_mil_opts *o, gz_err *e) {
  int nb = 0, nk = 0, ncell = 0, rc = 0;
  if (dims("mil_loss", gamma, &nb, &nk, &ncell, e)) return NULL;
  if (!y || !annotated || !o) {
    gz_fail(e, GZ_EINVAL, "mil_loss: labels, annotated flags and options are required");
    return NULL;
  }
  int any_annotated = 0;
  for (int i = 0; i < nb; i++) any_annotated |= annotated[i] != 0;
  if (any_annotated && !b) {
    gz_fail(e, GZ_EINVAL, "mil_loss: the batch has annotated images but no annotation grid b");
    return NULL;
  }
  loss_ctx *c = gz_arena_alloc(t->arena, sizeof *c, e);
  if (!c) return NULL;
  memset(c, 0, sizeof *c);
  c->nb = nb, c->nk = nk, c->ncell = ncell, c->opts = *o;
  size_t grid = (size_t)nb * (size_t)nk * (size_t)ncell;
  c->b = keep(t, b, grid, sizeof(float), e, &rc);
  c->y = keep(t, y, (size_t)nb * (size_t)nk, sizeof(float), e, &rc);
  c->annotated = keep(t, annotated, (size_t)nb, 1, e, &rc);
  if (rc) return NULL;
  if (!c->b) { /* no annotated image: the kernel never reads b, but give it a valid pointer */
    c->b = gamma->data.data;
  }
  gz_ext_op op = {mil_fwd, mil_bwd, c};
  int64_t one[1] = {1}; /* a scalar: tensors have 1 to 4 dims */
  return gz_ag_ext(t, GZ_OP_MIL_LOSS, &op, gamma, 1, one, e);
}

/* ------------------------------------------------------------------ L_T (Eq. 6) */

static int dec_fwd(const void *ctx, const gz_tensor *x, gz_tensor *y, gz_err *e) {
  (void)e;
  const loss_ctx *c = ctx;
  y->data[0] = (float)gz_decoder_loss(x->data, c->target, c->y, c->annotated, c->nb, c->nk, c->ncell, NULL, 0, 0);
  return 0;
}

static int dec_bwd(const void *ctx, const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int acc, gz_err *e) {
  (void)e;
  const loss_ctx *c = ctx;
  gz_decoder_loss(x->data, c->target, c->y, c->annotated, c->nb, c->nk, c->ncell, dx->data, dy->data[0], acc);
  return 0;
}

gz_value *gz_ag_decoder_loss(gz_tape *t, gz_value *z, const float *target, const float *y,
                             const unsigned char *annotated, gz_err *e) {
  int nb = 0, nk = 0, npix = 0, rc = 0;
  if (dims("decoder_loss", z, &nb, &nk, &npix, e)) return NULL;
  if (!target || !y || !annotated) {
    gz_fail(e, GZ_EINVAL, "decoder_loss: target, labels and annotated flags are required");
    return NULL;
  }
  loss_ctx *c = gz_arena_alloc(t->arena, sizeof *c, e);
  if (!c) return NULL;
  memset(c, 0, sizeof *c);
  c->nb = nb, c->nk = nk, c->ncell = npix, c->target = target;
  c->y = keep(t, y, (size_t)nb * (size_t)nk, sizeof(float), e, &rc);
  c->annotated = keep(t, annotated, (size_t)nb, 1, e, &rc);
  if (rc) return NULL;
  gz_ext_op op = {dec_fwd, dec_bwd, c};
  int64_t one[1] = {1};
  return gz_ag_ext(t, GZ_OP_DECODER_LOSS, &op, z, 1, one, e);
}

/* ------------------------------------------------------------------ C_k (Eq. 1) */

static int ck_fwd(const void *ctx, const gz_tensor *x, gz_tensor *y, gz_err *e) {
  (void)e;
  const loss_ctx *c = ctx;
  gz_mil_ck(x->data, c->nb, c->nk, c->ncell, c->ck_range, y->data);
  return 0;
}

/* C_k = 1 - prod_j f_j, f_j = lb + (1-lb)(1-s_j) = 1 - (1-lb) s_j (Eq. 1), so
 * dC_k/dgamma_j = prod_i f_i * (1-lb) s_j (1-s_j) / f_j, the product taken as exp(sum log f_i) as in
 * nn/loss.c (f_j >= lb: no cancellation). */
static int ck_bwd(const void *ctx, const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int acc, gz_err *e) {
  (void)e;
  const loss_ctx *c = ctx;
  double lb = c->ck_range == GZ_CK_BALANCED ? pow(GZ_MIL_LB_BASE, 1.0 / c->ncell) : GZ_MIL_LB_FIXED;
  for (int i = 0; i < c->nb * c->nk; i++) {
    const float *g = x->data + (size_t)i * (size_t)c->ncell;
    float *d = dx->data + (size_t)i * (size_t)c->ncell;
    double s0 = 0;
    for (int j = 0; j < c->ncell; j++) {
      double s = 1.0 / (1.0 + exp(-(double)g[j]));
      s0 += log1p(-(1.0 - lb) * s);
    }
    double k = dy->data[i] * exp(s0) * (1.0 - lb);
    for (int j = 0; j < c->ncell; j++) {
      double s = 1.0 / (1.0 + exp(-(double)g[j]));
      double v = k * s * (1.0 - s) / (1.0 - (1.0 - lb) * s);
      d[j] = (float)((acc ? d[j] : 0.0) + v);
    }
  }
  return 0;
}

gz_value *gz_ag_ck(gz_tape *t, gz_value *gamma, int ck_range, gz_err *e) {
  int nb = 0, nk = 0, ncell = 0;
  if (dims("mil_ck", gamma, &nb, &nk, &ncell, e)) return NULL;
  loss_ctx *c = gz_arena_alloc(t->arena, sizeof *c, e);
  if (!c) return NULL;
  memset(c, 0, sizeof *c);
  c->nb = nb, c->nk = nk, c->ncell = ncell, c->ck_range = ck_range;
  gz_ext_op op = {ck_fwd, ck_bwd, c};
  int64_t shape[2] = {nb, nk};
  return gz_ag_ext(t, GZ_OP_MIL_CK, &op, gamma, 2, shape, e);
}

/* Eq. 7: loss = lambda_T L_T + L_I (train.py::loss_unet). */
gz_value *gz_ag_paper_loss(gz_tape *t, gz_value *l_i, gz_value *l_t, float lambda_t, gz_err *e) {
  if (!l_t) return l_i;
  return gz_ag_add(t, gz_ag_scale(t, l_t, lambda_t, e), l_i, e);
}
