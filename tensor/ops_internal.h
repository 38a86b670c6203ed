/* Internal to tensor/: the pieces the op tables are built from, and loop helpers over batch-contiguous
 * tensors (see tensor.h). Not part of the public API. */
#ifndef GAZELOC_TENSOR_OPS_INTERNAL_H
#define GAZELOC_TENSOR_OPS_INTERNAL_H

#include "tensor/tensor.h"

/* Fixed chunk of one batch-norm channel reduction: partial sums over at most this many elements of one
 * (n, c) plane are formed first, then combined in (n, chunk) order. Independent of the thread count. */
#define GZ_BN_CHUNK 4096
/* Elementwise work is split into blocks of this many elements of one row (any split gives the same
 * bits: elementwise results do not depend on it). */
#define GZ_ELT_BLOCK 16384

/* Rows of an elementwise operation over tensors of one shape: one row when all are contiguous, else one
 * row per index of dim 0 (dims 1.. are packed in a batch-contiguous tensor). */
static inline void gz_elt_rows(const gz_tensor *const *ts, int k, int64_t *rows, int64_t *len) {
  int contig = ts[0]->ndim == 1;
  if (!contig) {
    contig = 1;
    for (int i = 0; i < k; i++) contig &= gz_tensor_is_contiguous(ts[i]);
  }
  int64_t n = gz_tensor_numel(ts[0]);
  *rows = contig ? 1 : ts[0]->shape[0];
  *len = n / *rows;
}
static inline float *gz_row(const gz_tensor *t, int64_t r) { return t->data + r * t->stride[0]; }

/* Parallel loop over (row, block) tasks: `body` sees R (row), B0 and B1 (element range in the row). */
#define GZ_PAR_BLOCKS(rows, len, R, B0, B1, ...)                                                          \
  do {                                                                                                    \
    const int64_t nb_ = ((len) + GZ_ELT_BLOCK - 1) / GZ_ELT_BLOCK, ntask_ = (rows) * nb_;                 \
    _Pragma("omp parallel for schedule(static)") for (int64_t task_ = 0; task_ < ntask_; task_++) {       \
      const int64_t R = task_ / nb_, B0 = (task_ % nb_) * GZ_ELT_BLOCK;                                   \
      const int64_t B1 = B0 + GZ_ELT_BLOCK < (len) ? B0 + GZ_ELT_BLOCK : (len);                           \
      __VA_ARGS__                                                                                         \
    }                                                                                                     \
  } while (0)

/* NCHW view of a 4-D batch-contiguous tensor: plane (n, c) starts at data + n*stride[0] + c*H*W. */
static inline float *gz_plane(const gz_tensor *t, int64_t n, int64_t c) {
  return t->data + n * t->stride[0] + c * t->shape[2] * t->shape[3];
}

/* Stable scalar forms shared by the reference and the fast tables (double inside, float out). */
float gz_sigmoidf(float x);
float gz_logsigmoidf(float x);
float gz_bce_logitsf(float x, float t);

/* Reference kernels (ops_ref*.c), single-threaded, in gz_ops_reference(). */
extern const gz_ops_table gz_ops_table_ref;
void gz_ref_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx);
int64_t gz_ref_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate);
void gz_ref_up_nearest_fwd(const gz_tensor *x, gz_tensor *y);
void gz_ref_up_nearest_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate);
void gz_ref_up_bilinear_fwd(const gz_tensor *x, gz_tensor *y);
void gz_ref_up_bilinear_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate);

/* Parallel plain-C kernels shared by every CPU table (ops_parallel.c, ops_spatial.c). */
void gz_par_copy(const gz_tensor *src, gz_tensor *dst);
void gz_par_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx);
/* A whole plane of the stem's pool (3x3, stride 2, padding 1); returns 0 where it does not apply (then the plain
 * per-window code runs). */
typedef int (*gz_pool_plane_fn)(const float *x, int64_t H, int64_t W, float *y, int32_t *idx, int64_t OH, int64_t OW);
/* gz_par_maxpool_fwd with stem (or NULL) for the planes of the stem's pool: the fast tables' SIMD plane */
void gz_par_maxpool_fwd_stem(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx,
                             gz_pool_plane_fn stem);
int64_t gz_par_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate);
/* The backward pass of the stem's pool (3x3, stride 2, padding 1) as a gather: each dx element sums the dy of
 * the (at most 4) windows that hold it and chose it, in output order, so the bits are the scatter's. Returns 0,
 * having written nothing that matters, when some output's index lies outside its window (indices that another
 * pool made); the caller then scatters that plane. stream: write dx with streaming stores. */
typedef int (*gz_pool_bwd_plane_fn)(const float *dy, const int32_t *idx, float *dx, int64_t H, int64_t W, int64_t OH,
                                    int64_t OW, int stream);
int gz_pool3s2_bwd_plane_avx2(const float *dy, const int32_t *idx, float *dx, int64_t H, int64_t W, int64_t OH, int64_t OW,
                              int stream);
int gz_pool3s2_bwd_plane_avx512(const float *dy, const int32_t *idx, float *dx, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, int stream);
/* gz_par_maxpool_bwd with a gather for planes of the stem's output size when not accumulating (NULL: scatter only).
 * Returns -1, or the position in idx of the first index outside its plane (see gz_ops_table). */
int64_t gz_par_maxpool_bwd_gather(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate,
                                  gz_pool_bwd_plane_fn gather, int stream);
void gz_par_up_nearest_fwd(const gz_tensor *x, gz_tensor *y);
void gz_par_up_nearest_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate);
void gz_par_up_bilinear_fwd(const gz_tensor *x, gz_tensor *y);
/* One output row of the bilinear forward from its source rows t, b (weights l0, l1): row = t l0 + b l1 (row holds
 * W + GZ_LIN_SLACK floats, the slack zeroed), then y[ow] = row[i0[ow]] c0[ow] + row[i1[ow]] c1[ow]. The plain
 * version; the fast tables pass their SIMD one. */
#define GZ_LIN_SLACK 32
typedef void (*gz_lin_row_fn)(const float *t, const float *b, int64_t W, float l0, float l1, const int32_t *i0,
                              const int32_t *i1, const float *c0, const float *c1, int64_t OW, float *row, float *y);
void gz_lin_row(const float *t, const float *b, int64_t W, float l0, float l1, const int32_t *i0, const int32_t *i1,
                const float *c0, const float *c1, int64_t OW, float *row, float *y);
void gz_par_up_bilinear_fwd_rows(const gz_tensor *x, gz_tensor *y, gz_lin_row_fn lin_row);
void gz_par_up_bilinear_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate);
void gz_par_sigmoid_fwd(const gz_tensor *x, gz_tensor *y);
void gz_par_sigmoid_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate);
void gz_par_logsigmoid_fwd(const gz_tensor *x, gz_tensor *y);
void gz_par_logsigmoid_bwd(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int accumulate);
void gz_par_bce_logits_fwd(const gz_tensor *x, const gz_tensor *t, gz_tensor *loss);
void gz_par_bce_logits_bwd(const gz_tensor *x, const gz_tensor *t, const gz_tensor *dloss, float scale, gz_tensor *dx,
                           int accumulate);
void gz_par_reduce(const gz_tensor *x, unsigned axes, gz_reduce_op op, gz_tensor *y, double *ws);

/* The three CPU tables (ops_fast.c compiled three times: baseline, AVX2, AVX-512). */
extern const gz_ops_table gz_ops_table_scalar, gz_ops_table_avx2, gz_ops_table_avx512;

/* The shape of a reduction: the output index space (kept dims) and the reduced one. */
typedef struct gz_reduce_plan {
  int64_t out_shape[GZ_MAX_DIMS], red_shape[GZ_MAX_DIMS];
  int64_t out_stride[GZ_MAX_DIMS], red_stride[GZ_MAX_DIMS]; /* x's strides for each */
  int nout, nred;
  int64_t nout_elems, nred_elems;
} gz_reduce_plan;
void gz_reduce_make_plan(const gz_tensor *x, unsigned axes, gz_reduce_plan *p);
/* Offset in x of output element o / reduced element r. */
int64_t gz_reduce_out_offset(const gz_reduce_plan *p, int64_t o);
int64_t gz_reduce_red_offset(const gz_reduce_plan *p, int64_t r);

#endif
