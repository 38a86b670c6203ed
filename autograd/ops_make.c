/* The op functions the layers call: check shapes, allocate the output and saved buffers in the step arena,
 * fill a node and hand it to gz_tape_run (which runs the table's forward and records the node). */
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/tape_internal.h"
#include "tensor/kernels.h"

static gz_node node(gz_op op, int nin, gz_value *a, gz_value *b, gz_value *c) {
  gz_node n;
  memset(&n, 0, sizeof n);
  n.op = op, n.nin = nin;
  n.in[0] = a, n.in[1] = b, n.in[2] = c;
  return n;
}

/* Allocates the output (shape of ndim dims) and runs the node. */
static gz_value *run(gz_tape *t, gz_node *n, int ndim, const int64_t *shape, gz_err *e) {
  if (!(n->out = gz_tape_value(t, ndim, shape, 0, e))) return NULL;
  return gz_tape_run(t, n, e) ? NULL : n->out;
}

/* A NULL input means the op that should have produced it failed: its error stays in e, so ops chain
 * (relu(bn(conv(x)))) and the first failure is the one reported. */
static int missing(const char *op, gz_err *e) {
  if (e && e->code == 0) return gz_fail(e, GZ_EINVAL, "%s: input is missing", op);
  return -1;
}

static gz_value *inplace(gz_tape *t, gz_node *n, gz_value *x, gz_err *e);

static int need4(const char *op, const gz_value *x, gz_err *e) {
  if (!x) return missing(op, e);
  if (x->data.ndim != 4 || !gz_tensor_is_contiguous(&x->data))
    return gz_fail(e, GZ_EINVAL, "%s: input must be a contiguous NCHW tensor (got %d dims)", op, x->data.ndim);
  return 0;
}

static int need_len(const char *op, const char *what, const gz_value *v, int64_t n, gz_err *e) {
  if (!v || gz_tensor_numel(&v->data) != n || !gz_tensor_is_contiguous(&v->data))
    return gz_fail(e, GZ_EINVAL, "%s: %s must be a contiguous tensor of %lld elements", op, what, (long long)n);
  return 0;
}

gz_value *gz_ag_conv2d(gz_tape *t, gz_value *x, gz_value *w, gz_value *b, int stride, int pad, gz_err *e) {
  if (need4("conv2d", x, e)) return NULL;
  if (!w || w->data.ndim != 4 || !gz_tensor_is_contiguous(&w->data) || w->data.shape[1] != x->data.shape[1]) {
    gz_fail(e, GZ_EINVAL, "conv2d: weight must be contiguous [OC, %lld, KH, KW]", (long long)x->data.shape[1]);
    return NULL;
  }
  if (b && need_len("conv2d", "bias", b, w->data.shape[0], e)) return NULL;
  gz_node n = node(GZ_OP_CONV2D, 3, x, w, b);
  const int64_t *xs = x->data.shape, *ws = w->data.shape;
  n.a.conv = (gz_conv2d){(int)xs[0], (int)xs[1], (int)xs[2], (int)xs[3], (int)ws[0], (int)ws[2], (int)ws[3],
                         stride, stride, pad, pad};
  int oh, ow;
  if (gz_conv2d_out(&n.a.conv, &oh, &ow, e)) return NULL;
  int64_t shape[4] = {xs[0], ws[0], oh, ow};
  return run(t, &n, 4, shape, e);
}

static gz_value *bn(gz_op op, gz_value *x, gz_value *g, gz_value *b, float eps, gz_err *e,
                    gz_node *n) {
  if (need4("batch norm", x, e)) return NULL;
  int64_t c = x->data.shape[1];
  if (need_len("batch norm", "gamma", g, c, e) || need_len("batch norm", "beta", b, c, e)) return NULL;
  *n = node(op, 3, x, g, b);
  n->a.bn.eps = eps;
  return x;
}

gz_value *gz_ag_bn_train(gz_tape *t, gz_value *x, gz_value *gamma, gz_value *beta, float eps,
                         const float **batch_mean, const float **batch_var, gz_err *e) {
  gz_node n;
  if (!bn(GZ_OP_BN_TRAIN, x, gamma, beta, eps, e, &n)) return NULL;
  size_t bytes = (size_t)x->data.shape[1] * sizeof(float);
  if (!(n.saved[0] = gz_arena_alloc(t->arena, bytes, e)) || !(n.saved[1] = gz_arena_alloc(t->arena, bytes, e)))
    return NULL;
  if (batch_mean) *batch_mean = n.saved[0];
  if (batch_var) *batch_var = n.saved[1];
  return run(t, &n, 4, x->data.shape, e);
}

gz_value *gz_ag_bn_eval(gz_tape *t, gz_value *x, gz_value *gamma, gz_value *beta, const float *running_mean,
                        const float *running_var, float eps, gz_err *e) {
  gz_node n;
  if (!bn(GZ_OP_BN_EVAL, x, gamma, beta, eps, e, &n)) return NULL;
  n.a.bn.running_mean = running_mean, n.a.bn.running_var = running_var;
  return run(t, &n, 4, x->data.shape, e);
}

static gz_value *unary(gz_tape *t, gz_op op, gz_value *x, gz_err *e) {
  if (!x) {
    missing(gz_op_table[op].name, e);
    return NULL;
  }
  gz_node n = node(op, 1, x, NULL, NULL);
  return run(t, &n, x->data.ndim, x->data.shape, e);
}

gz_value *gz_ag_relu(gz_tape *t, gz_value *x, gz_err *e) { return unary(t, GZ_OP_RELU, x, e); }
gz_value *gz_ag_sigmoid(gz_tape *t, gz_value *x, gz_err *e) { return unary(t, GZ_OP_SIGMOID, x, e); }
gz_value *gz_ag_logsigmoid(gz_tape *t, gz_value *x, gz_err *e) { return unary(t, GZ_OP_LOGSIGMOID, x, e); }

gz_value *gz_ag_relu_(gz_tape *t, gz_value *x, gz_err *e) {
  if (!x) {
    missing("relu", e);
    return NULL;
  }
  gz_node n = node(GZ_OP_RELU, 1, x, NULL, NULL);
  return inplace(t, &n, x, e); /* relu's backward needs only y */
}

static gz_value *binary(gz_tape *t, gz_op op, gz_value *a, gz_value *b, int contiguous, gz_err *e) {
  const char *name = gz_op_table[op].name;
  char sa[64], sb[64];
  if (!a || !b) {
    missing(name, e);
    return NULL;
  }
  if (!gz_tensor_same_shape(&a->data, &b->data)) {
    gz_fail(e, GZ_EINVAL, "%s: shapes %s and %s differ", name, gz_tensor_shape_str(&a->data, sa, sizeof sa),
            gz_tensor_shape_str(&b->data, sb, sizeof sb));
    return NULL;
  }
  if (contiguous && (!gz_tensor_is_contiguous(&a->data) || !gz_tensor_is_contiguous(&b->data))) {
    gz_fail(e, GZ_EINVAL, "%s: inputs must be contiguous", name);
    return NULL;
  }
  gz_node n = node(op, 2, a, b, NULL);
  return run(t, &n, a->data.ndim, a->data.shape, e);
}

gz_value *gz_ag_add(gz_tape *t, gz_value *a, gz_value *b, gz_err *e) { return binary(t, GZ_OP_ADD, a, b, 0, e); }

/* The in-place variants: the output value's storage is the first input's. */
static gz_value *inplace(gz_tape *t, gz_node *n, gz_value *x, gz_err *e) {
  n->a.inplace = 1;
  if (!(n->out = gz_arena_alloc(t->arena, sizeof *n->out, e))) return NULL;
  memset(n->out, 0, sizeof *n->out);
  n->out->data = x->data;
  return gz_tape_run(t, n, e) ? NULL : n->out;
}

gz_value *gz_ag_add_(gz_tape *t, gz_value *a, gz_value *b, gz_err *e) {
  char sa[64], sb[64];
  if (!a || !b) {
    missing("add", e);
    return NULL;
  }
  if (a == b || !gz_tensor_same_shape(&a->data, &b->data)) {
    gz_fail(e, GZ_EINVAL, "add (in place): shapes %s and %s differ, or a is b",
            gz_tensor_shape_str(&a->data, sa, sizeof sa), gz_tensor_shape_str(&b->data, sb, sizeof sb));
    return NULL;
  }
  gz_node n = node(GZ_OP_ADD, 2, a, b, NULL);
  return inplace(t, &n, a, e);
}
gz_value *gz_ag_mul(gz_tape *t, gz_value *a, gz_value *b, gz_err *e) { return binary(t, GZ_OP_MUL, a, b, 1, e); }
gz_value *gz_ag_bce_logits(gz_tape *t, gz_value *x, gz_value *target, gz_err *e) {
  return binary(t, GZ_OP_BCE_LOGITS, x, target, 0, e);
}

gz_value *gz_ag_scale(gz_tape *t, gz_value *x, float c, gz_err *e) {
  if (!x) {
    missing("scale", e);
    return NULL;
  }
  if (!gz_tensor_is_contiguous(&x->data)) {
    gz_fail(e, GZ_EINVAL, "scale: input must be a contiguous tensor");
    return NULL;
  }
  gz_node n = node(GZ_OP_SCALE, 1, x, NULL, NULL);
  n.a.scale = c;
  return run(t, &n, x->data.ndim, x->data.shape, e);
}

static gz_value *pool(gz_tape *t, gz_value *x, const gz_pool2d *p, int64_t oh, int64_t ow, gz_err *e) {
  gz_node n = node(GZ_OP_MAXPOOL, 1, x, NULL, NULL);
  n.a.pool = *p;
  int64_t shape[4] = {x->data.shape[0], x->data.shape[1], oh, ow};
  size_t cnt = (size_t)(shape[0] * shape[1] * oh * ow);
  if (!(n.idx = gz_arena_alloc(t->arena, cnt * sizeof(int32_t), e))) return NULL;
  return run(t, &n, 4, shape, e);
}

gz_value *gz_ag_maxpool(gz_tape *t, gz_value *x, const gz_pool2d *p, gz_err *e) {
  if (need4("max-pool", x, e)) return NULL;
  if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 || p->ph < 0 || p->pw < 0 || 2 * p->ph > p->kh ||
      2 * p->pw > p->kw || x->data.shape[2] + 2 * p->ph < p->kh || x->data.shape[3] + 2 * p->pw < p->kw) {
    gz_fail(e, GZ_EINVAL, "max-pool: kernel %dx%d, stride %dx%d, padding %dx%d do not fit a %lldx%lld input", p->kh,
            p->kw, p->sh, p->sw, p->ph, p->pw, (long long)x->data.shape[2], (long long)x->data.shape[3]);
    return NULL;
  }
  int64_t oh = (x->data.shape[2] + 2 * p->ph - p->kh) / p->sh + 1, ow = (x->data.shape[3] + 2 * p->pw - p->kw) / p->sw + 1;
  return pool(t, x, p, oh, ow, e);
}

gz_value *gz_ag_adaptive_maxpool(gz_tape *t, gz_value *x, int64_t oh, int64_t ow, gz_err *e) {
  if (need4("adaptive max-pool", x, e)) return NULL;
  if (oh < 1 || ow < 1 || x->data.shape[2] % oh || x->data.shape[3] % ow) {
    gz_fail(e, GZ_EINVAL, "adaptive max-pool: output %lldx%lld does not divide the input %lldx%lld", (long long)oh,
            (long long)ow, (long long)x->data.shape[2], (long long)x->data.shape[3]);
    return NULL;
  }
  int fh = (int)(x->data.shape[2] / oh), fw = (int)(x->data.shape[3] / ow);
  gz_pool2d p = {fh, fw, fh, fw, 0, 0};
  return pool(t, x, &p, oh, ow, e);
}

static gz_value *upsample(gz_tape *t, gz_op op, gz_value *x, int64_t oh, int64_t ow, gz_err *e) {
  if (need4(gz_op_table[op].name, x, e)) return NULL;
  if (oh < 1 || ow < 1) {
    gz_fail(e, GZ_EINVAL, "%s: output size %lldx%lld", gz_op_table[op].name, (long long)oh, (long long)ow);
    return NULL;
  }
  gz_node n = node(op, 1, x, NULL, NULL);
  int64_t shape[4] = {x->data.shape[0], x->data.shape[1], oh, ow};
  return run(t, &n, 4, shape, e);
}

gz_value *gz_ag_upsample_nearest(gz_tape *t, gz_value *x, int64_t oh, int64_t ow, gz_err *e) {
  return upsample(t, GZ_OP_UP_NEAREST, x, oh, ow, e);
}
gz_value *gz_ag_upsample_bilinear(gz_tape *t, gz_value *x, int64_t oh, int64_t ow, gz_err *e) {
  return upsample(t, GZ_OP_UP_BILINEAR, x, oh, ow, e);
}

gz_value *gz_ag_concat(gz_tape *t, gz_value *const *xs, int k, gz_err *e) {
  if (k < 1 || k > GZ_NODE_MAX_IN) {
    gz_fail(e, GZ_EINVAL, "cat: %d inputs (1 to %d supported)", k, GZ_NODE_MAX_IN);
    return NULL;
  }
  gz_node n = node(GZ_OP_CONCAT, k, NULL, NULL, NULL);
  int64_t shape[4];
  for (int i = 0; i < k; i++) {
    if (need4("cat", xs[i], e)) return NULL;
    const int64_t *s = xs[i]->data.shape;
    if (i == 0) memcpy(shape, s, sizeof shape);
    else if (s[0] != shape[0] || s[2] != shape[2] || s[3] != shape[3]) {
      gz_fail(e, GZ_EINVAL, "cat: input %d differs from input 0 in batch or spatial size", i);
      return NULL;
    } else
      shape[1] += s[1];
    n.in[i] = xs[i];
  }
  return run(t, &n, 4, shape, e);
}

gz_value *gz_ag_linear(gz_tape *t, gz_value *x, gz_value *w, gz_value *b, gz_err *e) {
  if (!x) {
    missing("linear", e);
    return NULL;
  }
  if (!x || !w || x->data.ndim != 2 || w->data.ndim != 2 || x->data.shape[1] != w->data.shape[1] ||
      !gz_tensor_is_contiguous(&x->data) || !gz_tensor_is_contiguous(&w->data)) {
    gz_fail(e, GZ_EINVAL, "linear: needs contiguous x [N, K] and W [M, K] with the same K");
    return NULL;
  }
  if (b && need_len("linear", "bias", b, w->data.shape[0], e)) return NULL;
  gz_node n = node(GZ_OP_LINEAR, 3, x, w, b);
  int64_t shape[2] = {x->data.shape[0], w->data.shape[0]};
  return run(t, &n, 2, shape, e);
}

static gz_value *reduce(gz_tape *t, gz_op op, gz_value *x, unsigned axes, gz_err *e) {
  if (!x) {
    missing(gz_op_table[op].name, e);
    return NULL;
  }
  if (!x || !gz_tensor_is_contiguous(&x->data) || axes == 0 || axes >> x->data.ndim) {
    gz_fail(e, GZ_EINVAL, "%s: needs a contiguous input and axes among its %d dims", gz_op_table[op].name,
            x ? x->data.ndim : 0);
    return NULL;
  }
  gz_node n = node(op, 1, x, NULL, NULL);
  n.a.axes = axes;
  int64_t shape[GZ_MAX_DIMS];
  for (int d = 0; d < x->data.ndim; d++) shape[d] = (axes >> d & 1) ? 1 : x->data.shape[d];
  return run(t, &n, x->data.ndim, shape, e);
}

gz_value *gz_ag_sum(gz_tape *t, gz_value *x, unsigned axes, gz_err *e) { return reduce(t, GZ_OP_SUM, x, axes, e); }
gz_value *gz_ag_mean(gz_tape *t, gz_value *x, unsigned axes, gz_err *e) { return reduce(t, GZ_OP_MEAN, x, axes, e); }

gz_value *gz_ag_reshape(gz_tape *t, gz_value *x, int ndim, const int64_t *shape, gz_err *e) {
  gz_tensor v;
  if (!x) {
    missing("reshape", e);
    return NULL;
  }
  if (gz_tensor_reshape(&x->data, ndim, shape, &v, e)) return NULL;
  gz_node n = node(GZ_OP_RESHAPE, 1, x, NULL, NULL);
  gz_value *out = gz_arena_alloc(t->arena, sizeof *out, e);
  if (!out) return NULL;
  memset(out, 0, sizeof *out);
  out->data = v;
  n.out = out;
  return gz_tape_run(t, &n, e) ? NULL : out;
}
