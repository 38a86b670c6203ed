/* The labeler's test-case files (tests/labeler/cases.txt, heldout.txt): one case a line,
 *
 *   TEXT => CODES=VALUE[SPAN|SPAN...] CODES=VALUE ...
 *
 * TEXT is the report (escapes \n \r \t \" \\ allowed; everything before " => "). CODES is one category
 * code or several joined by commas (pab,peff); VALUE is 1, 0 or -1; the spans, required for 1 and -1,
 * are substrings of TEXT in order, each the first occurrence unless written "text#k" for the k-th.
 * Every category not named must be blank. Lines starting with '#' and empty lines are skipped. */
#ifndef GAZELOC_TEST_LABELER_CASES_H
#define GAZELOC_TEST_LABELER_CASES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labeler/labeler.h"

#define TC_MAX_SPANS 16

typedef struct tc_expect {
  int value[LB_MAX_CATEGORIES]; /* LB_BLANK when not named */
  int nspan[LB_MAX_CATEGORIES];
  int has_spans[LB_MAX_CATEGORIES];
  size_t span[LB_MAX_CATEGORIES][TC_MAX_SPANS][2];
} tc_expect;

/* Parses one case line into text (malloc'd, unescaped) and expectations; 0 or -1 with msg. */
static inline int tc_parse(const lb_rules *r, const char *line, char **text_out, size_t *len_out, tc_expect *x,
                           char *msg, size_t msgn) {
  const char *sep = strstr(line, " =>");
  if (!sep) return snprintf(msg, msgn, "no ' => ' in the line"), -1;
  size_t tl = (size_t)(sep - line);
  char *t = malloc(tl + 1);
  size_t n = 0;
  for (size_t i = 0; i < tl; i++) {
    if (line[i] == '\\' && i + 1 < tl) {
      char c = line[++i];
      t[n++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
    } else t[n++] = line[i];
  }
  t[n] = 0;
  for (int c = 0; c < LB_MAX_CATEGORIES; c++) x->value[c] = LB_BLANK, x->nspan[c] = 0, x->has_spans[c] = 0;
  const char *p = sep + 3;
  while (*p) {
    while (*p == ' ') p++;
    if (!*p) break;
    const char *eq = strchr(p, '=');
    if (!eq) return free(t), snprintf(msg, msgn, "expected CODE=VALUE at '%s'", p), -1;
    int cats[LB_MAX_CATEGORIES], ncats = 0;
    const char *q = p;
    while (q < eq) {
      const char *ce = q;
      while (ce < eq && *ce != ',') ce++;
      char code[64];
      snprintf(code, sizeof code, "%.*s", (int)(ce - q), q);
      int c = lb_category_find(r, code);
      if (c < 0) return free(t), snprintf(msg, msgn, "unknown category code '%s'", code), -1;
      cats[ncats++] = c;
      q = ce < eq ? ce + 1 : eq;
    }
    char *end;
    long v = strtol(eq + 1, &end, 10);
    if (end == eq + 1 || (v != 1 && v != 0 && v != -1))
      return free(t), snprintf(msg, msgn, "bad value after '%.*s'", (int)(eq - p + 1), p), -1;
    p = end;
    size_t spans[TC_MAX_SPANS][2];
    int ns = 0, has = 0;
    if (*p == '[') {
      has = 1;
      const char *close = strchr(p, ']');
      if (!close) return free(t), snprintf(msg, msgn, "'[' without ']'"), -1;
      const char *s = p + 1;
      while (s < close) {
        const char *se = s;
        while (se < close && *se != '|') se++;
        char sub[256];
        snprintf(sub, sizeof sub, "%.*s", (int)(se - s), s);
        int occ = 1;
        char *hash = strrchr(sub, '#');
        if (hash && hash[1] >= '1' && hash[1] <= '9') occ = atoi(hash + 1), *hash = 0;
        const char *at = t;
        const char *found = NULL;
        for (int k = 0; k < occ; k++) {
          found = strstr(at, sub);
          if (!found) break;
          at = found + 1;
        }
        if (!found || !*sub) return free(t), snprintf(msg, msgn, "span '%s' (occurrence %d) is not in the text", sub, occ), -1;
        if (ns == TC_MAX_SPANS) return free(t), snprintf(msg, msgn, "too many spans"), -1;
        spans[ns][0] = (size_t)(found - t), spans[ns][1] = (size_t)(found - t) + strlen(sub), ns++;
        s = se < close ? se + 1 : close;
      }
      p = close + 1;
    }
    if (v != 0 && !has)
      return free(t), snprintf(msg, msgn, "a positive or uncertain label needs its spans [..]"), -1;
    if (v == 0 && ns) return free(t), snprintf(msg, msgn, "a negative label has no spans"), -1;
    for (int k = 0; k < ncats; k++) {
      int c = cats[k];
      x->value[c] = (int)v;
      x->has_spans[c] = 1;
      x->nspan[c] = ns;
      memcpy(x->span[c], spans, sizeof spans[0] * (size_t)ns);
    }
  }
  *text_out = t;
  *len_out = n;
  return 0;
}

/* Compares a result with expectations; appends a description of each difference to msg. Returns the
 * number of differences (values and spans). */
static inline int tc_compare(const lb_rules *r, const lb_result *res, const tc_expect *x, int check_spans, char *msg,
                             size_t msgn) {
  int bad = 0;
  size_t k = strlen(msg);
  for (int c = 0; c < lb_ncategories(r); c++) {
    int want = x->value[c], got = res->value[c];
    if (want != got) {
      bad++;
      static const char *const names[] = {"-1", "0", "1"};
      k += (size_t)snprintf(msg + k, k < msgn ? msgn - k : 0, " %s=%s (want %s)", lb_category_code(r, c),
                            got == LB_BLANK ? "blank" : names[got + 1], want == LB_BLANK ? "blank" : names[want + 1]);
      if (k >= msgn) k = msgn - 1;
      continue;
    }
    if (!check_spans || !x->has_spans[c]) continue;
    int ns = 0, same = 1;
    for (int i = 0; i < res->nmentions; i++) {
      const lb_mention *m = &res->mentions[i];
      if (m->category != c || m->status == LB_NEGATIVE) continue;
      if (ns >= x->nspan[c] || m->start != x->span[c][ns][0] || m->end != x->span[c][ns][1]) same = 0;
      ns++;
    }
    if (ns != x->nspan[c] || !same) {
      bad++;
      char buf[512];
      lb_format_locations(res, c, buf, sizeof buf);
      k += (size_t)snprintf(msg + k, k < msgn ? msgn - k : 0, " %s spans %s", lb_category_code(r, c), buf);
      if (k >= msgn) k = msgn - 1;
    }
  }
  return bad;
}

#endif
