/* The ops that couple the samples of a batch, for a batch split into shards over processes (autograd.h,
 * "sharded batches"; docs/mpi.md).
 *
 * Batch norm (SyncBN). Forward: each shard's per-channel count, mean and M2 = sum (x - mean)^2 in double
 * (two passes, as the reference kernel), combined into the global batch's by plan->combine (Chan's
 * pairwise formula over the shard tree); y is the eval kernel's normalization with that mean and the
 * biased variance M2 / M. Backward, with M the global count (PyTorch's batch-norm gradient):
 *   dx = gamma / sigma (dy - sum(dy) / M - (x - mu) / sigma^2 sum(dy (x - mu)) / M)
 *   dgamma = sum(dy (x - mu)) / sigma, dbeta = sum(dy), the sums global.
 * Conv weights: the kernel on each shard alone, the shards added over the tree of dist.h. */
#include "autograd/autograd.h"
#include "autograd/tape_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gz_shard_plan_free(gz_shard_plan *p) {
  if (!p) return;
  free(p->scratch);
  p->scratch = NULL, p->scratch_floats = 0;
}

int64_t gz_tape_global_batch(const gz_tape *t, int64_t n) {
  const gz_shard_plan *p = t ? t->shards : NULL;
  return p && p->nshards > 0 ? n / p->nshards * p->total_shards : n;
}

/* plane (n, c) of a batch-contiguous NCHW tensor */
static const float *plane(const gz_tensor *x, int64_t n, int64_t c) {
  return x->data + n * x->stride[0] + c * x->stride[1];
}

static int shard_shape(const gz_shard_plan *p, const gz_tensor *x, const char *op, int64_t *per, gz_err *e) {
  if (x->ndim != 4 || p->nshards < 1 || x->shape[0] % p->nshards)
    return gz_fail(e, GZ_EINVAL, "%s: a batch of %lld is not %d equal shards", op, (long long)x->shape[0], p->nshards);
  *per = x->shape[0] / p->nshards;
  return 0;
}

int gz_shard_bn_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  const gz_shard_plan *p = t->shards;
  const gz_tensor *x = &n->in[0]->data;
  int64_t per, C = x->shape[1], HW = x->shape[2] * x->shape[3];
  if (shard_shape(p, x, "batch_norm", &per, e)) return -1;
  int ns = p->nshards;
  double *part = malloc(sizeof *part * 3 * (size_t)(C * ns + C));
  if (!part) return gz_fail(e, GZ_ENOMEM, "batch_norm: no memory for the shard statistics");
  double *out = part + 3 * (size_t)C * ns;
#pragma omp parallel for collapse(2) schedule(static)
  for (int s = 0; s < ns; s++)
    for (int64_t c = 0; c < C; c++) {
      double sum = 0, m2 = 0, cnt = (double)(per * HW);
      for (int64_t i = s * per; i < (s + 1) * per; i++) {
        const float *q = plane(x, i, c);
        for (int64_t j = 0; j < HW; j++) sum += q[j];
      }
      double mu = sum / cnt;
      for (int64_t i = s * per; i < (s + 1) * per; i++) {
        const float *q = plane(x, i, c);
        for (int64_t j = 0; j < HW; j++) m2 += (q[j] - mu) * (q[j] - mu);
      }
      double *o = part + 3 * ((size_t)s * (size_t)C + (size_t)c);
      o[0] = cnt, o[1] = mu, o[2] = m2;
    }
  int rc = p->combine(p->ctx, GZ_SHARD_MOMENTS, part, (size_t)C, out, e);
  if (!rc) {
    for (int64_t c = 0; c < C; c++) {
      n->saved[0][c] = (float)out[3 * c + 1];
      n->saved[1][c] = (float)(out[3 * c + 2] / out[3 * c]); /* biased */
    }
    rc = gz_bn_fwd_eval(x, n->in[1]->data.data, n->in[2]->data.data, n->saved[0], n->saved[1], n->a.bn.eps,
                        &n->out->data, e);
  }
  free(part);
  return rc;
}

int gz_shard_bn_bwd(gz_tape *t, gz_node *n, gz_tensor *dx, int ax, gz_tensor *dg, int ag, gz_tensor *db, int ab,
                    gz_err *e) {
  const gz_shard_plan *p = t->shards;
  const gz_tensor *x = &n->in[0]->data, *dy = &n->out->grad;
  const float *gamma = n->in[1]->data.data, *mean = n->saved[0], *var = n->saved[1];
  int64_t per, N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  if (shard_shape(p, x, "batch_norm backward", &per, e)) return -1;
  int ns = p->nshards;
  double *part = malloc(sizeof *part * 2 * (size_t)(C * ns + C));
  if (!part) return gz_fail(e, GZ_ENOMEM, "batch_norm backward: no memory for the shard sums");
  double *out = part + 2 * (size_t)C * ns; /* [sum dy (C), sum dy (x - mu) (C)] */
#pragma omp parallel for collapse(2) schedule(static)
  for (int s = 0; s < ns; s++)
    for (int64_t c = 0; c < C; c++) {
      double mu = mean[c], sdy = 0, sdyx = 0;
      for (int64_t i = s * per; i < (s + 1) * per; i++) {
        const float *q = plane(x, i, c), *g = plane(dy, i, c);
        for (int64_t j = 0; j < HW; j++) sdy += g[j], sdyx += g[j] * (q[j] - mu);
      }
      part[(size_t)s * 2 * (size_t)C + (size_t)c] = sdy;
      part[(size_t)s * 2 * (size_t)C + (size_t)(C + c)] = sdyx;
    }
  if (p->combine(p->ctx, GZ_SHARD_SUMS, part, 2 * (size_t)C, out, e)) {
    free(part);
    return -1;
  }
  double M = (double)(per * HW) * p->total_shards;
  if (dx) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t i = 0; i < N; i++)
      for (int64_t c = 0; c < C; c++) {
        double mu = mean[c], inv = 1.0 / sqrt((double)var[c] + n->a.bn.eps), a = gamma[c] * inv;
        double sdy = out[c], sdyx = out[C + c];
        const float *q = plane(x, i, c), *g = plane(dy, i, c);
        float *o = dx->data + i * dx->stride[0] + c * dx->stride[1];
        for (int64_t j = 0; j < HW; j++) {
          double r = a * (g[j] - sdy / M - (q[j] - mu) * inv * inv * sdyx / M);
          o[j] = (float)((ax ? o[j] : 0.0) + r);
        }
      }
  }
  for (int64_t c = 0; c < C; c++) {
    double inv = 1.0 / sqrt((double)var[c] + n->a.bn.eps);
    float vg = p->param_grad_owner ? (float)(out[C + c] * inv) : 0.0f, vb = p->param_grad_owner ? (float)out[c] : 0.0f;
    if (dg) dg->data[c] = (ag ? dg->data[c] : 0.0f) + vg;
    if (db) db->data[c] = (ab ? db->data[c] : 0.0f) + vb;
  }
  free(part);
  return 0;
}

/* ------------------------------------------------------------------ conv weights, shard by shard */

typedef struct {
  gz_conv2d d;         /* one shard */
  const float *x, *dy; /* the whole local batch */
  long xs, ys;         /* floats per shard */
  size_t len, nw;      /* floats per tree buffer (weights, then bias); weight floats */
  int has_bias;
  float *buf;          /* level l's buffer at buf + l * len */
  void *ws;
  size_t wsb;
} conv_tree;

/* Node [lo, hi) into buffer `level`: the left child into the same buffer, the right one into the next,
 * then left += right (dist/tree.c's order). */
static int conv_node(const conv_tree *c, int lo, int hi, int level, gz_err *e) {
  float *out = c->buf + (size_t)level * c->len;
  if (hi - lo == 1)
    return gz_conv2d_backward_weights(&c->d, c->x + lo * c->xs, c->dy + lo * c->ys, out, c->has_bias ? out + c->nw : NULL,
                                      0, c->ws, c->wsb, e);
  int mid = (lo + hi) / 2;
  if (conv_node(c, lo, mid, level, e) || conv_node(c, mid, hi, level + 1, e)) return -1;
  const float *r = out + c->len;
#pragma omp parallel for schedule(static) if (c->len > 65536)
  for (size_t i = 0; i < c->len; i++) out[i] += r[i];
  return 0;
}

int gz_shard_conv_weights(gz_tape *t, gz_node *n, gz_tensor *dw, int aw, gz_tensor *db, int ab, void *ws, size_t wsb,
                          gz_err *e) {
  gz_shard_plan *p = t->shards;
  int ns = p->nshards;
  if (n->a.conv.n % ns)
    return gz_fail(e, GZ_EINVAL, "conv2d: a batch of %d is not %d equal shards", n->a.conv.n, ns);
  conv_tree c = {.d = n->a.conv, .x = n->in[0]->data.data, .dy = n->out->grad.data, .ws = ws, .wsb = wsb};
  c.d.n = n->a.conv.n / ns;
  /* A shard's problem may need more workspace than the whole batch's (tensor/conv.c groups small images of a
   * batch into one GEMM, while one image goes alone) */
  const size_t shard_wsb = gz_conv2d_workspace(&c.d);
  if (shard_wsb > wsb) {
    if (!(c.ws = gz_tape_workspace(t, shard_wsb, e))) return -1;
    c.wsb = shard_wsb;
  }
  c.xs = (long)c.d.n * c.d.ic * c.d.ih * c.d.iw;
  c.ys = (long)gz_tensor_numel(&n->out->grad) / ns;
  c.nw = (size_t)gz_tensor_numel(dw);
  c.has_bias = db != NULL;
  c.len = (c.nw + (db ? (size_t)c.d.oc : 0) + 15) / 16 * 16;
  int levels = 1;
  while ((1 << (levels - 1)) < ns) levels++; /* the right spine of the tree is the deepest: ceil(log2 ns) + 1 */
  size_t need = c.len * (size_t)levels;
  if (p->scratch_floats < need) {
    float *s = realloc(p->scratch, need * sizeof *s);
    if (!s) return gz_fail(e, GZ_ENOMEM, "conv2d: no memory for %d shard gradients of %zu floats", levels, c.len);
    p->scratch = s, p->scratch_floats = need;
  }
  c.buf = p->scratch;
  if (conv_node(&c, 0, ns, 0, e)) return -1;
  for (size_t i = 0; i < c.nw; i++) dw->data[i] = (aw ? dw->data[i] : 0.0f) + c.buf[i];
  if (db)
    for (int o = 0; o < c.d.oc; o++) db->data[o] = (ab ? db->data[o] : 0.0f) + c.buf[c.nw + (size_t)o];
  return 0;
}
