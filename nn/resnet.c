/* ResNet-50 v1.5 exactly as torchvision.models.resnet50 builds it (torchvision/models/resnet.py):
 * same module tree, so the same parameter names, shapes and initialization rules. */
#include <stdio.h>
#include <string.h>

#include "nn/nn.h"

static const int blocks_per_layer[4] = {3, 4, 6, 3};
static const int planes_of_layer[4] = {64, 128, 256, 512};
enum { EXPANSION = 4 };

/* Bottleneck(inplanes, planes, stride): 1x1 -> 3x3 (stride here: v1.5) -> 1x1 x4, downsample when the
 * shape changes. */
static int bottleneck_init(gz_model *m, gz_bottleneck *b, const char *name, int inplanes, int planes, int stride,
                           gz_err *e) {
  char n[96];
#define SUB(leaf) (snprintf(n, sizeof n, "%s.%s", name, leaf), n)
  memset(b, 0, sizeof *b);
  if (gz_conv_init(m, &b->conv1, SUB("conv1"), inplanes, planes, 1, 1, 0, 0, e) ||
      gz_bn_init(m, &b->bn1, SUB("bn1"), planes, e) ||
      gz_conv_init(m, &b->conv2, SUB("conv2"), planes, planes, 3, stride, 1, 0, e) ||
      gz_bn_init(m, &b->bn2, SUB("bn2"), planes, e) ||
      gz_conv_init(m, &b->conv3, SUB("conv3"), planes, planes * EXPANSION, 1, 1, 0, 0, e) ||
      gz_bn_init(m, &b->bn3, SUB("bn3"), planes * EXPANSION, e))
    return -1;
  b->has_down = stride != 1 || inplanes != planes * EXPANSION;
  if (b->has_down && (gz_conv_init(m, &b->down, SUB("downsample.0"), inplanes, planes * EXPANSION, 1, stride, 0, 0, e) ||
                      gz_bn_init(m, &b->down_bn, SUB("downsample.1"), planes * EXPANSION, e)))
    return -1;
#undef SUB
  return 0;
}

static int build(gz_resnet *r, gz_err *e) {
  gz_model *m = &r->m;
  if (gz_conv_init(m, &r->conv1, "conv1", r->cfg.in_channels, 64, 7, 2, 3, 0, e) || gz_bn_init(m, &r->bn1, "bn1", 64, e))
    return -1;
  int inplanes = 64, k = 0;
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < blocks_per_layer[l]; i++, k++) {
      char name[32];
      snprintf(name, sizeof name, "layer%d.%d", l + 1, i);
      int stride = (i == 0 && l > 0) ? 2 : 1;
      if (bottleneck_init(m, &r->blocks[k], name, inplanes, planes_of_layer[l], stride, e)) return -1;
      inplanes = planes_of_layer[l] * EXPANSION;
    }
  if (r->cfg.num_classes > 0 && gz_linear_init(m, &r->fc, "fc", 512 * EXPANSION, r->cfg.num_classes, 1, e)) return -1;
  return 0;
}

int gz_resnet50_init(gz_resnet *r, const gz_resnet_config *cfg, gz_err *e) {
  memset(r, 0, sizeof *r);
  if (cfg->in_channels < 1 || cfg->num_classes < 0)
    return gz_fail(e, GZ_EINVAL, "resnet50: in_channels %d and num_classes %d", cfg->in_channels, cfg->num_classes);
  r->cfg = *cfg;
  gz_model_begin_count(&r->m, cfg->seed);
  if (build(r, e) || gz_model_begin_build(&r->m, e)) return -1;
  if (build(r, e)) {
    gz_model_free(&r->m);
    return -1;
  }
  return 0;
}

void gz_resnet50_free(gz_resnet *r) { gz_model_free(&r->m); }

static gz_value *bottleneck_forward(gz_tape *t, gz_bottleneck *b, gz_value *x, int training, gz_err *e) {
  gz_value *h = gz_ag_relu_(t, gz_bn_forward(t, &b->bn1, gz_conv_forward(t, &b->conv1, x, e), training, e), e);
  if (!h) return NULL;
  h = gz_ag_relu_(t, gz_bn_forward(t, &b->bn2, gz_conv_forward(t, &b->conv2, h, e), training, e), e);
  if (!h) return NULL;
  h = gz_bn_forward(t, &b->bn3, gz_conv_forward(t, &b->conv3, h, e), training, e);
  gz_value *identity = b->has_down ? gz_bn_forward(t, &b->down_bn, gz_conv_forward(t, &b->down, x, e), training, e) : x;
  if (!h || !identity) return NULL;
  return gz_ag_relu_(t, gz_ag_add_(t, h, identity, e), e); /* out += identity; relu, both in place */
}

int gz_resnet50_forward(gz_resnet *r, gz_tape *t, gz_value *x, int training, int upto, gz_resnet_out *out, gz_err *e) {
  memset(out, 0, sizeof *out);
  if (upto < 1 || upto > 4) return gz_fail(e, GZ_EINVAL, "resnet50: upto must be 1..4, got %d", upto);
  if (!x || x->data.ndim != 4 || x->data.shape[1] != r->cfg.in_channels)
    return gz_fail(e, GZ_EINVAL, "resnet50: input must be [N, %d, H, W]", r->cfg.in_channels);
  gz_pool2d pool = {3, 3, 2, 2, 1, 1};
  gz_value *h = gz_ag_relu_(t, gz_bn_forward(t, &r->bn1, gz_conv_forward(t, &r->conv1, x, e), training, e), e);
  if (!h || !(h = gz_ag_maxpool(t, h, &pool, e))) return -1;
  int k = 0;
  for (int l = 0; l < upto; l++) {
    for (int i = 0; i < blocks_per_layer[l]; i++, k++)
      if (!(h = bottleneck_forward(t, &r->blocks[k], h, training, e))) return -1;
    out->layer[l] = h;
  }
  if (upto < 4 || r->cfg.num_classes == 0) return 0;
  /* avgpool (AdaptiveAvgPool2d(1)) = mean over H, W; flatten; fc */
  int64_t flat[2] = {h->data.shape[0], h->data.shape[1]};
  gz_value *pooled = gz_ag_reshape(t, gz_ag_mean(t, h, 4 | 8, e), 2, flat, e);
  if (!pooled || !(out->logits = gz_linear_forward(t, &r->fc, pooled, e))) return -1;
  return 0;
}

static void config_json(const gz_resnet_config *c, char *buf, size_t n) {
  snprintf(buf, n, "{\"model\": \"resnet50\", \"in_channels\": %d, \"num_classes\": %d}", c->in_channels,
           c->num_classes);
}

int gz_resnet50_save(const gz_resnet *r, const gz_adam *opt, const gz_rng *rng, const char *path, gz_err *e) {
  char cfg[160];
  config_json(&r->cfg, cfg, sizeof cfg);
  return gz_model_save(&r->m, opt, rng, cfg, path, e);
}

int gz_resnet50_load(gz_resnet *r, gz_adam *opt, gz_rng *rng, const char *path, gz_err *e) {
  gz_ckpt *c = gz_ckpt_open(path, e);
  if (!c) return -1;
  char want[160];
  config_json(&r->cfg, want, sizeof want);
  const char *have = gz_ckpt_meta(c, "config");
  int rc = have && strcmp(have, want)
               ? gz_fail(e, GZ_EFORMAT, "%s: written for %s, this model is %s", path, have, want)
               : 0;
  gz_ckpt_close(c);
  return rc ? rc : gz_model_load(&r->m, opt, rng, path, e);
}
