/* Philox4x32-10: the published known answers, the stream layout, thread independence, distributions. */
#include "base/base.h"
#include "testutil.h"

#include <math.h>
#include <omp.h>

/* Random123's kat_vectors for philox4x32 with 10 rounds. */
START_TEST(known_answers) {
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
       0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
       0x24126ea1},
  };
  for (int i = 0; i < 3; i++) {
    uint32_t out[4];
    gz_philox4x32(kat[i], kat[i] + 4, out);
    for (int j = 0; j < 4; j++) ck_assert_uint_eq(out[j], kat[i][6 + j]);
  }
}
END_TEST

/* The generator's words are the Philox blocks of counter (block, stream) under key seed. */
START_TEST(stream_layout_and_seek) {
  gz_rng r;
  gz_rng_init(&r, 0x0123456789abcdefULL, 7);
  uint32_t first[12];
  for (int i = 0; i < 12; i++) first[i] = gz_rng_u32(&r);
  uint32_t key[2] = {0x89abcdef, 0x01234567}, ctr[4] = {2, 0, 7, 0}, out[4];
  gz_philox4x32(ctr, key, out);
  for (int j = 0; j < 4; j++) ck_assert_uint_eq(first[8 + j], out[j]);
  for (uint64_t w = 0; w < 12; w++) {
    gz_rng_seek(&r, w);
    ck_assert_uint_eq(gz_rng_u32(&r), first[w]);
    ck_assert_uint_eq(gz_rng_word_at(0x0123456789abcdefULL, 7, w), first[w]);
  }
  gz_rng s;
  gz_rng_init(&s, 0x0123456789abcdefULL, 8); /* another stream: different numbers */
  ck_assert_uint_ne(gz_rng_u32(&s), first[0]);
}
END_TEST

/* The same stream, drawn by 1, 2, 3 or 8 threads, each taking any share of the indices. */
START_TEST(same_stream_any_thread_count) {
  enum { N = 100003 };
  static uint32_t ref[N], got[N];
  for (int i = 0; i < N; i++) ref[i] = gz_rng_word_at(42, 3, (uint64_t)i);
  int counts[] = {1, 2, 3, 8};
  for (int t = 0; t < 4; t++) {
    memset(got, 0, sizeof got);
#pragma omp parallel num_threads(counts[t])
    {
      gz_rng r;
      gz_rng_init(&r, 42, 3);
#pragma omp for schedule(dynamic, 97)
      for (int i = 0; i < N; i++) {
        gz_rng_seek(&r, (uint64_t)i);
        got[i] = gz_rng_u32(&r);
      }
    }
    ck_assert_int_eq(memcmp(ref, got, sizeof ref), 0);
  }
}
END_TEST

START_TEST(distributions) {
  gz_rng r;
  gz_rng_init(&r, 2023, 0);
  enum { N = 200000 };
  double su = 0, sn = 0, sn2 = 0;
  int hist[10] = {0};
  for (int i = 0; i < N; i++) {
    float u = gz_rng_uniform(&r);
    ck_assert(u >= 0.0f && u < 1.0f);
    su += u;
    double z = gz_rng_normal(&r);
    ck_assert(isfinite(z));
    sn += z, sn2 += z * z;
    uint32_t k = gz_rng_below(&r, 10);
    ck_assert_uint_lt(k, 10);
    hist[k]++;
  }
  /* Means within 5 standard errors. */
  ck_assert_msg(fabs(su / N - 0.5) < 5 * sqrt(1.0 / 12 / N), "uniform mean %g", su / N);
  ck_assert_msg(fabs(sn / N) < 5 / sqrt((double)N), "normal mean %g", sn / N);
  ck_assert_msg(fabs(sn2 / N - 1) < 5 * sqrt(2.0 / N), "normal variance %g", sn2 / N);
  double chi2 = 0;
  for (int k = 0; k < 10; k++) chi2 += (hist[k] - N / 10.0) * (hist[k] - N / 10.0) / (N / 10.0);
  ck_assert_msg(chi2 < 27.9, "chi-square %g with 9 degrees of freedom (p < 0.001)", chi2);
  double x = gz_rng_range(&r, -2, 3);
  ck_assert(x >= -2 && x < 3);
  ck_assert_uint_eq(gz_rng_below(&r, 1), 0);
}
END_TEST

START_TEST(shuffle_is_permutation) {
  int a[100], seen[100] = {0};
  for (int i = 0; i < 100; i++) a[i] = i;
  gz_rng r;
  gz_rng_init(&r, 5, 1);
  gz_rng_shuffle(&r, a, 100);
  int moved = 0;
  for (int i = 0; i < 100; i++) {
    seen[a[i]]++;
    moved += a[i] != i;
  }
  for (int i = 0; i < 100; i++) ck_assert_int_eq(seen[i], 1);
  ck_assert_int_gt(moved, 80);
  int b[100];
  for (int i = 0; i < 100; i++) b[i] = i;
  gz_rng_init(&r, 5, 1);
  gz_rng_shuffle(&r, b, 100);
  ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
}
END_TEST

Suite *suite_base_rng(void) {
  Suite *s = suite_create("base_rng");
  TCase *t = tcase_create("philox");
  tcase_add_test(t, known_answers);
  tcase_add_test(t, stream_layout_and_seek);
  tcase_add_test(t, same_stream_any_thread_count);
  tcase_add_test(t, distributions);
  tcase_add_test(t, shuffle_is_permutation);
  suite_add_tcase(s, t);
  return s;
}
