/* Arenas: one aligned block, bump allocation, mark/reset. The parameter store keeps the parameter,
 * gradient and optimizer-state arenas in lockstep, so each parameter's gradient and moments sit at the
 * same byte offset as the parameter itself (spec/architecture.md "Memory"; the llm.c pattern). */
#include "tensor/tensor.h"

#include <stdlib.h>
#include <string.h>

int gz_arena_init(gz_arena *a, const char *name, size_t bytes, gz_err *e) {
  memset(a, 0, sizeof *a);
  a->name = name ? name : "arena";
  size_t rounded = (bytes + GZ_ALIGN - 1) / GZ_ALIGN * GZ_ALIGN;
  if (rounded < bytes) return gz_fail(e, GZ_ERANGE, "%s: %zu bytes is an impossible size", a->name, bytes);
  if (rounded == 0) rounded = GZ_ALIGN;
  a->base = aligned_alloc(GZ_ALIGN, rounded);
  if (!a->base) return gz_fail(e, GZ_ENOMEM, "%s: cannot allocate %zu bytes", a->name, rounded);
  memset(a->base, 0, rounded);
  a->size = rounded;
  a->device = GZ_DEVICE_CPU;
  return 0;
}

void gz_arena_free(gz_arena *a) {
  free(a->base);
  a->base = NULL;
  a->size = a->used = 0;
}

void *gz_arena_alloc(gz_arena *a, size_t bytes, gz_err *e) {
  size_t need = (bytes + GZ_ALIGN - 1) / GZ_ALIGN * GZ_ALIGN;
  if (need < bytes || need > a->size - a->used)
    return gz_fail(e, GZ_ENOMEM, "%s: %zu bytes asked for, %zu of %zu free", a->name, bytes, a->size - a->used, a->size),
           NULL;
  void *p = a->base + a->used;
  a->used += need;
  if (a->used > a->peak) a->peak = a->used;
  return p;
}

int gz_arena_tensor(gz_arena *a, int ndim, const int64_t *shape, gz_tensor *t, gz_err *e) {
  if (gz_tensor_wrap(t, NULL, ndim, shape, e)) return gz_err_prefix(e, "%s", a->name);
  float *p = gz_arena_alloc(a, (size_t)gz_tensor_numel(t) * sizeof(float), e);
  if (!p) return -1;
  t->data = p;
  t->device = a->device;
  return 0;
}

size_t gz_arena_mark(const gz_arena *a) { return a->used; }
void gz_arena_reset(gz_arena *a, size_t mark) {
  if (mark <= a->used) a->used = mark;
}
void gz_arena_zero(gz_arena *a) { memset(a->base, 0, a->used); }

int gz_params_init(gz_params *p, size_t bytes, int nstate, gz_err *e) {
  memset(p, 0, sizeof *p);
  if (nstate < 0 || nstate > GZ_MAX_OPT_STATE)
    return gz_fail(e, GZ_EINVAL, "parameter store: %d optimizer states asked for, at most %d", nstate, GZ_MAX_OPT_STATE);
  static const char *names[GZ_MAX_OPT_STATE] = {"optimizer state 0", "optimizer state 1", "optimizer state 2"};
  if (gz_arena_init(&p->param, "parameters", bytes, e) || gz_arena_init(&p->grad, "gradients", bytes, e)) goto fail;
  for (int i = 0; i < nstate; i++) {
    if (gz_arena_init(&p->state[i], names[i], bytes, e)) goto fail;
    p->nstate = i + 1;
  }
  return 0;
fail:
  gz_params_free(p);
  return -1;
}

void gz_params_free(gz_params *p) {
  gz_arena_free(&p->param);
  gz_arena_free(&p->grad);
  for (int i = 0; i < p->nstate; i++) gz_arena_free(&p->state[i]);
  p->nstate = 0;
}

int gz_params_new(gz_params *p, int ndim, const int64_t *shape, gz_tensor *param, gz_tensor *grad, gz_err *e) {
  if (gz_arena_tensor(&p->param, ndim, shape, param, e)) return -1;
  /* Every arena has the same size and the same history, so the same bump gives the same offset. */
  size_t used = p->param.used;
  p->grad.used = used;
  for (int i = 0; i < p->nstate; i++) p->state[i].used = used;
  p->grad.peak = p->param.peak;
  if (grad) return gz_params_peer(p, &p->grad, param, grad, e);
  return 0;
}

int gz_params_peer(const gz_params *p, const gz_arena *which, const gz_tensor *param, gz_tensor *out, gz_err *e) {
  if ((const char *)param->data < p->param.base || (const char *)param->data >= p->param.base + p->param.used)
    return gz_fail(e, GZ_EINVAL, "parameter store: the tensor is not in the parameter arena");
  if (!which->base || which->size != p->param.size)
    return gz_fail(e, GZ_EINVAL, "parameter store: '%s' is not an arena of this store", which->name);
  *out = *param;
  out->data = (float *)(which->base + ((const char *)param->data - p->param.base));
  return 0;
}

size_t gz_params_count(const gz_params *p) { return p->param.used / sizeof(float); }
