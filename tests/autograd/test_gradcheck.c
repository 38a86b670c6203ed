/* Finite-difference gradient check of every op in the table, and the tape's own contracts (accumulation,
 * no-grad mode, activation gradients, replay).
 *
 * Tolerances: norm-wise relative error ||numeric - analytic|| / ||numeric||. The forward runs in float
 * and the loss is summed in double; with step h the numeric gradient carries the O(h^2) truncation error
 * and the forward's rounding, about 6e-8 |y| / h per element. Smooth ops use h = 1e-2 (truncation ~1e-4
 * relative) and are held to 1e-3 (measured: at most 4e-4, single ops at most 5e-5); piecewise-linear ops (relu, max-pool, concat, add) are exact apart from
 * rounding as long as no input is within h of a kink, which spaced inputs (distinct values 0.05 apart,
 * none near 0) guarantee with h = 1e-3; they are held to 1e-3 as well. */
#include <math.h>

#include "autograd/autograd.h"
#include "testutil.h"

#define TOL 1e-3

static gz_arena arena;
static gz_tape tape;

static void setup(void) {
  gz_err e = {0};
  ck_assert_msg(gz_arena_init(&arena, "gradcheck", 32u << 20, &e) == 0, "%s", e.msg);
  ck_assert_msg(gz_tape_init(&tape, &arena, 256, &e) == 0, "%s", e.msg);
}
static void teardown(void) {
  gz_tape_free(&tape);
  gz_arena_free(&arena);
}

/* kind 0: N(0,1); kind 1: a permutation of spaced values (k - n/2) * 0.05 + 0.013 (no ties, none near 0);
 * kind 2: uniform [0, 1) (targets, positive scales). */
static gz_value *input(int ndim, int64_t a, int64_t b, int64_t c, int64_t d, int kind, uint64_t seed) {
  int64_t shape[4] = {a, b, c, d};
  gz_err e = {0};
  gz_value *v = gz_tape_value(&tape, ndim, shape, kind != 2, &e);
  ck_assert_msg(v != NULL, "%s", e.msg);
  int64_t n = gz_tensor_numel(&v->data);
  gz_rng r;
  gz_rng_init(&r, seed, 7);
  int *perm = malloc((size_t)n * sizeof *perm);
  for (int64_t i = 0; i < n; i++) perm[i] = (int)i;
  gz_rng_shuffle(&r, perm, (size_t)n);
  for (int64_t i = 0; i < n; i++)
    v->data.data[i] = kind == 0   ? (float)gz_rng_normal(&r)
                      : kind == 1 ? (float)((perm[i] - n / 2) * 0.05 + 0.013)
                                  : gz_rng_uniform(&r);
  free(perm);
  return v;
}

static void check(gz_value *y, gz_value **xs, int k, double h, const char *what) {
  ck_assert_msg(y != NULL, "%s: forward failed", what);
  double rel;
  int which;
  gz_err e = {0};
  ck_assert_msg(gz_gradcheck(&tape, y, xs, k, h, 42, &rel, &which, &e) == 0, "%s: %s", what, e.msg);
  if (getenv("GC_VERBOSE")) fprintf(stderr, "%-24s h=%g worst input %d rel %.3g\n", what, h, which, rel);
  ck_assert_msg(rel <= TOL, "%s: input %d relative error %.3g > %.0e", what, which, rel, TOL);
}

START_TEST(conv2d) {
  gz_err e = {0};
  gz_value *x = input(4, 2, 3, 5, 6, 0, 1), *w = input(4, 4, 3, 3, 3, 0, 2), *b = input(1, 4, 1, 1, 1, 0, 3);
  check(gz_ag_conv2d(&tape, x, w, b, 2, 1, &e), (gz_value *[]){x, w, b}, 3, 1e-2, "conv2d 3x3 s2 p1");
  gz_value *w1 = input(4, 5, 4, 1, 1, 0, 4);
  gz_value *y = gz_ag_conv2d(&tape, gz_ag_conv2d(&tape, x, w, NULL, 1, 1, &e), w1, NULL, 1, 0, &e);
  check(y, (gz_value *[]){x, w, w1}, 3, 1e-2, "conv2d 3x3 then 1x1");
}
END_TEST

START_TEST(batch_norm) {
  gz_err e = {0};
  gz_value *x = input(4, 3, 2, 3, 3, 0, 5), *g = input(1, 2, 1, 1, 1, 0, 6), *b = input(1, 2, 1, 1, 1, 0, 7);
  check(gz_ag_bn_train(&tape, x, g, b, 1e-5f, NULL, NULL, &e), (gz_value *[]){x, g, b}, 3, 1e-2, "bn train");
  float rm[2] = {0.1f, -0.2f}, rv[2] = {0.7f, 1.3f};
  check(gz_ag_bn_eval(&tape, x, g, b, rm, rv, 1e-5f, &e), (gz_value *[]){x, g, b}, 3, 1e-2, "bn eval");
}
END_TEST

START_TEST(elementwise) {
  gz_err e = {0};
  gz_value *x = input(4, 2, 3, 4, 4, 1, 8), *a = input(4, 2, 3, 4, 4, 0, 9);
  check(gz_ag_relu(&tape, x, &e), (gz_value *[]){x}, 1, 1e-3, "relu");
  check(gz_ag_add(&tape, x, a, &e), (gz_value *[]){x, a}, 2, 1e-3, "add");
  check(gz_ag_mul(&tape, x, a, &e), (gz_value *[]){x, a}, 2, 1e-2, "mul");
  check(gz_ag_scale(&tape, a, -1.75f, &e), (gz_value *[]){a}, 1, 1e-2, "scale");
  check(gz_ag_sigmoid(&tape, a, &e), (gz_value *[]){a}, 1, 1e-2, "sigmoid");
  check(gz_ag_logsigmoid(&tape, a, &e), (gz_value *[]){a}, 1, 1e-2, "log_sigmoid");
  gz_value *t = input(4, 2, 3, 4, 4, 2, 10);
  check(gz_ag_bce_logits(&tape, a, t, &e), (gz_value *[]){a}, 1, 1e-2, "bce_with_logits");
}
END_TEST

START_TEST(pooling_and_resizing) {
  gz_err e = {0};
  gz_value *x = input(4, 2, 2, 7, 7, 1, 11);
  gz_pool2d p = {3, 3, 2, 2, 1, 1};
  check(gz_ag_maxpool(&tape, x, &p, &e), (gz_value *[]){x}, 1, 1e-3, "max_pool2d 3 s2 p1");
  gz_value *x6 = input(4, 2, 2, 6, 6, 1, 12);
  check(gz_ag_adaptive_maxpool(&tape, x6, 2, 3, &e), (gz_value *[]){x6}, 1, 1e-3, "adaptive max-pool");
  gz_value *s = input(4, 1, 2, 3, 4, 0, 13);
  check(gz_ag_upsample_nearest(&tape, s, 7, 9, &e), (gz_value *[]){s}, 1, 1e-2, "upsample nearest");
  check(gz_ag_upsample_bilinear(&tape, s, 7, 9, &e), (gz_value *[]){s}, 1, 1e-2, "upsample bilinear");
  gz_value *c0 = input(4, 2, 2, 3, 3, 0, 14), *c1 = input(4, 2, 3, 3, 3, 0, 15);
  check(gz_ag_concat(&tape, (gz_value *[]){c0, c1}, 2, &e), (gz_value *[]){c0, c1}, 2, 1e-3, "cat");
}
END_TEST

START_TEST(linear_and_reductions) {
  gz_err e = {0};
  gz_value *x = input(2, 3, 5, 1, 1, 0, 16), *w = input(2, 4, 5, 1, 1, 0, 17), *b = input(1, 4, 1, 1, 1, 0, 18);
  check(gz_ag_linear(&tape, x, w, b, &e), (gz_value *[]){x, w, b}, 3, 1e-2, "linear");
  gz_value *a = input(4, 2, 3, 4, 5, 0, 19);
  check(gz_ag_sum(&tape, a, 2 | 8, &e), (gz_value *[]){a}, 1, 1e-2, "sum over C, W");
  check(gz_ag_mean(&tape, a, 4 | 8, &e), (gz_value *[]){a}, 1, 1e-2, "mean over H, W");
  check(gz_ag_mean(&tape, a, 15, &e), (gz_value *[]){a}, 1, 1e-2, "mean over all");
  int64_t sh[2] = {6, 20};
  check(gz_ag_reshape(&tape, gz_ag_scale(&tape, a, 2.0f, &e), 2, sh, &e), (gz_value *[]){a}, 1, 1e-2, "reshape");
}
END_TEST

/* A small network with every layer kind: conv-bn-relu-pool, a residual add, a head, a BCE loss. */
START_TEST(small_network) {
  gz_err e = {0};
  gz_value *x = input(4, 2, 3, 8, 8, 0, 20), *w1 = input(4, 4, 3, 3, 3, 0, 21), *g = input(1, 4, 1, 1, 1, 2, 22);
  gz_value *bt = input(1, 4, 1, 1, 1, 0, 23), *w2 = input(4, 4, 4, 3, 3, 0, 24), *fw = input(2, 3, 4, 1, 1, 0, 25);
  gz_value *t = input(2, 2, 3, 1, 1, 2, 26);
  bt->requires_grad = g->requires_grad = 1;
  gz_value *h = gz_ag_relu(&tape, gz_ag_bn_train(&tape, gz_ag_conv2d(&tape, x, w1, NULL, 1, 1, &e), g, bt, 1e-5f, NULL, NULL, &e), &e);
  gz_value *r = gz_ag_add(&tape, h, gz_ag_conv2d(&tape, h, w2, NULL, 1, 1, &e), &e);
  gz_value *m = gz_ag_mean(&tape, gz_ag_upsample_bilinear(&tape, r, 11, 11, &e), 4 | 8, &e);
  int64_t sh[2] = {2, 4};
  gz_value *logits = gz_ag_linear(&tape, gz_ag_reshape(&tape, m, 2, sh, &e), fw, NULL, &e);
  gz_value *loss = gz_ag_mean(&tape, gz_ag_bce_logits(&tape, logits, t, &e), 3, &e);
  ck_assert(loss != NULL);
  /* checked at the logits (the mean BCE's gradients are small against its rounding); beta shifts whole
   * channels across ReLU's kink, so it gets the kink-safe step */
  check(logits, (gz_value *[]){x, w1, g, w2, fw}, 5, 1e-2, "small network");
  check(logits, (gz_value *[]){bt}, 1, 1e-3, "small network, beta");
  gz_tape_zero_grads(&tape);
  ck_assert_int_eq(gz_tape_backward(&tape, loss, NULL, &e), 0); /* the scalar loss seeds with 1 */
}
END_TEST

START_TEST(tape_contracts) {
  gz_err e = {0};
  gz_value *x = input(4, 1, 2, 2, 2, 0, 30);
  /* a value used twice accumulates: d(x + x)/dx = 2 */
  gz_value *y = gz_ag_add(&tape, x, x, &e);
  ck_assert_int_eq(gz_tape_backward(&tape, y, NULL, &e), 0);
  for (int i = 0; i < 8; i++) ck_assert(x->grad.data[i] == 2.0f);
  /* the gradient at an intermediate activation (GradCAM's dC_k/dA) is there after backward */
  gz_value *a = gz_ag_relu(&tape, y, &e), *c = gz_ag_sum(&tape, gz_ag_scale(&tape, a, 3.0f, &e), 15, &e);
  a->retain_grad = 1;
  gz_tape_zero_grads(&tape);
  ck_assert_int_eq(gz_tape_backward(&tape, c, NULL, &e), 0);
  for (int i = 0; i < 8; i++) ck_assert(a->grad.data[i] == 3.0f);
  ck_assert_ptr_null(c->grad.data); /* not retained: consumed, its buffer reusable */
  /* the second backward of the same graph adds into the retained gradient */
  ck_assert_int_eq(gz_tape_backward(&tape, c, NULL, &e), 0);
  for (int i = 0; i < 8; i++) ck_assert(a->grad.data[i] == 6.0f);
  /* in-place relu: same storage, same gradient as the copying one */
  gz_value *u = gz_ag_scale(&tape, x, 1.0f, &e), *v = gz_ag_relu_(&tape, u, &e);
  ck_assert(v && v->data.data == u->data.data);
  check(gz_ag_sum(&tape, v, 15, &e), (gz_value *[]){x}, 1, 1e-3, "in-place relu");
  gz_value *p = gz_ag_scale(&tape, x, 2.0f, &e), *q = gz_ag_add_(&tape, p, x, &e);
  ck_assert(q && q->data.data == p->data.data);
  check(q, (gz_value *[]){x}, 1, 1e-3, "in-place add");
  ck_assert_ptr_null(gz_ag_add_(&tape, p, p, &e)); /* a += a would read what it writes */
  /* no-grad mode: ops compute but record nothing, and backward refuses */
  int nodes = tape.n;
  int old = gz_tape_set_grad(&tape, 0);
  gz_value *z = gz_ag_relu(&tape, x, &e);
  ck_assert_int_eq(tape.n, nodes);
  ck_assert(z && !z->requires_grad);
  ck_assert_int_eq(gz_tape_backward(&tape, z, NULL, &e), -1);
  gz_tape_set_grad(&tape, old);
  /* bad shapes are errors, not crashes */
  gz_value *w = input(4, 3, 5, 3, 3, 0, 31);
  ck_assert_ptr_null(gz_ag_conv2d(&tape, x, w, NULL, 1, 1, &e));
  ck_assert_msg(strstr(e.msg, "conv2d"), "%s", e.msg);
  gz_tape_reset(&tape);
  ck_assert_int_eq(tape.n, 0);
  ck_assert_uint_eq(arena.used, tape.mark);
}
END_TEST

/* The audit hook: one record per op output in forward, one per input gradient in backward, in tape
 * order, with the statistics of the very bytes (the hash of a channel view is that of its packed copy). */
START_TEST(audit_hook) {
  char *dir = tu_tempdir(), path[4200], line[512];
  snprintf(path, sizeof path, "%s/trace.csv", dir);
  gz_audit au;
  int on;
  gz_err e = {0};
  ck_assert_int_eq(gz_audit_open(&au, path, &on, &e), 0);
  tape.audit = &au;
  gz_audit_step(&au, 3);
  gz_value *x = input(4, 1, 2, 4, 4, 0, 40), *w = input(4, 3, 2, 3, 3, 0, 41);
  gz_value *h = gz_ag_relu(&tape, gz_ag_conv2d(&tape, x, w, NULL, 1, 1, &e), &e);
  gz_value *c = gz_ag_concat(&tape, (gz_value *[]){h, x}, 2, &e);
  gz_value *s = gz_ag_sum(&tape, c, 15, &e);
  ck_assert_int_eq(gz_tape_backward(&tape, s, NULL, &e), 0);
  gz_audit_close(&au);
  tape.audit = NULL;
  static const char *want[] = {"forward,0,conv2d,1x3x4x4", "forward,1,relu,1x3x4x4", "forward,2,cat,1x5x4x4",
                               "forward,3,sum,1x1x1x1", "backward,4,sum,1x5x4x4", "backward,5,cat,1x3x4x4",
                               "backward,6,cat,1x2x4x4", "backward,7,relu,1x3x4x4", "backward,8,conv2d,1x2x4x4",
                               "backward,9,conv2d,3x2x3x3"};
  FILE *f = fopen(path, "r");
  ck_assert_ptr_nonnull(f);
  ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
  for (int i = 0; i < 10; i++) {
    ck_assert_msg(fgets(line, sizeof line, f) != NULL, "record %d missing", i);
    ck_assert_msg(!strncmp(line, "3,", 2) && strstr(line, want[i]) == line + 2, "record %d: %s (want %s)", i, line, want[i]);
  }
  ck_assert_ptr_null(fgets(line, sizeof line, f));
  fclose(f);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_autograd_gradcheck(void) {
  Suite *s = suite_create("autograd_gradcheck");
  TCase *t = tcase_create("ops");
  tcase_add_checked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, conv2d);
  tcase_add_test(t, batch_norm);
  tcase_add_test(t, elementwise);
  tcase_add_test(t, pooling_and_resizing);
  tcase_add_test(t, linear_and_reductions);
  tcase_add_test(t, small_network);
  tcase_add_test(t, tape_contracts);
  tcase_add_test(t, audit_hook);
  suite_add_tcase(s, t);
  return s;
}

