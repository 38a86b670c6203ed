/* A model's memory and its table of named tensors (nn.h "models"). */
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static size_t round_up(size_t n) { return (n + GZ_ALIGN - 1) / GZ_ALIGN * GZ_ALIGN; }

static size_t bytes_of(int dtype, int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
  return n * (dtype == GZ_F32 ? 4 : 8);
}

void gz_model_begin_count(gz_model *m, uint64_t seed) {
  memset(m, 0, sizeof *m);
  m->counting = 1;
  gz_rng_init(&m->init_rng, seed, 0);
}

int gz_model_begin_build(gz_model *m, gz_err *e) {
  size_t pb = m->param_bytes, bb = m->buffer_bytes;
  int cap = m->n;
  uint64_t seed = m->init_rng.seed;
  memset(m, 0, sizeof *m);
  gz_rng_init(&m->init_rng, seed, 0);
  m->named = calloc((size_t)(cap ? cap : 1), sizeof *m->named);
  if (!m->named) return gz_fail(e, GZ_ENOMEM, "model: cannot allocate the table of %d tensors", cap);
  m->cap = cap;
  if (gz_params_init(&m->params, pb, 3, e) || gz_arena_init(&m->buffers, "buffers", bb ? bb : GZ_ALIGN, e)) {
    gz_model_free(m);
    return -1;
  }
  return 0;
}

void gz_model_free(gz_model *m) {
  if (m->params.param.base) gz_params_free(&m->params);
  gz_arena_free(&m->buffers);
  free(m->named);
  memset(m, 0, sizeof *m);
}

static gz_named *add_name(gz_model *m, const char *name, int is_param, int dtype, int ndim, const int64_t *shape,
                          gz_err *e) {
  if (strlen(name) >= sizeof m->named[0].name) {
    gz_fail(e, GZ_EINVAL, "model: tensor name '%s' is too long", name);
    return NULL;
  }
  if (m->n == m->cap) {
    gz_fail(e, GZ_EINVAL, "model: '%s' was not there in the counting pass", name);
    return NULL;
  }
  gz_named *t = &m->named[m->n++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->is_param = is_param, t->dtype = dtype, t->ndim = ndim;
  for (int d = 0; d < 4; d++) t->shape[d] = d < ndim ? shape[d] : 1;
  return t;
}

int gz_model_param(gz_model *m, const char *name, int ndim, const int64_t *shape, gz_value *v, gz_err *e) {
  memset(v, 0, sizeof *v);
  if (m->counting) {
    m->param_bytes += round_up(bytes_of(GZ_F32, ndim, shape));
    m->n++;
    return 0;
  }
  gz_named *t = add_name(m, name, 1, GZ_F32, ndim, shape, e);
  gz_tensor p, g;
  if (!t || gz_params_new(&m->params, ndim, shape, &p, &g, e)) return -1;
  gz_value_param(v, &p, &g);
  t->data = p.data;
  return 0;
}

int gz_model_buffer(gz_model *m, const char *name, int dtype, int ndim, const int64_t *shape, void **data, gz_err *e) {
  *data = NULL;
  if (m->counting) {
    m->buffer_bytes += round_up(bytes_of(dtype, ndim, shape));
    m->n++;
    return 0;
  }
  gz_named *t = add_name(m, name, 0, dtype, ndim, shape, e);
  if (!t || !(*data = gz_arena_alloc(&m->buffers, bytes_of(dtype, ndim, shape), e))) return -1;
  t->data = *data;
  return 0;
}

const gz_named *gz_model_find(const gz_model *m, const char *name) {
  for (int i = 0; i < m->n; i++)
    if (!strcmp(m->named[i].name, name)) return &m->named[i];
  return NULL;
}

int64_t gz_model_param_count(const gz_model *m) {
  int64_t n = 0;
  for (int i = 0; i < m->n; i++)
    if (m->named[i].is_param) n += (int64_t)(bytes_of(GZ_F32, m->named[i].ndim, m->named[i].shape) / 4);
  return n;
}
