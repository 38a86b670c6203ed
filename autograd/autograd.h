/* autograd: the tape, the op table, gradient checking, and the audit trace.
 *
 * The tape (autograd/tape.c, docs/autograd.md). A value is a tensor plus the slot for its gradient. Each
 * op function below (gz_ag_conv2d, gz_ag_relu, ...) allocates its output and saved tensors in the tape's
 * per-step arena, runs the forward of its entry in the op table (autograd/ops.c, the page to read first)
 * and, unless the tape is in no-grad mode or no input needs a gradient, appends a node. gz_tape_backward
 * walks the nodes in reverse; each backward ADDS (+=) into its inputs' gradients. A parameter's gradient
 * is its view in the params grad arena (same offset as the parameter, the llm.c pattern), so the caller
 * zeroes all parameter gradients with one gz_arena_zero. An activation's gradient is taken from the step
 * arena when the first consumer reaches it, and that first consumer writes it instead of adding (the
 * same sum as zero-then-add, without the memset). Once its producer's backward has consumed it, the
 * buffer goes to a free list that later gradients of the same size reuse, as PyTorch frees non-leaf
 * gradients; set value->retain_grad to keep one (GradCAM reads dC_k/dA there). Inputs' (leaves')
 * gradients are kept. gz_tape_reset frees a whole step.
 *
 * The op forwards are pure functions of their inputs (BN's running statistics are folded in by the
 * layer, not the op), so gz_tape_replay recomputes a recorded graph after its inputs changed: that is
 * what the finite-difference gradient check (gz_gradcheck) perturbs and replays.
 *
 * Audit trace (architecture.md "Audit trace"): with --audit FILE or GAZELOC_AUDIT=FILE every op of a step
 * writes one CSV line in forward and one in backward: step, phase, index, op name, shape, min, max, mean,
 * L2 norm, NaN and Inf counts, and the XXH3-64 hash of the bytes. tools/torch_audit.py writes the same
 * format from PyTorch, and gz_audit_compare names the first op where two traces diverge. */
#ifndef GAZELOC_AUTOGRAD_H
#define GAZELOC_AUTOGRAD_H

#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "tensor/kernels.h"
#include "tensor/tensor.h"

typedef struct gz_audit {
  FILE *f;
  char *path;
  long step;
  long index; /* records in this step */
} gz_audit;

/* Opens the trace named by `path`, or by GAZELOC_AUDIT when path is NULL. *enabled says whether a trace is
 * being written (no path and no variable = disabled, not an error). */
int gz_audit_open(gz_audit *a, const char *path, int *enabled, gz_err *e);
void gz_audit_close(gz_audit *a);
void gz_audit_step(gz_audit *a, long step);
/* One record: phase "forward" or "backward"; the statistics are computed here, in double precision. */
void gz_audit_record(gz_audit *a, const char *phase, const char *op, int ndim, const int64_t *shape, const float *data);

typedef struct gz_audit_stats {
  double min, max, mean, l2;
  int64_t nan, inf, count;
  uint64_t hash;
} gz_audit_stats;
void gz_audit_stats_of(const float *data, int64_t n, gz_audit_stats *s);

/* Compares two traces record by record. Returns 0 when they agree, 1 when they diverge (report says
 * where: the first record whose op or shape differ, or whose statistics differ by more than rel_tol
 * relative to the larger magnitude (the mean: to the larger of its magnitude and the values' RMS,
 * l2 / sqrt(n), since a mean near zero carries only the RMS's precision); with exact, the first whose
 * hash differs), -1 on a bad file. */
int gz_audit_compare(const char *path_a, const char *path_b, double rel_tol, int exact, char *report, size_t n,
                     gz_err *e);

/* ------------------------------------------------------------------ tape */

/* A tensor and its gradient. grad.data is NULL until backward gives it one (activations) or it is bound
 * to the params grad arena (parameters, gz_value_param). */
typedef struct gz_value {
  gz_tensor data;
  gz_tensor grad;
  int requires_grad;
  int retain_grad;  /* keep this activation's gradient after backward (GradCAM's dC_k/dA) */
} gz_value;

/* The ops of the table (autograd/ops.c has one row per entry). */
typedef enum gz_op {
  GZ_OP_CONV2D,      /* y = conv(x, w) + b                     */
  GZ_OP_BN_TRAIN,    /* batch norm with the batch statistics   */
  GZ_OP_BN_EVAL,     /* batch norm with the running statistics */
  GZ_OP_RELU,
  GZ_OP_ADD,         /* y = a + b, same shapes                 */
  GZ_OP_MUL,         /* y = a * b, same shapes                 */
  GZ_OP_SCALE,       /* y = c * x                              */
  GZ_OP_MAXPOOL,     /* max-pool (also the adaptive one)       */
  GZ_OP_UP_NEAREST,
  GZ_OP_UP_BILINEAR, /* align_corners = True                   */
  GZ_OP_CONCAT,      /* along channels                         */
  GZ_OP_LINEAR,      /* y = x W^T + b                          */
  GZ_OP_SIGMOID,
  GZ_OP_LOGSIGMOID,
  GZ_OP_BCE_LOGITS,  /* per element; target has no gradient    */
  GZ_OP_SUM,         /* over axes                              */
  GZ_OP_MEAN,        /* over axes                              */
  GZ_OP_RESHAPE,     /* a view with its own gradient           */
  GZ_OP_MIL_LOSS,    /* the paper's L_I (Eq. 5), a gz_ext_op   */
  GZ_OP_DECODER_LOSS,/* the paper's L_T (Eq. 6), a gz_ext_op   */
  GZ_OP_MIL_CK,      /* the paper's C_k (Eq. 1), a gz_ext_op   */
  GZ_OP_COUNT
} gz_op;

#define GZ_NODE_MAX_IN 4

/* A fused op whose kernel belongs to a higher module (nn's losses, nn/loss.h): autograd may not call nn,
 * so the node carries the kernel. forward computes y from x; backward gets dy and writes (accumulate 0)
 * or adds (accumulate 1) dL/dx into dx. ctx holds the op's constant arguments (targets, labels, options);
 * it and what it points to must stay unchanged until the tape is reset (backward and replay read them). */
typedef struct gz_ext_op {
  int (*forward)(const void *ctx, const gz_tensor *x, gz_tensor *y, gz_err *e);
  int (*backward)(const void *ctx, const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int accumulate,
                  gz_err *e);
  const void *ctx;
} gz_ext_op;

/* One recorded op: inputs, output, what backward needs, the op's attributes. */
typedef struct gz_node {
  gz_op op;
  int nin;
  gz_value *in[GZ_NODE_MAX_IN];
  gz_value *out;
  float *saved[2];   /* BN: batch mean and biased variance [C] */
  int32_t *idx;      /* max-pool: argmax per output            */
  union {
    gz_conv2d conv;
    gz_pool2d pool;
    struct { float eps; const float *running_mean, *running_var; } bn;
    unsigned axes;   /* sum, mean */
    float scale;     /* scale */
    int inplace;     /* relu, add: the output overwrites the (first) input */
    const gz_ext_op *ext; /* the gz_ext_op rows (losses) */
  } a;
} gz_node;

struct gz_tape;
/* One row of the op table: forward computes n->out (and n->saved / n->idx) from n->in; backward adds the
 * input gradients from n->out->grad; `saves` says what the node keeps for backward. */
typedef struct gz_op_info {
  const char *name;
  int (*forward)(struct gz_tape *t, gz_node *n, gz_err *e);
  int (*backward)(struct gz_tape *t, gz_node *n, gz_err *e);
  const char *saves;
} gz_op_info;
extern const gz_op_info gz_op_table[GZ_OP_COUNT];

struct gz_shard_plan;

typedef struct gz_tape {
  gz_arena *arena;       /* per-step: values, activations, saved tensors, activation gradients */
  size_t mark;           /* where a step starts in the arena */
  gz_node *nodes;
  int n, cap;
  int grad_enabled;      /* 0: no-grad mode (evaluation): nothing is recorded */
  gz_audit *audit;       /* optional trace (each op's output in forward, input gradients in backward) */
  void *ws;              /* conv / GEMM / reduction workspace; grows to the largest need (first step) */
  size_t ws_bytes;
  struct gz_free_buf { float *data; size_t bytes; } *free_bufs; /* consumed activation gradients */
  int nfree;
  struct gz_shard_plan *shards; /* data-parallel training (below); NULL: the batch is all there is */
} gz_tape;

/* A tape over `arena` (the step starts at its current offset) with room for max_nodes nodes. */
int gz_tape_init(gz_tape *t, gz_arena *arena, int max_nodes, gz_err *e);
void gz_tape_free(gz_tape *t);
/* Drops all nodes and frees everything the step put in the arena. */
void gz_tape_reset(gz_tape *t);
/* Previous setting returned; 0 turns recording off (evaluation). */
int gz_tape_set_grad(gz_tape *t, int enabled);
/* Workspace of at least `bytes` (NULL + GZ_ENOMEM if it cannot grow). */
void *gz_tape_workspace(gz_tape *t, size_t bytes, gz_err *e);

/* Values. A parameter's value wraps its tensor and its gradient view in the params grad arena. An input
 * or constant lives in the step arena (requires_grad 0 unless set). */
void gz_value_param(gz_value *v, const gz_tensor *param, const gz_tensor *grad);
gz_value *gz_tape_value(gz_tape *t, int ndim, const int64_t *shape, int requires_grad, gz_err *e);
gz_value *gz_tape_wrap(gz_tape *t, const gz_tensor *data, int requires_grad, gz_err *e); /* no copy */

/* Backward from y, seeded with dL/dy = seed (numel(y) floats; NULL = all ones). Accumulates into every
 * gradient reached (parameters, leaves, retained activations). Can be called again, for example once per
 * class for GradCAM (gz_tape_zero_grads between calls). */
int gz_tape_backward(gz_tape *t, gz_value *y, const float *seed, gz_err *e);
/* Zeroes the gradients that node outputs still hold (retained ones) and those of the recorded nodes'
 * leaf inputs that are not parameters; parameter gradients are the caller's (gz_arena_zero). */
void gz_tape_zero_grads(gz_tape *t);
/* Recomputes every recorded node's forward, in order. */
int gz_tape_replay(gz_tape *t, gz_err *e);
/* The gradient buffer of v, allocated (zeroed) in the step arena on first use. */
gz_tensor *gz_value_grad(gz_tape *t, gz_value *v, gz_err *e);
/* For backward functions: the gradient buffer of v and, in *accumulate, whether to add into it (0 when
 * it was just allocated: the caller then writes all of it). */
gz_tensor *gz_value_grad_acc(gz_tape *t, gz_value *v, int *accumulate, gz_err *e);

/* ------------------------------------------------------------------ ops (autograd/ops.c)
 * Each returns the output value (NULL with e filled on a bad shape or a full arena). The optional inputs
 * (conv and linear bias) may be NULL; a NULL required input is taken as the failure of the op that should
 * have produced it, whose message e already holds (so calls chain: relu(bn(conv(x))) reports the first
 * failure), hence e must start zeroed. */
gz_value *gz_ag_conv2d(gz_tape *t, gz_value *x, gz_value *w, gz_value *b, int stride, int pad, gz_err *e);
/* Training mode: normalizes with the batch statistics; *batch_mean and *batch_var (may be NULL) receive
 * the [C] buffers of mu_B and the biased var_B, for the layer to fold into its running statistics. */
gz_value *gz_ag_bn_train(gz_tape *t, gz_value *x, gz_value *gamma, gz_value *beta, float eps,
                         const float **batch_mean, const float **batch_var, gz_err *e);
gz_value *gz_ag_bn_eval(gz_tape *t, gz_value *x, gz_value *gamma, gz_value *beta, const float *running_mean,
                        const float *running_var, float eps, gz_err *e);
gz_value *gz_ag_relu(gz_tape *t, gz_value *x, gz_err *e);
/* In place (nn.ReLU(inplace=True)): the output shares x's storage, so x must have no other consumer and
 * its producer's backward must not need its output (true after batch norm and add). */
gz_value *gz_ag_relu_(gz_tape *t, gz_value *x, gz_err *e);
gz_value *gz_ag_add(gz_tape *t, gz_value *a, gz_value *b, gz_err *e);
/* In place (out += identity in torchvision's Bottleneck): the output shares a's storage, so a must have
 * no other consumer and its producer's backward must not need its output (true after batch norm). */
gz_value *gz_ag_add_(gz_tape *t, gz_value *a, gz_value *b, gz_err *e);
gz_value *gz_ag_mul(gz_tape *t, gz_value *a, gz_value *b, gz_err *e);
gz_value *gz_ag_scale(gz_tape *t, gz_value *x, float c, gz_err *e);
gz_value *gz_ag_maxpool(gz_tape *t, gz_value *x, const gz_pool2d *p, gz_err *e);
/* nn.AdaptiveMaxPool2d((oh, ow)) where oh, ow divide H, W. */
gz_value *gz_ag_adaptive_maxpool(gz_tape *t, gz_value *x, int64_t oh, int64_t ow, gz_err *e);
gz_value *gz_ag_upsample_nearest(gz_tape *t, gz_value *x, int64_t oh, int64_t ow, gz_err *e);
gz_value *gz_ag_upsample_bilinear(gz_tape *t, gz_value *x, int64_t oh, int64_t ow, gz_err *e);
gz_value *gz_ag_concat(gz_tape *t, gz_value *const *xs, int k, gz_err *e); /* k <= GZ_NODE_MAX_IN */
/* x [N, K], w [M, K], b [M] (may be NULL): y [N, M] = x w^T + b (nn.Linear). */
gz_value *gz_ag_linear(gz_tape *t, gz_value *x, gz_value *w, gz_value *b, gz_err *e);
gz_value *gz_ag_sigmoid(gz_tape *t, gz_value *x, gz_err *e);
gz_value *gz_ag_logsigmoid(gz_tape *t, gz_value *x, gz_err *e);
gz_value *gz_ag_bce_logits(gz_tape *t, gz_value *x, gz_value *target, gz_err *e);
gz_value *gz_ag_sum(gz_tape *t, gz_value *x, unsigned axes, gz_err *e);  /* bit d = reduce dim d */
gz_value *gz_ag_mean(gz_tape *t, gz_value *x, unsigned axes, gz_err *e);
gz_value *gz_ag_reshape(gz_tape *t, gz_value *x, int ndim, const int64_t *shape, gz_err *e);
/* One gz_ext_op node of table row `op` (a GZ_OP_*_LOSS / GZ_OP_MIL_CK row): y [shape] = ext->forward(x).
 * *ext is copied into the step arena; ext->ctx is not (see gz_ext_op). autograd/ops_loss.c. */
gz_value *gz_ag_ext(gz_tape *t, gz_op op, const gz_ext_op *ext, gz_value *x, int ndim, const int64_t *shape,
                    gz_err *e);

/* ------------------------------------------------------------------ sharded batches (autograd/ops_shard.c)
 * Data-parallel training (dist/, docs/mpi.md). With t->shards set, the batch on the tape is `nshards`
 * equal contiguous parts (shards) of a global batch of `total_shards` shards spread over processes, and
 * the ops whose result couples the samples change so that every process computes what one process with
 * the whole batch would:
 *   batch norm (training)  per-shard statistics (count, mean, M2 in double; backward: sum dy and
 *                          sum dy (x - mu)) handed to combine(), which returns the global ones (SyncBN);
 *                          the gamma and beta gradients, global after that, are added by one process only
 *                          (param_grad_owner), so that summing the gradient arena over processes counts
 *                          them once;
 *   conv2d weights/bias    with nshards > 1, the kernel runs on each shard alone and the shard gradients
 *                          are added over the pairwise tree of dist.h (node [lo, hi) splits at (lo+hi)/2).
 * Everything else is per sample and unchanged. Linear layers and sums over the batch axis are not sharded
 * (the paper's model has none in training): their backward fails with nshards > 1 rather than differ. */
enum gz_shard_kind { GZ_SHARD_MOMENTS = 0, GZ_SHARD_SUMS = 1 };
typedef struct gz_shard_plan {
  int nshards;          /* shards on this tape (the batch size must be a multiple) */
  int total_shards;     /* shards of the global batch */
  int param_grad_owner; /* 1 on exactly one process */
  /* in: nshards blocks of len entries (MOMENTS: (count, mean, M2) triples; SUMS: one double each), in
   * shard order; out: the len global entries. May use `in` as scratch. */
  int (*combine)(void *ctx, int kind, double *in, size_t len, double *out, gz_err *e);
  void *ctx;
  float *scratch;       /* the weight-gradient tree's buffers, grown on demand */
  size_t scratch_floats;
} gz_shard_plan;
void gz_shard_plan_free(gz_shard_plan *p);
/* The global batch size of a local batch of n samples on this tape (n without a plan). */
int64_t gz_tape_global_batch(const gz_tape *t, int64_t n);

/* ------------------------------------------------------------------ gradient check (autograd/gradcheck.c)
 * For the recorded graph ending in y and the loss L = sum(y * r) with r fixed random (seeded), compares
 * backward's dL/dx for each of the k inputs with central differences (L(x + h) - L(x - h)) / 2h, each x
 * element perturbed in float and L summed in double over a replay of the tape. *rel_err receives the
 * worst norm-wise relative error ||numeric - analytic|| / ||numeric|| over the inputs, *which its index. */
int gz_gradcheck(gz_tape *t, gz_value *y, gz_value *const *xs, int k, double h, uint64_t seed, double *rel_err,
                 int *which, gz_err *e);

#endif
