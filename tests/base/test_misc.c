/* Error status, ISA selection, progress lines. */
#include "base/base.h"
#include "testutil.h"

#include <errno.h>
#include <unistd.h>

START_TEST(error_messages) {
  gz_err e = {0};
  ck_assert_int_eq(gz_fail(&e, GZ_EFORMAT, "%s line %d", "f.csv", 3), -1);
  ck_assert_int_eq(e.code, GZ_EFORMAT);
  ck_assert_str_eq(e.msg, "f.csv line 3");
  gz_err_prefix(&e, "reading %s", "P300R1");
  ck_assert_str_eq(e.msg, "reading P300R1: f.csv line 3");
  errno = ENOENT;
  gz_fail_errno(&e, "x.csv: cannot open");
  ck_assert_str_eq(e.msg, "x.csv: cannot open: No such file or directory");
  ck_assert_int_eq(gz_fail(NULL, GZ_EIO, "ignored"), -1); /* callers may pass no status */
  gz_err_clear(&e);
  ck_assert_int_eq(e.code, GZ_OK);
  ck_assert_str_eq(gz_code_name(GZ_ERANGE), "out of range");
}
END_TEST

START_TEST(isa_resolution) {
  gz_err e = {0};
  int isa;
  unsigned all = GZ_CPU_AVX2 | GZ_CPU_FMA | GZ_CPU_AVX512F | GZ_CPU_AVX512BW | GZ_CPU_AVX512VL | GZ_CPU_AVX512DQ;
  ck_assert_int_eq(gz_isa_resolve(NULL, all, &isa, &e), 0);
  ck_assert_int_eq(isa, GZ_ISA_AVX512);
  ck_assert_int_eq(gz_isa_resolve("", GZ_CPU_AVX2 | GZ_CPU_FMA, &isa, &e), 0);
  ck_assert_int_eq(isa, GZ_ISA_AVX2);
  ck_assert_int_eq(gz_isa_resolve(NULL, GZ_CPU_AVX2, &isa, &e), 0); /* AVX2 without FMA is not enough */
  ck_assert_int_eq(isa, GZ_ISA_SCALAR);
  ck_assert_int_eq(gz_isa_resolve("scalar", all, &isa, &e), 0);
  ck_assert_int_eq(isa, GZ_ISA_SCALAR);
  ck_assert_int_eq(gz_isa_resolve("avx2", all, &isa, &e), 0);
  ck_assert_int_eq(isa, GZ_ISA_AVX2);
  ck_assert_int_eq(gz_isa_resolve("avx512", GZ_CPU_AVX2 | GZ_CPU_FMA, &isa, &e), -1);
  ck_assert_int_eq(e.code, GZ_EUNSUPPORTED);
  ck_assert_str_eq(e.msg, "GAZELOC_ISA=avx512 asked for, but this CPU supports at most avx2");
  ck_assert_int_eq(gz_isa_resolve("sse9", all, &isa, &e), -1);
  ck_assert_str_eq(e.msg, "GAZELOC_ISA='sse9' is not one of reference, scalar, avx2, avx512");
  /* The reference kernels need no CPU feature. */
  ck_assert_int_eq(gz_isa_resolve("reference", 0, &isa, &e), 0);
  ck_assert_int_eq(isa, GZ_ISA_REFERENCE);
  ck_assert_str_eq(gz_isa_name(GZ_ISA_REFERENCE), "reference");
  /* On this machine the active ISA is whatever GAZELOC_ISA says, or the best available. */
  ck_assert_int_eq(gz_isa_active(&isa, &e), 0);
  ck_assert_int_ge(isa, GZ_ISA_REFERENCE);
  ck_assert_int_le(isa, GZ_ISA_AVX512);
  /* An override replaces it; an impossible one changes nothing. */
  int before = isa, now;
  ck_assert_int_eq(gz_isa_override(GZ_ISA_REFERENCE, &e), 0);
  ck_assert_int_eq(gz_isa_active(&now, &e), 0);
  ck_assert_int_eq(now, GZ_ISA_REFERENCE);
  ck_assert_int_eq(gz_isa_override(7, &e), -1);
  ck_assert_int_eq(e.code, GZ_EUNSUPPORTED);
  ck_assert_int_eq(gz_isa_active(&now, &e), 0);
  ck_assert_int_eq(now, GZ_ISA_REFERENCE);
  ck_assert_int_eq(gz_isa_override(before, &e), 0);
}
END_TEST

START_TEST(progress_plain_lines) {
  char *dir = tu_tempdir();
  char path[512];
  snprintf(path, sizeof path, "%s/log.txt", dir);
  FILE *f = fopen(path, "w+");
  gz_progress p;
  gz_progress_start(&p, "readings", 200);
  p.out = f;
  p.tty = 0;
  p.enabled = 1;
  p.plain_every = 0; /* every update prints a line when not a terminal */
  p.t0 -= 10;        /* pretend 10 s have passed */
  gz_progress_update(&p, 50, "loss 0.5");
  gz_progress_finish(&p, NULL);
  fclose(f);
  char *s = gz_read_file(path, NULL, NULL);
  ck_assert_msg(strstr(s, "readings 50/200 (25.0%) 5/s, elapsed 10.0s, eta 30.0s, loss 0.5\n"), "got: %s", s);
  ck_assert_ptr_null(strchr(s, '\r'));
  free(s);
  char buf[32];
  gz_format_duration(3725, buf, sizeof buf);
  ck_assert_str_eq(buf, "1h02m");
  gz_format_duration(185, buf, sizeof buf);
  ck_assert_str_eq(buf, "3m05s");
  tu_rmtree(dir);
}
END_TEST

START_TEST(image_round_trip) {
  char *dir = tu_tempdir();
  char png[512], jpg[512];
  snprintf(png, sizeof png, "%s/a.png", dir);
  snprintf(jpg, sizeof jpg, "%s/a.jpg", dir);
  enum { W = 37, H = 21 };
  unsigned char px[W * H];
  for (int i = 0; i < W * H; i++) px[i] = (unsigned char)(i * 7);
  gz_err e = {0};
  ck_assert_int_eq(gz_write_png(png, W, H, 1, px, &e), 0);
  ck_assert_int_eq(gz_write_jpg(jpg, W, H, 1, px, 95, &e), 0);
  int w, h;
  unsigned char *back = gz_read_image(png, 1, &w, &h, &e);
  ck_assert_ptr_nonnull(back);
  ck_assert_int_eq(w, W);
  ck_assert_int_eq(h, H);
  ck_assert_int_eq(memcmp(back, px, sizeof px), 0); /* PNG is lossless */
  free(back);
  back = gz_read_image(jpg, 3, &w, &h, &e);
  ck_assert_ptr_nonnull(back);
  ck_assert_int_eq(w * h, W * H);
  free(back);
  ck_assert_ptr_null(gz_read_image("/nonexistent.jpg", 1, &w, &h, &e));
  ck_assert_msg(strstr(e.msg, "/nonexistent.jpg: cannot decode image"), "%s", e.msg);
  ck_assert_int_eq(gz_write_png(png, 0, H, 1, px, &e), -1);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_base_misc(void) {
  Suite *s = suite_create("base_misc");
  TCase *t = tcase_create("misc");
  tcase_add_test(t, error_messages);
  tcase_add_test(t, isa_resolution);
  tcase_add_test(t, progress_plain_lines);
  tcase_add_test(t, image_round_trip);
  suite_add_tcase(s, t);
  return s;
}
