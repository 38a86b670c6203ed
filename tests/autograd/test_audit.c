/* Audit trace: statistics, the written format, and the comparison naming the first divergence. */
#include "autograd/autograd.h"
#include "testutil.h"

#include <math.h>
#include <sys/wait.h>

static void write_trace(const char *path, float bump) {
  gz_audit a;
  int on;
  gz_err e = {0};
  ck_assert_int_eq(gz_audit_open(&a, path, &on, &e), 0);
  ck_assert(on);
  float x[6] = {1, -2, 3, 0.5f, 0, 4}, g[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
  int64_t shape[4] = {1, 2, 1, 3};
  gz_audit_step(&a, 1);
  gz_audit_record(&a, "forward", "conv2d", 4, shape, x);
  x[2] += bump;
  gz_audit_record(&a, "forward", "relu", 4, shape, x);
  gz_audit_record(&a, "backward", "relu", 4, shape, g);
  gz_audit_close(&a);
}

START_TEST(stats) {
  float x[5] = {1, -3, NAN, INFINITY, 2};
  gz_audit_stats s;
  gz_audit_stats_of(x, 5, &s);
  ck_assert(s.min == -3 && s.max == 2);
  ck_assert(fabs(s.mean - 0.0) < 1e-15);
  ck_assert(fabs(s.l2 - sqrt(14.0)) < 1e-12);
  ck_assert_int_eq(s.nan, 1);
  ck_assert_int_eq(s.inf, 1);
}
END_TEST

START_TEST(compare_traces) {
  char *dir = tu_tempdir();
  char a[512], b[512], c[512];
  snprintf(a, sizeof a, "%s/a.csv", dir);
  snprintf(b, sizeof b, "%s/b.csv", dir);
  snprintf(c, sizeof c, "%s/c.csv", dir);
  write_trace(a, 0);
  write_trace(b, 0);
  write_trace(c, 1e-3f);
  char *text = gz_read_file(a, NULL, NULL);
  ck_assert_msg(strstr(text, "step,phase,index,op,shape,min,max,mean,l2,nan,inf,hash\n1,forward,0,conv2d,1x2x1x3,-2,4,"),
                "%s", text);
  free(text);
  char report[1024];
  gz_err e = {0};
  ck_assert_int_eq(gz_audit_compare(a, b, 1e-6, 1, report, sizeof report, &e), 0);
  ck_assert_int_eq(gz_audit_compare(a, c, 1e-2, 0, report, sizeof report, &e), 0); /* within 1 % */
  ck_assert_int_eq(gz_audit_compare(a, c, 1e-6, 0, report, sizeof report, &e), 1);
  ck_assert_msg(strstr(report, "record 2 (step 1, forward op 1, relu 1x2x1x3): mean"), "%s", report);
  ck_assert_int_eq(gz_audit_compare(a, c, 1e-6, 1, report, sizeof report, &e), 1);
  ck_assert_msg(strstr(report, "record 2") && strstr(report, "bytes differ"), "%s", report);
  ck_assert_int_eq(gz_audit_compare(a, "/nonexistent.csv", 1e-6, 0, report, sizeof report, &e), -1);
  /* the program says the same */
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s/gazeloc-audit %s %s --tol 1e-6 > %s/out.txt", getenv("GAZELOC_BIN"), a, c, dir);
  int rc = system(cmd);
  ck_assert_int_eq(WEXITSTATUS(rc), 1);
  snprintf(cmd, sizeof cmd, "%s/out.txt", dir);
  text = gz_read_file(cmd, NULL, NULL);
  ck_assert_msg(strstr(text, "first divergence: record 2 (step 1, forward op 1, relu"), "%s", text);
  free(text);
  tu_rmtree(dir);
}
END_TEST

START_TEST(disabled_without_path) {
  unsetenv("GAZELOC_AUDIT");
  gz_audit a;
  int on = 1;
  gz_err e = {0};
  ck_assert_int_eq(gz_audit_open(&a, NULL, &on, &e), 0);
  ck_assert(!on);
  float x = 1;
  int64_t s = 1;
  gz_audit_record(&a, "forward", "noop", 1, &s, &x); /* a no-op when disabled */
  gz_audit_close(&a);
  ck_assert_int_eq(gz_audit_open(&a, "/nonexistent-dir/trace.csv", &on, &e), -1);
  ck_assert_msg(strstr(e.msg, "cannot write the audit trace"), "%s", e.msg);
}
END_TEST

Suite *suite_autograd_audit(void) {
  Suite *s = suite_create("autograd_audit");
  TCase *t = tcase_create("audit");
  tcase_add_test(t, stats);
  tcase_add_test(t, compare_traces);
  tcase_add_test(t, disabled_without_path);
  suite_add_tcase(s, t);
  return s;
}
