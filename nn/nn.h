/* nn: layers, ResNet-50, the paper's encoder, decoder and losses, Adam (AMSGrad), checkpoints.
 *
 * Checkpoints are safetensors files: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian tensor bytes. gazeloc writes tensor
 * names as PyTorch does (torchvision ResNet-50 keys such as `layer1.0.conv1.weight`), puts step, RNG
 * state and configuration in the `__metadata__` map (string values, as the format requires), and adds
 * `gazeloc.checksum` = XXH3-64 of the tensor bytes, so a flipped byte is caught at load time. Files are
 * written atomically: a crash never leaves a half-written checkpoint where a good one was. */
#ifndef GAZELOC_NN_H
#define GAZELOC_NN_H

#include <stdint.h>

#include "autograd/autograd.h"
#include "base/base.h"
#include "nn/loss.h"

enum gz_dtype { GZ_F32 = 0, GZ_I64 = 1, GZ_F64 = 2 };

#define GZ_CKPT_MAX_DIMS 8

/* One tensor to write: name, dtype, shape and the data (host memory, little-endian). */
typedef struct gz_ckpt_entry {
  const char *name;
  int dtype;
  int ndim;
  int64_t shape[GZ_CKPT_MAX_DIMS];
  const void *data;
} gz_ckpt_entry;

/* metadata: n_meta key/value string pairs (keys[i], values[i]); may be 0. */
int gz_ckpt_save(const char *path, const gz_ckpt_entry *entries, int n_entries, const char *const *keys,
                 const char *const *values, int n_meta, gz_err *e);

typedef struct gz_ckpt gz_ckpt;

/* Opens and validates a checkpoint: header JSON, dtypes, shapes against byte ranges, ranges inside the file
 * and not overlapping, and the checksum when the file carries one (files converted from PyTorch by
 * tools/pth_to_safetensors.py carry one too). Every problem is reported with the path and the tensor name. */
gz_ckpt *gz_ckpt_open(const char *path, gz_err *e);
void gz_ckpt_close(gz_ckpt *c);
int gz_ckpt_count(const gz_ckpt *c);
/* Entry i (sorted by name); data points into the loaded file. */
const gz_ckpt_entry *gz_ckpt_entry_at(const gz_ckpt *c, int i);
const gz_ckpt_entry *gz_ckpt_find(const gz_ckpt *c, const char *name);
/* Copies tensor `name` into dst after checking that it exists with this dtype and shape. */
int gz_ckpt_read(const gz_ckpt *c, const char *name, int dtype, int ndim, const int64_t *shape, void *dst, gz_err *e);
/* Metadata value for key, or NULL. */
const char *gz_ckpt_meta(const gz_ckpt *c, const char *key);
const char *gz_dtype_name(int dtype);

/* ------------------------------------------------------------------ models (nn/model.c)
 * A model owns its memory: parameters with their gradients and three optimizer moments (gz_params, one
 * arena each at the same offsets), buffers (BN running statistics, num_batches_tracked) in an arena of
 * their own, so the optimizer's one pass over the parameter arena never touches them, and a list of every
 * tensor under its PyTorch name (the checkpoint's table of contents). Building is done twice: a counting
 * pass that only sums sizes, then the real pass into arenas of exactly that size. */
typedef struct gz_named {
  char name[96];
  int is_param;   /* 1: in the params arena (gradient, moments); 0: a buffer */
  int dtype;      /* GZ_F32, or GZ_I64 for num_batches_tracked */
  int ndim;
  int64_t shape[4];
  void *data;
} gz_named;

typedef struct gz_model {
  gz_params params;   /* nstate = 3: exp_avg, exp_avg_sq, max_exp_avg_sq */
  gz_arena buffers;
  gz_named *named;
  int n, cap;
  int counting;       /* the sizing pass */
  size_t param_bytes, buffer_bytes;
  gz_rng init_rng;    /* parameter initialization */
} gz_model;

/* Parameters and buffers of the layers. Each returns 0 or -1 with e. */
int gz_model_param(gz_model *m, const char *name, int ndim, const int64_t *shape, gz_value *v, gz_err *e);
int gz_model_buffer(gz_model *m, const char *name, int dtype, int ndim, const int64_t *shape, void **data, gz_err *e);
/* Starts the counting pass / turns the counted sizes into arenas for the real pass. */
void gz_model_begin_count(gz_model *m, uint64_t seed);
int gz_model_begin_build(gz_model *m, gz_err *e);
void gz_model_free(gz_model *m);
const gz_named *gz_model_find(const gz_model *m, const char *name);
/* Number of parameter floats (without alignment padding). */
int64_t gz_model_param_count(const gz_model *m);

/* ------------------------------------------------------------------ layers (nn/layers.c), PyTorch semantics */

/* nn.Conv2d(ic, oc, k, stride, padding, bias): weight [oc, ic, k, k] initialized as torchvision's ResNet
 * does, kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2 / (oc k k)); bias zero. */
typedef struct gz_conv_layer {
  gz_value w, b;
  int has_bias, stride, pad;
} gz_conv_layer;
int gz_conv_init(gz_model *m, gz_conv_layer *c, const char *name, int ic, int oc, int k, int stride, int pad,
                 int bias, gz_err *e);
gz_value *gz_conv_forward(gz_tape *t, gz_conv_layer *c, gz_value *x, gz_err *e);

/* nn.BatchNorm2d(c, eps=1e-5, momentum=0.1): weight 1, bias 0, running_mean 0, running_var 1,
 * num_batches_tracked 0 (I64). Training normalizes with the batch mean and biased variance and folds
 * them into the running statistics (unbiased variance, M/(M-1), M = N H W) and counts the batch; eval
 * normalizes with the running statistics. */
typedef struct gz_bn_layer {
  gz_value gamma, beta;
  float *running_mean, *running_var;
  int64_t *num_batches_tracked;
  int64_t c;
  float eps, momentum;
} gz_bn_layer;
int gz_bn_init(gz_model *m, gz_bn_layer *b, const char *name, int c, gz_err *e);
gz_value *gz_bn_forward(gz_tape *t, gz_bn_layer *b, gz_value *x, int training, gz_err *e);

/* nn.Linear(in, out): weight [out, in] and bias [out] uniform in +-1/sqrt(in) (PyTorch's default
 * kaiming_uniform_(a=sqrt(5)) bound). */
typedef struct gz_linear_layer {
  gz_value w, b;
  int has_bias;
} gz_linear_layer;
int gz_linear_init(gz_model *m, gz_linear_layer *l, const char *name, int in, int out, int bias, gz_err *e);
gz_value *gz_linear_forward(gz_tape *t, gz_linear_layer *l, gz_value *x, gz_err *e);

/* ------------------------------------------------------------------ ResNet-50 v1.5 (nn/resnet.c)
 * torchvision.models.resnet50: conv1 7x7/2, bn1, relu, maxpool 3/2, layer1..layer4 of 3, 4, 6, 3
 * bottlenecks (1x1, 3x3 with the stride (v1.5), 1x1 with 4x expansion, downsample conv1x1/stride + BN
 * on the first block of each layer), avgpool, fc. Names, shapes and initialization are torchvision's. */
typedef struct gz_bottleneck {
  gz_conv_layer conv1, conv2, conv3, down;
  gz_bn_layer bn1, bn2, bn3, down_bn;
  int has_down;
} gz_bottleneck;

typedef struct gz_resnet_config {
  int in_channels;  /* 3 */
  int num_classes;  /* the fc head; 0 = no avgpool/fc (a feature extractor, as the paper's encoder) */
  uint64_t seed;    /* initialization */
} gz_resnet_config;

typedef struct gz_resnet {
  gz_resnet_config cfg;
  gz_model m;
  gz_conv_layer conv1;
  gz_bn_layer bn1;
  gz_bottleneck blocks[16]; /* layer1: 0-2, layer2: 3-6, layer3: 7-12, layer4: 13-15 */
  gz_linear_layer fc;
} gz_resnet;

typedef struct gz_resnet_out {
  gz_value *layer[4];  /* outputs of layer1..layer4 (256, 512, 1024, 2048 channels; /4 .. /32) */
  gz_value *logits;    /* [N, num_classes] when there is a head, else NULL */
} gz_resnet_out;

int gz_resnet50_init(gz_resnet *r, const gz_resnet_config *cfg, gz_err *e);
void gz_resnet50_free(gz_resnet *r);
/* Forward of x [N, in_channels, H, W]; stops after layer `upto` (1..4; 4 = whole net, with the head if
 * any). training: BN uses (and updates) batch statistics. */
int gz_resnet50_forward(gz_resnet *r, gz_tape *t, gz_value *x, int training, int upto, gz_resnet_out *out, gz_err *e);

/* ------------------------------------------------------------------ Adam with AMSGrad (nn/adam.c)
 * torch.optim.Adam(params, lr, betas, eps, weight_decay, amsgrad=True): one fused pass over the whole
 * parameter arena (the gradients and the three moments sit at the same offsets). */
typedef struct gz_adam {
  gz_adam_hp hp;  /* hp.step counts the steps taken */
} gz_adam;
void gz_adam_init(gz_adam *o, double lr, double weight_decay);
int gz_adam_step(gz_adam *o, gz_model *m, gz_err *e);

/* ------------------------------------------------------------------ model checkpoints (nn/model_ckpt.c)
 * Every parameter and buffer under its PyTorch name; with an optimizer, its moments as
 * optimizer.exp_avg.<name>, optimizer.exp_avg_sq.<name>, optimizer.max_exp_avg_sq.<name> and its
 * hyper-parameters and step in the metadata; with an RNG, its full state ("rng" = seed stream counter
 * used w0 w1 w2 w3); config (may be NULL) is stored verbatim as "config". */
int gz_model_save(const gz_model *m, const gz_adam *opt, const gz_rng *rng, const char *config, const char *path,
                  gz_err *e);
/* Loads every tensor of the model (all must be present with the same shape and dtype; extra tensors are
 * an error unless they are optimizer state); opt and rng (may be NULL) are restored when given, which
 * then requires the file to have them. */
int gz_model_load(gz_model *m, gz_adam *opt, gz_rng *rng, const char *path, gz_err *e);

/* ResNet-50 checkpoints: gz_model_save with the configuration as "config" =
 * {"model": "resnet50", "in_channels": 3, "num_classes": 1000}; loading checks that a file which carries
 * a configuration was written for this one (files converted from torchvision carry none). */
int gz_resnet50_save(const gz_resnet *r, const gz_adam *opt, const gz_rng *rng, const char *path, gz_err *e);
int gz_resnet50_load(gz_resnet *r, gz_adam *opt, gz_rng *rng, const char *path, gz_err *e);

/* ------------------------------------------------------------------ the paper's model (nn/paper.c)
 * method.md section 3 (encoder, CNN Block 5) and section 2 (decoder), as the authors' code builds them:
 *   x [B,3,S,S] -> (ImageNet normalization again, gotcha 2) -> ResNet-50 conv1..layer4 ->
 *   [layer3, nearest-upsampled layer4] (3072 ch, S/16; or layer4 only, 2048 ch, S/32) ->
 *   Block 5: conv3x3 (no bias) -> BN(512, momentum 0.1) -> ReLU = A [B,512,G,G] -> conv1x1 (bias) = gamma
 *   decoder(A): 3 x [bilinear x2 (align_corners) -> conv3x3 (pad 1, bias) -> BN(momentum 0.01)], ReLU
 *   between blocks, none after the last: 512 -> 128 -> 64 -> 10, z [B,10,8G,8G] logits.
 * Parameter names (checkpoints; docs/model.md): `encoder.` + torchvision's names (encoder.conv1.weight,
 * encoder.layer3.5.bn2.running_var, ...; no fc), `block5.conv.weight`, `block5.bn.*`, `block5.classifier.
 * {weight,bias}`, `decoder.{0,1,2}.conv.{weight,bias}`, `decoder.{0,1,2}.bn.*`.
 * Initialization: torchvision's for the ResNet (gz_conv_init, gz_bn_init); PyTorch's default
 * (kaiming_uniform_(a=sqrt(5)): weight and bias uniform in +-1/sqrt(fan_in)) for Block 5 and the decoder
 * convolutions; BN weight 1, bias 0. */
#define GZ_PAPER_CLASSES 10

typedef struct gz_paper_config {
  int multires;        /* 1: layer3 + nearest-upsampled layer4 -> 3072 ch at S/16 (paper); 0: layer4, S/32 */
  int decoder;         /* 1: the three-block decoder (multi-task); 0: none */
  int normalize_twice; /* 1: the model applies ImageNet mean/std itself (the loader already did once) */
} gz_paper_config;

typedef struct gz_paper {
  gz_model m;              /* every parameter and buffer (params/grads/moments arenas, names) */
  gz_paper_config cfg;
  gz_resnet enc;           /* the ResNet's layers; their tensors are in m (enc.m is unused) */
  gz_conv_layer b5_conv, b5_cls;
  gz_bn_layer b5_bn;
  gz_conv_layer dec_conv[3];
  gz_bn_layer dec_bn[3];
} gz_paper;

int gz_paper_init(gz_paper *p, const gz_paper_config *cfg, uint64_t seed, gz_err *e);
void gz_paper_free(gz_paper *p);
/* Copies a torchvision ResNet-50 state_dict (converted by tools/pth_to_safetensors.py; fc.* ignored) into
 * the encoder.* tensors: ImageNet weights for the paper's default. Every other tensor is left as is. */
int gz_paper_load_encoder(gz_paper *p, const char *path, gz_err *e);

typedef struct gz_paper_out {
  gz_value *gamma; /* [B,10,G,G] grid logits */
  gz_value *act;   /* [B,512,G,G] post-ReLU Block-5 activations (retain_grad set: dC_k/dA stays in act->grad) */
  gz_value *dec;   /* [B,10,8G,8G] decoder logits, or NULL without decoder */
} gz_paper_out;

/* training: BN with batch statistics (running statistics updated), else running statistics. S must be a
 * multiple of 32. */
int gz_paper_forward(gz_paper *p, gz_tape *t, gz_value *x, int training, gz_paper_out *o, gz_err *e);

/* The losses as tape ops (nn/paper_loss.c over the fused kernels of nn/loss.h). The buffers b, y,
 * annotated are copied into the step arena; `target` is not and must stay unchanged until the tape is
 * reset. b may be NULL when no image is annotated. Scalars are [1] tensors. */
gz_value *gz_ag_mil_loss(gz_tape *t, gz_value *gamma, const float *b /* [B,K,G,G] */, const float *y /* [B,K] */,
                         const unsigned char *annotated /* [B] */, const gz_mil_opts *o, gz_err *e); /* [1] L_I, Eq. 5 */
gz_value *gz_ag_decoder_loss(gz_tape *t, gz_value *z, const float *target /* [B,K,H,W] */, const float *y,
                             const unsigned char *annotated, gz_err *e); /* [1] L_T, Eq. 6 */
gz_value *gz_ag_ck(gz_tape *t, gz_value *gamma, int ck_range, gz_err *e); /* [B,K] C_k, Eq. 1 */
/* Eq. 7: lambda_T L_T + L_I (l_t may be NULL: the model without decoder). */
gz_value *gz_ag_paper_loss(gz_tape *t, gz_value *l_i, gz_value *l_t, float lambda_t, gz_err *e);
#define GZ_PAPER_LAMBDA_T 300.0f

#endif
