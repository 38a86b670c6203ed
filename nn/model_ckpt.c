/* A model (and optionally its optimizer and RNG) to and from a safetensors checkpoint (nn/checkpoint.c):
 * the tensors under PyTorch's names, so torchvision weights converted by tools/pth_to_safetensors.py load
 * directly, and everything exact resume needs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"

static const char *moment_names[3] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
#define OPT_PREFIX "optimizer."

/* The moment arena k's copy of parameter t (same offset). */
static void *moment(const gz_model *m, const gz_named *t, int k) {
  size_t off = (size_t)((const char *)t->data - m->params.param.base);
  return m->params.state[k].base + off;
}

static void moment_name(char *buf, size_t n, int k, const char *param) {
  snprintf(buf, n, OPT_PREFIX "%s.%s", moment_names[k], param);
}

int gz_model_save(const gz_model *m, const gz_adam *opt, const gz_rng *rng, const char *config, const char *path,
                  gz_err *e) {
  int nparams = 0;
  for (int i = 0; i < m->n; i++) nparams += m->named[i].is_param;
  int cap = m->n + (opt ? 3 * nparams : 0);
  gz_ckpt_entry *ents = calloc((size_t)cap, sizeof *ents);
  char(*names)[128] = calloc((size_t)cap, sizeof *names);
  if (!ents || !names) {
    free(ents), free(names);
    return gz_fail(e, GZ_ENOMEM, "%s: out of memory for %d checkpoint entries", path, cap);
  }
  int n = 0;
  for (int i = 0; i < m->n; i++) {
    const gz_named *t = &m->named[i];
    gz_ckpt_entry *c = &ents[n++];
    c->name = t->name, c->dtype = t->dtype, c->ndim = t->ndim, c->data = t->data;
    for (int d = 0; d < t->ndim; d++) c->shape[d] = t->shape[d];
    if (!opt || !t->is_param) continue;
    for (int k = 0; k < 3; k++) {
      moment_name(names[n], sizeof names[n], k, t->name);
      ents[n] = *c;
      ents[n].name = names[n];
      ents[n].data = moment(m, t, k);
      n++;
    }
  }
  const char *keys[8], *vals[8];
  char hp[256], step[32], rs[256];
  int nm = 0;
  if (opt) {
    snprintf(hp, sizeof hp,
             "{\"type\": \"adam\", \"amsgrad\": true, \"lr\": %.17g, \"betas\": [%.17g, %.17g], \"eps\": %.17g, "
             "\"weight_decay\": %.17g}",
             opt->hp.lr, opt->hp.beta1, opt->hp.beta2, opt->hp.eps, opt->hp.weight_decay);
    snprintf(step, sizeof step, "%" PRId64, opt->hp.step);
    keys[nm] = "optimizer", vals[nm++] = hp;
    keys[nm] = "step", vals[nm++] = step;
  }
  if (rng) {
    snprintf(rs, sizeof rs, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %d %u %u %u %u", rng->seed, rng->stream,
             rng->counter, rng->used, rng->buf[0], rng->buf[1], rng->buf[2], rng->buf[3]);
    keys[nm] = "rng", vals[nm++] = rs;
  }
  if (config) keys[nm] = "config", vals[nm++] = config;
  int rc = gz_ckpt_save(path, ents, n, keys, vals, nm, e);
  free(ents), free(names);
  return rc;
}

/* Whether the file has `name` with t's dtype and shape; if not, gz_ckpt_read says exactly why (it checks
 * before it copies, so nothing is written). Every check runs before any copy: a bad file leaves the model,
 * optimizer and RNG as they were. */
static int check_named(const gz_ckpt *c, const gz_named *t, const char *name, gz_err *e) {
  const gz_ckpt_entry *f = gz_ckpt_find(c, name);
  int ok = f && f->dtype == t->dtype && f->ndim == t->ndim;
  for (int d = 0; ok && d < t->ndim; d++) ok = f->shape[d] == t->shape[d];
  return ok ? 0 : gz_ckpt_read(c, name, t->dtype, t->ndim, t->shape, t->data, e);
}

static void copy_named(const gz_ckpt *c, const char *name, void *dst) {
  const gz_ckpt_entry *f = gz_ckpt_find(c, name);
  size_t n = f->dtype == GZ_F32 ? 4 : 8;
  for (int d = 0; d < f->ndim; d++) n *= (size_t)f->shape[d];
  memcpy(dst, f->data, n);
}

static int parse_opt(const gz_ckpt *c, gz_adam *o, const char *path, gz_err *e) {
  const char *step = gz_ckpt_meta(c, "step"), *hp = gz_ckpt_meta(c, "optimizer");
  if (!step || !hp) return gz_fail(e, GZ_EFORMAT, "%s: no optimizer state (metadata 'step' and 'optimizer')", path);
  char *end;
  long long s = strtoll(step, &end, 10);
  if (*end || s < 0) return gz_fail(e, GZ_EFORMAT, "%s: metadata 'step' = '%s' is not a step count", path, step);
  memset(o, 0, sizeof *o);
  if (sscanf(hp,
             "{\"type\": \"adam\", \"amsgrad\": true, \"lr\": %lg, \"betas\": [%lg, %lg], \"eps\": %lg, "
             "\"weight_decay\": %lg}",
             &o->hp.lr, &o->hp.beta1, &o->hp.beta2, &o->hp.eps, &o->hp.weight_decay) != 5)
    return gz_fail(e, GZ_EFORMAT, "%s: metadata 'optimizer' = '%s' is not an AMSGrad configuration", path, hp);
  o->hp.step = s;
  return 0;
}

static int parse_rng(const gz_ckpt *c, gz_rng *r, const char *path, gz_err *e) {
  const char *s = gz_ckpt_meta(c, "rng");
  char tail;
  if (!s) return gz_fail(e, GZ_EFORMAT, "%s: no RNG state (metadata 'rng')", path);
  if (sscanf(s, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %d %u %u %u %u %c", &r->seed, &r->stream, &r->counter, &r->used,
             &r->buf[0], &r->buf[1], &r->buf[2], &r->buf[3], &tail) != 8 || r->used < 0 || r->used > 4)
    return gz_fail(e, GZ_EFORMAT, "%s: metadata 'rng' = '%s' is not an RNG state", path, s);
  return 0;
}

int gz_model_load(gz_model *m, gz_adam *opt, gz_rng *rng, const char *path, gz_err *e) {
  gz_ckpt *c = gz_ckpt_open(path, e);
  if (!c) return -1;
  int rc = 0;
  gz_adam o;
  gz_rng r;
  char name[128];
  /* every tensor of the file belongs to the model or is optimizer state */
  for (int i = 0; i < gz_ckpt_count(c) && !rc; i++) {
    const char *f = gz_ckpt_entry_at(c, i)->name;
    if (strncmp(f, OPT_PREFIX, strlen(OPT_PREFIX)) && !gz_model_find(m, f))
      rc = gz_fail(e, GZ_EFORMAT, "%s: tensor '%s' is not part of this model", path, f);
  }
  for (int i = 0; i < m->n && !rc; i++) {
    const gz_named *t = &m->named[i];
    rc = check_named(c, t, t->name, e);
    for (int k = 0; k < 3 && !rc && opt && t->is_param; k++) {
      moment_name(name, sizeof name, k, t->name);
      rc = check_named(c, t, name, e);
    }
  }
  if (!rc && opt) rc = parse_opt(c, &o, path, e);
  if (!rc && rng) rc = parse_rng(c, &r, path, e);
  if (!rc) {
    for (int i = 0; i < m->n; i++) {
      const gz_named *t = &m->named[i];
      copy_named(c, t->name, t->data);
      for (int k = 0; k < 3 && opt && t->is_param; k++) {
        moment_name(name, sizeof name, k, t->name);
        copy_named(c, name, moment(m, t, k));
      }
    }
    if (opt) *opt = o;
    if (rng) *rng = r;
  }
  gz_ckpt_close(c);
  return rc;
}
