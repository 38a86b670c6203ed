/* The validated entry points: check shapes, layouts and devices, then run the kernel of the tensor's
 * device table. Kernels themselves never fail; everything that can go wrong is caught here with a
 * message that names the op, the argument and the shapes. */
#include <string.h>

#include "tensor/ops_internal.h"

/* ---------------------------------------------------------------- dispatch */

const gz_ops_table *gz_ops_cpu(int isa) {
  switch (isa) {
  case GZ_ISA_REFERENCE: return gz_ops_reference();
  case GZ_ISA_SCALAR: return &gz_ops_table_scalar;
  case GZ_ISA_AVX2: return (gz_cpu_features() & (GZ_CPU_AVX2 | GZ_CPU_FMA)) == (GZ_CPU_AVX2 | GZ_CPU_FMA) ? &gz_ops_table_avx2 : NULL;
  case GZ_ISA_AVX512: {
    unsigned need = GZ_CPU_AVX2 | GZ_CPU_FMA | GZ_CPU_AVX512F | GZ_CPU_AVX512BW | GZ_CPU_AVX512VL | GZ_CPU_AVX512DQ;
    return (gz_cpu_features() & need) == need ? &gz_ops_table_avx512 : NULL;
  }
  default: return NULL;
  }
}

const gz_ops_table *gz_ops_for(gz_device dev, gz_err *e) {
  if (dev == GZ_DEVICE_CPU) {
    int isa;
    if (gz_isa_active(&isa, e)) return NULL;
    return gz_ops_cpu(isa);
  }
  if (dev == GZ_DEVICE_CUDA) return gz_fail(e, GZ_EUNSUPPORTED, "tensor ops: this build has no CUDA backend"), NULL;
  return gz_fail(e, GZ_EINVAL, "tensor ops: unknown device %d", (int)dev), NULL;
}

/* ---------------------------------------------------------------- checks */

static int need_layout(const char *op, const char *arg, const gz_tensor *t, int ndim, gz_err *e) {
  char b[64];
  if (!t || !t->data) return gz_fail(e, GZ_EINVAL, "%s: %s is missing", op, arg);
  if (ndim && t->ndim != ndim)
    return gz_fail(e, GZ_EINVAL, "%s: %s must have %d dims, got %s", op, arg, ndim, gz_tensor_shape_str(t, b, sizeof b));
  if (!gz_tensor_is_batch_contiguous(t))
    return gz_fail(e, GZ_EINVAL, "%s: %s (%s) is a strided view; copy it to a batch-contiguous tensor first", op, arg,
                   gz_tensor_shape_str(t, b, sizeof b));
  return 0;
}

static int need_same(const char *op, const char *an, const gz_tensor *a, const char *bn, const gz_tensor *b, gz_err *e) {
  char x[64], y[64];
  if (!gz_tensor_same_shape(a, b))
    return gz_fail(e, GZ_EINVAL, "%s: %s is %s but %s is %s", op, an, gz_tensor_shape_str(a, x, sizeof x), bn,
                   gz_tensor_shape_str(b, y, sizeof y));
  if (a->device != b->device) return gz_fail(e, GZ_EINVAL, "%s: %s and %s are on different devices", op, an, bn);
  return 0;
}

/* Table of x's device, with x's layout checked. */
static const gz_ops_table *table(const char *op, const gz_tensor *x, int ndim, gz_err *e) {
  if (need_layout(op, "x", x, ndim, e)) return NULL;
  const gz_ops_table *t = gz_ops_for(x->device, e);
  if (!t) gz_err_prefix(e, "%s", op);
  return t;
}

#define TRY(x) \
  do {         \
    if (x) return -1; \
  } while (0)

/* ---------------------------------------------------------------- batch norm */

int gz_bn_fwd_train(const gz_tensor *x, const float *gamma, const float *beta, float eps, gz_tensor *y, float *mean,
                    float *var, gz_err *e) {
  const gz_ops_table *t = table("batch norm", x, 4, e);
  if (!t) return -1;
  TRY(need_layout("batch norm", "y", y, 4, e) || need_same("batch norm", "x", x, "y", y, e));
  if (!gamma || !beta || !mean || !var) return gz_fail(e, GZ_EINVAL, "batch norm: gamma, beta, mean and var are required");
  if (!(eps > 0)) return gz_fail(e, GZ_ERANGE, "batch norm: eps must be positive, got %g", (double)eps);
  if (x->shape[0] * x->shape[2] * x->shape[3] < 2) /* as PyTorch: a variance needs two values */
    return gz_fail(e, GZ_EINVAL, "batch norm: training needs more than one value per channel, got input %s",
                   gz_tensor_shape_str(x, (char[64]){0}, 64));
  t->bn_fwd_train(x, gamma, beta, eps, y, mean, var);
  return 0;
}

int gz_bn_fwd_eval(const gz_tensor *x, const float *gamma, const float *beta, const float *rm, const float *rv, float eps,
                   gz_tensor *y, gz_err *e) {
  const gz_ops_table *t = table("batch norm (eval)", x, 4, e);
  if (!t) return -1;
  TRY(need_layout("batch norm (eval)", "y", y, 4, e) || need_same("batch norm (eval)", "x", x, "y", y, e));
  if (!gamma || !beta || !rm || !rv) return gz_fail(e, GZ_EINVAL, "batch norm (eval): gamma, beta and running stats are required");
  if (!(eps > 0)) return gz_fail(e, GZ_ERANGE, "batch norm (eval): eps must be positive, got %g", (double)eps);
  t->bn_fwd_eval(x, gamma, beta, rm, rv, eps, y);
  return 0;
}

/* PyTorch: running = (1 - momentum) running + momentum batch, with the unbiased batch variance. */
void gz_bn_update_running(float *rm, float *rv, const float *mean, const float *var, int64_t c, int64_t m, float momentum) {
  double unbias = m > 1 ? (double)m / (double)(m - 1) : 1.0;
  for (int64_t i = 0; i < c; i++) {
    rm[i] = (float)((1.0 - momentum) * rm[i] + (double)momentum * mean[i]);
    rv[i] = (float)((1.0 - momentum) * rv[i] + (double)momentum * var[i] * unbias);
  }
}

int gz_bn_bwd(const gz_tensor *x, const gz_tensor *dy, const float *gamma, const float *mean, const float *var, float eps,
              int training, gz_tensor *dx, float *dgamma, float *dbeta, int accumulate, gz_err *e) {
  const char *op = "batch norm backward";
  const gz_ops_table *t = table(op, x, 4, e);
  if (!t) return -1;
  TRY(need_layout(op, "dy", dy, 4, e) || need_same(op, "x", x, "dy", dy, e));
  if (dx) TRY(need_layout(op, "dx", dx, 4, e) || need_same(op, "x", x, "dx", dx, e));
  if (!gamma || !mean || !var) return gz_fail(e, GZ_EINVAL, "%s: gamma, mean and var are required", op);
  if (!(eps > 0)) return gz_fail(e, GZ_ERANGE, "%s: eps must be positive, got %g", op, (double)eps);
  t->bn_bwd(x, dy, gamma, mean, var, eps, training, dx, dgamma, dbeta, accumulate);
  return 0;
}

/* ---------------------------------------------------------------- elementwise */

int gz_relu_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e) {
  const gz_ops_table *t = table("relu", x, 0, e);
  if (!t) return -1;
  TRY(need_layout("relu", "y", y, 0, e) || need_same("relu", "x", x, "y", y, e));
  t->relu_fwd(x, y);
  return 0;
}

static int check3(const char *op, const char *an, const gz_tensor *a, const char *bn, const gz_tensor *b, const char *cn,
                  const gz_tensor *c, const gz_ops_table **t, gz_err *e) {
  if (!(*t = table(op, a, 0, e))) return -1;
  TRY(need_layout(op, bn, b, 0, e) || need_same(op, an, a, bn, b, e));
  TRY(need_layout(op, cn, c, 0, e) || need_same(op, an, a, cn, c, e));
  return 0;
}

int gz_relu_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e) {
  const gz_ops_table *t;
  TRY(check3("relu backward", "y", y, "dy", dy, "dx", dx, &t, e));
  t->relu_bwd(y, dy, dx, accumulate);
  return 0;
}

int gz_add(const gz_tensor *a, const gz_tensor *b, gz_tensor *y, gz_err *e) {
  const gz_ops_table *t;
  TRY(check3("add", "a", a, "b", b, "y", y, &t, e));
  t->add(a, b, y);
  return 0;
}

int gz_tensor_copy(const gz_tensor *src, gz_tensor *dst, gz_err *e) {
  char x[64], y[64];
  if (gz_tensor_numel(src) != gz_tensor_numel(dst) || !gz_tensor_same_shape(src, dst))
    return gz_fail(e, GZ_EINVAL, "copy: source %s and destination %s differ", gz_tensor_shape_str(src, x, sizeof x),
                   gz_tensor_shape_str(dst, y, sizeof y));
  const gz_ops_table *t = gz_ops_for(src->device, e);
  if (!t || dst->device != src->device) return t ? gz_fail(e, GZ_EINVAL, "copy: tensors on different devices") : -1;
  t->copy(src, dst);
  return 0;
}

int gz_sigmoid_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e) {
  const gz_ops_table *t = table("sigmoid", x, 0, e);
  if (!t) return -1;
  TRY(need_layout("sigmoid", "y", y, 0, e) || need_same("sigmoid", "x", x, "y", y, e));
  t->sigmoid_fwd(x, y);
  return 0;
}
int gz_sigmoid_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e) {
  const gz_ops_table *t;
  TRY(check3("sigmoid backward", "y", y, "dy", dy, "dx", dx, &t, e));
  t->sigmoid_bwd(y, dy, dx, accumulate);
  return 0;
}
int gz_logsigmoid_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e) {
  const gz_ops_table *t = table("log-sigmoid", x, 0, e);
  if (!t) return -1;
  TRY(need_layout("log-sigmoid", "y", y, 0, e) || need_same("log-sigmoid", "x", x, "y", y, e));
  t->logsigmoid_fwd(x, y);
  return 0;
}
int gz_logsigmoid_bwd(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e) {
  const gz_ops_table *t;
  TRY(check3("log-sigmoid backward", "x", x, "dy", dy, "dx", dx, &t, e));
  t->logsigmoid_bwd(x, dy, dx, accumulate);
  return 0;
}
int gz_bce_logits_fwd(const gz_tensor *x, const gz_tensor *tg, gz_tensor *loss, gz_err *e) {
  const gz_ops_table *t;
  TRY(check3("BCE with logits", "x", x, "target", tg, "loss", loss, &t, e));
  t->bce_logits_fwd(x, tg, loss);
  return 0;
}
int gz_bce_logits_bwd(const gz_tensor *x, const gz_tensor *tg, const gz_tensor *dloss, float scale, gz_tensor *dx,
                      int accumulate, gz_err *e) {
  const gz_ops_table *t;
  TRY(check3("BCE with logits backward", "x", x, "target", tg, "dx", dx, &t, e));
  if (dloss) TRY(need_layout("BCE with logits backward", "dloss", dloss, 0, e) ||
                 need_same("BCE with logits backward", "x", x, "dloss", dloss, e));
  t->bce_logits_bwd(x, tg, dloss, scale, dx, accumulate);
  return 0;
}

/* ---------------------------------------------------------------- pooling and upsampling */

int gz_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx, gz_err *e) {
  const char *op = "max-pool";
  char b[64], c[64];
  const gz_ops_table *t = table(op, x, 4, e);
  if (!t) return -1;
  TRY(need_layout(op, "y", y, 4, e));
  if (!idx) return gz_fail(e, GZ_EINVAL, "%s: the index buffer is missing", op);
  if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 || p->ph < 0 || p->pw < 0)
    return gz_fail(e, GZ_ERANGE, "%s: kernel %dx%d, stride %dx%d, padding %dx%d is impossible", op, p->kh, p->kw, p->sh, p->sw,
                   p->ph, p->pw);
  if (2 * p->ph > p->kh || 2 * p->pw > p->kw)
    return gz_fail(e, GZ_ERANGE, "%s: padding %dx%d is more than half the kernel %dx%d", op, p->ph, p->pw, p->kh, p->kw);
  int64_t H = x->shape[2], W = x->shape[3];
  if (H + 2 * p->ph < p->kh || W + 2 * p->pw < p->kw)
    return gz_fail(e, GZ_ERANGE, "%s: kernel %dx%d does not fit the padded input %s", op, p->kh, p->kw, gz_tensor_shape_str(x, b, sizeof b));
  if (H * W > INT32_MAX) return gz_fail(e, GZ_ERANGE, "%s: a %lldx%lld plane is too large for int32 indices", op, (long long)H, (long long)W);
  int64_t OH = (H + 2 * p->ph - p->kh) / p->sh + 1, OW = (W + 2 * p->pw - p->kw) / p->sw + 1;
  if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || y->shape[2] != OH || y->shape[3] != OW)
    return gz_fail(e, GZ_EINVAL, "%s: input %s needs an output of %lldx%lldx%lldx%lld, got %s", op, gz_tensor_shape_str(x, b, sizeof b),
                   (long long)x->shape[0], (long long)x->shape[1], (long long)OH, (long long)OW, gz_tensor_shape_str(y, c, sizeof c));
  t->maxpool_fwd(x, p, y, idx);
  return 0;
}

int gz_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate, gz_err *e) {
  const char *op = "max-pool backward";
  const gz_ops_table *t = table(op, dy, 4, e);
  if (!t) return -1;
  TRY(need_layout(op, "dx", dx, 4, e));
  if (!idx) return gz_fail(e, GZ_EINVAL, "%s: the index buffer is missing", op);
  if (dy->shape[0] != dx->shape[0] || dy->shape[1] != dx->shape[1])
    return gz_fail(e, GZ_EINVAL, "%s: dy and dx differ in batch or channels", op);
  int64_t bad = t->maxpool_bwd(dy, idx, dx, accumulate);
  if (bad >= 0) {
    const int64_t C = dy->shape[1], OHW = dy->shape[2] * dy->shape[3];
    return gz_fail(e, GZ_ERANGE,
                   "%s: index %d at output %lld of image %lld, channel %lld is outside the %lldx%lld input plane", op,
                   idx[bad], (long long)(bad % OHW), (long long)(bad / OHW / C), (long long)(bad / OHW % C),
                   (long long)dx->shape[2], (long long)dx->shape[3]);
  }
  return 0;
}

int gz_maxpool3s2_fwd(const gz_tensor *x, gz_tensor *y, int32_t *idx, gz_err *e) {
  gz_pool2d p = {3, 3, 2, 2, 1, 1};
  return gz_maxpool_fwd(x, &p, y, idx, e);
}

int gz_adaptive_maxpool_fwd(const gz_tensor *x, gz_tensor *y, int32_t *idx, gz_err *e) {
  char b[64], c[64];
  if (need_layout("adaptive max-pool", "x", x, 4, e) || need_layout("adaptive max-pool", "y", y, 4, e)) return -1;
  if (x->shape[2] % y->shape[2] || x->shape[3] % y->shape[3])
    return gz_fail(e, GZ_EINVAL, "adaptive max-pool: input %s is not an integer multiple of output %s", gz_tensor_shape_str(x, b, sizeof b),
                   gz_tensor_shape_str(y, c, sizeof c));
  int fh = (int)(x->shape[2] / y->shape[2]), fw = (int)(x->shape[3] / y->shape[3]);
  gz_pool2d p = {fh, fw, fh, fw, 0, 0};
  return gz_maxpool_fwd(x, &p, y, idx, e);
}

static int check_resize(const char *op, const gz_tensor *small, const gz_tensor *big, const gz_ops_table **t, gz_err *e) {
  if (!(*t = table(op, small, 4, e))) return -1;
  TRY(need_layout(op, "output", big, 4, e));
  if (small->shape[0] != big->shape[0] || small->shape[1] != big->shape[1])
    return gz_fail(e, GZ_EINVAL, "%s: input and output differ in batch or channels", op);
  if (big->device != small->device) return gz_fail(e, GZ_EINVAL, "%s: tensors on different devices", op);
  if (big->shape[3] > INT32_MAX || small->shape[3] > INT32_MAX) return gz_fail(e, GZ_ERANGE, "%s: rows too wide", op);
  return 0;
}

int gz_upsample_nearest_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e) {
  const gz_ops_table *t;
  TRY(check_resize("nearest upsampling", x, y, &t, e));
  t->up_nearest_fwd(x, y);
  return 0;
}
int gz_upsample_nearest_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e) {
  const gz_ops_table *t;
  TRY(check_resize("nearest upsampling backward", dy, dx, &t, e));
  t->up_nearest_bwd(dy, dx, accumulate);
  return 0;
}
int gz_upsample_bilinear_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e) {
  const gz_ops_table *t;
  TRY(check_resize("bilinear upsampling", x, y, &t, e));
  t->up_bilinear_fwd(x, y);
  return 0;
}
int gz_upsample_bilinear_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e) {
  const gz_ops_table *t;
  TRY(check_resize("bilinear upsampling backward", dy, dx, &t, e));
  t->up_bilinear_bwd(dy, dx, accumulate);
  return 0;
}

/* ---------------------------------------------------------------- concatenation */

static int concat_check(const gz_tensor *y, const gz_tensor *const *xs, int k, const char *op, gz_err *e) {
  char b[64], c[64];
  if (need_layout(op, "y", y, 4, e)) return -1;
  int64_t ct = 0;
  for (int i = 0; i < k; i++) {
    if (!xs[i]) continue;
    if (need_layout(op, "an input", xs[i], 4, e)) return -1;
    if (xs[i]->shape[0] != y->shape[0] || xs[i]->shape[2] != y->shape[2] || xs[i]->shape[3] != y->shape[3])
      return gz_fail(e, GZ_EINVAL, "%s: input %d is %s, the output %s", op, i, gz_tensor_shape_str(xs[i], b, sizeof b),
                     gz_tensor_shape_str(y, c, sizeof c));
  }
  for (int i = 0; i < k; i++) ct += xs[i] ? xs[i]->shape[1] : 0;
  if (k < 1 || ct != y->shape[1])
    return gz_fail(e, GZ_EINVAL, "%s: the inputs have %lld channels in all, the output %lld", op, (long long)ct, (long long)y->shape[1]);
  return 0;
}

int gz_concat_fwd(const gz_tensor *const *xs, int k, gz_tensor *y, gz_err *e) {
  for (int i = 0; i < k; i++)
    if (!xs[i]) return gz_fail(e, GZ_EINVAL, "concat: input %d is missing", i);
  TRY(concat_check(y, xs, k, "concat", e));
  int64_t c0 = 0;
  for (int i = 0; i < k; i++) {
    gz_tensor v;
    TRY(gz_tensor_channels(y, c0, xs[i]->shape[1], &v, e));
    c0 += xs[i]->shape[1];
    if (v.data == xs[i]->data && v.stride[0] == xs[i]->stride[0]) continue; /* written in place by its producer */
    TRY(gz_tensor_copy(xs[i], &v, e));
  }
  return 0;
}

int gz_concat_bwd(const gz_tensor *dy, gz_tensor *const *dxs, int k, int accumulate, gz_err *e) {
  if (need_layout("concat backward", "dy", dy, 4, e)) return -1;
  int64_t c0 = 0;
  for (int i = 0; i < k; i++) {
    if (!dxs[i]) return gz_fail(e, GZ_EINVAL, "concat backward: dx %d is missing (its shape is needed)", i);
    if (need_layout("concat backward", "dx", dxs[i], 4, e)) return -1;
    gz_tensor v;
    if (c0 + dxs[i]->shape[1] > dy->shape[1]) return gz_fail(e, GZ_EINVAL, "concat backward: the dx have more channels than dy");
    TRY(gz_tensor_channels(dy, c0, dxs[i]->shape[1], &v, e));
    c0 += dxs[i]->shape[1];
    TRY(accumulate ? gz_add(dxs[i], &v, dxs[i], e) : gz_tensor_copy(&v, dxs[i], e));
  }
  if (c0 != dy->shape[1]) return gz_fail(e, GZ_EINVAL, "concat backward: the dx have %lld channels, dy %lld", (long long)c0, (long long)dy->shape[1]);
  return 0;
}

/* ---------------------------------------------------------------- reductions and the optimizer */

int gz_reduce(const gz_tensor *x, unsigned axes, gz_reduce_op op, gz_tensor *y, double *ws, size_t ws_len, gz_err *e) {
  char b[64], c[64];
  if (!x || !x->data || !y || !y->data) return gz_fail(e, GZ_EINVAL, "reduce: x or y is missing");
  if (axes >> x->ndim) return gz_fail(e, GZ_EINVAL, "reduce: axes 0x%x name dims a %d-dim tensor lacks", axes, x->ndim);
  if (op != GZ_REDUCE_SUM && op != GZ_REDUCE_MEAN && op != GZ_REDUCE_MAX) return gz_fail(e, GZ_EINVAL, "reduce: unknown op %d", (int)op);
  int ok = y->ndim == x->ndim && gz_tensor_is_contiguous(y);
  for (int d = 0; ok && d < x->ndim; d++) ok = y->shape[d] == (axes >> d & 1 ? 1 : x->shape[d]);
  if (!ok)
    return gz_fail(e, GZ_EINVAL, "reduce: x is %s, reducing axes 0x%x needs a contiguous y of the kept shape, got %s",
                   gz_tensor_shape_str(x, b, sizeof b), axes, gz_tensor_shape_str(y, c, sizeof c));
  size_t need = gz_reduce_ws(x, axes);
  if (need > ws_len || (need && !ws)) return gz_fail(e, GZ_EINVAL, "reduce: needs a workspace of %zu doubles, got %zu", need, ws_len);
  const gz_ops_table *t = gz_ops_for(x->device, e);
  if (!t) return -1;
  t->reduce(x, axes, op, y, ws);
  return 0;
}

int gz_amsgrad_step(float *param, const float *grad, float *m, float *v, float *vmax, size_t n, const gz_adam_hp *hp,
                    gz_err *e) {
  if (!param || !grad || !m || !v || !vmax) return gz_fail(e, GZ_EINVAL, "amsgrad: a buffer is missing");
  if (hp->step < 1) return gz_fail(e, GZ_ERANGE, "amsgrad: step counts from 1, got %lld", (long long)hp->step);
  if (!(hp->lr >= 0) || !(hp->eps > 0) || !(hp->beta1 >= 0 && hp->beta1 < 1) || !(hp->beta2 >= 0 && hp->beta2 < 1) ||
      !(hp->weight_decay >= 0))
    return gz_fail(e, GZ_ERANGE, "amsgrad: lr %g, betas (%g, %g), eps %g, weight decay %g out of range", hp->lr, hp->beta1,
                   hp->beta2, hp->eps, hp->weight_decay);
  if (n > (size_t)INT64_MAX) return gz_fail(e, GZ_ERANGE, "amsgrad: %zu elements", n);
  const gz_ops_table *t = gz_ops_for(GZ_DEVICE_CPU, e);
  if (!t) return -1;
  t->amsgrad(param, grad, m, v, vmax, n, hp);
  return 0;
}
