/* CSV writer: quotes a field exactly when a reader could otherwise misread it. */
#include "base.h"

#include <stdarg.h>
#include <string.h>

void gz_csvw_init(gz_csvw *w, FILE *f, int crlf) {
  w->f = f;
  w->eol = crlf ? "\r\n" : "\n";
  w->nfields = 0;
}

void gz_csvw_field(gz_csvw *w, const char *s) {
  if (w->nfields++) fputc(',', w->f);
  size_t n = strlen(s);
  int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
  if (!quote) quote = strpbrk(s, ",\"\r\n") != NULL;
  if (!quote) { fputs(s, w->f); return; }
  fputc('"', w->f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', w->f);
    fputc(*s, w->f);
  }
  fputc('"', w->f);
}

void gz_csvw_fieldf(gz_csvw *w, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  gz_csvw_field(w, buf);
}

void gz_csvw_end(gz_csvw *w) {
  fputs(w->eol, w->f);
  w->nfields = 0;
}
