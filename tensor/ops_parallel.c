/* Parallel plain-C kernels shared by every CPU table: strided copy, the sigmoid family (exp/log1p bound,
 * so SIMD buys little over threads here) and the chunked deterministic reductions. */
#include <math.h>
#include <string.h>

#include "tensor/ops_internal.h"

void gz_par_copy(const gz_tensor *src, gz_tensor *dst) {
  const int64_t *s = src->shape;
  if (gz_tensor_is_contiguous(src) && gz_tensor_is_contiguous(dst)) {
    const gz_tensor *ts[] = {src, dst};
    int64_t rows, len;
    gz_elt_rows(ts, 2, &rows, &len);
    GZ_PAR_BLOCKS(rows, len, r, b0, b1, { memcpy(gz_row(dst, r) + b0, gz_row(src, r) + b0, sizeof(float) * (size_t)(b1 - b0)); });
    return;
  }
  /* Any strides: one task per (i0, i1, i2) line of the innermost dim. */
#pragma omp parallel for schedule(static)
  for (int64_t l = 0; l < s[0] * s[1] * s[2]; l++) {
    int64_t i0 = l / (s[1] * s[2]), i1 = l / s[2] % s[1], i2 = l % s[2];
    const float *a = src->data + i0 * src->stride[0] + i1 * src->stride[1] + i2 * src->stride[2];
    float *b = dst->data + i0 * dst->stride[0] + i1 * dst->stride[1] + i2 * dst->stride[2];
    for (int64_t i3 = 0; i3 < s[3]; i3++) b[i3 * dst->stride[3]] = a[i3 * src->stride[3]];
  }
}

/* Elementwise over (row, block) tasks; OUT(t)/IN(t) index the current element of tensor t. */
#define PAR_ELT(ts, k, ...)                                                    \
  do {                                                                         \
    int64_t rows_, len_;                                                       \
    gz_elt_rows(ts, k, &rows_, &len_);                                         \
    GZ_PAR_BLOCKS(rows_, len_, r_, b0_, b1_, {                                 \
      for (int64_t j_ = b0_; j_ < b1_; j_++) { __VA_ARGS__ }                       \
    });                                                                        \
  } while (0)
#define AT(t) (gz_row((t), r_)[j_])

void gz_par_sigmoid_fwd(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  PAR_ELT(ts, 2, { AT(y) = gz_sigmoidf(AT(x)); });
}
void gz_par_sigmoid_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int acc) {
  const gz_tensor *ts[] = {y, dy, dx};
  PAR_ELT(ts, 3, {
    float g = AT(dy) * (1.0f - AT(y)) * AT(y);
    AT(dx) = acc ? AT(dx) + g : g;
  });
}
void gz_par_logsigmoid_fwd(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  PAR_ELT(ts, 2, { AT(y) = gz_logsigmoidf(AT(x)); });
}
void gz_par_logsigmoid_bwd(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int acc) {
  const gz_tensor *ts[] = {x, dy, dx};
  PAR_ELT(ts, 3, {
    float g = AT(dy) * gz_sigmoidf(-AT(x));
    AT(dx) = acc ? AT(dx) + g : g;
  });
}
void gz_par_bce_logits_fwd(const gz_tensor *x, const gz_tensor *t, gz_tensor *l) {
  const gz_tensor *ts[] = {x, t, l};
  PAR_ELT(ts, 3, { AT(l) = gz_bce_logitsf(AT(x), AT(t)); });
}
void gz_par_bce_logits_bwd(const gz_tensor *x, const gz_tensor *t, const gz_tensor *dl, float scale, gz_tensor *dx,
                           int acc) {
  const gz_tensor *ts[] = {x, t, dx};
  PAR_ELT(ts, 3, {
    float g = (gz_sigmoidf(AT(x)) - AT(t)) * (dl ? AT(dl) : 1.0f) * scale;
    AT(dx) = acc ? AT(dx) + g : g;
  });
}

/* ---------------------------------------------------------------- reductions */

void gz_reduce_make_plan(const gz_tensor *x, unsigned axes, gz_reduce_plan *p) {
  memset(p, 0, sizeof *p);
  p->nout_elems = p->nred_elems = 1;
  for (int d = 0; d < x->ndim; d++) {
    if (axes >> d & 1) {
      p->red_shape[p->nred] = x->shape[d];
      p->red_stride[p->nred++] = x->stride[d];
      p->nred_elems *= x->shape[d];
    } else {
      p->out_shape[p->nout] = x->shape[d];
      p->out_stride[p->nout++] = x->stride[d];
      p->nout_elems *= x->shape[d];
    }
  }
}

static int64_t offset_of(const int64_t *shape, const int64_t *stride, int nd, int64_t i) {
  int64_t off = 0;
  for (int d = nd - 1; d >= 0; d--) {
    off += (i % shape[d]) * stride[d];
    i /= shape[d];
  }
  return off;
}
int64_t gz_reduce_out_offset(const gz_reduce_plan *p, int64_t o) { return offset_of(p->out_shape, p->out_stride, p->nout, o); }
int64_t gz_reduce_red_offset(const gz_reduce_plan *p, int64_t r) { return offset_of(p->red_shape, p->red_stride, p->nred, r); }

size_t gz_reduce_ws(const gz_tensor *x, unsigned axes) {
  gz_reduce_plan p;
  gz_reduce_make_plan(x, axes, &p);
  int64_t nch = (p.nred_elems + GZ_REDUCE_CHUNK - 1) / GZ_REDUCE_CHUNK;
  return nch > 1 ? (size_t)(p.nout_elems * nch) : 0;
}

/* Chunk k of output o: elements [k*CHUNK, (k+1)*CHUNK) of its reduced index space, summed in double
 * in index order (or maxed). The innermost reduced dim is walked by stride, the rest by division. */
static double chunk_value(const gz_tensor *x, const gz_reduce_plan *p, int64_t o, int64_t k, gz_reduce_op op) {
  const float *base = x->data + gz_reduce_out_offset(p, o);
  int64_t r0 = k * GZ_REDUCE_CHUNK, r1 = r0 + GZ_REDUCE_CHUNK < p->nred_elems ? r0 + GZ_REDUCE_CHUNK : p->nred_elems;
  int64_t inner = p->red_shape[p->nred - 1], istr = p->red_stride[p->nred - 1];
  double s = 0, m = -INFINITY;
  for (int64_t r = r0; r < r1;) {
    const float *q = base + gz_reduce_red_offset(p, r);
    int64_t run = inner - r % inner;
    if (run > r1 - r) run = r1 - r;
    if (op == GZ_REDUCE_MAX) {
      for (int64_t j = 0; j < run; j++)
        if (q[j * istr] > m || isnan(q[j * istr])) m = isnan(m) ? m : q[j * istr];
    } else {
      for (int64_t j = 0; j < run; j++) s += q[j * istr];
    }
    r += run;
  }
  return op == GZ_REDUCE_MAX ? m : s;
}

static float finish(double v, gz_reduce_op op, int64_t n) {
  return op == GZ_REDUCE_MEAN ? (float)(v / (double)n) : (float)v;
}

void gz_par_reduce(const gz_tensor *x, unsigned axes, gz_reduce_op op, gz_tensor *y, double *ws) {
  gz_reduce_plan p;
  gz_reduce_make_plan(x, axes, &p);
  if (p.nred == 0) { /* nothing reduced: a copy */
    int64_t n = p.nout_elems;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < n; o++) y->data[o] = x->data[gz_reduce_out_offset(&p, o)];
    return;
  }
  int64_t nch = (p.nred_elems + GZ_REDUCE_CHUNK - 1) / GZ_REDUCE_CHUNK, O = p.nout_elems;
  if (nch == 1) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; o++) y->data[o] = finish(chunk_value(x, &p, o, 0, op), op, p.nred_elems);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < O * nch; t++) ws[t] = chunk_value(x, &p, t / nch, t % nch, op);
  /* Partials combined in chunk order: the same bits for any thread count. */
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < O; o++) {
    double s = 0, m = -INFINITY;
    for (int64_t k = 0; k < nch; k++) {
      double v = ws[o * nch + k];
      s += v;
      if (v > m || isnan(v)) m = isnan(m) ? m : v;
    }
    y->data[o] = finish(op == GZ_REDUCE_MAX ? m : s, op, p.nred_elems);
  }
}
