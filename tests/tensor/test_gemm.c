/* SGEMM: every ISA path the CPU has, every transpose combination, odd sizes, against an exact
 * (double) product; bitwise equality across thread counts; bad arguments.
 *
 * Tolerance: any float summation order of K products obeys |c - exact| <= gamma_{K+2} * S with
 * S = |alpha| sum_k |a_ik b_kj| + |beta c_ij| and gamma_n ~ n u, u = 2^-24 (Higham, Accuracy and
 * Stability, 2nd ed., eq. 3.5, plus the alpha/beta roundings). We assert exactly that bound: it holds
 * for any correct blocking, and a wrong index or a dropped K chunk misses it by orders of magnitude. */
#include <math.h>
#include <omp.h>

#include "tensor/kernels.h"
#include "testutil.h"

static float *rand_buf(long n, uint64_t stream) {
  float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  gz_rng r;
  gz_rng_init(&r, 42, stream);
  for (long i = 0; i < n; i++) p[i] = (float)gz_rng_range(&r, -1.0, 1.0);
  return p;
}

static int isa_count(void) {
  int best;
  gz_err e = {0};
  ck_assert_int_eq(gz_isa_resolve(NULL, gz_cpu_features(), &best, &e), 0);
  return best + 1; /* scalar .. best */
}

typedef struct {
  long M, N, K;
} shape;

/* Runs one problem on `isa` (or the reference when isa < 0) and checks it against the exact bound. */
static void check_one(int isa, int ta, int tb, shape s, float alpha, float beta, int pad) {
  long M = s.M, N = s.N, K = s.K;
  long lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  long arows = ta ? K : M, brows = tb ? N : K;
  float *A = rand_buf(arows * lda, 1), *B = rand_buf(brows * ldb, 2), *C = rand_buf(M * ldc, 3);
  float *C0 = malloc(sizeof(float) * (size_t)(M * ldc + 1));
  if (beta == 0.0f)
    for (long i = 0; i < M * ldc; i++) C[i] = NAN; /* beta = 0 must not read C */
  memcpy(C0, C, sizeof(float) * (size_t)(M * ldc));
  gz_err e = {0};
  size_t wsb = gz_sgemm_workspace(M, N, K);
  unsigned char *ws = tu_guarded(wsb);
  int rc = isa < 0 ? gz_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, &e)
                   : gz_sgemm_isa(isa, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ws, wsb, &e);
  ck_assert_msg(rc == 0, "%s", e.msg);
  const long past = tu_guard_broken(ws, wsb);
  ck_assert_msg(past < 0, "wrote byte %ld past the %zu-byte workspace", past, wsb);
  const double u = ldexp(1.0, -24);
  for (long i = 0; i < M; i++)
    for (long j = 0; j < ldc; j++) {
      float got = C[i * ldc + j];
      if (j >= N) { /* padding: untouched */
        ck_assert_msg(memcmp(&got, &C0[i * ldc + j], sizeof got) == 0, "wrote outside C at %ld,%ld", i, j);
        continue;
      }
      double exact = 0, mag = 0;
      for (long k = 0; k < K; k++) {
        double a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
        exact += a * b;
        mag += fabs(a * b);
      }
      exact *= alpha;
      mag *= fabs(alpha);
      if (beta != 0.0f) {
        exact += (double)beta * C0[i * ldc + j];
        mag += fabs((double)beta * C0[i * ldc + j]);
      }
      double tol = (double)(K + 2) * u * mag + 1e-30;
      ck_assert_msg(fabs(got - exact) <= tol,
                    "isa %d ta %d tb %d M %ld N %ld K %ld alpha %g beta %g: C[%ld,%ld] = %.9g, exact %.9g, tol %.3g",
                    isa, ta, tb, M, N, K, alpha, beta, i, j, got, exact, tol);
    }
  free(A), free(B), free(C), free(C0), free(ws);
}

/* Odd sizes around the tiles (12x32, 6x16, 4x16), depth over KC (<= 512: several K chunks), N over NC
 * (several B blocks, the double buffer) and M over MC (<= 4096: several A panels). */
/* M leaves every remainder mod 12 (the AVX-512 tile's rows), whose last tiles run 2-, 4-, ..., 10-row
 * loops (gemm_avx512.c): 1 (13, 37, 61), 2, 3, 4 (16), 5, 6, 7 (19), 8, 9 (21), 10 (22), 11, 0 (12, 4200). */
static const shape shapes[] = {{1, 1, 1},    {13, 35, 7},   {12, 32, 64}, {37, 70, 530}, {5, 600, 33},
                               {61, 17, 1100}, {4200, 3, 5}, {2, 1, 3},    {22, 40, 9},   {21, 33, 17},
                               {19, 31, 12},   {11, 50, 40}, {8, 65, 20},  {6, 47, 5},    {3, 70, 8},
                               {16, 36, 3}};

START_TEST(all_isas_all_transposes) {
  int n = isa_count();
  for (int isa = -1; isa < n; isa++)
    for (int t = 0; t < 4; t++)
      for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        check_one(isa, t & 1, t >> 1, shapes[s], 1.0f, 0.0f, 0);
        if (s % 2 == 1) check_one(isa, t & 1, t >> 1, shapes[s], -1.5f, 0.5f, 3);
        if (s == 2) check_one(isa, t & 1, t >> 1, shapes[s], 2.0f, 1.0f, 1);
      }
}
END_TEST

START_TEST(bitwise_across_thread_counts) {
  const long M = 203, N = 517, K = 1030;
  for (int isa = 0; isa < isa_count(); isa++)
    for (int t = 0; t < 4; t++) {
      int ta = t & 1, tb = t >> 1;
      float *A = rand_buf(M * K, 4), *B = rand_buf(K * N, 5), *ref = NULL;
      const int threads[] = {1, 2, 3, 8};
      for (int i = 0; i < 4; i++) {
        float *C = rand_buf(M * N, 6);
        gz_err e = {0};
        omp_set_num_threads(threads[i]);
        size_t wsb = gz_sgemm_workspace(M, N, K); /* sized for the thread count at query time */
        void *ws = malloc(wsb);
        ck_assert_int_eq(gz_sgemm_isa(isa, ta, tb, M, N, K, 0.75f, A, ta ? M : K, B, tb ? K : N, 0.25f, C, N, ws, wsb,
                                      &e), 0);
        if (!ref) ref = C;
        else {
          ck_assert_msg(memcmp(ref, C, sizeof(float) * (size_t)(M * N)) == 0, "isa %d ta %d tb %d: %d threads differ",
                        isa, ta, tb, threads[i]);
          free(C);
        }
        free(ws);
      }
      omp_set_num_threads(2);
      free(A), free(B), free(ref);
    }
}
END_TEST

/* A call from inside a parallel region (conv.c's split weight gradient makes one per thread), given a
 * workspace for 3 threads: the nested team has one thread, which must then do all 3 threads' tiles. Same
 * bits as a call from outside with one thread. */
START_TEST(inside_parallel_region) {
  const long M = 70, N = 300, K = 90;
  float *A = rand_buf(M * K, 7), *B = rand_buf(K * N, 8), *ref = rand_buf(M * N, 9);
  const size_t wsb = gz_sgemm_workspace_threads(M, N, K, 3);
  void *ws0 = malloc(wsb);
  gz_err e0 = {0};
  ck_assert_int_eq(gz_sgemm_isa(isa_count() - 1, 0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, ref, N, ws0,
                                gz_sgemm_workspace_threads(M, N, K, 1), &e0), 0);
  float *C[2] = {rand_buf(M * N, 10), rand_buf(M * N, 11)};
  int rc[2] = {-1, -1};
#pragma omp parallel num_threads(2)
  {
    const int t = omp_get_thread_num();
    void *ws = malloc(wsb);
    gz_err e = {0};
    rc[t] = gz_sgemm_isa(isa_count() - 1, 0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C[t], N, ws, wsb, &e);
    free(ws);
  }
  for (int t = 0; t < 2; t++) {
    ck_assert_int_eq(rc[t], 0);
    ck_assert_msg(memcmp(ref, C[t], sizeof(float) * (size_t)(M * N)) == 0, "thread %d: result differs", t);
    free(C[t]);
  }
  free(A), free(B), free(ref), free(ws0);
}
END_TEST

START_TEST(alpha_zero_does_not_read_ab) {
  float A[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, B[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, C[4] = {1, 2, 3, 4};
  char ws[4096];
  gz_err e = {0};
  ck_assert_int_eq(gz_sgemm(0, 0, 2, 2, 3, 0.0f, A, 3, B, 2, 2.0f, C, 2, ws, sizeof ws, &e), 0);
  ck_assert(C[0] == 2 && C[1] == 4 && C[2] == 6 && C[3] == 8);
  ck_assert_int_eq(gz_sgemm_ref(0, 0, 2, 2, 3, 0.0f, A, 3, B, 2, 0.0f, C, 2, &e), 0);
  ck_assert(C[0] == 0 && C[3] == 0);
  ck_assert_int_eq(gz_sgemm(0, 0, 0, 5, 3, 1.0f, NULL, 3, NULL, 5, 0.0f, NULL, 5, NULL, 0, &e), 0); /* empty */
}
END_TEST

START_TEST(bad_arguments) {
  float A[64] = {0}, B[64] = {0}, C[64];
  for (int i = 0; i < 64; i++) C[i] = 7.0f;
  char ws[1 << 16];
  gz_err e = {0};
  ck_assert_int_eq(gz_sgemm(0, 0, -1, 2, 2, 1, A, 2, B, 2, 0, C, 2, ws, sizeof ws, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "negative"));
  ck_assert_int_eq(gz_sgemm(0, 0, 4, 4, 4, 1, A, 3, B, 4, 0, C, 4, ws, sizeof ws, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "lda=3"));
  ck_assert_int_eq(gz_sgemm(1, 0, 4, 4, 2, 1, A, 2, B, 4, 0, C, 4, ws, sizeof ws, &e), -1); /* A is K x M: lda >= M */
  ck_assert_ptr_nonnull(strstr(e.msg, "lda=2"));
  ck_assert_int_eq(gz_sgemm(0, 1, 4, 4, 4, 1, A, 4, B, 3, 0, C, 4, ws, sizeof ws, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "ldb=3"));
  ck_assert_int_eq(gz_sgemm(0, 0, 4, 4, 4, 1, A, 4, B, 4, 0, C, 3, ws, sizeof ws, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "ldc=3"));
  ck_assert_int_eq(gz_sgemm(0, 0, 4, 4, 4, 1, A, 4, NULL, 4, 0, C, 4, ws, sizeof ws, &e), -1);
  ck_assert_int_eq(gz_sgemm(0, 0, 4, 4, 4, 1, A, 4, B, 4, 0, C, 4, ws, 16, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "workspace"));
  ck_assert_int_eq(gz_sgemm_isa(7, 0, 0, 4, 4, 4, 1, A, 4, B, 4, 0, C, 4, ws, sizeof ws, &e), -1);
  for (int i = 0; i < 64; i++) ck_assert(C[i] == 7.0f); /* nothing written on failure */
  gz_gemm_blocking b;
  ck_assert_int_eq(gz_gemm_blocking_for(GZ_ISA_AVX512, &b, &e), 0);
  ck_assert(b.mr == 12 && b.nr == 32 && b.kc >= 64 && b.nc % b.nr == 0 && b.mc % b.mr == 0);
  /* A workspace for one thread runs on one thread: smaller than asked for threads is not an error. */
  omp_set_num_threads(1);
  size_t one = gz_sgemm_workspace(300, 300, 300);
  omp_set_num_threads(2);
  float *a = calloc(300 * 300, 4), *bb = calloc(300 * 300, 4), *c = calloc(300 * 300, 4);
  void *w1 = malloc(one);
  ck_assert_int_eq(gz_sgemm(0, 0, 300, 300, 300, 1, a, 300, bb, 300, 0, c, 300, w1, one, &e), 0);
  free(a), free(bb), free(c), free(w1);
}
END_TEST

Suite *suite_tensor_gemm(void) {
  Suite *s = suite_create("tensor_gemm");
  TCase *t = tcase_create("gemm");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, all_isas_all_transposes);
  tcase_add_test(t, bitwise_across_thread_counts);
  tcase_add_test(t, inside_parallel_region);
  tcase_add_test(t, alpha_zero_does_not_read_ab);
  tcase_add_test(t, bad_arguments);
  suite_add_tcase(s, t);
  return s;
}
