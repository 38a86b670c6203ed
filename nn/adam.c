/* torch.optim.Adam(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay, amsgrad=True) over the parameter arena.
 *
 * The update of each element is the tensor module's fused AMSGrad kernel (tensor/tensor.h, PyTorch 1.13's
 * _single_tensor_adam operation by operation): g = grad + wd p (coupled L2), m = b1 m + (1-b1) g,
 * v = b2 v + (1-b2) g^2, vmax = max(vmax, v), p -= lr / (1-b1^t) m / (sqrt(vmax) / sqrt(1-b2^t) + eps).
 * Because gradients and moments sit at the parameter's offset in arenas of the same layout, one call
 * covers every parameter; the alignment padding between tensors is zero in all five arenas and stays zero. */
#include "nn/nn.h"

void gz_adam_init(gz_adam *o, double lr, double weight_decay) {
  o->hp = (gz_adam_hp){.lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = weight_decay, .step = 0};
}

int gz_adam_step(gz_adam *o, gz_model *m, gz_err *e) {
  gz_params *p = &m->params;
  if (p->nstate < 3) return gz_fail(e, GZ_EINVAL, "adam: the parameter store has %d moment arenas, AMSGrad needs 3", p->nstate);
  size_t n = p->param.used / sizeof(float);
  gz_adam_hp hp = o->hp;
  hp.step++;
  if (gz_amsgrad_step((float *)p->param.base, (const float *)p->grad.base, (float *)p->state[0].base,
                      (float *)p->state[1].base, (float *)p->state[2].base, n, &hp, e))
    return -1;
  o->hp.step = hp.step;
  return 0;
}
