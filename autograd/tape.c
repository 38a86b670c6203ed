/* The tape: values, nodes, backward in reverse with +=, replay, and the step's memory.
 *
 * Memory: everything a step creates (gz_value structs, activations, saved tensors, activation gradients)
 * is bumped from the tape's arena and released at once by gz_tape_reset. Within a step, an activation
 * gradient its producer has consumed goes to a free list, and the next gradient of the same byte size
 * takes it instead of bumping the arena (the peak then holds a few gradients, not all of them). The node array and the
 * workspace are allocated outside the step: the node array at init, the workspace grown on demand, which
 * happens during the first step only since later steps repeat its shapes. */
#include "autograd/autograd.h"
#include "autograd/tape_internal.h"

#include <stdlib.h>
#include <string.h>

int gz_tape_init(gz_tape *t, gz_arena *arena, int max_nodes, gz_err *e) {
  memset(t, 0, sizeof *t);
  if (max_nodes < 1) return gz_fail(e, GZ_EINVAL, "tape: max_nodes must be positive, got %d", max_nodes);
  t->nodes = calloc((size_t)max_nodes, sizeof *t->nodes);
  if (!t->nodes) return gz_fail(e, GZ_ENOMEM, "tape: cannot allocate %d nodes", max_nodes);
  t->cap = max_nodes;
  t->free_bufs = calloc((size_t)max_nodes, sizeof *t->free_bufs);
  if (!t->free_bufs) {
    free(t->nodes);
    return gz_fail(e, GZ_ENOMEM, "tape: cannot allocate %d nodes", max_nodes);
  }
  t->arena = arena;
  t->mark = gz_arena_mark(arena);
  t->grad_enabled = 1;
  return 0;
}

void gz_tape_free(gz_tape *t) {
  free(t->nodes);
  free(t->free_bufs);
  free(t->ws);
  memset(t, 0, sizeof *t);
}

void gz_tape_reset(gz_tape *t) {
  t->n = 0, t->nfree = 0;
  gz_arena_reset(t->arena, t->mark);
}

int gz_tape_set_grad(gz_tape *t, int enabled) {
  int old = t->grad_enabled;
  t->grad_enabled = enabled;
  return old;
}

void *gz_tape_workspace(gz_tape *t, size_t bytes, gz_err *e) {
  if (bytes <= t->ws_bytes) return t->ws;
  void *p = NULL;
  if (posix_memalign(&p, GZ_ALIGN, bytes) != 0) {
    gz_fail(e, GZ_ENOMEM, "tape: cannot allocate a workspace of %zu bytes", bytes);
    return NULL;
  }
  free(t->ws);
  t->ws = p, t->ws_bytes = bytes;
  return p;
}

void gz_value_param(gz_value *v, const gz_tensor *param, const gz_tensor *grad) {
  memset(v, 0, sizeof *v);
  v->data = *param;
  if (grad) v->grad = *grad;
  v->requires_grad = 1;
}

static gz_value *new_value(gz_tape *t, gz_err *e) {
  gz_value *v = gz_arena_alloc(t->arena, sizeof *v, e);
  if (v) memset(v, 0, sizeof *v);
  return v;
}

gz_value *gz_tape_value(gz_tape *t, int ndim, const int64_t *shape, int requires_grad, gz_err *e) {
  gz_value *v = new_value(t, e);
  if (!v || gz_arena_tensor(t->arena, ndim, shape, &v->data, e)) return NULL;
  v->requires_grad = requires_grad;
  return v;
}

gz_value *gz_tape_wrap(gz_tape *t, const gz_tensor *data, int requires_grad, gz_err *e) {
  gz_value *v = new_value(t, e);
  if (!v) return NULL;
  v->data = *data;
  v->requires_grad = requires_grad;
  return v;
}

static size_t grad_bytes(const gz_value *v) {
  size_t b = (size_t)gz_tensor_numel(&v->data) * sizeof(float);
  return (b + GZ_ALIGN - 1) / GZ_ALIGN * GZ_ALIGN;
}

gz_tensor *gz_value_grad_acc(gz_tape *t, gz_value *v, int *accumulate, gz_err *e) {
  *accumulate = 1;
  if (v->grad.data) return &v->grad;
  *accumulate = 0;
  size_t bytes = grad_bytes(v);
  for (int i = t->nfree - 1; i >= 0; i--) /* a consumed gradient of the same size, latest first */
    if (t->free_bufs[i].bytes == bytes) {
      float *p = t->free_bufs[i].data;
      t->free_bufs[i] = t->free_bufs[--t->nfree];
      if (gz_tensor_wrap(&v->grad, p, v->data.ndim, v->data.shape, e)) return NULL;
      return &v->grad;
    }
  if (gz_arena_tensor(t->arena, v->data.ndim, v->data.shape, &v->grad, e)) return NULL;
  return &v->grad;
}

gz_tensor *gz_value_grad(gz_tape *t, gz_value *v, gz_err *e) {
  int acc;
  gz_tensor *g = gz_value_grad_acc(t, v, &acc, e);
  if (g && !acc) memset(g->data, 0, (size_t)gz_tensor_numel(g) * sizeof(float));
  return g;
}

/* The gradient of a node's output, once the node's backward has consumed it, becomes reusable. */
static void release_grad(gz_tape *t, gz_value *v) {
  if (v->retain_grad || !v->grad.data) return;
  if (t->nfree < t->cap) t->free_bufs[t->nfree++] = (struct gz_free_buf){v->grad.data, grad_bytes(v)};
  memset(&v->grad, 0, sizeof v->grad);
}

static int in_step_arena(const gz_tape *t, const float *p) {
  return (const char *)p >= t->arena->base && (const char *)p < t->arena->base + t->arena->size;
}

static void audit(gz_tape *t, const char *phase, const char *op, const gz_tensor *x) {
  if (!t->audit || !t->audit->f || !x->data) return;
  if (gz_tensor_is_contiguous(x)) {
    gz_audit_record(t->audit, phase, op, x->ndim, x->shape, x->data);
    return;
  }
  /* a channel view (concat): record a packed copy so the hash covers exactly the tensor's bytes */
  size_t mark = gz_arena_mark(t->arena);
  gz_tensor c;
  gz_err e = {0};
  if (gz_arena_tensor(t->arena, x->ndim, x->shape, &c, &e) == 0 && gz_tensor_copy(x, &c, &e) == 0)
    gz_audit_record(t->audit, phase, op, c.ndim, c.shape, c.data);
  gz_arena_reset(t->arena, mark);
}

int gz_tape_run(gz_tape *t, gz_node *n, gz_err *e) {
  const gz_op_info *op = &gz_op_table[n->op];
  if (op->forward(t, n, e)) return -1;
  audit(t, "forward", op->name, &n->out->data);
  int needs = 0;
  for (int i = 0; i < n->nin; i++) needs |= n->in[i] && n->in[i]->requires_grad;
  n->out->requires_grad = needs && t->grad_enabled;
  if (!n->out->requires_grad) return 0;
  if (t->n == t->cap) return gz_fail(e, GZ_ENOMEM, "tape: more than %d nodes in one step", t->cap);
  t->nodes[t->n++] = *n;
  return 0;
}

int gz_tape_backward(gz_tape *t, gz_value *y, const float *seed, gz_err *e) {
  if (!y->requires_grad) return gz_fail(e, GZ_EINVAL, "backward: the value does not depend on anything that needs a gradient");
  gz_tensor *g = gz_value_grad(t, y, e);
  if (!g) return -1;
  int64_t n = gz_tensor_numel(g);
  for (int64_t i = 0; i < n; i++) g->data[i] += seed ? seed[i] : 1.0f;
  for (int i = t->n - 1; i >= 0; i--) {
    gz_node *nd = &t->nodes[i];
    if (!nd->out->grad.data) continue; /* no gradient reached this node */
    const gz_op_info *op = &gz_op_table[nd->op];
    if (op->backward(t, nd, e)) return -1;
    for (int k = 0; k < nd->nin; k++)
      if (nd->in[k] && nd->in[k]->requires_grad) audit(t, "backward", op->name, &nd->in[k]->grad);
    release_grad(t, nd->out);
  }
  return 0;
}

void gz_tape_zero_grads(gz_tape *t) {
  for (int i = 0; i < t->n; i++) {
    gz_node *nd = &t->nodes[i];
    for (int k = -1; k < nd->nin; k++) {
      gz_value *v = k < 0 ? nd->out : nd->in[k];
      if (v && v->grad.data && in_step_arena(t, v->grad.data))
        memset(v->grad.data, 0, (size_t)gz_tensor_numel(&v->grad) * sizeof(float));
    }
  }
}

int gz_tape_replay(gz_tape *t, gz_err *e) {
  for (int i = 0; i < t->n; i++)
    if (gz_op_table[t->nodes[i].op].forward(t, &t->nodes[i], e)) return -1;
  return 0;
}
