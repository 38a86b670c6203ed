/* tensor: the engine under everything (issue 3; spec/architecture.md "Conventions").
 *
 *   tensor      float32, up to 4 dims (N, C, H, W), shape and strides in elements, views share storage
 *   arenas      64-byte aligned bump allocators: parameters, gradients and optimizer state at the same
 *               offsets (the llm.c pattern); a per-step arena with mark/reset for activations
 *   threads     hwloc topology (cores, cache sizes per level), binding OpenMP threads to cores
 *   ops         batch norm, ReLU, add, max-pool, upsampling, concat, sigmoid / log-sigmoid / BCE with
 *               logits, sum / mean / max over axes, the fused AMSGrad step. Each op is validated here and
 *               runs through the dispatch table of the tensor's device (gz_ops_table); the CPU table is
 *               picked from gz_isa_active() (scalar, AVX2, AVX-512), and a plain-C reference table, kept
 *               forever as the audit baseline, is what the fast tables are tested against.
 *
 * Kernels never allocate: outputs, index buffers and workspaces are the caller's. Every reduction splits
 * its work into fixed-size chunks that do not depend on the thread count and combines the partial
 * results in a fixed order, so outputs are bitwise identical for any OMP_NUM_THREADS.
 *
 * Layout the kernels accept ("batch-contiguous"): dims 1.. are packed (stride[d] = product of the later
 * dims) while stride[0] may be larger. Plain contiguous tensors and channel-range views of an NCHW
 * buffer (the concatenation-without-copy case) are batch-contiguous; a slice along H or W is not
 * (copy it first with gz_tensor_copy). Shape mismatches and impossible sizes return -1 with a gz_err.
 */
#ifndef GAZELOC_TENSOR_H
#define GAZELOC_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ------------------------------------------------------------------ threads and topology (threads.c) */

typedef struct gz_topology {
  int cores;                 /* physical cores (hwloc) */
  int pus;                   /* hardware threads */
  size_t l1d, l2, l3;        /* bytes of one cache instance at each level; 0 when hwloc does not know */
  int l2_cores, l3_cores;    /* cores sharing one L2 / L3 instance */
  size_t line;               /* cache line in bytes */
} gz_topology;

/* The machine's topology from hwloc, read once and cached (thread-safe after the first call). GEMM
 * blocking reads the cache sizes from here. */
int gz_topology_get(gz_topology *t, gz_err *e);
/* Binds OpenMP thread i (of the current team size) to core i mod cores, so threads do not migrate
 * between the cores whose caches the kernels block for. Returns the number of threads bound. */
int gz_threads_bind(gz_err *e);
/* Threads a parallel region will use (omp_get_max_threads(): OMP_NUM_THREADS is respected). */
int gz_threads(void);

/* ------------------------------------------------------------------ tensors (tensor.c) */

#define GZ_MAX_DIMS 4

/* Where the storage lives. Ops reach their kernels through the table of this device. */
typedef enum gz_device { GZ_DEVICE_CPU = 0, GZ_DEVICE_CUDA = 1, GZ_DEVICE_COUNT } gz_device;

typedef struct gz_tensor {
  float *data;                  /* first element of this view */
  int ndim;                     /* 1..4; shapes are read as (N, C, H, W) for 4 dims */
  int64_t shape[GZ_MAX_DIMS];   /* unused dims are 1 */
  int64_t stride[GZ_MAX_DIMS];  /* in elements; unused dims 0 */
  gz_device device;
} gz_tensor;

/* A contiguous CPU tensor over `data` (which the caller owns). Shapes must be positive and the element
 * count must fit in int64 and size_t. */
int gz_tensor_wrap(gz_tensor *t, float *data, int ndim, const int64_t *shape, gz_err *e);
/* Same for 4-D NCHW. */
int gz_tensor_wrap4(gz_tensor *t, float *data, int64_t n, int64_t c, int64_t h, int64_t w, gz_err *e);
int64_t gz_tensor_numel(const gz_tensor *t);
int gz_tensor_is_contiguous(const gz_tensor *t);
int gz_tensor_is_batch_contiguous(const gz_tensor *t);
int gz_tensor_same_shape(const gz_tensor *a, const gz_tensor *b);
/* "2x64x128x128" into buf. */
const char *gz_tensor_shape_str(const gz_tensor *t, char *buf, size_t n);

/* Views (share storage). Slice: elements [start, start + len) along dim. Reshape: only of a contiguous
 * tensor, same element count. Channels: dim-1 slice of a 4-D tensor, the concatenation view. */
int gz_tensor_slice(const gz_tensor *t, int dim, int64_t start, int64_t len, gz_tensor *out, gz_err *e);
int gz_tensor_reshape(const gz_tensor *t, int ndim, const int64_t *shape, gz_tensor *out, gz_err *e);
int gz_tensor_channels(const gz_tensor *t, int64_t c0, int64_t nc, gz_tensor *out, gz_err *e);

/* The optional NaN/Inf check: -1 with "<name> 2x3x4x4: 2 NaN and 1 Inf values, first NaN at [0,1,2,3]"
 * when any element is not finite. */
int gz_tensor_check_finite(const gz_tensor *t, const char *name, gz_err *e);
int64_t gz_tensor_count_nonfinite(const gz_tensor *t, int64_t *nan_count, int64_t *inf_count);

/* ------------------------------------------------------------------ arenas (arena.c) */

#define GZ_ALIGN 64

/* One block allocated up front; allocations bump an offset (64-byte aligned) and are never freed one by
 * one. `mark`/`reset` give the per-step pattern: mark after the persistent part, reset after each step. */
typedef struct gz_arena {
  char *base;
  size_t size, used, peak;
  const char *name;        /* for error messages ("activations arena: ...") */
  gz_device device;
} gz_arena;

int gz_arena_init(gz_arena *a, const char *name, size_t bytes, gz_err *e); /* zero-filled */
void gz_arena_free(gz_arena *a);
void *gz_arena_alloc(gz_arena *a, size_t bytes, gz_err *e);               /* NULL + GZ_ENOMEM when full */
int gz_arena_tensor(gz_arena *a, int ndim, const int64_t *shape, gz_tensor *t, gz_err *e);
size_t gz_arena_mark(const gz_arena *a);
void gz_arena_reset(gz_arena *a, size_t mark);
void gz_arena_zero(gz_arena *a); /* zeroes the used part (for example all gradients, in one call) */

/* Parameters, their gradients and up to three optimizer moments, each an arena with the same layout:
 * a parameter at byte offset k has its gradient at offset k of `grad` and its moments at offset k of
 * state[i]. So zeroing gradients, the optimizer step and a checkpoint are each one call over one flat
 * buffer (n_floats() elements). */
#define GZ_MAX_OPT_STATE 3
typedef struct gz_params {
  gz_arena param, grad;
  gz_arena state[GZ_MAX_OPT_STATE];
  int nstate;
} gz_params;

int gz_params_init(gz_params *p, size_t bytes, int nstate, gz_err *e);
void gz_params_free(gz_params *p);
/* Allocates a parameter; *grad (may be NULL) is its gradient view at the same offset. */
int gz_params_new(gz_params *p, int ndim, const int64_t *shape, gz_tensor *param, gz_tensor *grad, gz_err *e);
/* The tensor at the same offset as `param` in another arena of p (grad or a state arena). */
int gz_params_peer(const gz_params *p, const gz_arena *which, const gz_tensor *param, gz_tensor *out, gz_err *e);
size_t gz_params_count(const gz_params *p); /* floats in use (including alignment padding) */

/* ------------------------------------------------------------------ ops */

typedef enum gz_reduce_op { GZ_REDUCE_SUM = 0, GZ_REDUCE_MEAN, GZ_REDUCE_MAX } gz_reduce_op;

/* torch.optim.Adam(amsgrad=True) hyper-parameters; step counts from 1. */
typedef struct gz_adam_hp {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;
} gz_adam_hp;

/* Max-pool geometry (PyTorch semantics: -inf padding, first maximum in scan order wins, NaN wins). */
typedef struct gz_pool2d {
  int kh, kw, sh, sw, ph, pw;
} gz_pool2d;

/* The dispatch table of one backend. Entries get validated arguments (the gz_* wrappers below check
 * shapes and layouts), never fail and never allocate. `accumulate` makes backward kernels add into their
 * outputs (dx += ...), the autograd convention; otherwise they overwrite. The CPU tables parallelize with
 * OpenMP over the natural dimension (channels for batch norm, planes for pooling, rows elsewhere). */
typedef struct gz_ops_table {
  const char *name;
  /* batch norm over (N, H, W) per channel; mean/var are per-channel [C] buffers */
  void (*bn_fwd_train)(const gz_tensor *x, const float *gamma, const float *beta, float eps, gz_tensor *y,
                       float *mean, float *var);
  void (*bn_fwd_eval)(const gz_tensor *x, const float *gamma, const float *beta, const float *mean,
                      const float *var, float eps, gz_tensor *y);
  void (*bn_bwd)(const gz_tensor *x, const gz_tensor *dy, const float *gamma, const float *mean, const float *var,
                 float eps, int training, gz_tensor *dx, float *dgamma, float *dbeta, int accumulate);
  void (*relu_fwd)(const gz_tensor *x, gz_tensor *y);
  void (*relu_bwd)(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate);
  void (*add)(const gz_tensor *a, const gz_tensor *b, gz_tensor *y);
  void (*copy)(const gz_tensor *src, gz_tensor *dst);
  void (*maxpool_fwd)(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx);
  /* -1, or the position in idx of an index outside its plane (that plane of dx is not computed; when
   * accumulating it is left as it was) */
  int64_t (*maxpool_bwd)(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate);
  void (*up_nearest_fwd)(const gz_tensor *x, gz_tensor *y);
  void (*up_nearest_bwd)(const gz_tensor *dy, gz_tensor *dx, int accumulate);
  void (*up_bilinear_fwd)(const gz_tensor *x, gz_tensor *y);
  void (*up_bilinear_bwd)(const gz_tensor *dy, gz_tensor *dx, int accumulate);
  void (*sigmoid_fwd)(const gz_tensor *x, gz_tensor *y);
  void (*sigmoid_bwd)(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate);
  void (*logsigmoid_fwd)(const gz_tensor *x, gz_tensor *y);
  void (*logsigmoid_bwd)(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int accumulate);
  void (*bce_logits_fwd)(const gz_tensor *x, const gz_tensor *t, gz_tensor *loss);
  void (*bce_logits_bwd)(const gz_tensor *x, const gz_tensor *t, const gz_tensor *dloss, float scale,
                         gz_tensor *dx, int accumulate);
  void (*reduce)(const gz_tensor *x, unsigned axes, gz_reduce_op op, gz_tensor *y, double *ws);
  void (*amsgrad)(float *param, const float *grad, float *m, float *v, float *vmax, size_t n,
                  const gz_adam_hp *hp);
} gz_ops_table;

/* The table for a device (CPU: chosen by gz_isa_active(); CUDA: GZ_EUNSUPPORTED until that backend). */
const gz_ops_table *gz_ops_for(gz_device dev, gz_err *e);
/* The CPU table for one ISA (tests and benchmarks call each path directly); NULL if not compiled in. */
const gz_ops_table *gz_ops_cpu(int isa);
/* The plain-C reference kernels: single-threaded, double accumulation, the audit baseline. */
const gz_ops_table *gz_ops_reference(void);

/* Validated entry points. x, y, ... are batch-contiguous tensors on the same device. */

/* Batch norm, training: y = (x - mu_B) / sqrt(var_B + eps) * gamma + beta with the biased batch variance;
 * mean and var ([C]) receive mu_B and the biased var_B. gz_bn_update_running folds them into the running
 * statistics as PyTorch does (unbiased var, factor M/(M-1), M = N*H*W). */
int gz_bn_fwd_train(const gz_tensor *x, const float *gamma, const float *beta, float eps, gz_tensor *y,
                    float *mean, float *var, gz_err *e);
int gz_bn_fwd_eval(const gz_tensor *x, const float *gamma, const float *beta, const float *running_mean,
                   const float *running_var, float eps, gz_tensor *y, gz_err *e);
void gz_bn_update_running(float *running_mean, float *running_var, const float *mean, const float *var, int64_t c,
                          int64_t m, float momentum);
/* Backward of either mode (training = use the batch statistics' dependence on x). dx, dgamma, dbeta may
 * each be NULL when not wanted. */
int gz_bn_bwd(const gz_tensor *x, const gz_tensor *dy, const float *gamma, const float *mean, const float *var,
              float eps, int training, gz_tensor *dx, float *dgamma, float *dbeta, int accumulate, gz_err *e);

int gz_relu_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e);                 /* y may be x */
int gz_relu_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e);
int gz_add(const gz_tensor *a, const gz_tensor *b, gz_tensor *y, gz_err *e);    /* y may be a or b */
int gz_tensor_copy(const gz_tensor *src, gz_tensor *dst, gz_err *e);          /* any strides */

/* Max-pool forward writes y and the argmax of each output (flat h*W+w within its plane, like PyTorch) to
 * idx (numel(y) int32, contiguous); backward scatters dy through idx, and refuses (-1, naming it) an index
 * outside its plane. Output size floor((H + 2p - k) / s) + 1 (ceil_mode=False). */
int gz_maxpool_fwd(const gz_tensor *x, const gz_pool2d *p, gz_tensor *y, int32_t *idx, gz_err *e);
int gz_maxpool_bwd(const gz_tensor *dy, const int32_t *idx, gz_tensor *dx, int accumulate, gz_err *e);
/* nn.MaxPool2d(3, 2, 1), ResNet's stem. */
int gz_maxpool3s2_fwd(const gz_tensor *x, gz_tensor *y, int32_t *idx, gz_err *e);
/* nn.AdaptiveMaxPool2d to y's size, when H and W are integer multiples of it (a k x k pool, stride k). */
int gz_adaptive_maxpool_fwd(const gz_tensor *x, gz_tensor *y, int32_t *idx, gz_err *e);

/* Upsampling to y's H and W. Nearest is PyTorch's legacy 'nearest': src = min(floor(dst * (float)in/out),
 * in-1). Bilinear is align_corners=True: src = dst * (in-1)/(out-1). */
int gz_upsample_nearest_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e);
int gz_upsample_nearest_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e);
int gz_upsample_bilinear_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e);
int gz_upsample_bilinear_bwd(const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e);

/* Concatenation along channels: y[:, c_i : c_i + C_i] = x_i. An input that already is that channel view
 * of y (a producer wrote into gz_tensor_channels(y, ...)) is not copied. Backward hands each dx_i its
 * channel range of dy (dx_i may be NULL to skip). */
int gz_concat_fwd(const gz_tensor *const *xs, int k, gz_tensor *y, gz_err *e);
int gz_concat_bwd(const gz_tensor *dy, gz_tensor *const *dxs, int k, int accumulate, gz_err *e);

/* Stable forms: sigmoid(x) = 1/(1+e^-x) for x >= 0, e^x/(1+e^x) otherwise; log_sigmoid(x) =
 * min(x,0) - log1p(e^-|x|); BCE with logits l = max(x,0) - x*t + log1p(e^-|x|), per element
 * (reduction 'none'; the mean is gz_reduce). BCE backward: dx = (sigmoid(x) - t) * dloss * scale, where
 * dloss may be NULL (taken as 1), so the mean reduction's gradient is scale = 1/numel. */
int gz_sigmoid_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e);
int gz_sigmoid_bwd(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e);
int gz_logsigmoid_fwd(const gz_tensor *x, gz_tensor *y, gz_err *e);
int gz_logsigmoid_bwd(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int accumulate, gz_err *e);
int gz_bce_logits_fwd(const gz_tensor *x, const gz_tensor *t, gz_tensor *loss, gz_err *e);
int gz_bce_logits_bwd(const gz_tensor *x, const gz_tensor *t, const gz_tensor *dloss, float scale, gz_tensor *dx,
                      int accumulate, gz_err *e);

/* Sum, mean or max over the dims whose bits are set in `axes` (bit d = dim d); y has x's ndim with those
 * dims of size 1. Sums accumulate in double over fixed chunks of GZ_REDUCE_CHUNK elements; ws must hold
 * gz_reduce_ws(x, axes) doubles (0 is a valid size: ws may then be NULL). Max propagates NaN. */
#define GZ_REDUCE_CHUNK 4096
size_t gz_reduce_ws(const gz_tensor *x, unsigned axes);
int gz_reduce(const gz_tensor *x, unsigned axes, gz_reduce_op op, gz_tensor *y, double *ws, size_t ws_len,
              gz_err *e);

/* One torch.optim.Adam(amsgrad=True, weight_decay=wd) step (coupled L2, PyTorch 1.13 _single_tensor_adam)
 * over flat buffers of n floats: the whole parameter arena at once. */
int gz_amsgrad_step(float *param, const float *grad, float *m, float *v, float *vmax, size_t n, const gz_adam_hp *hp,
                    gz_err *e);

/* ------------------------------------------------------------------ GEMM and convolution (tensor/kernels.h) */

#include "tensor/kernels.h"

#endif
