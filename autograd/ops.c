/* The op table: every differentiable op's forward and backward, and what it saves. Read this first.
 *
 * Conventions. Forward computes n->out from n->in (pure: it can be replayed). Backward reads dy =
 * n->out->grad and ADDS into each input's gradient that is wanted (in[i]->requires_grad); want() gives
 * that buffer and says whether it was just allocated, in which case the op writes it instead (the same
 * sum, without zeroing it first). The kernels are the tensor module's (tensor/tensor.h, conv
 * and GEMM in tensor/kernels.h); the constructors that validate shapes and fill nodes are in ops_make.c.
 *
 *   op            forward                                  backward (+= into the inputs)
 *   conv2d        y = conv(x, w) + b                        dx = conv_T(dy, w); dw = dy (x) x; db = sum dy
 *   bn_train      y = (x - mu_B)/sqrt(var_B + eps) g + b    through mu_B and var_B (batch statistics)
 *   bn_eval       y = (x - mu_R)/sqrt(var_R + eps) g + b    dx = dy g / sqrt(var_R + eps); dg, db
 *   relu          y = max(x, 0)                             dx = dy [y > 0]
 *   add, mul      y = a + b, y = a * b                      da = dy (* b), db = dy (* a)
 *   scale         y = c x                                   dx = c dy
 *   maxpool       y = max over the window; idx = argmax     dx[idx] += dy
 *   up_nearest    y[h, w] = x[src(h), src(w)]              scatter-add
 *   up_bilinear   align_corners interpolation             scatter-add with the same weights
 *   concat        y = [x_0, x_1, ...] along C               dx_i = dy[:, channels of x_i]
 *   linear        y = x W^T + b                             dx = dy W; dW = dy^T x; db = sum_rows dy
 *   sigmoid       y = 1 / (1 + e^-x)                        dx = dy y (1 - y)
 *   logsigmoid    y = log sigmoid(x)                        dx = dy (1 - sigmoid(x))
 *   bce_logits    l = max(x,0) - x t + log1p(e^-|x|)        dx = dy (sigmoid(x) - t)
 *   sum, mean     over axes                                 dx = broadcast(dy) (/ count)
 *   reshape       a view                                    dx = dy
 */
#include "autograd/autograd.h"
#include "autograd/tape_internal.h"

#include <string.h>

#include "tensor/kernels.h"

#define TRY(x) \
  do {         \
    if (x) return -1; \
  } while (0)

/* The gradient of input i if it is wanted, else NULL (NULL and -1 in *rc on allocation failure). *acc says
 * whether to add into it (1) or write it (0: it was just allocated and holds garbage). */
static gz_tensor *want(gz_tape *t, gz_node *n, int i, int *acc, int *rc, gz_err *e) {
  gz_value *v = n->in[i];
  *acc = 1;
  if (!v || !v->requires_grad) return NULL;
  gz_tensor *g = gz_value_grad_acc(t, v, acc, e);
  if (!g) *rc = -1;
  return g;
}

/* For kernels with one accumulate flag over several outputs: a fresh output is zeroed, then all add. */
static void zero_fresh(gz_tensor *g, int *acc) {
  if (g && !*acc) memset(g->data, 0, (size_t)gz_tensor_numel(g) * sizeof(float));
  *acc = 1;
}

static float *ptr(const gz_tensor *t) { return t ? t->data : NULL; }

/* ------------------------------------------------------------------ conv2d: in = x, w, b? */

static int conv_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  size_t ws = gz_conv2d_workspace(&n->a.conv);
  void *w = gz_tape_workspace(t, ws, e);
  if (!w) return -1;
  return gz_conv2d_forward(&n->a.conv, n->in[0]->data.data, n->in[1]->data.data, n->in[2] ? n->in[2]->data.data : NULL,
                           n->out->data.data, w, ws, e);
}

static int conv_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, ax, aw, ab;
  gz_tensor *dx = want(t, n, 0, &ax, &rc, e), *dw = want(t, n, 1, &aw, &rc, e), *db = want(t, n, 2, &ab, &rc, e);
  if (rc) return -1;
  size_t ws = gz_conv2d_workspace(&n->a.conv);
  void *w = gz_tape_workspace(t, ws, e);
  if (!w) return -1;
  const float *dy = n->out->grad.data;
  if (dx) TRY(gz_conv2d_backward_data(&n->a.conv, dy, n->in[1]->data.data, dx->data, ax, w, ws, e));
  if (db && !dw) dw = gz_value_grad_acc(t, n->in[1], &aw, e); /* the kernel computes both: a frozen w gets a scratch grad */
  if (!dw) return db ? -1 : 0;
  if (t->shards && t->shards->nshards > 1) return gz_shard_conv_weights(t, n, dw, aw, db, ab, w, ws, e);
  if (db && aw != ab) zero_fresh(dw, &aw), zero_fresh(db, &ab);
  return gz_conv2d_backward_weights(&n->a.conv, n->in[0]->data.data, dy, dw->data, ptr(db), aw, w, ws, e);
}

/* ------------------------------------------------------------------ batch norm: in = x, gamma, beta */

static int bn_train_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  if (t->shards) return gz_shard_bn_fwd(t, n, e); /* synchronized over the global batch */
  return gz_bn_fwd_train(&n->in[0]->data, n->in[1]->data.data, n->in[2]->data.data, n->a.bn.eps, &n->out->data,
                         n->saved[0], n->saved[1], e);
}

static int bn_eval_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_bn_fwd_eval(&n->in[0]->data, n->in[1]->data.data, n->in[2]->data.data, n->a.bn.running_mean,
                        n->a.bn.running_var, n->a.bn.eps, &n->out->data, e);
}

static int bn_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, ax, ag, ab;
  gz_tensor *dx = want(t, n, 0, &ax, &rc, e), *dg = want(t, n, 1, &ag, &rc, e), *db = want(t, n, 2, &ab, &rc, e);
  if (rc) return -1;
  if (t->shards && n->op == GZ_OP_BN_TRAIN) return gz_shard_bn_bwd(t, n, dx, ax, dg, ag, db, ab, e);
  /* the kernel has one accumulate flag: dx gets its own (written when fresh), dgamma and dbeta go
   * through a [C] scratch that is then added to the parameters' gradients */
  int64_t c = n->in[0]->data.shape[1];
  float *sg = NULL, *sb = NULL;
  if (dg || db) {
    size_t mark = gz_arena_mark(t->arena);
    if (!(sg = gz_arena_alloc(t->arena, (size_t)c * sizeof(float), e)) ||
        !(sb = gz_arena_alloc(t->arena, (size_t)c * sizeof(float), e)))
      return -1;
    gz_arena_reset(t->arena, mark); /* scratch: nothing else is allocated before it is used */
    if (!dx) memset(sg, 0, (size_t)c * sizeof(float)), memset(sb, 0, (size_t)c * sizeof(float)), ax = 1;
  }
  int training = n->op == GZ_OP_BN_TRAIN;
  const float *mean = training ? n->saved[0] : n->a.bn.running_mean;
  const float *var = training ? n->saved[1] : n->a.bn.running_var;
  TRY(gz_bn_bwd(&n->in[0]->data, &n->out->grad, n->in[1]->data.data, mean, var, n->a.bn.eps, training, dx,
                dg ? sg : NULL, db ? sb : NULL, ax, e));
  for (int64_t k = 0; k < c; k++) {
    if (dg) dg->data[k] = (ag ? dg->data[k] : 0.0f) + sg[k];
    if (db) db->data[k] = (ab ? db->data[k] : 0.0f) + sb[k];
  }
  return 0;
}

/* ------------------------------------------------------------------ elementwise */

static int relu_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_relu_fwd(&n->in[0]->data, &n->out->data, e); /* in place: out->data is in[0]->data */
}
static int relu_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_relu_bwd(&n->out->data, &n->out->grad, dx, acc, e);
}

static int add_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_add(&n->in[0]->data, &n->in[1]->data, &n->out->data, e);
}
static int add_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  for (int i = 0; i < 2; i++) {
    int rc = 0, acc;
    gz_tensor *d = want(t, n, i, &acc, &rc, e);
    if (rc) return -1;
    if (d) TRY(acc ? gz_add(d, &n->out->grad, d, e) : gz_tensor_copy(&n->out->grad, d, e));
  }
  return 0;
}

/* mul and scale run on contiguous tensors (the constructors copy views first), plain loops. */
static int mul_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t, (void)e;
  const float *a = n->in[0]->data.data, *b = n->in[1]->data.data;
  float *y = n->out->data.data;
  int64_t len = gz_tensor_numel(&n->out->data);
  for (int64_t i = 0; i < len; i++) y[i] = a[i] * b[i];
  return 0;
}
static int mul_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, aa, ab;
  gz_tensor *da = want(t, n, 0, &aa, &rc, e);
  if (rc) return -1;
  if (da) zero_fresh(da, &aa); /* a * a: both inputs may be the same value */
  gz_tensor *db = want(t, n, 1, &ab, &rc, e);
  if (rc) return -1;
  if (db) zero_fresh(db, &ab);
  const float *a = n->in[0]->data.data, *b = n->in[1]->data.data, *dy = n->out->grad.data;
  int64_t len = gz_tensor_numel(&n->out->data);
  for (int64_t i = 0; i < len; i++) {
    if (da) da->data[i] += dy[i] * b[i];
    if (db) db->data[i] += dy[i] * a[i];
  }
  return 0;
}

static int scale_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t, (void)e;
  const float *x = n->in[0]->data.data;
  float *y = n->out->data.data, c = n->a.scale;
  int64_t len = gz_tensor_numel(&n->out->data);
  for (int64_t i = 0; i < len; i++) y[i] = c * x[i];
  return 0;
}
static int scale_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  const float *dy = n->out->grad.data;
  int64_t len = gz_tensor_numel(dx);
  for (int64_t i = 0; i < len; i++) dx->data[i] = (acc ? dx->data[i] : 0.0f) + n->a.scale * dy[i];
  return 0;
}

/* ------------------------------------------------------------------ pooling, upsampling, concat */

static int maxpool_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_maxpool_fwd(&n->in[0]->data, &n->a.pool, &n->out->data, n->idx, e);
}
static int maxpool_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_maxpool_bwd(&n->out->grad, n->idx, dx, acc, e);
}

static int up_nearest_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_upsample_nearest_fwd(&n->in[0]->data, &n->out->data, e);
}
static int up_nearest_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_upsample_nearest_bwd(&n->out->grad, dx, acc, e);
}
static int up_bilinear_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_upsample_bilinear_fwd(&n->in[0]->data, &n->out->data, e);
}
static int up_bilinear_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_upsample_bilinear_bwd(&n->out->grad, dx, acc, e);
}

static int concat_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  const gz_tensor *xs[GZ_NODE_MAX_IN];
  for (int i = 0; i < n->nin; i++) xs[i] = &n->in[i]->data;
  return gz_concat_fwd(xs, n->nin, &n->out->data, e);
}
static int concat_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int64_t c0 = 0;
  for (int i = 0; i < n->nin; i++) {
    int rc = 0, acc;
    gz_tensor *d = want(t, n, i, &acc, &rc, e), v;
    if (rc) return -1;
    int64_t c = n->in[i]->data.shape[1];
    if (d) TRY(gz_tensor_channels(&n->out->grad, c0, c, &v, e) || (acc ? gz_add(d, &v, d, e) : gz_tensor_copy(&v, d, e)));
    c0 += c;
  }
  return 0;
}

/* ------------------------------------------------------------------ linear: x [N, K], w [M, K], b [M] */

static int linear_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  const gz_tensor *x = &n->in[0]->data, *w = &n->in[1]->data;
  long N = (long)x->shape[0], K = (long)x->shape[1], M = (long)w->shape[0];
  size_t ws = gz_sgemm_workspace(N, M, K);
  void *p = gz_tape_workspace(t, ws, e);
  float *y = n->out->data.data;
  if (!p || gz_sgemm(0, 1, N, M, K, 1.0f, x->data, K, w->data, K, 0.0f, y, M, p, ws, e)) return -1;
  if (n->in[2])
    for (long i = 0; i < N; i++)
      for (long j = 0; j < M; j++) y[i * M + j] += n->in[2]->data.data[j];
  return 0;
}
static int linear_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, ax, aw, ab;
  gz_tensor *dx = want(t, n, 0, &ax, &rc, e), *dw = want(t, n, 1, &aw, &rc, e), *db = want(t, n, 2, &ab, &rc, e);
  if (rc) return -1;
  if ((dw || db) && t->shards && t->shards->nshards > 1)
    return gz_fail(e, GZ_EUNSUPPORTED, "linear: the weight gradient is not sharded (autograd.h, sharded batches)");
  const gz_tensor *x = &n->in[0]->data, *w = &n->in[1]->data;
  long N = (long)x->shape[0], K = (long)x->shape[1], M = (long)w->shape[0];
  const float *dy = n->out->grad.data;
  size_t ws = gz_sgemm_workspace(N, K, M);
  size_t ws2 = gz_sgemm_workspace(M, K, N);
  void *p = gz_tape_workspace(t, ws > ws2 ? ws : ws2, e);
  if (!p) return -1;
  if (dx) TRY(gz_sgemm(0, 0, N, K, M, 1.0f, dy, M, w->data, K, ax ? 1.0f : 0.0f, dx->data, K, p, t->ws_bytes, e));
  if (dw) TRY(gz_sgemm(1, 0, M, K, N, 1.0f, dy, M, x->data, K, aw ? 1.0f : 0.0f, dw->data, K, p, t->ws_bytes, e));
  if (db)
    for (long j = 0; j < M; j++) {
      double s = 0;
      for (long i = 0; i < N; i++) s += dy[i * M + j];
      db->data[j] = (ab ? db->data[j] : 0.0f) + (float)s;
    }
  return 0;
}

/* ------------------------------------------------------------------ sigmoid family */

static int sigmoid_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_sigmoid_fwd(&n->in[0]->data, &n->out->data, e);
}
static int sigmoid_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_sigmoid_bwd(&n->out->data, &n->out->grad, dx, acc, e);
}
static int logsigmoid_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_logsigmoid_fwd(&n->in[0]->data, &n->out->data, e);
}
static int logsigmoid_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_logsigmoid_bwd(&n->in[0]->data, &n->out->grad, dx, acc, e);
}
static int bce_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return gz_bce_logits_fwd(&n->in[0]->data, &n->in[1]->data, &n->out->data, e);
}
static int bce_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  return gz_bce_logits_bwd(&n->in[0]->data, &n->in[1]->data, &n->out->grad, 1.0f, dx, acc, e);
}

/* ------------------------------------------------------------------ reductions and views */

static int reduce_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  size_t nws = gz_reduce_ws(&n->in[0]->data, n->a.axes);
  double *ws = nws ? gz_tape_workspace(t, nws * sizeof(double), e) : NULL;
  if (nws && !ws) return -1;
  return gz_reduce(&n->in[0]->data, n->a.axes, n->op == GZ_OP_MEAN ? GZ_REDUCE_MEAN : GZ_REDUCE_SUM, &n->out->data,
                   ws, nws, e);
}
/* dx[i] += dy[i with the reduced coordinates set to 0] (/ count for the mean); x contiguous, 4 dims padded. */
static int reduce_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  zero_fresh(dx, &acc);
  int64_t sh[4] = {1, 1, 1, 1}, ys[4] = {0, 0, 0, 0}, count = 1;
  const gz_tensor *y = &n->out->grad;
  int nd = dx->ndim, off = 4 - nd;
  int64_t stride = 1;
  for (int d = nd - 1; d >= 0; d--) {
    sh[off + d] = dx->shape[d];
    ys[off + d] = (n->a.axes >> d & 1) ? 0 : stride;
    stride *= y->shape[d];
    if (n->a.axes >> d & 1) count *= dx->shape[d];
  }
  float s = n->op == GZ_OP_MEAN ? 1.0f / (float)count : 1.0f;
  float *g = dx->data;
  const float *dy = y->data;
  for (int64_t a = 0; a < sh[0]; a++)
    for (int64_t b = 0; b < sh[1]; b++)
      for (int64_t c = 0; c < sh[2]; c++)
        for (int64_t d = 0; d < sh[3]; d++) *g++ += s * dy[a * ys[0] + b * ys[1] + c * ys[2] + d * ys[3]];
  return 0;
}

static int reshape_fwd(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  gz_tensor v;
  TRY(gz_tensor_reshape(&n->in[0]->data, n->out->data.ndim, n->out->data.shape, &v, e));
  n->out->data = v;
  return 0;
}
static int reshape_bwd(gz_tape *t, gz_node *n, gz_err *e) {
  int rc = 0, acc;
  gz_tensor *dx = want(t, n, 0, &acc, &rc, e);
  if (rc || !dx) return rc;
  int64_t len = gz_tensor_numel(dx);
  for (int64_t i = 0; i < len; i++) dx->data[i] = (acc ? dx->data[i] : 0.0f) + n->out->grad.data[i];
  return 0;
}

/* ------------------------------------------------------------------ the table */

const gz_op_info gz_op_table[GZ_OP_COUNT] = {
    [GZ_OP_CONV2D] = {"conv2d", conv_fwd, conv_bwd, "x, w (inputs)"},
    [GZ_OP_BN_TRAIN] = {"batch_norm", bn_train_fwd, bn_bwd, "x (input), batch mean and biased variance [C]"},
    [GZ_OP_BN_EVAL] = {"batch_norm_eval", bn_eval_fwd, bn_bwd, "running mean and variance (pointers)"},
    [GZ_OP_RELU] = {"relu", relu_fwd, relu_bwd, "y (output)"},
    [GZ_OP_ADD] = {"add", add_fwd, add_bwd, "nothing"},
    [GZ_OP_MUL] = {"mul", mul_fwd, mul_bwd, "a, b (inputs)"},
    [GZ_OP_SCALE] = {"scale", scale_fwd, scale_bwd, "the constant"},
    [GZ_OP_MAXPOOL] = {"max_pool2d", maxpool_fwd, maxpool_bwd, "argmax per output (int32)"},
    [GZ_OP_UP_NEAREST] = {"upsample_nearest2d", up_nearest_fwd, up_nearest_bwd, "shapes only"},
    [GZ_OP_UP_BILINEAR] = {"upsample_bilinear2d", up_bilinear_fwd, up_bilinear_bwd, "shapes only"},
    [GZ_OP_CONCAT] = {"cat", concat_fwd, concat_bwd, "channel counts"},
    [GZ_OP_LINEAR] = {"linear", linear_fwd, linear_bwd, "x, W (inputs)"},
    [GZ_OP_SIGMOID] = {"sigmoid", sigmoid_fwd, sigmoid_bwd, "y (output)"},
    [GZ_OP_LOGSIGMOID] = {"log_sigmoid", logsigmoid_fwd, logsigmoid_bwd, "x (input)"},
    [GZ_OP_BCE_LOGITS] = {"bce_with_logits", bce_fwd, bce_bwd, "x, target (inputs)"},
    [GZ_OP_SUM] = {"sum", reduce_fwd, reduce_bwd, "axes"},
    [GZ_OP_MEAN] = {"mean", reduce_fwd, reduce_bwd, "axes"},
    [GZ_OP_RESHAPE] = {"reshape", reshape_fwd, reshape_bwd, "nothing (a view of x)"},
    /* kernels of nn (the paper's losses) reached through n->a.ext: autograd/ops_loss.c */
    [GZ_OP_MIL_LOSS] = {"mil_loss", gz_ext_op_forward, gz_ext_op_backward, "its context (b, y, A, options)"},
    [GZ_OP_DECODER_LOSS] = {"decoder_loss", gz_ext_op_forward, gz_ext_op_backward, "its context (target, y, A)"},
    [GZ_OP_MIL_CK] = {"mil_ck", gz_ext_op_forward, gz_ext_op_backward, "its context (the C_k range)"},
};
