/* Conv2d, BatchNorm2d and Linear with PyTorch's semantics and torchvision's initialization. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn.h"

static int named(char *buf, size_t n, const char *prefix, const char *leaf) {
  return snprintf(buf, n, "%s.%s", prefix, leaf) >= (int)n ? -1 : 0;
}

int gz_conv_init(gz_model *m, gz_conv_layer *c, const char *name, int ic, int oc, int k, int stride, int pad,
                 int bias, gz_err *e) {
  char buf[128];
  memset(c, 0, sizeof *c);
  c->has_bias = bias, c->stride = stride, c->pad = pad;
  int64_t ws[4] = {oc, ic, k, k}, bs[1] = {oc};
  if (named(buf, sizeof buf, name, "weight") || gz_model_param(m, buf, 4, ws, &c->w, e)) return -1;
  if (bias && (named(buf, sizeof buf, name, "bias") || gz_model_param(m, buf, 1, bs, &c->b, e))) return -1;
  if (m->counting) return 0;
  /* kaiming_normal_(mode='fan_out', nonlinearity='relu'): std = gain / sqrt(fan_out), gain = sqrt(2) */
  double std = sqrt(2.0 / ((double)oc * k * k));
  int64_t n = gz_tensor_numel(&c->w.data);
  for (int64_t i = 0; i < n; i++) c->w.data.data[i] = (float)(std * gz_rng_normal(&m->init_rng));
  return 0; /* bias: zero (the arena is zero-filled) */
}

gz_value *gz_conv_forward(gz_tape *t, gz_conv_layer *c, gz_value *x, gz_err *e) {
  return gz_ag_conv2d(t, x, &c->w, c->has_bias ? &c->b : NULL, c->stride, c->pad, e);
}

int gz_bn_init(gz_model *m, gz_bn_layer *b, const char *name, int c, gz_err *e) {
  char buf[128];
  memset(b, 0, sizeof *b);
  b->c = c, b->eps = 1e-5f, b->momentum = 0.1f;
  int64_t s[1] = {c};
  void *rm, *rv, *nbt;
  if (named(buf, sizeof buf, name, "weight") || gz_model_param(m, buf, 1, s, &b->gamma, e)) return -1;
  if (named(buf, sizeof buf, name, "bias") || gz_model_param(m, buf, 1, s, &b->beta, e)) return -1;
  if (named(buf, sizeof buf, name, "running_mean") || gz_model_buffer(m, buf, GZ_F32, 1, s, &rm, e)) return -1;
  if (named(buf, sizeof buf, name, "running_var") || gz_model_buffer(m, buf, GZ_F32, 1, s, &rv, e)) return -1;
  if (named(buf, sizeof buf, name, "num_batches_tracked") || gz_model_buffer(m, buf, GZ_I64, 0, NULL, &nbt, e))
    return -1;
  if (m->counting) return 0;
  b->running_mean = rm, b->running_var = rv, b->num_batches_tracked = nbt;
  for (int i = 0; i < c; i++) b->gamma.data.data[i] = 1.0f, b->running_var[i] = 1.0f;
  return 0; /* beta, running_mean, num_batches_tracked: zero */
}

gz_value *gz_bn_forward(gz_tape *t, gz_bn_layer *b, gz_value *x, int training, gz_err *e) {
  if (!training) return gz_ag_bn_eval(t, x, &b->gamma, &b->beta, b->running_mean, b->running_var, b->eps, e);
  const float *mean, *var;
  gz_value *y = gz_ag_bn_train(t, x, &b->gamma, &b->beta, b->eps, &mean, &var, e);
  if (!y) return NULL;
  /* running = (1 - momentum) running + momentum batch, the variance unbiased (PyTorch's _BatchNorm) */
  int64_t m = gz_tape_global_batch(t, x->data.shape[0]) * x->data.shape[2] * x->data.shape[3]; /* SyncBN: global M */
  gz_bn_update_running(b->running_mean, b->running_var, mean, var, b->c, m, b->momentum);
  ++*b->num_batches_tracked;
  return y;
}

int gz_linear_init(gz_model *m, gz_linear_layer *l, const char *name, int in, int out, int bias, gz_err *e) {
  char buf[128];
  memset(l, 0, sizeof *l);
  l->has_bias = bias;
  int64_t ws[2] = {out, in}, bs[1] = {out};
  if (named(buf, sizeof buf, name, "weight") || gz_model_param(m, buf, 2, ws, &l->w, e)) return -1;
  if (bias && (named(buf, sizeof buf, name, "bias") || gz_model_param(m, buf, 1, bs, &l->b, e))) return -1;
  if (m->counting) return 0;
  /* nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in); the bias too */
  double bound = 1.0 / sqrt((double)in);
  int64_t n = gz_tensor_numel(&l->w.data);
  for (int64_t i = 0; i < n; i++) l->w.data.data[i] = (float)gz_rng_range(&m->init_rng, -bound, bound);
  if (bias)
    for (int i = 0; i < out; i++) l->b.data.data[i] = (float)gz_rng_range(&m->init_rng, -bound, bound);
  return 0;
}

gz_value *gz_linear_forward(gz_tape *t, gz_linear_layer *l, gz_value *x, gz_err *e) {
  return gz_ag_linear(t, x, &l->w, l->has_bias ? &l->b : NULL, e);
}
