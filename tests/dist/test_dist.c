/* dist's reduction trees and autograd's sharded ops, in one process (no MPI needed).
 *
 * The trees: a process's own subtree followed by the nodes above the processes' blocks must add exactly
 * what the whole tree adds (the basis of the bitwise equality for any number of ranks). The sharded ops:
 * SyncBN and the per-shard conv weight gradient against the plain ops on the same batch, to float
 * rounding (measured: below 1e-6 relative; held to 1e-5). */
#include <math.h>

#include "autograd/autograd.h"
#include "dist/dist.h"
#include "testutil.h"

START_TEST(blocks_are_tree_nodes) {
  /* S shards over N ranks: the blocks [r S/N, (r+1) S/N) must be nodes of the midpoint tree */
  int ok[][2] = {{4, 1}, {4, 2}, {4, 4}, {20, 2}, {20, 4}, {12, 4}, {6, 2}, {20, 20}};
  int bad[][2] = {{4, 3}, {20, 5}, {12, 3}, {6, 3}, {20, 8}, {0, 1}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    ck_assert_msg(gz_tree_blocks_ok(ok[i][0], ok[i][1]), "S=%d N=%d should be fine", ok[i][0], ok[i][1]);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg(!gz_tree_blocks_ok(bad[i][0], bad[i][1]), "S=%d N=%d should be refused", bad[i][0], bad[i][1]);
}
END_TEST

/* Each rank's subtree, then the tree above the blocks = the whole tree, bit for bit; and that tree is not
 * just any order (a left-to-right sum differs somewhere), so the test can fail. */
START_TEST(subtrees_compose_exactly) {
  enum { S = 8, LEN = 4096 };
  float *leaf = malloc(sizeof(float) * S * LEN), *full = malloc(sizeof(float) * S * LEN),
        *blk = malloc(sizeof(float) * S * LEN);
  gz_rng r;
  gz_rng_init(&r, 3, 1);
  for (int i = 0; i < S * LEN; i++) leaf[i] = (float)(gz_rng_normal(&r) * pow(10.0, gz_rng_uniform(&r) * 6 - 3));
  memcpy(full, leaf, sizeof(float) * S * LEN);
  gz_tree_sum_f32(full, LEN, LEN, S, 1);
  int differs_from_fold = 0;
  for (int j = 0; j < LEN; j++) {
    float f = 0;
    for (int s = 0; s < S; s++) f += leaf[s * LEN + j];
    differs_from_fold |= f != full[j];
  }
  ck_assert_msg(differs_from_fold, "the tree adds in the same order as a left fold: the test would not catch a change");
  for (int N = 1; N <= S; N *= 2) {
    int b = S / N;
    /* block r's subtree over its b shards, its result moved to slot r */
    for (int rk = 0; rk < N; rk++) {
      float *own = malloc(sizeof(float) * (size_t)b * LEN);
      memcpy(own, leaf + (size_t)rk * b * LEN, sizeof(float) * (size_t)b * LEN);
      gz_tree_sum_f32(own, LEN, LEN, b, 1);
      memcpy(blk + (size_t)rk * LEN, own, sizeof(float) * LEN);
      free(own);
    }
    gz_tree_sum_f32(blk, LEN, LEN, S, b);
    ck_assert_msg(memcmp(blk, full, sizeof(float) * LEN) == 0, "N=%d: subtrees then the top differ from the tree", N);
  }
  free(leaf), free(full), free(blk);
}
END_TEST

/* Chan's pairwise moments over the tree against the two-pass mean and M2 of the whole set. */
START_TEST(moments_match_two_pass) {
  enum { S = 6, PER = 50, CH = 3 };
  double x[S * PER * CH], blocks[S * CH * 3];
  gz_rng r;
  gz_rng_init(&r, 5, 1);
  for (int i = 0; i < S * PER * CH; i++) x[i] = 1000.0 + gz_rng_normal(&r) * (1 + i % CH);
  for (int s = 0; s < S; s++)
    for (int c = 0; c < CH; c++) {
      double m = 0, m2 = 0;
      for (int i = 0; i < PER; i++) m += x[(s * PER + i) * CH + c];
      m /= PER;
      for (int i = 0; i < PER; i++) m2 += pow(x[(s * PER + i) * CH + c] - m, 2);
      double *o = blocks + (s * CH + c) * 3;
      o[0] = PER, o[1] = m, o[2] = m2;
    }
  gz_tree_moments(blocks, CH * 3, CH, S, 1);
  for (int c = 0; c < CH; c++) {
    double m = 0, m2 = 0;
    for (int i = 0; i < S * PER; i++) m += x[i * CH + c];
    m /= S * PER;
    for (int i = 0; i < S * PER; i++) m2 += pow(x[i * CH + c] - m, 2);
    ck_assert_double_eq(blocks[c * 3], S * PER);
    ck_assert_msg(fabs(blocks[c * 3 + 1] - m) <= 1e-12 * fabs(m), "mean %.17g vs %.17g", blocks[c * 3 + 1], m);
    ck_assert_msg(fabs(blocks[c * 3 + 2] - m2) <= 1e-9 * m2, "M2 %.17g vs %.17g", blocks[c * 3 + 2], m2);
  }
}
END_TEST

/* One process: the deterministic all-reduce leaves the buffer as it is, the collectives copy. */
START_TEST(one_rank_collectives) {
  gz_err e = {0};
  ck_assert_int_eq(gz_dist_size(), 1);
  float v[5] = {1, 2, 3, 4, 5};
  ck_assert_msg(gz_dist_allreduce_tree_f32(v, 5, 4, &e) == 0, "%s", e.msg);
  ck_assert(v[0] == 1 && v[4] == 5);
  double a[3] = {1, 2, 3}, b[3];
  ck_assert_int_eq(gz_dist_allgather(a, b, sizeof a, &e), 0);
  ck_assert(b[2] == 3);
}
END_TEST

/* ------------------------------------------------------------------ sharded ops vs plain ops */

/* The combine of one process: its shards over their subtree (what apps/train/dist.c does with one rank). */
static int combine1(void *ctx, int kind, double *in, size_t len, double *out, gz_err *e) {
  (void)e;
  const gz_shard_plan *p = ctx;
  size_t w = kind == GZ_SHARD_MOMENTS ? 3 : 1;
  if (kind == GZ_SHARD_MOMENTS) gz_tree_moments(in, len * w, len, p->nshards, 1);
  else gz_tree_sum_f64(in, len, len, p->nshards, 1);
  memcpy(out, in, len * w * sizeof *out);
  return 0;
}

typedef struct {
  gz_arena arena, params;
  gz_tape tape;
  gz_value *x, *w, *g, *b;
  float *gw, *gg, *gb;
} net;

/* conv 3x3 (with bias) -> BN -> sum(y * r): the gradients of x, w, bias, gamma, beta. */
static void run(net *n, gz_shard_plan *plan, float *y_out, float *dx, float *dw, float *dbias, float *dg, float *db) {
  enum { B = 4, C = 3, O = 5, H = 6 };
  gz_err e = {0};
  ck_assert(gz_arena_init(&n->arena, "t", 8u << 20, &e) == 0 && gz_tape_init(&n->tape, &n->arena, 64, &e) == 0);
  n->tape.shards = plan;
  gz_rng r;
  gz_rng_init(&r, 11, 2);
  int64_t xs[4] = {B, C, H, H}, ws[4] = {O, C, 3, 3}, cs[1] = {O};
  gz_value *x = gz_tape_value(&n->tape, 4, xs, 1, &e), *w = gz_tape_value(&n->tape, 4, ws, 1, &e);
  gz_value *bias = gz_tape_value(&n->tape, 1, cs, 1, &e), *g = gz_tape_value(&n->tape, 1, cs, 1, &e),
           *bt = gz_tape_value(&n->tape, 1, cs, 1, &e);
  gz_value *vs[5] = {x, w, bias, g, bt};
  for (int k = 0; k < 5; k++)
    for (int64_t i = 0; i < gz_tensor_numel(&vs[k]->data); i++) vs[k]->data.data[i] = (float)gz_rng_normal(&r) + (k == 3);
  const float *mean, *var;
  gz_value *c = gz_ag_conv2d(&n->tape, x, w, bias, 1, 1, &e);
  gz_value *y = gz_ag_bn_train(&n->tape, c, g, bt, 1e-5f, &mean, &var, &e);
  ck_assert_msg(y != NULL, "%s", e.msg);
  int64_t ny = gz_tensor_numel(&y->data);
  float *seed = malloc(sizeof(float) * (size_t)ny);
  for (int64_t i = 0; i < ny; i++) seed[i] = (float)gz_rng_normal(&r);
  memcpy(y_out, y->data.data, sizeof(float) * (size_t)ny);
  ck_assert_msg(gz_tape_backward(&n->tape, y, seed, &e) == 0, "%s", e.msg);
  memcpy(dx, x->grad.data, sizeof(float) * B * C * H * H);
  memcpy(dw, w->grad.data, sizeof(float) * O * C * 9);
  memcpy(dbias, bias->grad.data, sizeof(float) * O);
  memcpy(dg, g->grad.data, sizeof(float) * O);
  memcpy(db, bt->grad.data, sizeof(float) * O);
  free(seed);
  gz_tape_free(&n->tape);
  gz_arena_free(&n->arena);
}

static void expect_close(const float *a, const float *b, int n, const char *what) {
  double m, rel = tu_rel_err(a, b, n, &m);
  ck_assert_msg(rel <= 1e-5, "%s: relative error %.3g (max abs %.3g)", what, rel, m);
}

START_TEST(sharded_ops_match_plain) {
  enum { NY = 4 * 5 * 36, NX = 4 * 3 * 36, NW = 5 * 27 };
  static float y0[NY], dx0[NX], dw0[NW], bb0[5], g0[5], b0[5], y1[NY], dx1[NX], dw1[NW], bb1[5], g1[5], b1[5];
  net n;
  run(&n, NULL, y0, dx0, dw0, bb0, g0, b0);
  for (int ns = 1; ns <= 4; ns *= 2) {
    gz_shard_plan p = {.nshards = ns, .total_shards = ns, .param_grad_owner = 1, .combine = combine1};
    p.ctx = &p;
    run(&n, &p, y1, dx1, dw1, bb1, g1, b1);
    expect_close(y1, y0, NY, "batch norm output");
    expect_close(dx1, dx0, NX, "dx");
    expect_close(dw1, dw0, NW, "conv weight gradient");
    /* a bias before batch norm gets a zero gradient up to rounding: compared in absolute terms */
    for (int i = 0; i < 5; i++) ck_assert_msg(fabsf(bb1[i] - bb0[i]) <= 1e-5f * fabsf(b0[0]), "conv bias gradient %d", i);
    expect_close(g1, g0, 5, "dgamma");
    expect_close(b1, b0, 5, "dbeta");
    gz_shard_plan_free(&p);
  }
  /* a process that does not own the batch-norm parameter gradients adds nothing to them */
  gz_shard_plan p = {.nshards = 2, .total_shards = 2, .param_grad_owner = 0, .combine = combine1};
  p.ctx = &p;
  run(&n, &p, y1, dx1, dw1, bb1, g1, b1);
  for (int i = 0; i < 5; i++) ck_assert(g1[i] == 0 && b1[i] == 0);
  expect_close(dx1, dx0, NX, "dx (not owner)");
  gz_shard_plan_free(&p);
}
END_TEST

Suite *suite_dist(void) {
  Suite *s = suite_create("dist");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, blocks_are_tree_nodes);
  tcase_add_test(tc, subtrees_compose_exactly);
  tcase_add_test(tc, moments_match_two_pass);
  tcase_add_test(tc, one_rank_collectives);
  tcase_add_test(tc, sharded_ops_match_plain);
  suite_add_tcase(s, tc);
  return s;
}
