/* The tensor type: shapes, strides, views that share storage, the NaN/Inf check. */
#include "tensor/tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_shape(int ndim, const int64_t *shape, gz_err *e) {
  if (ndim < 1 || ndim > GZ_MAX_DIMS) return gz_fail(e, GZ_EINVAL, "tensor: %d dims asked for, 1..%d allowed", ndim, GZ_MAX_DIMS);
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0) return gz_fail(e, GZ_ERANGE, "tensor: dim %d has size %lld, must be positive", d, (long long)shape[d]);
    if (n > (INT64_MAX / 8) / shape[d]) return gz_fail(e, GZ_ERANGE, "tensor: element count overflows at dim %d", d);
    n *= shape[d];
  }
  if ((uint64_t)n > SIZE_MAX / sizeof(float)) return gz_fail(e, GZ_ERANGE, "tensor: %lld elements do not fit in memory", (long long)n);
  return 0;
}

int gz_tensor_wrap(gz_tensor *t, float *data, int ndim, const int64_t *shape, gz_err *e) {
  if (check_shape(ndim, shape, e)) return -1;
  memset(t, 0, sizeof *t);
  t->data = data;
  t->ndim = ndim;
  t->device = GZ_DEVICE_CPU;
  int64_t s = 1;
  for (int d = GZ_MAX_DIMS - 1; d >= 0; d--) {
    if (d >= ndim) { t->shape[d] = 1; t->stride[d] = 0; continue; }
    t->shape[d] = shape[d];
    t->stride[d] = s;
    s *= shape[d];
  }
  return 0;
}

int gz_tensor_wrap4(gz_tensor *t, float *data, int64_t n, int64_t c, int64_t h, int64_t w, gz_err *e) {
  int64_t s[4] = {n, c, h, w};
  return gz_tensor_wrap(t, data, 4, s, e);
}

int64_t gz_tensor_numel(const gz_tensor *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

/* Packed from dim `from` on (size-1 dims never matter). */
static int packed_from(const gz_tensor *t, int from) {
  int64_t s = 1;
  for (int d = t->ndim - 1; d >= from; d--) {
    if (t->shape[d] != 1 && t->stride[d] != s) return 0;
    s *= t->shape[d];
  }
  return 1;
}

int gz_tensor_is_contiguous(const gz_tensor *t) { return packed_from(t, 0); }
int gz_tensor_is_batch_contiguous(const gz_tensor *t) { return packed_from(t, 1); }

int gz_tensor_same_shape(const gz_tensor *a, const gz_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int d = 0; d < a->ndim; d++)
    if (a->shape[d] != b->shape[d]) return 0;
  return 1;
}

const char *gz_tensor_shape_str(const gz_tensor *t, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = 0;
  for (int d = 0; d < t->ndim && k < n; d++)
    k += (size_t)snprintf(buf + k, n - k, d ? "x%lld" : "%lld", (long long)t->shape[d]);
  return buf;
}

int gz_tensor_slice(const gz_tensor *t, int dim, int64_t start, int64_t len, gz_tensor *out, gz_err *e) {
  if (dim < 0 || dim >= t->ndim) return gz_fail(e, GZ_EINVAL, "tensor slice: dim %d of a %d-dim tensor", dim, t->ndim);
  if (start < 0 || len <= 0 || start > t->shape[dim] - len)
    return gz_fail(e, GZ_ERANGE, "tensor slice: [%lld, %lld) is outside dim %d of size %lld", (long long)start,
                   (long long)(start + len), dim, (long long)t->shape[dim]);
  gz_tensor v = *t;
  v.data = t->data + start * t->stride[dim];
  v.shape[dim] = len;
  *out = v;
  return 0;
}

int gz_tensor_reshape(const gz_tensor *t, int ndim, const int64_t *shape, gz_tensor *out, gz_err *e) {
  char b[64];
  if (!gz_tensor_is_contiguous(t))
    return gz_fail(e, GZ_EINVAL, "tensor reshape: the %s view is not contiguous", gz_tensor_shape_str(t, b, sizeof b));
  if (check_shape(ndim, shape, e)) return -1;
  int64_t n = 1;
  for (int d = 0; d < ndim; d++) n *= shape[d];
  if (n != gz_tensor_numel(t))
    return gz_fail(e, GZ_EINVAL, "tensor reshape: %s has %lld elements, the new shape %lld", gz_tensor_shape_str(t, b, sizeof b),
                   (long long)gz_tensor_numel(t), (long long)n);
  gz_device dev = t->device;
  if (gz_tensor_wrap(out, t->data, ndim, shape, e)) return -1;
  out->device = dev;
  return 0;
}

int gz_tensor_channels(const gz_tensor *t, int64_t c0, int64_t nc, gz_tensor *out, gz_err *e) {
  if (t->ndim != 4) return gz_fail(e, GZ_EINVAL, "tensor channels: needs an NCHW tensor, got %d dims", t->ndim);
  return gz_tensor_slice(t, 1, c0, nc, out, e);
}

/* Visits every element of any strided view in index order. */
#define FOR_EACH_ELEM(t, p, ...)                                                                    \
  for (int64_t i0 = 0; i0 < (t)->shape[0]; i0++)                                                    \
    for (int64_t i1 = 0; i1 < (t)->shape[1]; i1++)                                                  \
      for (int64_t i2 = 0; i2 < (t)->shape[2]; i2++)                                                \
        for (int64_t i3 = 0; i3 < (t)->shape[3]; i3++) {                                            \
          const float *p = (t)->data + i0 * (t)->stride[0] + i1 * (t)->stride[1] + i2 * (t)->stride[2] + \
                           i3 * (t)->stride[3];                                                     \
          __VA_ARGS__                                                                               \
        }

int64_t gz_tensor_count_nonfinite(const gz_tensor *t, int64_t *nan_count, int64_t *inf_count) {
  int64_t nn = 0, ni = 0;
  FOR_EACH_ELEM(t, p, {
    if (isnan(*p)) nn++;
    else if (isinf(*p)) ni++;
  })
  if (nan_count) *nan_count = nn;
  if (inf_count) *inf_count = ni;
  return nn + ni;
}

int gz_tensor_check_finite(const gz_tensor *t, const char *name, gz_err *e) {
  if (t->device != GZ_DEVICE_CPU) return gz_fail(e, GZ_EUNSUPPORTED, "%s: finite check needs a CPU tensor", name);
  int64_t nn, ni;
  if (!gz_tensor_count_nonfinite(t, &nn, &ni)) return 0;
  int64_t first[4] = {0};
  int found = 0;
  FOR_EACH_ELEM(t, p, {
    if (!found && !isfinite(*p)) {
      found = 1;
      first[0] = i0, first[1] = i1, first[2] = i2, first[3] = i3;
    }
  })
  char b[64], at[96];
  size_t k = 0;
  for (int d = 0; d < t->ndim; d++) k += (size_t)snprintf(at + k, sizeof at - k, d ? ",%lld" : "%lld", (long long)first[d]);
  return gz_fail(e, GZ_ERANGE, "%s %s: %lld NaN and %lld Inf values, first at [%s]", name, gz_tensor_shape_str(t, b, sizeof b),
                 (long long)nn, (long long)ni, at);
}
