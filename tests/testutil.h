/* Small helpers shared by the suites: temporary folders, the repository root, the Python oracles. */
#ifndef GAZELOC_TESTUTIL_H
#define GAZELOC_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fresh temporary folder (removed by the caller with tu_rmtree). */
static inline char *tu_tempdir(void) {
  char tmpl[] = "/tmp/gazeloc-test-XXXXXX";
  char *d = mkdtemp(tmpl);
  ck_assert_msg(d != NULL, "mkdtemp failed");
  return strdup(d);
}

static inline void tu_rmtree(char *dir) {
  if (!dir) return;
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
  free(dir);
}

static inline const char *tu_root(void) {
  const char *r = getenv("GAZELOC_ROOT");
  return r && *r ? r : ".";
}

static inline const char *tu_python(void) {
  const char *p = getenv("GAZELOC_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

/* Writes `s` to dir/name and returns the malloc'd path. */
static inline char *tu_write(const char *dir, const char *name, const char *s, size_t n) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *path = malloc(len);
  snprintf(path, len, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_msg(f != NULL, "cannot write %s", path);
  ck_assert_uint_eq(fwrite(s, 1, n, f), n);
  fclose(f);
  return path;
}

/* Runs a shell command built from a format; the test fails if it does not exit 0. */
#include <stdarg.h>
static inline void tu_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tu_run(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

/* Norm-wise relative error ||a - b|| / ||b|| (the absolute norm when b is 0), and the largest |a - b|. */
#include <math.h>
#include <stdint.h>
static inline double tu_rel_err(const float *a, const float *b, int64_t n, double *max_abs) {
  double d2 = 0, r2 = 0, m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    d2 += d * d, r2 += (double)b[i] * b[i];
    if (fabs(d) > m) m = fabs(d);
  }
  if (max_abs) *max_abs = m;
  return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

/* Runs fn(arg) in a child process and returns its exit status (0 = success). Unchecked fixtures run in the
 * runner process, which forks every test afterwards: libgomp is not fork-safe, so work that uses OpenMP
 * (most of the library) must not run in the runner itself, or every later test that uses OpenMP hangs. */
#include <sys/wait.h>
#include <unistd.h>
static inline int tu_in_child(int (*fn)(void *), void *arg) {
  fflush(stdout), fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) _exit(fn(arg) ? 1 : 0);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A workspace of n bytes followed by a guard of TU_GUARD bytes set to a known pattern, and the first guard
 * byte a kernel changed (-1: none): a kernel that needs more than its workspace function says writes there. */
#define TU_GUARD 65536
static inline unsigned char *tu_guarded(size_t n) {
  unsigned char *p = malloc(n + TU_GUARD);
  if (p) memset(p + n, 0xA5, TU_GUARD);
  return p;
}
static inline long tu_guard_broken(const unsigned char *p, size_t n) {
  for (size_t i = 0; i < TU_GUARD; i++)
    if (p[n + i] != 0xA5) return (long)i;
  return -1;
}

#endif
