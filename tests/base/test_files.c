/* Atomic writes, whole-file reads, mkdir -p and the directory walk. */
#include "base/base.h"
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", a, b);
  return p;
}

static int count_entries(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (fscanf(p, "%d", &n) != 1) n = -1;
  pclose(p);
  return n;
}

START_TEST(atomic_replace) {
  char *dir = tu_tempdir();
  char *path = join(dir, "result.csv");
  gz_err e = {0};
  ck_assert_int_eq(gz_write_file_atomic(path, "old\n", 4, &e), 0);
  ck_assert_int_eq(gz_write_file_atomic(path, "new contents\n", 13, &e), 0);
  size_t n;
  char *s = gz_read_file(path, &n, &e);
  ck_assert_str_eq(s, "new contents\n");
  ck_assert_uint_eq(n, 13);
  free(s);
  ck_assert_int_eq(count_entries(dir), 1); /* no temporary file left behind */
  free(path);
  tu_rmtree(dir);
}
END_TEST

/* A writer that fails half way (here: the program gives up after writing part of the data) leaves the
 * old file intact and no temporary file behind. */
START_TEST(failure_half_way_keeps_old_file) {
  char *dir = tu_tempdir();
  char *path = join(dir, "checkpoint.bin");
  gz_err e = {0};
  ck_assert_int_eq(gz_write_file_atomic(path, "GOOD", 4, &e), 0);
  gz_afile a;
  ck_assert_int_eq(gz_afile_open(&a, path, &e), 0);
  for (int i = 0; i < 100000; i++) fputs("half written ", a.f);
  gz_afile_abort(&a);
  char *s = gz_read_file(path, NULL, &e);
  ck_assert_str_eq(s, "GOOD");
  free(s);
  ck_assert_int_eq(count_entries(dir), 1);
  free(path);
  tu_rmtree(dir);
}
END_TEST

/* The write itself fails (the disk is full: /dev/full as the stream) and commit reports it, removes the
 * temporary file and keeps the old one. */
START_TEST(failed_commit_keeps_old_file) {
  char *dir = tu_tempdir();
  char *path = join(dir, "table.csv");
  gz_err e = {0};
  ck_assert_int_eq(gz_write_file_atomic(path, "GOOD", 4, &e), 0);
  gz_afile a;
  ck_assert_int_eq(gz_afile_open(&a, path, &e), 0);
  FILE *full = fopen("/dev/full", "wb");
  if (full) {
    fclose(a.f);
    a.f = full; /* every flush now fails with ENOSPC */
    for (int i = 0; i < 10000; i++) fputs("more data ", a.f);
    ck_assert_int_eq(gz_afile_commit(&a, &e), -1);
    ck_assert_msg(strstr(e.msg, "table.csv: write failed"), "got: %s", e.msg);
    char *s = gz_read_file(path, NULL, &e);
    ck_assert_str_eq(s, "GOOD");
    free(s);
    ck_assert_int_eq(count_entries(dir), 1);
  } else {
    gz_afile_abort(&a);
  }
  free(path);
  tu_rmtree(dir);
}
END_TEST

START_TEST(unwritable_folder) {
  gz_err e = {0};
  ck_assert_int_eq(gz_write_file_atomic("/nonexistent-dir/x.csv", "x", 1, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "/nonexistent-dir/x.csv: cannot create a temporary file"));
}
END_TEST

typedef struct {
  char seen[16][64];
  int n;
} walk_log;

static int record(const char *path, const char *name, int kind, int depth, void *ud, gz_err *e) {
  (void)path, (void)e;
  walk_log *w = ud;
  snprintf(w->seen[w->n++], 64, "%d:%s:%c", depth, name, "fdlo"[kind]);
  return strcmp(name, "skipme") == 0 ? 1 : 0;
}

START_TEST(walk_sorted_no_symlinks) {
  char *dir = tu_tempdir();
  char *sub = join(dir, "b/c");
  gz_err e = {0};
  ck_assert_int_eq(gz_mkdir_p(sub, &e), 0);
  ck_assert_int_eq(gz_mkdir_p(sub, &e), 0); /* idempotent */
  free(tu_write(dir, "z.txt", "z", 1));
  free(tu_write(dir, "a.txt", "a", 1));
  free(tu_write(sub, "x.csv", "x", 1));
  char *skip = join(dir, "skipme");
  ck_assert_int_eq(gz_mkdir_p(skip, &e), 0);
  free(tu_write(skip, "hidden", "h", 1));
  char *link = join(dir, "loop");
  ck_assert_int_eq(symlink(dir, link), 0); /* a loop: must not be followed */
  walk_log w = {.n = 0};
  ck_assert_int_eq(gz_walk(dir, -1, record, &w, &e), 0);
  const char *want[] = {"0:a.txt:f", "0:b:d", "1:c:d", "2:x.csv:f", "0:loop:l", "0:skipme:d", "0:z.txt:f"};
  ck_assert_int_eq(w.n, 7);
  for (int i = 0; i < 7; i++) ck_assert_str_eq(w.seen[i], want[i]);
  ck_assert_int_eq(gz_walk("/nonexistent", -1, record, &w, &e), -1);
  free(skip);
  free(link);
  free(sub);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_base_files(void) {
  Suite *s = suite_create("base_files");
  TCase *t = tcase_create("files");
  tcase_add_test(t, atomic_replace);
  tcase_add_test(t, failure_half_way_keeps_old_file);
  tcase_add_test(t, failed_commit_keeps_old_file);
  tcase_add_test(t, unwritable_folder);
  tcase_add_test(t, walk_sorted_no_symlinks);
  suite_add_tcase(s, t);
  return s;
}
