/* Model checkpoints: exact resume (N steps in one run = k steps, save, load into a fresh model, N - k
 * steps, bitwise), on a small network and on ResNet-50 at a tiny input; and clear errors for files that
 * do not fit the model. */
#include <math.h>

#include "nn/nn.h"
#include "testutil.h"

/* A small network: conv 3x3 (bias) -> BN -> ReLU -> mean over H, W -> linear 4 -> 3. */
typedef struct {
  gz_model m;
  gz_conv_layer conv;
  gz_bn_layer bn;
  gz_linear_layer fc;
} small_net;

static int small_build(small_net *s, gz_err *e) {
  return gz_conv_init(&s->m, &s->conv, "conv", 3, 4, 3, 1, 1, 1, e) || gz_bn_init(&s->m, &s->bn, "bn", 4, e) ||
         gz_linear_init(&s->m, &s->fc, "fc", 4, 3, 1, e);
}

static void small_init(small_net *s, uint64_t seed) {
  gz_err e = {0};
  memset(s, 0, sizeof *s);
  gz_model_begin_count(&s->m, seed);
  ck_assert_msg(small_build(s, &e) == 0 && gz_model_begin_build(&s->m, &e) == 0 && small_build(s, &e) == 0, "%s", e.msg);
}

typedef struct {
  int resnet;
  small_net *s;
  gz_resnet *r;
  int64_t n, c, h, w, classes;
} net;

static gz_model *model_of(net *nt) { return nt->resnet ? &nt->r->m : &nt->s->m; }

/* One training step on a batch drawn from rng (so the data stream is part of the state to resume). */
static void train_step(net *nt, gz_tape *t, gz_adam *opt, gz_rng *rng) {
  gz_err e = {0};
  int64_t xs[4] = {nt->n, nt->c, nt->h, nt->w}, ts[2] = {nt->n, nt->classes};
  gz_value *x = gz_tape_value(t, 4, xs, 0, &e), *target = gz_tape_value(t, 2, ts, 0, &e);
  ck_assert_msg(x && target, "%s", e.msg);
  for (int64_t i = 0; i < gz_tensor_numel(&x->data); i++) x->data.data[i] = (float)gz_rng_normal(rng);
  for (int64_t i = 0; i < gz_tensor_numel(&target->data); i++) target->data.data[i] = gz_rng_uniform(rng) < 0.3f;
  gz_value *logits;
  if (nt->resnet) {
    gz_resnet_out out;
    ck_assert_msg(gz_resnet50_forward(nt->r, t, x, 1, 4, &out, &e) == 0, "%s", e.msg);
    logits = out.logits;
  } else {
    small_net *s = nt->s;
    gz_value *h = gz_ag_relu(t, gz_bn_forward(t, &s->bn, gz_conv_forward(t, &s->conv, x, &e), 1, &e), &e);
    int64_t flat[2] = {nt->n, 4};
    logits = gz_linear_forward(t, &s->fc, gz_ag_reshape(t, gz_ag_mean(t, h, 4 | 8, &e), 2, flat, &e), &e);
  }
  gz_value *loss = gz_ag_mean(t, gz_ag_bce_logits(t, logits, target, &e), 3, &e);
  ck_assert_msg(loss != NULL, "%s", e.msg);
  gz_arena_zero(&model_of(nt)->params.grad);
  ck_assert_msg(gz_tape_backward(t, loss, NULL, &e) == 0, "%s", e.msg);
  ck_assert_msg(gz_adam_step(opt, model_of(nt), &e) == 0, "%s", e.msg);
  gz_tape_reset(t);
}

static void run_steps(net *nt, gz_adam *opt, gz_rng *rng, int steps) {
  gz_arena a;
  gz_tape t;
  gz_err e = {0};
  ck_assert_msg(gz_arena_init(&a, "activations", 64u << 20, &e) == 0 && gz_tape_init(&t, &a, 1024, &e) == 0, "%s", e.msg);
  for (int i = 0; i < steps; i++) train_step(nt, &t, opt, rng);
  gz_tape_free(&t);
  gz_arena_free(&a);
}

/* Everything that must agree bitwise: parameters, buffers, the three moment arenas, step, RNG. */
static void assert_same_state(const gz_model *a, const gz_model *b, const gz_adam *oa, const gz_adam *ob,
                              const gz_rng *ra, const gz_rng *rb) {
  ck_assert_uint_eq(a->params.param.used, b->params.param.used);
  ck_assert_msg(!memcmp(a->params.param.base, b->params.param.base, a->params.param.used), "parameters differ");
  for (int k = 0; k < 3; k++)
    ck_assert_msg(!memcmp(a->params.state[k].base, b->params.state[k].base, a->params.param.used), "moment %d differs", k);
  ck_assert_msg(!memcmp(a->buffers.base, b->buffers.base, a->buffers.used), "buffers differ");
  ck_assert_int_eq(oa->hp.step, ob->hp.step);
  ck_assert_int_eq(memcmp(oa, ob, sizeof *oa), 0);
  ck_assert_msg(ra->seed == rb->seed && ra->stream == rb->stream && ra->counter == rb->counter && ra->used == rb->used &&
                    !memcmp(ra->buf, rb->buf, sizeof ra->buf),
                "RNG state differs");
}

/* N steps straight vs k steps, save, load into a fresh model, N - k steps. */
static void resume(net *one, net *two, int total, int k) {
  char *dir = tu_tempdir(), path[4200];
  snprintf(path, sizeof path, "%s/ck.safetensors", dir);
  gz_err e = {0};
  gz_adam o1, o2, o3;
  gz_rng r1, r2, r3;
  gz_adam_init(&o1, 1e-3, 1e-4), gz_adam_init(&o2, 1e-3, 1e-4);
  gz_rng_init(&r1, 99, 1), gz_rng_init(&r2, 99, 1);
  run_steps(one, &o1, &r1, total);
  run_steps(two, &o2, &r2, k);
  if (two->resnet) ck_assert_msg(gz_resnet50_save(two->r, &o2, &r2, path, &e) == 0, "%s", e.msg);
  else ck_assert_msg(gz_model_save(model_of(two), &o2, &r2, "{\"test\": true}", path, &e) == 0, "%s", e.msg);
  /* scramble the live state so only the file can restore it */
  gz_model *m2 = model_of(two);
  memset(m2->params.param.base, 0, m2->params.param.used);
  memset(m2->params.state[1].base, 0, m2->params.param.used);
  memset(m2->buffers.base, 0, m2->buffers.used);
  gz_adam_init(&o3, 0.5, 0);
  gz_rng_init(&r3, 1, 1);
  if (two->resnet) {
    ck_assert_msg(gz_resnet50_load(two->r, &o3, &r3, path, &e) == 0, "%s", e.msg);
    two->r->cfg.num_classes = 11; /* a file for another configuration is refused before anything is read */
    ck_assert_int_eq(gz_resnet50_load(two->r, NULL, NULL, path, &e), -1);
    ck_assert_msg(strstr(e.msg, "\"num_classes\": 10}, this model is"), "%s", e.msg);
    two->r->cfg.num_classes = 10;
  } else
    ck_assert_msg(gz_model_load(m2, &o3, &r3, path, &e) == 0, "%s", e.msg);
  run_steps(two, &o3, &r3, total - k);
  assert_same_state(model_of(one), m2, &o1, &o3, &r1, &r3);
  tu_rmtree(dir);
}

START_TEST(exact_resume_small) {
  small_net a, b;
  small_init(&a, 5), small_init(&b, 5);
  net na = {0, &a, NULL, 2, 3, 6, 6, 3}, nb = {0, &b, NULL, 2, 3, 6, 6, 3};
  resume(&na, &nb, 6, 2);
  gz_model_free(&a.m), gz_model_free(&b.m);
}
END_TEST

START_TEST(exact_resume_resnet50) {
  gz_resnet *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  gz_err e = {0};
  gz_resnet_config cfg = {.in_channels = 3, .num_classes = 10, .seed = 3};
  ck_assert_msg(gz_resnet50_init(a, &cfg, &e) == 0 && gz_resnet50_init(b, &cfg, &e) == 0, "%s", e.msg);
  net na = {1, NULL, a, 2, 3, 32, 32, 10}, nb = {1, NULL, b, 2, 3, 32, 32, 10};
  resume(&na, &nb, 3, 1);
  gz_resnet50_free(a), gz_resnet50_free(b);
  free(a), free(b);
}
END_TEST

START_TEST(bad_files) {
  char *dir = tu_tempdir(), path[4200], cmd[8500];
  snprintf(path, sizeof path, "%s/ck.safetensors", dir);
  small_net a, other;
  small_init(&a, 5);
  gz_err e = {0};
  ck_assert_msg(gz_model_save(&a.m, NULL, NULL, NULL, path, &e) == 0, "%s", e.msg);
  /* weights only: asking for optimizer state or RNG is an error that says what is missing */
  gz_adam o;
  gz_adam_init(&o, 1e-3, 0);
  ck_assert_int_eq(gz_model_load(&a.m, &o, NULL, path, &e), -1);
  ck_assert_msg(strstr(e.msg, "optimizer.exp_avg.conv.weight") || strstr(e.msg, "optimizer state"), "%s", e.msg);
  gz_rng r;
  memset(&e, 0, sizeof e);
  ck_assert_int_eq(gz_model_load(&a.m, NULL, &r, path, &e), -1);
  ck_assert_msg(strstr(e.msg, "no RNG state"), "%s", e.msg);
  /* a model with the same names but a 5x5 conv: the tensor and both shapes are named */
  memset(&other, 0, sizeof other);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0) gz_model_begin_count(&other.m, 1);
    else ck_assert(gz_model_begin_build(&other.m, &e) == 0);
    ck_assert(gz_conv_init(&other.m, &other.conv, "conv", 3, 4, 5, 1, 2, 1, &e) == 0 &&
              gz_bn_init(&other.m, &other.bn, "bn", 4, &e) == 0 && gz_linear_init(&other.m, &other.fc, "fc", 4, 3, 1, &e) == 0);
  }
  memset(&e, 0, sizeof e);
  ck_assert_int_eq(gz_model_load(&other.m, NULL, NULL, path, &e), -1);
  ck_assert_msg(strstr(e.msg, "tensor 'conv.weight' has shape [4, 3, 3, 3], expected [4, 3, 5, 5]"), "%s", e.msg);
  /* a model without the fc layer: the file's extra tensor is named */
  gz_model_free(&other.m);
  memset(&other, 0, sizeof other);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0) gz_model_begin_count(&other.m, 1);
    else ck_assert(gz_model_begin_build(&other.m, &e) == 0);
    ck_assert(gz_conv_init(&other.m, &other.conv, "conv", 3, 4, 3, 1, 1, 1, &e) == 0 &&
              gz_bn_init(&other.m, &other.bn, "bn", 4, &e) == 0);
  }
  memset(&e, 0, sizeof e);
  ck_assert_int_eq(gz_model_load(&other.m, NULL, NULL, path, &e), -1);
  ck_assert_msg(strstr(e.msg, "tensor 'fc.bias' is not part of this model"), "%s", e.msg);
  /* truncated: the loader says so and leaves the model untouched */
  float before = ((float *)a.m.params.param.base)[0];
  snprintf(cmd, sizeof cmd, "truncate -s -7 '%s'", path);
  ck_assert_int_eq(system(cmd), 0);
  memset(&e, 0, sizeof e);
  ck_assert_int_eq(gz_model_load(&a.m, NULL, NULL, path, &e), -1);
  ck_assert_msg(strstr(e.msg, path), "%s", e.msg);
  ck_assert(((float *)a.m.params.param.base)[0] == before);
  gz_model_free(&a.m), gz_model_free(&other.m);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_nn_model_ckpt(void) {
  Suite *s = suite_create("nn_model_ckpt");
  TCase *t = tcase_create("resume");
  tcase_set_timeout(t, 300);
  tcase_add_test(t, exact_resume_small);
  tcase_add_test(t, exact_resume_resnet50);
  tcase_add_test(t, bad_files);
  suite_add_tcase(s, t);
  return s;
}
