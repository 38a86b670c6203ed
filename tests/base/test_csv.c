/* CSV reader and writer: every quirk of the real files, and every kind of broken input. */
#include "base/base.h"
#include "testutil.h"

#include <math.h>
#include <unistd.h>

static gz_csv *mem(const char *s, int flags, gz_err *e) { return gz_csv_open_mem("t.csv", s, strlen(s), flags, e); }

START_TEST(header_by_name_crlf) {
  gz_err e = {0};
  gz_csv *c = mem("word,timestamp_start_word,timestamp_end_word\r\nthe,0.5,0.7\r\n.,0.71,0.72\r\n", 0, &e);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(gz_csv_ncols(c), 3);
  ck_assert_int_eq(gz_csv_find(c, "timestamp_end_word"), 2);
  ck_assert_int_eq(gz_csv_find(c, "nope"), -1);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 0), "the");
  double v;
  ck_assert_int_eq(gz_csv_double(c, 1, &v, &e), 0);
  ck_assert(v == 0.5);
  ck_assert_int_eq(gz_csv_line(c), 2);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 0), ".");
  ck_assert_int_eq(gz_csv_line(c), 3);
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
}
END_TEST

START_TEST(lf_and_no_final_newline) {
  gz_err e = {0};
  gz_csv *c = mem("a,b\n1,2\n3,4", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 1), "4");
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
}
END_TEST

START_TEST(quoted_commas_quotes_newlines) {
  gz_err e = {0};
  gz_csv *c = mem("id,Other\r\nP1,\"a, b\"\r\nP2,\"say \"\"hi\"\"\"\r\nP3,\"two\r\nlines\"\r\nP4,\"\"\r\n", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 1), "a, b");
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 1), "say \"hi\"");
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 1), "two\r\nlines");
  ck_assert_int_eq(gz_csv_line(c), 4);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 1), "");
  ck_assert_int_eq(gz_csv_line(c), 6); /* the quoted newline moved the count on */
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
}
END_TEST

START_TEST(bom_empty_cells_bools_ints) {
  gz_err e = {0};
  gz_csv *c = mem("\xEF\xBB\xBFid,flag,certainty,size\r\nP1,True,5,\r\nP2,False,5.0,3\r\n", 0, &e);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(gz_csv_find(c, "id"), 0); /* the BOM is not part of the first name */
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  int b;
  long l;
  ck_assert_int_eq(gz_csv_bool(c, 1, &b, &e), 0);
  ck_assert_int_eq(b, 1);
  ck_assert_int_eq(gz_csv_int(c, 2, &l, &e), 0);
  ck_assert_int_eq(l, 5);
  ck_assert(gz_csv_is_empty(c, 3));
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_int_eq(gz_csv_bool(c, 1, &b, &e), 0);
  ck_assert_int_eq(b, 0);
  ck_assert_int_eq(gz_csv_int(c, 2, &l, &e), 0);
  ck_assert_int_eq(l, 5);
  gz_csv_close(c);
}
END_TEST

START_TEST(number_parsing) {
  long l;
  double d;
  ck_assert_int_eq(gz_parse_int("5", &l), 0);
  ck_assert_int_eq(gz_parse_int("-12", &l), 0);
  ck_assert_int_eq(l, -12);
  ck_assert_int_eq(gz_parse_int("5.000", &l), 0);
  ck_assert_int_eq(gz_parse_int("5.5", &l), -1);
  ck_assert_int_eq(gz_parse_int("5.", &l), -1);
  ck_assert_int_eq(gz_parse_int("", &l), -1);
  ck_assert_int_eq(gz_parse_int(" 5", &l), -1);
  ck_assert_int_eq(gz_parse_int("5x", &l), -1);
  ck_assert_int_eq(gz_parse_double("1.25e-3", &d), 0);
  ck_assert(fabs(d - 1.25e-3) < 1e-18);
  ck_assert_int_eq(gz_parse_double("nan", &d), -1);
  ck_assert_int_eq(gz_parse_double("inf", &d), -1);
  ck_assert_int_eq(gz_parse_double("0x10", &d), -1);
  ck_assert_int_eq(gz_parse_double("1e999", &d), -1);
  ck_assert_int_eq(gz_parse_double("abc", &d), -1);
}
END_TEST

START_TEST(bad_number_names_line_and_column) {
  gz_err e = {0};
  gz_csv *c = mem("timestamp_start_fixation,x_position\r\n0.1,10\r\n0.2,abc\r\n", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  double v;
  ck_assert_int_eq(gz_csv_double(c, 1, &v, &e), -1);
  ck_assert_int_eq(e.code, GZ_EFORMAT);
  ck_assert_str_eq(e.msg, "t.csv line 3, column 2 (x_position): 'abc' is not a number");
  ck_assert_int_eq(gz_csv_bool(c, 1, (int *)&v, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "not True or False"));
  gz_csv_close(c);
}
END_TEST

START_TEST(unterminated_quote) {
  gz_err e = {0};
  gz_csv *c = mem("a,b\n1,\"open\n2,3\n", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), -1);
  ck_assert_str_eq(e.msg, "t.csv line 2, char 3: unterminated quoted field");
  gz_csv_close(c);
}
END_TEST

START_TEST(wrong_column_count) {
  gz_err e = {0};
  gz_csv *c = mem("a,b,c\n1,2,3\n4,5\n", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_int_eq(gz_csv_next(c, &e), -1);
  ck_assert_str_eq(e.msg, "t.csv line 3: 2 fields, but the header has 3");
  gz_csv_close(c);
  c = mem("a,b,c\n1,2,3\n4,5\n", GZ_CSV_RAGGED, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_int_eq(gz_csv_nfields(c), 2);
  ck_assert_str_eq(gz_csv_field(c, 2), ""); /* a missing field reads as empty */
  gz_csv_close(c);
}
END_TEST

START_TEST(missing_header_column) {
  gz_err e = {0};
  gz_csv *c = mem("xmin,ymin,xmax\n1,2,3\n", 0, &e);
  ck_assert_int_eq(gz_csv_require(c, "ymax", &e), -1);
  ck_assert_str_eq(e.msg, "t.csv: missing column 'ymax' in the header");
  gz_csv_close(c);
  c = mem("a,b,a\n", 0, &e);
  ck_assert_ptr_null(c);
  ck_assert_ptr_nonnull(strstr(e.msg, "appears twice"));
}
END_TEST

START_TEST(empty_file_and_blank_lines) {
  gz_err e = {0};
  ck_assert_ptr_null(mem("", 0, &e));
  ck_assert_str_eq(e.msg, "t.csv: empty file (no header line)");
  ck_assert_ptr_null(mem("\r\n\r\n", 0, &e));
  gz_csv *c = mem("a\r\n\r\n1\r\n\r\n", 0, &e); /* pandas skips blank lines too */
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 0), "1");
  ck_assert_int_eq(gz_csv_line(c), 3);
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
  c = mem("", GZ_CSV_NO_HEADER, &e); /* headerless and empty: simply no records */
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
}
END_TEST

START_TEST(nul_bytes_and_stray_quotes) {
  gz_err e = {0};
  static const char nul[] = "a,b\n1,x\0y\n";
  gz_csv *c = gz_csv_open_mem("t.csv", nul, sizeof nul - 1, 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), -1);
  ck_assert_str_eq(e.msg, "t.csv line 2, char 4: NUL byte in input");
  gz_csv_close(c);
  c = mem("a,b\n1,ab\"c\n", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "quote inside an unquoted field"));
  gz_csv_close(c);
  c = mem("a,b\n1,\"ab\"c\n", 0, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "after a closing quote"));
  gz_csv_close(c);
}
END_TEST

START_TEST(headerless_reports) {
  gz_err e = {0};
  gz_csv *c = mem("no acute process.\n\"heart size normal, no effusion.\"\n", GZ_CSV_NO_HEADER, &e);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 0), "no acute process.");
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  ck_assert_str_eq(gz_csv_field(c, 0), "heart size normal, no effusion.");
  ck_assert_int_eq(gz_csv_line(c), 2);
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
}
END_TEST

START_TEST(missing_file) {
  gz_err e = {0};
  ck_assert_ptr_null(gz_csv_open("/nonexistent/fixations.csv", 0, &e));
  ck_assert_int_eq(e.code, GZ_EIO);
  ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent/fixations.csv: cannot open: No such file"));
}
END_TEST

START_TEST(writer_round_trip) {
  char *dir = tu_tempdir();
  char path[512];
  snprintf(path, sizeof path, "%s/w.csv", dir);
  const char *cells[] = {"plain", "with, comma", "with \"quote\"", "two\nlines", " padded ", "", "True"};
  int n = (int)(sizeof cells / sizeof cells[0]);
  FILE *f = fopen(path, "wb");
  gz_csvw w;
  gz_csvw_init(&w, f, 1);
  for (int i = 0; i < n; i++) gz_csvw_fieldf(&w, "c%d", i);
  gz_csvw_end(&w);
  for (int i = 0; i < n; i++) gz_csvw_field(&w, cells[i]);
  gz_csvw_end(&w);
  fclose(f);
  gz_err e = {0};
  size_t len;
  char *raw = gz_read_file(path, &len, &e);
  ck_assert_ptr_nonnull(strstr(raw, "\r\nplain,\"with, comma\",\"with \"\"quote\"\"\",\"two\nlines\",\" padded \",,True\r\n"));
  free(raw);
  gz_csv *c = gz_csv_open(path, 0, &e);
  ck_assert_ptr_nonnull(c);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  for (int i = 0; i < n; i++) ck_assert_str_eq(gz_csv_field(c, i), cells[i]);
  gz_csv_close(c);
  tu_rmtree(dir);
}
END_TEST

/* A 100 MB file streams through in bounded memory, and an error deep inside it names the right line. */
START_TEST(hundred_megabytes) {
  char *dir = tu_tempdir();
  char path[512];
  snprintf(path, sizeof path, "%s/big.csv", dir);
  FILE *f = fopen(path, "wb");
  fputs("timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,note\r\n", f);
  long rows = 0;
  size_t bytes = 0;
  while (bytes < (size_t)100 << 20) {
    int n = fprintf(f, "%ld.125,%ld.375,%ld,%ld,\"a, \"\"quoted\"\" note\"\r\n", rows, rows, rows % 3000, rows % 2500);
    bytes += (size_t)n;
    rows++;
  }
  fputs("1.0,2.0,3,oops,x\r\n", f);
  fclose(f);
  gz_err e = {0};
  gz_csv *c = gz_csv_open(path, 0, &e);
  ck_assert_ptr_nonnull(c);
  int xi = gz_csv_require(c, "x_position", &e), yi = gz_csv_require(c, "y_position", &e);
  long seen = 0;
  double sum = 0;
  int r;
  while ((r = gz_csv_next(c, &e)) == 1) {
    double x, y;
    if (gz_csv_double(c, xi, &x, &e) || gz_csv_double(c, yi, &y, &e)) break;
    sum += x;
    seen++;
  }
  ck_assert_int_eq(seen, rows);
  ck_assert(sum > 0);
  char want[128];
  snprintf(want, sizeof want, "line %ld, column 4 (y_position): 'oops' is not a number", rows + 2);
  ck_assert_msg(strstr(e.msg, want), "got: %s", e.msg);
  gz_csv_close(c);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_base_csv(void) {
  Suite *s = suite_create("base_csv");
  TCase *t = tcase_create("reader");
  tcase_add_test(t, header_by_name_crlf);
  tcase_add_test(t, lf_and_no_final_newline);
  tcase_add_test(t, quoted_commas_quotes_newlines);
  tcase_add_test(t, bom_empty_cells_bools_ints);
  tcase_add_test(t, number_parsing);
  tcase_add_test(t, bad_number_names_line_and_column);
  tcase_add_test(t, unterminated_quote);
  tcase_add_test(t, wrong_column_count);
  tcase_add_test(t, missing_header_column);
  tcase_add_test(t, empty_file_and_blank_lines);
  tcase_add_test(t, nul_bytes_and_stray_quotes);
  tcase_add_test(t, headerless_reports);
  tcase_add_test(t, missing_file);
  tcase_add_test(t, writer_round_trip);
  suite_add_tcase(s, t);
  TCase *big = tcase_create("large");
  tcase_set_timeout(big, 120);
  tcase_add_test(big, hundred_megabytes);
  suite_add_tcase(s, big);
  return s;
}
