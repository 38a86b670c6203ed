/* The paper's network (method.md sections 2-3; nn.h "the paper's model"): the multi-resolution ResNet-50
 * encoder, CNN Block 5 and the multi-task decoder, in one gz_model so that one Adam pass and one
 * checkpoint cover all of it. The ResNet's forward is nn/resnet.c's; its layers are registered here under
 * the `encoder.` prefix (resnet.c builds into a model of its own, without a prefix). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn.h"

static const int blocks_per_layer[4] = {3, 4, 6, 3}; /* as nn/resnet.c (torchvision's resnet50) */
static const int planes_of_layer[4] = {64, 128, 256, 512};
enum { EXPANSION = 4, B5_CH = 512 };
static const int dec_ch[4] = {B5_CH, 128, 64, GZ_PAPER_CLASSES};

/* torchvision's Bottleneck under `encoder.layerL.I` (same order, shapes and init as nn/resnet.c). */
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

/* nn.Conv2d's default reset_parameters: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias likewise. */
static int torch_conv_init(gz_model *m, gz_conv_layer *c, const char *name, int ic, int oc, int k, int pad, int bias,
                           gz_err *e) {
  if (gz_conv_init(m, c, name, ic, oc, k, 1, pad, bias, e)) return -1;
  if (m->counting) return 0;
  double bound = 1.0 / sqrt((double)ic * k * k);
  int64_t n = gz_tensor_numel(&c->w.data);
  for (int64_t i = 0; i < n; i++) c->w.data.data[i] = (float)gz_rng_range(&m->init_rng, -bound, bound);
  for (int i = 0; bias && i < oc; i++) c->b.data.data[i] = (float)gz_rng_range(&m->init_rng, -bound, bound);
  return 0;
}

static int build(gz_paper *p, gz_err *e) {
  gz_model *m = &p->m;
  gz_resnet *r = &p->enc;
  if (gz_conv_init(m, &r->conv1, "encoder.conv1", 3, 64, 7, 2, 3, 0, e) || gz_bn_init(m, &r->bn1, "encoder.bn1", 64, e))
    return -1;
  int inplanes = 64, k = 0;
  for (int l = 0; l < 4; l++)
    for (int i = 0; i < blocks_per_layer[l]; i++, k++) {
      char name[48];
      snprintf(name, sizeof name, "encoder.layer%d.%d", l + 1, i);
      if (bottleneck_init(m, &r->blocks[k], name, inplanes, planes_of_layer[l], (i == 0 && l > 0) ? 2 : 1, e))
        return -1;
      inplanes = planes_of_layer[l] * EXPANSION;
    }
  /* CNN Block 5 (section 3): 3072 (or 2048) -> 512, 3x3, no bias; BN(512) with the default momentum 0.1 */
  int enc_ch = p->cfg.multires ? 1024 + 2048 : 2048;
  if (torch_conv_init(m, &p->b5_conv, "block5.conv", enc_ch, B5_CH, 3, 1, 0, e) ||
      gz_bn_init(m, &p->b5_bn, "block5.bn", B5_CH, e) ||
      torch_conv_init(m, &p->b5_cls, "block5.classifier", B5_CH, GZ_PAPER_CLASSES, 1, 0, 1, e))
    return -1;
  for (int i = 0; p->cfg.decoder && i < 3; i++) {
    char cn[32], bn[32];
    snprintf(cn, sizeof cn, "decoder.%d.conv", i), snprintf(bn, sizeof bn, "decoder.%d.bn", i);
    if (torch_conv_init(m, &p->dec_conv[i], cn, dec_ch[i], dec_ch[i + 1], 3, 1, 1, e) ||
        gz_bn_init(m, &p->dec_bn[i], bn, dec_ch[i + 1], e))
      return -1;
    p->dec_bn[i].momentum = 0.01f; /* section 2: BN(momentum=0.01) in the decoder */
  }
  return 0;
}

int gz_paper_init(gz_paper *p, const gz_paper_config *cfg, uint64_t seed, gz_err *e) {
  memset(p, 0, sizeof *p);
  p->cfg = *cfg;
  p->enc.cfg = (gz_resnet_config){.in_channels = 3, .num_classes = 0, .seed = seed};
  gz_model_begin_count(&p->m, seed);
  if (build(p, e) || gz_model_begin_build(&p->m, e)) return -1;
  if (build(p, e)) {
    gz_model_free(&p->m);
    return -1;
  }
  return 0;
}

void gz_paper_free(gz_paper *p) { gz_model_free(&p->m); }

int gz_paper_load_encoder(gz_paper *p, const char *path, gz_err *e) {
  gz_ckpt *c = gz_ckpt_open(path, e);
  if (!c) return -1;
  int rc = 0;
  for (int i = 0; i < p->m.n && !rc; i++) {
    const gz_named *t = &p->m.named[i];
    if (strncmp(t->name, "encoder.", 8)) continue;
    const char *name = t->name + 8; /* torchvision's own name */
    if (!gz_ckpt_find(c, name))
      rc = gz_fail(e, GZ_EFORMAT, "%s: no tensor '%s' (a torchvision ResNet-50 state_dict is expected)", path, name);
    else
      rc = gz_ckpt_read(c, name, t->dtype, t->ndim, t->shape, t->data, e);
  }
  gz_ckpt_close(c);
  return rc;
}

/* ImageNet mean and std^2 (torchvision Normalize), applied as an eval-mode batch norm with an eps too small
 * to change std^2 in float (the op requires eps > 0): y = (x - mean) / std. */
static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_var[3] = {0.229f * 0.229f, 0.224f * 0.224f, 0.225f * 0.225f};

static gz_value *normalize(gz_tape *t, gz_value *x, gz_err *e) {
  int64_t c3[1] = {3};
  gz_value *g = gz_tape_value(t, 1, c3, 0, e), *b = gz_tape_value(t, 1, c3, 0, e);
  if (!g || !b) return NULL;
  for (int i = 0; i < 3; i++) g->data.data[i] = 1.0f, b->data.data[i] = 0.0f;
  return gz_ag_bn_eval(t, x, g, b, imagenet_mean, imagenet_var, 1e-30f, e);
}

/* conv -> BN -> ReLU (in place: BN's backward does not need its output) */
static gz_value *conv_bn(gz_tape *t, gz_conv_layer *c, gz_bn_layer *b, gz_value *x, int training, int relu, gz_err *e) {
  gz_value *h = gz_bn_forward(t, b, gz_conv_forward(t, c, x, e), training, e);
  return relu ? gz_ag_relu_(t, h, e) : h;
}

int gz_paper_forward(gz_paper *p, gz_tape *t, gz_value *x, int training, gz_paper_out *o, gz_err *e) {
  memset(o, 0, sizeof *o);
  if (!x || x->data.ndim != 4 || x->data.shape[1] != 3 || x->data.shape[2] % 32 || x->data.shape[3] % 32)
    return gz_fail(e, GZ_EINVAL, "paper model: input must be [B, 3, S, S] with S a multiple of 32");
  gz_value *h = p->cfg.normalize_twice ? normalize(t, x, e) : x; /* gotcha 2: Thoracic.preprocessing */
  gz_resnet_out r;
  if (!h || gz_resnet50_forward(&p->enc, t, h, training, 4, &r, e)) return -1;
  gz_value *feat = r.layer[3];
  if (p->cfg.multires) { /* section 3: [layer3, nearest(layer4) to layer3's size] along channels */
    const int64_t *s3 = r.layer[2]->data.shape;
    gz_value *both[2] = {r.layer[2], gz_ag_upsample_nearest(t, r.layer[3], s3[2], s3[3], e)};
    if (!both[1] || !(feat = gz_ag_concat(t, both, 2, e))) return -1;
  }
  gz_value *a = conv_bn(t, &p->b5_conv, &p->b5_bn, feat, training, 1, e); /* A: the activations */
  if (!a || !(o->gamma = gz_conv_forward(t, &p->b5_cls, a, e))) return -1; /* gamma, the grid logits */
  a->retain_grad = 1;
  o->act = a;
  if (!p->cfg.decoder) return 0;
  h = a;
  for (int i = 0; i < 3; i++) { /* section 2: DecodingNetwork */
    const int64_t *s = h->data.shape;
    h = gz_ag_upsample_bilinear(t, h, 2 * s[2], 2 * s[3], e);
    if (!(h = conv_bn(t, &p->dec_conv[i], &p->dec_bn[i], h, training, i < 2, e))) return -1;
  }
  o->dec = h;
  return 0;
}
