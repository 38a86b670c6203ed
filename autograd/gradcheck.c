/* Finite-difference gradient check over a recorded graph (docs/autograd.md "Gradient checking").
 *
 * L = sum_i y_i r_i with r uniform in [-1, 1) from Philox(seed). Analytic: backward seeded with r.
 * Numeric: for each element x_j of each checked input, x_j -> x_j +- h (in float, the input's own
 * precision), replay the tape, sum L in double; g_j = (L+ - L-) / (2h'), with h' the step float actually
 * took ((x_j + h) - (x_j - h) rounded), so the step's rounding does not enter the error. The remaining
 * error is the O(h^2) truncation plus the float rounding of the forward, about 1e-7 |y| / h per term. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/autograd.h"

static double loss_of(const gz_value *y, const float *r) {
  double s = 0;
  int64_t n = gz_tensor_numel(&y->data);
  gz_tensor d = y->data;
  /* y may be a view (reshape of a contiguous value): contiguous values are all the ops produce */
  for (int64_t i = 0; i < n; i++) s += (double)d.data[i] * r[i];
  return s;
}

int gz_gradcheck(gz_tape *t, gz_value *y, gz_value *const *xs, int k, double h, uint64_t seed, double *rel_err,
                 int *which, gz_err *e) {
  *rel_err = 0, *which = -1;
  if (!gz_tensor_is_contiguous(&y->data)) return gz_fail(e, GZ_EINVAL, "gradcheck: output must be contiguous");
  int64_t ny = gz_tensor_numel(&y->data);
  float *r = malloc((size_t)ny * sizeof *r);
  if (!r) return gz_fail(e, GZ_ENOMEM, "gradcheck: out of memory");
  gz_rng rng;
  gz_rng_init(&rng, seed, 0);
  for (int64_t i = 0; i < ny; i++) r[i] = 2.0f * gz_rng_uniform(&rng) - 1.0f;
  int rc = 0;
  for (int i = 0; i < k && !rc; i++)
    if (xs[i]->grad.data) memset(xs[i]->grad.data, 0, (size_t)gz_tensor_numel(&xs[i]->grad) * sizeof(float));
  gz_tape_zero_grads(t);
  if (gz_tape_backward(t, y, r, e)) rc = -1;
  for (int i = 0; i < k && !rc; i++) {
    gz_tensor *x = &xs[i]->data;
    if (!gz_tensor_is_contiguous(x) || !xs[i]->grad.data) {
      rc = gz_fail(e, GZ_EINVAL, "gradcheck: input %d is not contiguous or got no gradient", i);
      break;
    }
    double num2 = 0, diff2 = 0;
    int64_t n = gz_tensor_numel(x);
    for (int64_t j = 0; j < n && !rc; j++) {
      float x0 = x->data[j], xp = (float)(x0 + h), xm = (float)(x0 - h);
      x->data[j] = xp;
      if (gz_tape_replay(t, e)) rc = -1;
      double lp = loss_of(y, r);
      x->data[j] = xm;
      if (!rc && gz_tape_replay(t, e)) rc = -1;
      double lm = loss_of(y, r);
      x->data[j] = x0;
      double g = (lp - lm) / ((double)xp - (double)xm), a = xs[i]->grad.data[j];
      num2 += g * g, diff2 += (g - a) * (g - a);
    }
    double rel = sqrt(diff2) / fmax(sqrt(num2), 1e-30);
    if (rel > *rel_err || *which < 0) *rel_err = rel, *which = i;
  }
  if (!rc && gz_tape_replay(t, e)) rc = -1; /* leave the forward values as they were */
  free(r);
  return rc;
}
