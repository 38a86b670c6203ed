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

#endif
