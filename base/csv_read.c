/* Strict streaming CSV reader (RFC 4180 plus what pandas writes): header by name, CRLF or LF, quoted
 * fields holding commas, quotes and newlines, a UTF-8 byte-order mark, empty cells. The file is read in
 * fixed-size chunks, so a 2 GB file costs the memory of its longest record. Every error names the file,
 * the line and the column. */
#include "base.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 16 };
#define MAX_RECORD ((size_t)256 << 20) /* a record longer than this is surely a broken file */

struct gz_csv {
  char *path;
  int flags;
  FILE *f;             /* file mode */
  const char *mem;     /* memory mode */
  size_t memlen;
  char *chunk;         /* current chunk (points into mem in memory mode) */
  size_t clen, cpos;
  int eof;
  long line, col;      /* position of the next character: line 1-based, col = chars consumed on it */
  long rec_line;       /* line where the current record starts */
  char *buf;           /* field bytes, each NUL-terminated */
  size_t blen, bcap;
  size_t *off;         /* start of each field in buf */
  int nf, fcap;
  char **hdr;
  int ncols;
  int started;         /* BOM handled */
};

static int refill(gz_csv *c) {
  if (c->eof) return 0;
  if (c->mem) {
    if (c->chunk) { c->eof = 1; return 0; }
    c->chunk = (char *)c->mem;
    c->clen = c->memlen;
    c->cpos = 0;
    if (!c->clen) { c->eof = 1; return 0; }
    return 1;
  }
  c->clen = fread(c->chunk, 1, CHUNK, c->f);
  c->cpos = 0;
  if (c->clen == 0) { c->eof = 1; return 0; }
  return 1;
}

/* Next byte, or -1 at end of input. */
static inline int rd(gz_csv *c) {
  if (c->cpos >= c->clen && !refill(c)) return -1;
  c->col++;
  return (unsigned char)c->chunk[c->cpos++];
}

static inline int peek(gz_csv *c) {
  if (c->cpos >= c->clen && !refill(c)) return -1;
  return (unsigned char)c->chunk[c->cpos];
}

static int put(gz_csv *c, int ch, gz_err *e) {
  if (c->blen + 1 >= c->bcap) {
    if (c->bcap >= MAX_RECORD)
      return gz_fail(e, GZ_EFORMAT, "%s line %ld: record longer than %zu bytes", c->path, c->rec_line,
                     MAX_RECORD);
    size_t ncap = c->bcap ? c->bcap * 2 : 256;
    char *nb = gz_realloc(c->buf, ncap, e);
    if (!nb) return -1;
    c->buf = nb;
    c->bcap = ncap;
  }
  c->buf[c->blen++] = (char)ch;
  return 0;
}

static int start_field(gz_csv *c, gz_err *e) {
  if (c->nf == c->fcap) {
    int ncap = c->fcap ? c->fcap * 2 : 32;
    size_t *no = gz_realloc(c->off, (size_t)ncap * sizeof *no, e);
    if (!no) return -1;
    c->off = no;
    c->fcap = ncap;
  }
  c->off[c->nf++] = c->blen;
  return 0;
}

static void end_of_line(gz_csv *c, int ch) {
  if (ch == '\r' && peek(c) == '\n') rd(c);
  if (ch == '\r' || ch == '\n') {
    c->line++;
    c->col = 0;
  }
}

static int syntax(gz_csv *c, gz_err *e, const char *what) {
  return gz_fail(e, GZ_EFORMAT, "%s line %ld, char %ld: %s", c->path, c->line, c->col, what);
}

/* Parses one record into buf/off. 1 = record, 0 = end of input, -1 = error. Blank lines are skipped. */
static int parse_record(gz_csv *c, gz_err *e) {
  int ch;
  for (;;) {
    c->nf = 0;
    c->blen = 0;
    c->rec_line = c->line;
    ch = rd(c);
    if (ch < 0) return 0;
    if (ch == '\r' || ch == '\n') { end_of_line(c, ch); continue; }
    break;
  }
  for (;;) {
    if (start_field(c, e)) return -1;
    if (ch == '"') {
      long qline = c->line, qcol = c->col;
      for (;;) {
        ch = rd(c);
        if (ch < 0)
          return gz_fail(e, GZ_EFORMAT, "%s line %ld, char %ld: unterminated quoted field", c->path, qline, qcol);
        if (ch == 0) return syntax(c, e, "NUL byte in input");
        if (ch == '"') {
          if (peek(c) == '"') { rd(c); if (put(c, '"', e)) return -1; continue; }
          break;
        }
        if (ch == '\n') { c->line++; c->col = 0; }
        if (put(c, ch, e)) return -1;
      }
      ch = rd(c);
      if (put(c, 0, e)) return -1;
      if (ch == ',') { ch = rd(c); continue; }
      if (ch == '\r' || ch == '\n' || ch < 0) { end_of_line(c, ch); return 1; }
      if (ch == 0) return syntax(c, e, "NUL byte in input");
      return syntax(c, e, "unexpected character after a closing quote");
    }
    while (ch != ',' && ch != '\r' && ch != '\n' && ch >= 0) {
      if (ch == 0) return syntax(c, e, "NUL byte in input");
      if (ch == '"') return syntax(c, e, "quote inside an unquoted field");
      if (put(c, ch, e)) return -1;
      ch = rd(c);
    }
    if (put(c, 0, e)) return -1;
    if (ch == ',') { ch = rd(c); continue; }
    end_of_line(c, ch);
    return 1;
  }
}

static void skip_bom(gz_csv *c) {
  if (c->started) return;
  c->started = 1;
  if (peek(c) != 0xEF) return;
  /* The three BOM bytes are always in the first chunk (chunks are 64 KiB). */
  if (c->clen - c->cpos >= 3 && (unsigned char)c->chunk[c->cpos + 1] == 0xBB &&
      (unsigned char)c->chunk[c->cpos + 2] == 0xBF)
    c->cpos += 3;
}

static gz_csv *finish_open(gz_csv *c, gz_err *e) {
  skip_bom(c);
  if (c->flags & GZ_CSV_NO_HEADER) return c;
  int r = parse_record(c, e);
  if (r < 0) { gz_csv_close(c); return NULL; }
  if (r == 0) {
    gz_fail(e, GZ_EFORMAT, "%s: empty file (no header line)", c->path);
    gz_csv_close(c);
    return NULL;
  }
  c->hdr = gz_calloc((size_t)c->nf, sizeof *c->hdr, e);
  if (!c->hdr) { gz_csv_close(c); return NULL; }
  c->ncols = c->nf;
  for (int i = 0; i < c->nf; i++) {
    c->hdr[i] = gz_strdup(c->buf + c->off[i], e);
    if (!c->hdr[i]) { gz_csv_close(c); return NULL; }
    for (int j = 0; j < i; j++)
      if (c->hdr[i][0] && strcmp(c->hdr[i], c->hdr[j]) == 0) {
        gz_fail(e, GZ_EFORMAT, "%s line %ld: column name '%s' appears twice in the header (columns %d and %d)",
                c->path, c->rec_line, c->hdr[i], j + 1, i + 1);
        gz_csv_close(c);
        return NULL;
      }
  }
  return c;
}

static gz_csv *alloc_reader(const char *name, int flags, gz_err *e) {
  gz_csv *c = gz_calloc(1, sizeof *c, e);
  if (!c) return NULL;
  c->path = gz_strdup(name, e);
  if (!c->path) { free(c); return NULL; }
  c->flags = flags;
  c->line = 1;
  return c;
}

gz_csv *gz_csv_open(const char *path, int flags, gz_err *e) {
  gz_csv *c = alloc_reader(path, flags, e);
  if (!c) return NULL;
  c->f = fopen(path, "rb");
  if (!c->f) {
    gz_fail_errno(e, "%s: cannot open", path);
    gz_csv_close(c);
    return NULL;
  }
  c->chunk = gz_malloc(CHUNK, e);
  if (!c->chunk) { gz_csv_close(c); return NULL; }
  return finish_open(c, e);
}

gz_csv *gz_csv_open_mem(const char *name, const char *data, size_t len, int flags, gz_err *e) {
  gz_csv *c = alloc_reader(name, flags, e);
  if (!c) return NULL;
  c->mem = data;
  c->memlen = len;
  return finish_open(c, e);
}

void gz_csv_close(gz_csv *c) {
  if (!c) return;
  if (c->f) fclose(c->f);
  if (!c->mem) free(c->chunk);
  for (int i = 0; c->hdr && i < c->ncols; i++) free(c->hdr[i]);
  free(c->hdr);
  free(c->buf);
  free(c->off);
  free(c->path);
  free(c);
}

int gz_csv_next(gz_csv *c, gz_err *e) {
  skip_bom(c);
  if (!c->f && !c->mem) return 0;
  int r = parse_record(c, e);
  if (r <= 0) return r;
  if (c->ncols == 0) c->ncols = c->nf; /* headerless: the first row fixes the width */
  if (!(c->flags & GZ_CSV_RAGGED) && c->nf != c->ncols)
    return gz_fail(e, GZ_EFORMAT, "%s line %ld: %d fields, but the %s has %d", c->path, c->rec_line, c->nf,
                   c->hdr ? "header" : "first row", c->ncols);
  return 1;
}

int gz_csv_ncols(const gz_csv *c) { return c->ncols; }
int gz_csv_nfields(const gz_csv *c) { return c->nf; }
long gz_csv_line(const gz_csv *c) { return c->rec_line; }
const char *gz_csv_path(const gz_csv *c) { return c->path; }

const char *gz_csv_header(const gz_csv *c, int col) {
  return (c->hdr && col >= 0 && col < c->ncols) ? c->hdr[col] : "";
}

const char *gz_csv_field(const gz_csv *c, int col) {
  return (col >= 0 && col < c->nf) ? c->buf + c->off[col] : "";
}

size_t gz_csv_field_len(const gz_csv *c, int col) { return strlen(gz_csv_field(c, col)); }

int gz_csv_find(const gz_csv *c, const char *name) {
  for (int i = 0; c->hdr && i < c->ncols; i++)
    if (strcmp(c->hdr[i], name) == 0) return i;
  return -1;
}

int gz_csv_require(gz_csv *c, const char *name, gz_err *e) {
  int i = gz_csv_find(c, name);
  if (i < 0) gz_fail(e, GZ_EFORMAT, "%s: missing column '%s' in the header", c->path, name);
  return i;
}

int gz_csv_fail(gz_csv *c, int col, gz_err *e, const char *fmt, ...) {
  char what[GZ_ERR_MSG / 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *name = gz_csv_header(c, col);
  if (name[0])
    return gz_fail(e, GZ_EFORMAT, "%s line %ld, column %d (%s): %s", c->path, c->rec_line, col + 1, name, what);
  return gz_fail(e, GZ_EFORMAT, "%s line %ld, column %d: %s", c->path, c->rec_line, col + 1, what);
}

int gz_csv_is_empty(const gz_csv *c, int col) { return gz_csv_field(c, col)[0] == '\0'; }

int gz_parse_double(const char *s, double *out) {
  if (!s || !*s) return -1;
  for (const char *p = s; *p; p++) /* decimal only: no hex, inf or nan */
    if (!strchr("0123456789+-.eE", *p)) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno == ERANGE || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

int gz_parse_int(const char *s, long *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || errno == ERANGE || (*s != '-' && *s != '+' && (*s < '0' || *s > '9'))) return -1;
  if (*end == '.') { /* pandas writes integer-valued floats as "5.0" */
    const char *p = end + 1;
    if (!*p) return -1;
    while (*p == '0') p++;
    if (*p) return -1;
  } else if (*end) {
    return -1;
  }
  *out = v;
  return 0;
}

int gz_csv_double(gz_csv *c, int col, double *out, gz_err *e) {
  const char *s = gz_csv_field(c, col);
  if (!*s) return gz_csv_fail(c, col, e, "empty cell where a number is required");
  if (gz_parse_double(s, out)) return gz_csv_fail(c, col, e, "'%s' is not a number", s);
  return 0;
}

int gz_csv_int(gz_csv *c, int col, long *out, gz_err *e) {
  const char *s = gz_csv_field(c, col);
  if (!*s) return gz_csv_fail(c, col, e, "empty cell where an integer is required");
  if (gz_parse_int(s, out)) return gz_csv_fail(c, col, e, "'%s' is not an integer", s);
  return 0;
}

int gz_csv_bool(gz_csv *c, int col, int *out, gz_err *e) {
  const char *s = gz_csv_field(c, col);
  if (!strcmp(s, "True") || !strcmp(s, "true") || !strcmp(s, "TRUE") || !strcmp(s, "1")) { *out = 1; return 0; }
  if (!strcmp(s, "False") || !strcmp(s, "false") || !strcmp(s, "FALSE") || !strcmp(s, "0")) { *out = 0; return 0; }
  return gz_csv_fail(c, col, e, "'%s' is not True or False", s);
}
