/* The training step (Eq. 7: L_I + lambda_T L_T, method.md sections 1-2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

int train_model_init(gz_paper *p, const gz_run_config *c, gz_err *e) {
  /* the loader already normalizes once or twice (data.h), so the network adds no normalization of its own */
  gz_paper_config pc = {.multires = c->multires, .decoder = c->decoder, .normalize_twice = 0};
  return gz_paper_init(p, &pc, c->seed, e);
}

static gz_value *wrap_input(gz_tape *t, const gz_batch *b, gz_err *e) {
  gz_tensor x;
  if (gz_tensor_wrap4(&x, b->x, b->n, 3, b->size, b->size, e)) return NULL;
  return gz_tape_wrap(t, &x, 0, e);
}

int train_step(train_run *r, const gz_batch *b, double *loss, double *loss_t, gz_err *e) {
  gz_tape *t = &r->tape;
  gz_tape_reset(t);
  gz_arena_zero(&r->net.m.params.grad);
  gz_value *x = wrap_input(t, b, e);
  if (!x) return -1;
  gz_paper_out o;
  if (gz_paper_forward(&r->net, t, x, 1, &o, e)) return -1;
  gz_value *l = gz_ag_mil_loss(t, o.gamma, b->b, b->y, b->annotated, &r->mil, e);
  if (!l) return -1;
  *loss_t = 0;
  gz_value *lt = NULL;
  if (r->cfg.decoder && o.dec) {
    if (!(lt = gz_ag_decoder_loss(t, o.dec, b->t, b->y, b->annotated, e))) return -1;
    *loss_t = lt->data.data[0];
  }
  if (!(l = gz_ag_paper_loss(t, l, lt, (float)r->cfg.lambda_t, e))) return -1; /* Eq. 7 */
  *loss = l->data.data[0];
  if (!isfinite(*loss)) return gz_fail(e, GZ_EINVAL, "the loss is not a finite number (%g) at step %lld", *loss,
                                       (long long)r->opt.hp.step + 1);
  if (gz_tape_backward(t, l, NULL, e)) return -1;
  return gz_adam_step(&r->opt, &r->net.m, e);
}
