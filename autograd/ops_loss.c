/* The gz_ext_op rows of the op table (GZ_OP_MIL_LOSS, GZ_OP_DECODER_LOSS, GZ_OP_MIL_CK): fused kernels of
 * a higher module (nn/loss.h, wrapped by nn/paper_loss.c) that the node carries, since autograd may not
 * link against nn. One input x, one output y; the kernel sees raw tensors. */
#include <string.h>

#include "autograd/autograd.h"
#include "autograd/tape_internal.h"

int gz_ext_op_forward(gz_tape *t, gz_node *n, gz_err *e) {
  (void)t;
  return n->a.ext->forward(n->a.ext->ctx, &n->in[0]->data, &n->out->data, e);
}

int gz_ext_op_backward(gz_tape *t, gz_node *n, gz_err *e) {
  gz_value *x = n->in[0];
  if (!x->requires_grad) return 0;
  int acc;
  gz_tensor *dx = gz_value_grad_acc(t, x, &acc, e);
  if (!dx) return -1;
  return n->a.ext->backward(n->a.ext->ctx, &x->data, &n->out->grad, dx, acc, e);
}

gz_value *gz_ag_ext(gz_tape *t, gz_op op, const gz_ext_op *ext, gz_value *x, int ndim, const int64_t *shape,
                    gz_err *e) {
  if (op < GZ_OP_MIL_LOSS || op >= GZ_OP_COUNT || !ext || !ext->forward || !ext->backward) {
    gz_fail(e, GZ_EINVAL, "ext op: %d is not a gz_ext_op row, or its kernel is missing", (int)op);
    return NULL;
  }
  const char *name = gz_op_table[op].name;
  if (!x) {
    if (e && e->code == 0) gz_fail(e, GZ_EINVAL, "%s: input is missing", name);
    return NULL;
  }
  if (!gz_tensor_is_contiguous(&x->data)) {
    gz_fail(e, GZ_EINVAL, "%s: input must be a contiguous tensor", name);
    return NULL;
  }
  gz_ext_op *copy = gz_arena_alloc(t->arena, sizeof *copy, e);
  if (!copy) return NULL;
  *copy = *ext;
  gz_node n;
  memset(&n, 0, sizeof n);
  n.op = op, n.nin = 1, n.in[0] = x, n.a.ext = copy;
  if (!(n.out = gz_tape_value(t, ndim, shape, 0, e))) return NULL;
  return gz_tape_run(t, &n, e) ? NULL : n.out;
}
