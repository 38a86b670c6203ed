/* Error status: a code and a message that names the file, line and field where things went wrong. */
#include "base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Appends s at offset `at` of msg, truncating at the buffer's end. */
static void append(char *msg, int at, const char *s) {
  if (at < 0 || at >= GZ_ERR_MSG - 1) return;
  size_t room = (size_t)(GZ_ERR_MSG - 1 - at), n = strlen(s);
  if (n > room) n = room;
  memcpy(msg + at, s, n);
  msg[at + (int)n] = '\0';
}

int gz_fail(gz_err *e, int code, const char *fmt, ...) {
  if (!e) return -1;
  e->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return -1;
}

int gz_fail_errno(gz_err *e, const char *fmt, ...) {
  int saved = errno;
  if (!e) return -1;
  e->code = GZ_EIO;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  append(e->msg, n, ": ");
  append(e->msg, n + 2, strerror(saved));
  return -1;
}

int gz_err_prefix(gz_err *e, const char *fmt, ...) {
  if (!e) return -1;
  char old[GZ_ERR_MSG];
  memcpy(old, e->msg, sizeof old);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  append(e->msg, n, ": ");
  append(e->msg, n + 2, old);
  return -1;
}

void gz_err_clear(gz_err *e) {
  if (!e) return;
  e->code = GZ_OK;
  e->msg[0] = '\0';
}

const char *gz_code_name(int code) {
  switch (code) {
  case GZ_OK: return "ok";
  case GZ_EIO: return "i/o error";
  case GZ_EFORMAT: return "format error";
  case GZ_EINVAL: return "invalid argument";
  case GZ_ENOMEM: return "out of memory";
  case GZ_ERANGE: return "out of range";
  case GZ_EUNSUPPORTED: return "unsupported";
  default: return "unknown error";
  }
}

void *gz_malloc(size_t n, gz_err *e) {
  void *p = malloc(n ? n : 1);
  if (!p) gz_fail(e, GZ_ENOMEM, "out of memory allocating %zu bytes", n);
  return p;
}

void *gz_calloc(size_t count, size_t size, gz_err *e) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) gz_fail(e, GZ_ENOMEM, "out of memory allocating %zu x %zu bytes", count, size);
  return p;
}

void *gz_realloc(void *p, size_t n, gz_err *e) {
  void *q = realloc(p, n ? n : 1);
  if (!q) gz_fail(e, GZ_ENOMEM, "out of memory growing a buffer to %zu bytes", n);
  return q;
}

char *gz_strdup(const char *s, gz_err *e) {
  size_t n = strlen(s) + 1;
  char *d = gz_malloc(n, e);
  if (d) memcpy(d, s, n);
  return d;
}
