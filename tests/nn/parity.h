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

#endif
