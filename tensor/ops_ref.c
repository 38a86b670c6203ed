/* Reference kernels: the plain definitions, single-threaded, accumulating in double. They are the audit
 * baseline the fast tables are tested against and are kept forever; clarity over speed. */
#include <math.h>
#include <string.h>

#include "tensor/ops_internal.h"

/* ---------------------------------------------------------------- scalar forms (shared) */

float gz_sigmoidf(float x) {
  double d = x;
  if (d >= 0) return (float)(1.0 / (1.0 + exp(-d)));
  double z = exp(d);
  return (float)(z / (1.0 + z));
}

float gz_logsigmoidf(float x) {
  double d = x;
  return (float)((d < 0 ? d : 0.0) - log1p(exp(-fabs(d))));
}

/* l = max(x,0) - x t + log1p(exp(-|x|)): never overflows, exact limit for large |x|. */
float gz_bce_logitsf(float x, float t) {
  double d = x;
  return (float)((d > 0 ? d : 0.0) - d * (double)t + log1p(exp(-fabs(d))));
}

/* ---------------------------------------------------------------- batch norm */

static void ref_bn_fwd_train(const gz_tensor *x, const float *gamma, const float *beta, float eps, gz_tensor *y,
                             float *mean, float *var) {
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  double M = (double)(N * HW);
  for (int64_t c = 0; c < C; c++) {
    double s = 0, q = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) s += gz_plane(x, n, c)[i];
    double mu = s / M;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) q += (gz_plane(x, n, c)[i] - mu) * (gz_plane(x, n, c)[i] - mu);
    double v = q / M, inv = 1.0 / sqrt(v + eps);
    mean[c] = (float)mu;
    var[c] = (float)v;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++)
        gz_plane(y, n, c)[i] = (float)((gz_plane(x, n, c)[i] - mu) * inv * gamma[c] + beta[c]);
  }
}

static void ref_bn_fwd_eval(const gz_tensor *x, const float *gamma, const float *beta, const float *mean,
                            const float *var, float eps, gz_tensor *y) {
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  for (int64_t c = 0; c < C; c++) {
    double inv = 1.0 / sqrt((double)var[c] + eps);
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++)
        gz_plane(y, n, c)[i] = (float)((gz_plane(x, n, c)[i] - (double)mean[c]) * inv * gamma[c] + beta[c]);
  }
}

/* Training: dx = gamma/sigma (dy - mean(dy) - xhat mean(dy xhat)); eval: dx = gamma/sigma dy.
 * dgamma = sum(dy xhat), dbeta = sum(dy) over (N, H, W). */
static void ref_bn_bwd(const gz_tensor *x, const gz_tensor *dy, const float *gamma, const float *mean, const float *var,
                       float eps, int training, gz_tensor *dx, float *dgamma, float *dbeta, int accumulate) {
  int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
  double M = (double)(N * HW);
  for (int64_t c = 0; c < C; c++) {
    double mu = mean[c], inv = 1.0 / sqrt((double)var[c] + eps), sdy = 0, sdyx = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) {
        double g = gz_plane(dy, n, c)[i];
        sdy += g;
        sdyx += g * (gz_plane(x, n, c)[i] - mu);
      }
    if (dbeta) dbeta[c] = (float)((accumulate ? dbeta[c] : 0.0) + sdy);
    if (dgamma) dgamma[c] = (float)((accumulate ? dgamma[c] : 0.0) + sdyx * inv);
    if (!dx) continue;
    double a = gamma[c] * inv;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) {
        double g = gz_plane(dy, n, c)[i], d = gz_plane(x, n, c)[i] - mu;
        double r = training ? a * (g - sdy / M - d * inv * inv * sdyx / M) : a * g;
        float *o = &gz_plane(dx, n, c)[i];
        *o = (float)((accumulate ? *o : 0.0) + r);
      }
  }
}

/* ---------------------------------------------------------------- elementwise */

/* Applies f to every element of same-shaped batch-contiguous tensors, in order. */
#define REF_ELT(ts, k, ...)                                 \
  do {                                                      \
    int64_t rows_, len_;                                    \
    gz_elt_rows(ts, k, &rows_, &len_);                      \
    for (int64_t r_ = 0; r_ < rows_; r_++)                  \
      for (int64_t j_ = 0; j_ < len_; j_++) {               \
        __VA_ARGS__                                         \
      }                                                     \
  } while (0)
#define AT(t) (gz_row((t), r_)[j_])

static void ref_relu_fwd(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  REF_ELT(ts, 2, { AT(y) = AT(x) < 0 ? 0.0f : AT(x); });
}
static void ref_relu_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int acc) {
  const gz_tensor *ts[] = {y, dy, dx};
  REF_ELT(ts, 3, {
    float g = AT(y) <= 0 ? 0.0f : AT(dy);
    AT(dx) = acc ? AT(dx) + g : g;
  });
}
static void ref_add(const gz_tensor *a, const gz_tensor *b, gz_tensor *y) {
  const gz_tensor *ts[] = {a, b, y};
  REF_ELT(ts, 3, { AT(y) = AT(a) + AT(b); });
}
static void ref_copy(const gz_tensor *src, gz_tensor *dst) {
  for (int64_t i0 = 0; i0 < src->shape[0]; i0++)
    for (int64_t i1 = 0; i1 < src->shape[1]; i1++)
      for (int64_t i2 = 0; i2 < src->shape[2]; i2++)
        for (int64_t i3 = 0; i3 < src->shape[3]; i3++)
          dst->data[i0 * dst->stride[0] + i1 * dst->stride[1] + i2 * dst->stride[2] + i3 * dst->stride[3]] =
              src->data[i0 * src->stride[0] + i1 * src->stride[1] + i2 * src->stride[2] + i3 * src->stride[3]];
}
static void ref_sigmoid_fwd(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  REF_ELT(ts, 2, { AT(y) = gz_sigmoidf(AT(x)); });
}
/* dx = dy * y (1 - y), from the saved output as PyTorch does. */
static void ref_sigmoid_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int acc) {
  const gz_tensor *ts[] = {y, dy, dx};
  REF_ELT(ts, 3, {
    float g = AT(dy) * (1.0f - AT(y)) * AT(y);
    AT(dx) = acc ? AT(dx) + g : g;
  });
}
static void ref_logsigmoid_fwd(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  REF_ELT(ts, 2, { AT(y) = gz_logsigmoidf(AT(x)); });
}
/* d/dx log sigmoid(x) = sigmoid(-x). */
static void ref_logsigmoid_bwd(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int acc) {
  const gz_tensor *ts[] = {x, dy, dx};
  REF_ELT(ts, 3, {
    float g = AT(dy) * gz_sigmoidf(-AT(x));
    AT(dx) = acc ? AT(dx) + g : g;
  });
}
static void ref_bce_fwd(const gz_tensor *x, const gz_tensor *t, gz_tensor *l) {
  const gz_tensor *ts[] = {x, t, l};
  REF_ELT(ts, 3, { AT(l) = gz_bce_logitsf(AT(x), AT(t)); });
}
static void ref_bce_bwd(const gz_tensor *x, const gz_tensor *t, const gz_tensor *dl, float scale, gz_tensor *dx,
                        int acc) {
  const gz_tensor *ts[] = {x, t, dx};
  REF_ELT(ts, 3, {
    float g = (gz_sigmoidf(AT(x)) - AT(t)) * (dl ? AT(dl) : 1.0f) * scale;
    AT(dx) = acc ? AT(dx) + g : g;
  });
}

/* ---------------------------------------------------------------- reductions */

static void ref_reduce(const gz_tensor *x, unsigned axes, gz_reduce_op op, gz_tensor *y, double *ws) {
  (void)ws;
  gz_reduce_plan p;
  gz_reduce_make_plan(x, axes, &p);
  for (int64_t o = 0; o < p.nout_elems; o++) {
    const float *base = x->data + gz_reduce_out_offset(&p, o);
    double s = 0;
    float m = -INFINITY;
    for (int64_t r = 0; r < p.nred_elems; r++) {
      float v = base[gz_reduce_red_offset(&p, r)];
      s += v;
      if (v > m || isnan(v)) m = isnan(m) ? m : v;
    }
    y->data[o] = op == GZ_REDUCE_MAX ? m : op == GZ_REDUCE_MEAN ? (float)(s / (double)p.nred_elems) : (float)s;
  }
}

/* ---------------------------------------------------------------- AMSGrad */

/* torch.optim.Adam(amsgrad=True) in PyTorch 1.13 (_single_tensor_adam), operation by operation with its
 * float rounding (its AVX2 kernels fuse grad + wd*param, m*b1 + (1-b1)*g and v*b2 + ((1-b2)*g)*g):
 *   g = grad + wd p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g g;  vmax = max(vmax, v)
 *   p = p - (lr / (1 - b1^t)) m / (sqrt(vmax) / sqrt(1 - b2^t) + eps) */
static void ref_amsgrad(float *p, const float *grad, float *m, float *v, float *vmax, size_t n, const gz_adam_hp *hp) {
  const float wd = (float)hp->weight_decay, b1 = (float)hp->beta1, omb1 = (float)(1 - hp->beta1);
  const float b2 = (float)hp->beta2, omb2 = (float)(1 - hp->beta2), eps = (float)hp->eps;
  const double bc1 = 1 - pow(hp->beta1, (double)hp->step), bc2 = 1 - pow(hp->beta2, (double)hp->step);
  const float nstep = (float)(-(hp->lr / bc1)), bc2s = (float)sqrt(bc2);
  for (size_t i = 0; i < n; i++) {
    float g = wd != 0 ? fmaf(p[i], wd, grad[i]) : grad[i];
    m[i] = fmaf(g, omb1, m[i] * b1);
    v[i] = fmaf(omb2 * g, g, v[i] * b2);
    vmax[i] = (vmax[i] >= v[i] || isnan(vmax[i])) ? vmax[i] : v[i];
    float denom = sqrtf(vmax[i]) / bc2s + eps;
    p[i] = p[i] + (nstep * m[i]) / denom;
  }
}

const gz_ops_table gz_ops_table_ref = {
    .name = "reference",
    .bn_fwd_train = ref_bn_fwd_train,
    .bn_fwd_eval = ref_bn_fwd_eval,
    .bn_bwd = ref_bn_bwd,
    .relu_fwd = ref_relu_fwd,
    .relu_bwd = ref_relu_bwd,
    .add = ref_add,
    .copy = ref_copy,
    .maxpool_fwd = gz_ref_maxpool_fwd,
    .maxpool_bwd = gz_ref_maxpool_bwd,
    .up_nearest_fwd = gz_ref_up_nearest_fwd,
    .up_nearest_bwd = gz_ref_up_nearest_bwd,
    .up_bilinear_fwd = gz_ref_up_bilinear_fwd,
    .up_bilinear_bwd = gz_ref_up_bilinear_bwd,
    .sigmoid_fwd = ref_sigmoid_fwd,
    .sigmoid_bwd = ref_sigmoid_bwd,
    .logsigmoid_fwd = ref_logsigmoid_fwd,
    .logsigmoid_bwd = ref_logsigmoid_bwd,
    .bce_logits_fwd = ref_bce_fwd,
    .bce_logits_bwd = ref_bce_bwd,
    .reduce = ref_reduce,
    .amsgrad = ref_amsgrad,
};

const gz_ops_table *gz_ops_reference(void) { return &gz_ops_table_ref; }
