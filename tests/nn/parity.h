/* Shared by the PyTorch parity suites of nn/ (test_resnet.c, test_paper.c): reference tensors come from a
 * safetensors file that tools/torch_*_ref.py writes. */
#ifndef GAZELOC_TESTS_NN_PARITY_H
#define GAZELOC_TESTS_NN_PARITY_H

#include "nn/nn.h"
#include "testutil.h"

/* The reference tensor `name`, checked to hold n elements (the test fails otherwise). */
static inline const float *ref_data(const gz_ckpt *ref, const char *name, int64_t n) {
  const gz_ckpt_entry *t = gz_ckpt_find(ref, name);
  ck_assert_msg(t != NULL, "reference has no '%s'", name);
  int64_t m = 1;
  for (int d = 0; d < t->ndim; d++) m *= t->shape[d];
  ck_assert_msg(m == n, "'%s': %lld elements in the reference, %lld ours", name, (long long)m, (long long)n);
  return t->data;
}

/* Our ReLU branch: one byte (y > 0) per element of every ReLU output recorded on the tape, in tape order
 * (the forward's call order), for the float64 oracle to follow (tools/torch_relu_branch.py). Call right
 * after the forward: the ReLUs' outputs are then still in place. Returns the number of bytes. */
static inline int64_t parity_write_masks(const gz_tape *t, const char *path) {
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  int64_t total = 0;
  for (int i = 0; i < t->n; i++) {
    if (t->nodes[i].op != GZ_OP_RELU) continue;
    const gz_tensor *y = &t->nodes[i].out->data;
    int64_t n = gz_tensor_numel(y);
    for (int64_t j = 0; j < n; j++) fputc(y->data[j] > 0.0f, f);
    total += n;
  }
  ck_assert_msg(fclose(f) == 0, "cannot write %s", path);
  return total;
}

/* How many bytes of two mask files differ: the ReLU inputs two runs put on different sides of 0. */
static inline int64_t parity_flips(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  ck_assert_msg(fa && fb, "cannot read %s or %s", a, b);
  int64_t n = 0;
  int ca, cb;
  do {
    ca = fgetc(fa), cb = fgetc(fb);
    n += ca != cb;
  } while (ca != EOF && cb != EOF);
  ck_assert_msg(ca == EOF && cb == EOF, "%s and %s differ in length", a, b);
  fclose(fa), fclose(fb);
  return n;
}

#endif
