/* Between the tape and the op functions (autograd/ops*.c). */
#ifndef GAZELOC_AUTOGRAD_TAPE_INTERNAL_H
#define GAZELOC_AUTOGRAD_TAPE_INTERNAL_H

#include "autograd/autograd.h"

/* Runs the forward of a filled-in node (inputs, output, saved buffers, attributes), audits its output and,
 * when recording and some input needs a gradient, appends it to the tape. */
int gz_tape_run(gz_tape *t, gz_node *n, gz_err *e);

/* The op table's forward and backward of the gz_ext_op rows (autograd/ops_loss.c). */
int gz_ext_op_forward(gz_tape *t, gz_node *n, gz_err *e);
int gz_ext_op_backward(gz_tape *t, gz_node *n, gz_err *e);

/* The sharded forms of batch norm and of the conv weight gradient (autograd/ops_shard.c, t->shards set). */
int gz_shard_bn_fwd(gz_tape *t, gz_node *n, gz_err *e);
int gz_shard_bn_bwd(gz_tape *t, gz_node *n, gz_tensor *dx, int ax, gz_tensor *dg, int ag, gz_tensor *db, int ab,
                    gz_err *e);
int gz_shard_conv_weights(gz_tape *t, gz_node *n, gz_tensor *dw, int aw, gz_tensor *db, int ab, void *ws, size_t wsb,
                          gz_err *e);

#endif
