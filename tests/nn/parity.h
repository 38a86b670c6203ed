/* Shared by the PyTorch parity suites of nn/ (test_resnet.c, test_paper.c): reference tensors come from a
 * safetensors file that tools/torch_*_ref.py writes. */
#ifndef GAZELOC_TESTS_NN_PARITY_H
#define GAZELOC_TESTS_NN_PARITY_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

#define PARITY_TOL 1e-4 /* the issues' bound: norm-wise relative error per tensor */

/* The worst figures of a group of tensors. A tensor may be max(base, 2 x floor) from the exact answer,
 * floor being PyTorch float32's own distance from it, or base alone when `strict`; ratio = distance / that
 * allowance. */
typedef struct {
  double base, rel32, abs32, relx, absx, floor, ratio;
  char worst[200];
  int count, within32; /* tensors, and those within PARITY_TOL of PyTorch float32 */
  int strict;
} parity_stats;

static inline int64_t parity_numel(const gz_named *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
  return n;
}

/* n floats of ours against PyTorch float32 (t32) and the exact answer x (float64, natural or on our ReLU
 * branch), whose float32 noise floor is `floor`. GZ_PARITY_VERBOSE=1 prints every tensor. */
static inline void parity_compare(const char *name, const float *ours, const float *t32, const float *x,
                                  double floor, int64_t n, parity_stats *s) {
  double a32, ax, r32 = tu_rel_err(ours, t32, n, &a32), rx = tu_rel_err(ours, x, n, &ax);
  double ratio = rx / (s->strict ? s->base : fmax(s->base, 2 * floor));
  if (getenv("GZ_PARITY_VERBOSE"))
    fprintf(stderr, "  %-50s vs t32 %.3g (abs %.3g)  vs exact %.3g (abs %.3g)  floor %.3g\n", name, r32, a32, rx, ax,
            floor);
  if (ratio > s->ratio) s->ratio = ratio, snprintf(s->worst, sizeof s->worst, "%s", name);
  s->rel32 = fmax(s->rel32, r32), s->abs32 = fmax(s->abs32, a32), s->relx = fmax(s->relx, rx);
  s->absx = fmax(s->absx, ax), s->floor = fmax(s->floor, floor);
  s->count++, s->within32 += r32 <= PARITY_TOL;
}

/* Against `n32` (PyTorch float32) and `n64` (natural float64) in ref; the floor is their distance. */
static inline void parity_compare64(const gz_ckpt *ref, const char *n32, const char *n64, const float *ours,
                                    int64_t n, parity_stats *s) {
  const float *t32 = ref_data(ref, n32, n), *t64 = ref_data(ref, n64, n);
  parity_compare(n32, ours, t32, t64, tu_rel_err(t32, t64, n, NULL), n, s);
}

/* Against `n32` in ref (PyTorch float32) and in br (float64 on our ReLU branch); the floor is the scalar
 * `nfloor` in ref (PyTorch float32's distance to float64 on its own branch). */
static inline void parity_compare_branch(const gz_ckpt *ref, const gz_ckpt *br, const char *n32, const char *nfloor,
                                         const float *ours, int64_t n, parity_stats *s) {
  parity_compare(n32, ours, ref_data(ref, n32, n), ref_data(br, n32, n), *ref_data(ref, nfloor, 1), n, s);
}

/* Prints the group's figures (`who`: the suite's tag) and fails when a tensor is past its allowance. */
static inline void parity_report(const char *who, const char *what, const char *exact, const parity_stats *s) {
  fprintf(stderr,
          "%s parity: %-34s %3d tensors: vs torch f32 worst rel %.2g, max abs %.2g (%d within 1e-4); vs %s worst "
          "rel %.2g, max abs %.2g; torch f32 floor %.2g\n",
          who, what, s->count, s->rel32, s->abs32, s->within32, exact, s->relx, s->absx, s->floor);
  ck_assert_msg(s->ratio <= 1, "%s: '%s' is %.3g x its allowed distance from %s (%s%g%s)", what, s->worst,
                s->ratio, exact, s->strict ? "" : "max(", s->base, s->strict ? "" : ", 2 x floor)");
}

/* The file of a branch's max-pool indices beside its ReLU mask file PATH.bin: PATH_pool.bin
 * (tools/torch_relu_branch.py pool_path). */
static inline void parity_pool_path(const char *masks, char *out, size_t size) {
  size_t n = strlen(masks);
  ck_assert_msg(n > 4 && !strcmp(masks + n - 4, ".bin") && n + 6 <= size, "mask file name %s", masks);
  snprintf(out, size, "%.*s_pool.bin", (int)(n - 4), masks);
}

/* Our branch, for the float64 oracle to follow (tools/torch_relu_branch.py): to `path` one byte (y > 0) per
 * element of every ReLU output recorded on the tape, in tape order (the forward's call order); to its pool
 * file the int32 argmax of every max-pool output (the window's gradient goes there). Call right after the
 * forward: the ReLUs' outputs are then still in place. Returns the number of ReLU bytes. */
static inline int64_t parity_write_masks(const gz_tape *t, const char *path) {
  char pool[4300];
  parity_pool_path(path, pool, sizeof pool);
  FILE *f = fopen(path, "wb"), *fp = fopen(pool, "wb");
  ck_assert_msg(f && fp, "cannot write %s or %s", path, pool);
  int64_t total = 0;
  for (int i = 0; i < t->n; i++) {
    const gz_tensor *y = &t->nodes[i].out->data;
    int64_t n = gz_tensor_numel(y);
    if (t->nodes[i].op == GZ_OP_MAXPOOL) {
      ck_assert_msg(fwrite(t->nodes[i].idx, sizeof(int32_t), (size_t)n, fp) == (size_t)n, "cannot write %s", pool);
      continue;
    }
    if (t->nodes[i].op != GZ_OP_RELU) continue;
    for (int64_t j = 0; j < n; j++) fputc(y->data[j] > 0.0f, f);
    total += n;
  }
  ck_assert_msg(fclose(f) == 0 && fclose(fp) == 0, "cannot write %s or %s", path, pool);
  return total;
}

/* How many records of `size` bytes differ between two files of the same length. */
static inline int64_t parity_records_differ(const char *a, const char *b, size_t size) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  ck_assert_msg(fa && fb, "cannot read %s or %s", a, b);
  int64_t n = 0;
  unsigned char ra[8], rb[8];
  size_t ka, kb;
  do {
    ka = fread(ra, 1, size, fa), kb = fread(rb, 1, size, fb);
    n += ka == size && kb == size && memcmp(ra, rb, size);
  } while (ka == size && kb == size);
  ck_assert_msg(ka == 0 && kb == 0, "%s and %s differ in length", a, b);
  fclose(fa), fclose(fb);
  return n;
}

/* The ReLU inputs two runs (their mask files) put on different sides of 0. */
static inline int64_t parity_flips(const char *a, const char *b) { return parity_records_differ(a, b, 1); }

/* The max-pool windows two runs (their mask files) route to different pixels. */
static inline int64_t parity_pool_flips(const char *a, const char *b) {
  char pa[4300], pb[4300];
  parity_pool_path(a, pa, sizeof pa), parity_pool_path(b, pb, sizeof pb);
  return parity_records_differ(pa, pb, sizeof(int32_t));
}

/* Prints how far our branch (mask file `ours`) is from float64's (`mask64`): ReLU inputs on the other side
 * of 0 and max-pool windows routed elsewhere; with ref, PyTorch float32's counts beside (flips_<mode>,
 * pool_flips_<mode> in ref). */
static inline void parity_print_flips(const char *who, const char *what, const char *ours, const char *mask64,
                                      const gz_ckpt *ref, const char *mode) {
  char fr[64], fp[64], theirs[128] = "";
  if (ref) {
    snprintf(fr, sizeof fr, "flips_%s", mode), snprintf(fp, sizeof fp, "pool_flips_%s", mode);
    snprintf(theirs, sizeof theirs, " (torch f32 %.0f and %.0f)", *ref_data(ref, fr, 1), *ref_data(ref, fp, 1));
  }
  fprintf(stderr, "%s parity: %s: ReLU inputs on the other side of 0 than in float64, max-pool windows routed to "
          "another pixel: %lld and %lld%s\n", who, what, (long long)parity_flips(ours, mask64),
          (long long)parity_pool_flips(ours, mask64), theirs);
}

#endif
