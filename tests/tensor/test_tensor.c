/* The tensor type, views, arenas, the parameter store, topology and the op wrappers' error paths. */
#include <math.h>
#include <omp.h>

#include "tensor/claim.h"
#include "tensor/tensor.h"
#include "testutil.h"

START_TEST(views_share_storage) {
  gz_err e = {0};
  float buf[2 * 5 * 3 * 4];
  for (int i = 0; i < 120; i++) buf[i] = (float)i;
  gz_tensor t, s, c, r;
  ck_assert_int_eq(gz_tensor_wrap4(&t, buf, 2, 5, 3, 4, &e), 0);
  ck_assert(gz_tensor_is_contiguous(&t));
  ck_assert_int_eq(t.stride[0], 60);
  ck_assert_int_eq(t.stride[1], 12);
  ck_assert_int_eq(gz_tensor_numel(&t), 120);
  /* channel view: batch-contiguous, not contiguous, shares storage */
  ck_assert_int_eq(gz_tensor_channels(&t, 1, 3, &c, &e), 0);
  ck_assert(!gz_tensor_is_contiguous(&c));
  ck_assert(gz_tensor_is_batch_contiguous(&c));
  ck_assert_ptr_eq(c.data, buf + 12);
  c.data[60] = -1; /* n=1, c=1 of the view is channel 2 of n=1 */
  ck_assert_float_eq(buf[60 + 12], -1);
  /* slice along H: neither */
  ck_assert_int_eq(gz_tensor_slice(&t, 2, 1, 2, &s, &e), 0);
  ck_assert(!gz_tensor_is_batch_contiguous(&s));
  ck_assert_float_eq(s.data[0], 4);
  /* batch slice stays contiguous and reshapes */
  ck_assert_int_eq(gz_tensor_slice(&t, 0, 1, 1, &s, &e), 0);
  int64_t shp[2] = {5, 12};
  ck_assert_int_eq(gz_tensor_reshape(&s, 2, shp, &r, &e), 0);
  ck_assert_ptr_eq(r.data, buf + 60);
  ck_assert_int_eq(r.stride[0], 12);
  /* errors */
  ck_assert_int_eq(gz_tensor_reshape(&c, 2, shp, &r, &e), -1);
  ck_assert_str_eq(e.msg, "tensor reshape: the 2x3x3x4 view is not contiguous");
  int64_t bad[2] = {7, 9};
  ck_assert_int_eq(gz_tensor_reshape(&t, 2, bad, &r, &e), -1);
  ck_assert_str_eq(e.msg, "tensor reshape: 2x5x3x4 has 120 elements, the new shape 63");
  ck_assert_int_eq(gz_tensor_slice(&t, 1, 4, 2, &s, &e), -1);
  ck_assert_str_eq(e.msg, "tensor slice: [4, 6) is outside dim 1 of size 5");
  ck_assert_int_eq(gz_tensor_wrap4(&t, buf, 2, 0, 3, 4, &e), -1);
  ck_assert_int_eq(e.code, GZ_ERANGE);
  int64_t huge[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
  ck_assert_int_eq(gz_tensor_wrap(&t, buf, 4, huge, &e), -1);
  ck_assert_int_eq(e.code, GZ_ERANGE);
  ck_assert_int_eq(gz_tensor_wrap(&t, buf, 5, huge, &e), -1);
}
END_TEST

START_TEST(finite_check) {
  gz_err e = {0};
  float buf[2 * 3 * 2 * 2] = {0};
  gz_tensor t;
  gz_tensor_wrap4(&t, buf, 2, 3, 2, 2, &e);
  ck_assert_int_eq(gz_tensor_check_finite(&t, "conv1 output", &e), 0);
  buf[1 * 12 + 0 * 4 + 0 * 2 + 1] = NAN; /* [1,0,0,1] */
  buf[20] = INFINITY;
  buf[23] = NAN;
  ck_assert_int_eq(gz_tensor_check_finite(&t, "conv1 output", &e), -1);
  ck_assert_str_eq(e.msg, "conv1 output 2x3x2x2: 2 NaN and 1 Inf values, first at [1,0,0,1]");
}
END_TEST

START_TEST(arenas_and_params) {
  gz_err e = {0};
  gz_arena a;
  ck_assert_int_eq(gz_arena_init(&a, "activations", 1000, &e), 0);
  void *p = gz_arena_alloc(&a, 3, &e);
  ck_assert_int_eq((uintptr_t)p % 64, 0);
  size_t mark = gz_arena_mark(&a);
  gz_tensor t;
  int64_t s[2] = {3, 5};
  ck_assert_int_eq(gz_arena_tensor(&a, 2, s, &t, &e), 0);
  ck_assert_int_eq((uintptr_t)t.data % 64, 0);
  ck_assert_ptr_eq(gz_arena_alloc(&a, 2000, &e), NULL);
  ck_assert_int_eq(e.code, GZ_ENOMEM);
  ck_assert_str_eq(e.msg, "activations: 2000 bytes asked for, 896 of 1024 free");
  gz_arena_reset(&a, mark);
  ck_assert_ptr_eq(gz_arena_alloc(&a, 4, &e), t.data); /* the step's memory is reused */
  ck_assert_uint_eq(a.peak, 128);
  gz_arena_free(&a);

  gz_params ps;
  ck_assert_int_eq(gz_params_init(&ps, 4096, 3, &e), 0);
  gz_tensor w1, g1, w2, g2, m2;
  int64_t s1[4] = {4, 3, 3, 3}, s2[1] = {7};
  ck_assert_int_eq(gz_params_new(&ps, 4, s1, &w1, &g1, &e), 0);
  ck_assert_int_eq(gz_params_new(&ps, 1, s2, &w2, &g2, &e), 0);
  ck_assert_int_eq((char *)g2.data - ps.grad.base, (char *)w2.data - ps.param.base);
  ck_assert_int_eq(gz_params_peer(&ps, &ps.state[1], &w2, &m2, &e), 0);
  ck_assert_int_eq((char *)m2.data - ps.state[1].base, (char *)w2.data - ps.param.base);
  ck_assert_uint_eq(gz_params_count(&ps), (448 + 64) / 4); /* 108 and 7 floats, each rounded up to 64 bytes */
  g1.data[0] = 5;
  gz_arena_zero(&ps.grad);
  ck_assert_float_eq(g1.data[0], 0);
  ck_assert_int_eq(gz_params_peer(&ps, &ps.grad, &g1, &m2, &e), -1); /* g1 is not a parameter */
  gz_params_free(&ps);
  ck_assert_int_eq(gz_params_init(&ps, 64, 4, &e), -1);
}
END_TEST

START_TEST(topology) {
  gz_err e = {0};
  gz_topology t;
  ck_assert_int_eq(gz_topology_get(&t, &e), 0);
  ck_assert_int_ge(t.cores, 1);
  ck_assert_int_ge(t.pus, t.cores);
  /* hwloc on x86 always knows L1d and L2; the GEMM blocking relies on them */
  ck_assert_uint_ge(t.l1d, 4096);
  ck_assert_uint_ge(t.l2, t.l1d);
  ck_assert_uint_eq(t.line, 64);
  int n = gz_threads_bind(&e);
  ck_assert_msg(n >= 1, "bind: %s", e.msg);
}
END_TEST

START_TEST(op_errors) {
  gz_err e = {0};
  float a[2 * 3 * 4 * 4] = {0}, b[2 * 3 * 4 * 4] = {0}, g[3] = {1, 1, 1}, z[3] = {0};
  int32_t idx[96];
  gz_tensor x, y, s;
  gz_tensor_wrap4(&x, a, 2, 3, 4, 4, &e);
  gz_tensor_wrap4(&y, b, 2, 3, 4, 5, &e);
  ck_assert_int_eq(gz_bn_fwd_train(&x, g, z, 1e-5f, &y, z, z, &e), -1);
  ck_assert_str_eq(e.msg, "batch norm: x is 2x3x4x4 but y is 2x3x4x5");
  gz_tensor_wrap4(&y, b, 2, 3, 4, 4, &e);
  ck_assert_int_eq(gz_bn_fwd_train(&x, g, z, 0, &y, z, z, &e), -1);
  ck_assert_str_eq(e.msg, "batch norm: eps must be positive, got 0");
  gz_tensor one;
  gz_tensor_wrap4(&one, a, 1, 3, 1, 1, &e);
  ck_assert_int_eq(gz_bn_fwd_train(&one, g, z, 1e-5f, &one, z, z, &e), -1);
  ck_assert_str_eq(e.msg, "batch norm: training needs more than one value per channel, got input 1x3x1x1");
  gz_tensor_slice(&x, 2, 0, 2, &s, &e);
  ck_assert_int_eq(gz_relu_fwd(&s, &s, &e), -1);
  ck_assert_str_eq(e.msg, "relu: x (2x3x2x4) is a strided view; copy it to a batch-contiguous tensor first");
  gz_tensor yp;
  gz_tensor_wrap4(&yp, b, 2, 3, 3, 2, &e);
  ck_assert_int_eq(gz_maxpool3s2_fwd(&x, &yp, idx, &e), -1);
  ck_assert_str_eq(e.msg, "max-pool: input 2x3x4x4 needs an output of 2x3x2x2, got 2x3x3x2");
  gz_pool2d p = {3, 3, 1, 1, 2, 2};
  ck_assert_int_eq(gz_maxpool_fwd(&x, &p, &yp, idx, &e), -1);
  ck_assert_str_eq(e.msg, "max-pool: padding 2x2 is more than half the kernel 3x3");
  gz_pool2d big = {7, 7, 1, 1, 1, 1};
  ck_assert_int_eq(gz_maxpool_fwd(&x, &big, &yp, idx, &e), -1);
  ck_assert_str_eq(e.msg, "max-pool: kernel 7x7 does not fit the padded input 2x3x4x4");
  gz_tensor_wrap4(&yp, b, 2, 3, 3, 3, &e);
  ck_assert_int_eq(gz_adaptive_maxpool_fwd(&x, &yp, idx, &e), -1);
  ck_assert_str_eq(e.msg, "adaptive max-pool: input 2x3x4x4 is not an integer multiple of output 2x3x3x3");
  gz_tensor_wrap4(&yp, b, 2, 2, 8, 2, &e);
  ck_assert_int_eq(gz_upsample_nearest_fwd(&x, &yp, &e), -1);
  ck_assert_str_eq(e.msg, "nearest upsampling: input and output differ in batch or channels");
  gz_tensor_wrap4(&yp, b, 2, 2, 4, 4, &e);
  const gz_tensor *xs[2] = {&x, &x};
  ck_assert_int_eq(gz_concat_fwd(xs, 2, &yp, &e), -1);
  ck_assert_str_eq(e.msg, "concat: the inputs have 6 channels in all, the output 2");
  double ws[4];
  ck_assert_int_eq(gz_reduce(&x, 1u << 4, GZ_REDUCE_SUM, &yp, ws, 4, &e), -1);
  ck_assert_str_eq(e.msg, "reduce: axes 0x10 name dims a 4-dim tensor lacks");
  ck_assert_int_eq(gz_reduce(&x, 3, GZ_REDUCE_SUM, &yp, ws, 4, &e), -1);
  ck_assert_str_eq(e.msg, "reduce: x is 2x3x4x4, reducing axes 0x3 needs a contiguous y of the kept shape, got 2x2x4x4");
  gz_adam_hp hp = {1e-3, 0.9, 0.999, 1e-8, 0, 0};
  ck_assert_int_eq(gz_amsgrad_step(a, b, a, a, a, 4, &hp, &e), -1);
  ck_assert_str_eq(e.msg, "amsgrad: step counts from 1, got 0");
  x.device = GZ_DEVICE_CUDA;
  ck_assert_int_eq(gz_relu_fwd(&x, &x, &e), -1);
  ck_assert_str_eq(e.msg, "relu: tensor ops: this build has no CUDA backend");
}
END_TEST

START_TEST(concat_views) {
  gz_err e = {0};
  float y[2 * 5 * 2 * 3], a[2 * 2 * 2 * 3], da[2 * 2 * 6], db[2 * 3 * 6];
  for (int i = 0; i < 24; i++) a[i] = (float)i;
  gz_tensor ty, ta, tb, tda, tdb;
  gz_tensor_wrap4(&ty, y, 2, 5, 2, 3, &e);
  gz_tensor_wrap4(&ta, a, 2, 2, 2, 3, &e);
  /* b is produced in place: a channel view of y */
  ck_assert_int_eq(gz_tensor_channels(&ty, 2, 3, &tb, &e), 0);
  for (int n = 0; n < 2; n++)
    for (int i = 0; i < 18; i++) tb.data[n * tb.stride[0] + i] = 100.0f + (float)(n * 18 + i);
  const gz_tensor *xs[2] = {&ta, &tb};
  ck_assert_int_eq(gz_concat_fwd(xs, 2, &ty, &e), 0);
  for (int n = 0; n < 2; n++)
    for (int i = 0; i < 30; i++)
      ck_assert_float_eq(y[n * 30 + i], i < 12 ? a[n * 12 + i] : 100.0f + (float)(n * 18 + i - 12));
  gz_tensor_wrap4(&tda, da, 2, 2, 2, 3, &e);
  gz_tensor_wrap4(&tdb, db, 2, 3, 2, 3, &e);
  for (int i = 0; i < 18 * 2; i++) db[i] = 1;
  gz_tensor *dxs[2] = {&tda, &tdb};
  ck_assert_int_eq(gz_concat_bwd(&ty, dxs, 2, 0, &e), 0);
  ck_assert_float_eq(da[13], y[31]);
  ck_assert_int_eq(gz_concat_bwd(&ty, dxs, 2, 1, &e), 0);
  ck_assert_float_eq(db[0], 2 * y[12]);
  ck_assert_float_eq(da[13], 2 * y[31]);
}
END_TEST

/* gz_claim (tensor/claim.h): every item is taken exactly once, by its owner unless the owner is slow, and a
 * team smaller than the ranges (or none at all for some ranges) still takes every item. Thread 0 is made slow
 * (a spin per item), so the others must take from the back of its range. */
static int claim_run(long n, int ranges, int team, long chunk, int *owner_of, long *stolen) {
  gz_claim c;
  gz_claim_init(&c, n, ranges, chunk);
  for (long i = 0; i < n; i++) owner_of[i] = -1;
  int twice = 0;
  long moved = 0;
#pragma omp parallel num_threads(team) reduction(+ : twice, moved)
  {
    const int t = omp_get_thread_num();
    for (long lo, hi; gz_claim_next(&c, t, &lo, &hi);) {
      ck_assert(lo < hi && hi <= n);
      ck_assert_int_le(hi - lo, chunk);
      for (long i = lo; i < hi; i++) {
        int prev;
#pragma omp atomic capture
        {
          prev = owner_of[i];
          owner_of[i] = t;
        }
        if (prev != -1) twice++;
        int r = 0; /* the range item i starts in: [n r / nr, n (r + 1) / nr) */
        while (i >= n * (r + 1) / c.nr) r++;
        if (r != t) moved++;
        if (t == 0)
          for (volatile int k = 0; k < 20000; k++) {
          }
      }
    }
  }
  *stolen = moved;
  return twice;
}

START_TEST(claims_take_every_item_once) {
  static int owner_of[5000];
  const struct {
    long n;
    int ranges, team;
    long chunk;
  } cases[] = {{5000, 4, 4, 1}, {4999, 8, 8, 7}, {3, 8, 8, 1}, {1000, 16, 3, 4}, {0, 4, 4, 1}, {777, 70, 4, 2}};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    long stolen = 0;
    const int twice = claim_run(cases[k].n, cases[k].ranges, cases[k].team, cases[k].chunk, owner_of, &stolen);
    ck_assert_msg(twice == 0, "case %zu: %d items taken twice", k, twice);
    for (long i = 0; i < cases[k].n; i++) ck_assert_msg(owner_of[i] >= 0, "case %zu: item %ld not taken", k, i);
    /* with a team smaller than the ranges, the absent threads' ranges are taken by the others */
    if (cases[k].team < cases[k].ranges && cases[k].n >= 1000) ck_assert_int_gt(stolen, 0);
  }
  /* the slow thread 0 loses the back of its range to the others */
  long stolen = 0;
  ck_assert_int_eq(claim_run(5000, 4, 4, 1, owner_of, &stolen), 0);
  long taken = 0;
  for (long i = 0; i < 1250; i++) taken += owner_of[i] != 0;
  ck_assert_msg(taken > 0, "thread 0's range was never taken from");
  ck_assert_int_gt(stolen, 0);
}
END_TEST

Suite *suite_tensor_core(void) {
  Suite *s = suite_create("tensor_core");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, views_share_storage);
  tcase_add_test(tc, finite_check);
  tcase_add_test(tc, arenas_and_params);
  tcase_add_test(tc, topology);
  tcase_add_test(tc, op_errors);
  tcase_add_test(tc, concat_views);
  tcase_add_test(tc, claims_take_every_item_once);
  suite_add_tcase(s, tc);
  return s;
}
