/* Rule files: loading, validation with clear errors, {a|b} expansion, and the trie that finds every
 * phrase in one pass over a report. The file formats are described in docs/labeler.md. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "labeler/internal.h"

const char *const lb_paper_labels[LB_NPAPER] = {"Edema",       "Opacity",       "Pneumothorax", "Pleural abnormality",
                                                "Lung Lesion", "Atelectasis",   "Consolidation", "Fracture",
                                                "Cardiomegaly", "Abnormal Mediastinum Contour"};

#define MAX_EXPANSIONS 4096

static const char *const trigger_files[] = {
    [LK_PRE_NEG] = "pre_negation",       [LK_POST_NEG] = "post_negation", [LK_PRE_UNC] = "pre_uncertainty",
    [LK_POST_UNC] = "post_uncertainty",  [LK_PSEUDO] = "pseudo",          [LK_TERM] = "terminators",
};
static const int default_window[LK_NKINDS] = {[LK_PRE_NEG] = 10, [LK_POST_NEG] = 6, [LK_PRE_UNC] = 8,
                                              [LK_POST_UNC] = 6};

/* ------------------------------------------------------------------ storage helpers */

int lb_grow(void **p, int *cap, int need, size_t elsize, gz_err *e) {
  if (need <= *cap) return 0;
  int nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *q = gz_realloc(*p, (size_t)nc * elsize, e);
  if (!q) return -1;
  *p = q;
  *cap = nc;
  return 0;
}

static int pool_add(lb_rules *r, const char *s, size_t n, uint32_t *off, gz_err *e) {
  if (r->pool_len + n + 1 > r->pool_cap) {
    size_t nc = r->pool_cap ? r->pool_cap : 4096;
    while (nc < r->pool_len + n + 1) nc *= 2;
    char *q = gz_realloc(r->pool, nc, e);
    if (!q) return -1;
    r->pool = q;
    r->pool_cap = nc;
  }
  memcpy(r->pool + r->pool_len, s, n);
  r->pool[r->pool_len + n] = 0;
  *off = (uint32_t)r->pool_len;
  r->pool_len += n + 1;
  return 0;
}

static int add_line(lb_rules *r, const char *file, int line, const char *text, gz_err *e) {
  if (lb_grow((void **)&r->where, &r->lines_cap, r->nlines + 1, sizeof *r->where, e)) return -1;
  size_t n = strlen(file) + strlen(text) + 32;
  char *w = gz_malloc(n, e);
  if (!w) return -1;
  snprintf(w, n, "%s:%d: %s", file, line, text);
  r->where[r->nlines] = w;
  return r->nlines++;
}

/* ------------------------------------------------------------------ one phrase */

typedef struct ctx {
  lb_rules *r;
  const char *file; /* relative to the rules folder, for messages */
  int line;
  gz_err *e;
} ctx;

static int fail(ctx *c, const char *fmt, ...) GZ_PRINTF(2, 3);
static int fail(ctx *c, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return gz_fail(c->e, GZ_EFORMAT, "%s/%s line %d: %s", c->r->dir, c->file, c->line, msg);
}

static int allowed_char(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr(" -'.,;:/()?!&%+", ch) != NULL;
}
static int is_alnum(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'); }

/* Compiles one expanded phrase `s` (n bytes) of `kind`. */
static int compile_phrase(ctx *c, const char *s, size_t n, int kind, int category, int rule, int window) {
  lb_rules *r = c->r;
  if (n == 0) return fail(c, "an empty phrase (every alternative of a {a|b} group is empty here)");
  int anchor_s = 0, anchor_e = 0;
  size_t i = 0;
  if (s[0] == '<') anchor_s = 1, i = 1;
  if (n > i && s[n - 1] == '>') anchor_e = 1, n--;
  if (i >= n) return fail(c, "a phrase with nothing but word anchors");
  for (size_t k = i; k < n; k++) {
    unsigned char ch = (unsigned char)s[k];
    if (ch >= 'A' && ch <= 'Z')
      return fail(c, "upper-case letter '%c': rules are written in lower case (reports are lower-cased first)", ch);
    if (ch == '<' || ch == '>') return fail(c, "'%c' (a word anchor) may stand only at the very start or end", ch);
    if (ch == '\t') return fail(c, "a tab inside a phrase: reports have single spaces only");
    if (!allowed_char(ch))
      return fail(c, "character '%c' (byte %d) is not allowed in a phrase (letters, digits, spaces and - ' . , ; : / ( ) ? ! & %% +)",
                  ch >= 32 && ch < 127 ? ch : '?', ch);
    if (ch == ' ' && k + 1 < n && s[k + 1] == ' ') return fail(c, "two spaces in a row can never match a report");
  }
  int type[64];
  size_t off[64], len[64];
  int ne = 0;
  size_t k = i;
  while (k < n) {
    if (ne >= 64) return fail(c, "a phrase with more than 64 parts");
    if (n - k >= 3 && !memcmp(s + k, "...", 3)) {
      if (n - k >= 4 && s[k + 3] == '.') return fail(c, "'....': a gap is exactly three dots");
      if (ne && type[ne - 1] == LE_GAP) return fail(c, "two gaps in a row");
      type[ne] = LE_GAP, off[ne] = k, len[ne] = 3, ne++;
      k += 3;
      continue;
    }
    size_t b = k;
    while (k < n && !(n - k >= 3 && !memcmp(s + k, "...", 3))) k++;
    type[ne] = LE_LIT, off[ne] = b, len[ne] = k - b, ne++;
  }
  if (type[0] == LE_GAP) return fail(c, "a phrase may not begin with a gap '...'");
  if (type[ne - 1] == LE_GAP) return fail(c, "a phrase may not end with a gap '...'");
  for (int q = 0; q < ne; q++)
    if (type[q] == LE_LIT && len[q] > 65535) return fail(c, "a phrase longer than 65535 characters");
  /* triggers match whole words: "no" is not the start of "nodule" */
  if (kind >= LK_PRE_NEG) {
    if (is_alnum((unsigned char)s[i])) anchor_s = 1;
    if (is_alnum((unsigned char)s[n - 1])) anchor_e = 1;
  }
  if (lb_grow((void **)&r->ph, &r->ph_cap, r->nph + 1, sizeof *r->ph, c->e)) return -1;
  lb_phrase *p = &r->ph[r->nph];
  memset(p, 0, sizeof *p);
  p->kind = kind, p->category = category, p->rule = rule, p->window = window;
  p->anchor_start = (uint8_t)anchor_s, p->anchor_end = (uint8_t)anchor_e;
  p->first_len = (uint16_t)len[0];
  p->elem0 = r->nelem;
  p->nelem = ne; /* element 0 is the first literal, kept for the duplicate check and matching */
  if (lb_grow((void **)&r->elem, &r->elem_cap, r->nelem + ne, sizeof *r->elem, c->e)) return -1;
  for (int q = 0; q < ne; q++) {
    lb_elem *el = &r->elem[r->nelem++];
    el->type = (uint8_t)type[q];
    el->len = (uint16_t)(type[q] == LE_LIT ? len[q] : 0);
    el->off = 0;
    if (type[q] == LE_LIT && pool_add(r, s + off[q], len[q], &el->off, c->e)) return -1;
  }
  char full[1024];
  snprintf(full, sizeof full, "%s%.*s%s", anchor_s && s[0] != '<' ? "<" : "", (int)n, s, anchor_e ? ">" : "");
  if (pool_add(r, full, strlen(full), &p->text, c->e)) return -1;
  int most = 0;
  for (int q = 0; q < ne; q++) most += type[q] == LE_LIT ? (int)len[q] : LB_GAP_MAX;
  if (most > r->maxlen) r->maxlen = most;
  r->nph++;
  return 0;
}

/* Expands {a|b|c} groups (a Cartesian product over the groups) and compiles each expansion. */
static int expand(ctx *c, const char *s, int kind, int category, int rule, int window) {
  const char *grp_b[16], *grp_e[16];
  int ng = 0;
  size_t n = strlen(s);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '}') return fail(c, "'}' without its '{'");
    if (s[i] != '{') continue;
    size_t j = i + 1;
    while (j < n && s[j] != '}') {
      if (s[j] == '{') return fail(c, "'{' inside a {a|b} group: groups do not nest");
      j++;
    }
    if (j >= n) return fail(c, "'{' without its '}'");
    if (ng >= 16) return fail(c, "more than 16 {a|b} groups in one line");
    grp_b[ng] = s + i + 1, grp_e[ng] = s + j, ng++;
    i = j;
  }
  /* count the alternatives of each group */
  int nalt[16];
  long total = 1;
  for (int g = 0; g < ng; g++) {
    nalt[g] = 1;
    for (const char *p = grp_b[g]; p < grp_e[g]; p++) nalt[g] += *p == '|';
    total *= nalt[g];
    if (total > MAX_EXPANSIONS) return fail(c, "the {a|b} groups expand to more than %d phrases", MAX_EXPANSIONS);
  }
  int pick[16] = {0};
  char buf[2048];
  for (long x = 0; x < total; x++) {
    long y = x;
    for (int g = ng - 1; g >= 0; g--) pick[g] = (int)(y % nalt[g]), y /= nalt[g];
    size_t bl = 0;
    const char *p = s;
    for (int g = 0; g <= ng; g++) {
      const char *stop = g < ng ? grp_b[g] - 1 : s + n;
      size_t m = (size_t)(stop - p);
      if (bl + m >= sizeof buf) return fail(c, "a phrase longer than %zu characters", sizeof buf);
      memcpy(buf + bl, p, m), bl += m;
      if (g == ng) break;
      const char *a = grp_b[g];
      for (int k = 0; k < pick[g]; k++) a = memchr(a, '|', (size_t)(grp_e[g] - a)) + 1;
      const char *ae = memchr(a, '|', (size_t)(grp_e[g] - a));
      if (!ae) ae = grp_e[g];
      m = (size_t)(ae - a);
      if (bl + m >= sizeof buf) return fail(c, "a phrase longer than %zu characters", sizeof buf);
      memcpy(buf + bl, a, m), bl += m;
      p = grp_e[g] + 1;
    }
    buf[bl] = 0;
    if (compile_phrase(c, buf, bl, kind, category, rule, window)) return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ files */

/* Splits the file into lines; for each non-empty, non-comment line calls fn with the trimmed text. */
typedef int (*line_fn)(ctx *c, char *text, void *ud);

static int for_lines(lb_rules *r, const char *rel, line_fn fn, void *ud, gz_err *e) {
  size_t n = strlen(r->dir) + strlen(rel) + 2;
  char *path = gz_malloc(n, e);
  if (!path) return -1;
  snprintf(path, n, "%s/%s", r->dir, rel);
  size_t len;
  char *data = gz_read_file(path, &len, e);
  free(path);
  if (!data) return -1;
  ctx c = {r, rel, 0, e};
  int rc = 0;
  char *p = data, *end = data + len;
  if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
  while (p < end && rc == 0) {
    c.line++;
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *le = nl ? nl : end;
    if (memchr(p, 0, (size_t)(le - p))) {
      rc = fail(&c, "a NUL byte: this is not a text file");
      break;
    }
    *le = 0;
    /* comments: '#' at the start or after white space */
    for (char *q = p; *q; q++)
      if (*q == '#' && (q == p || q[-1] == ' ' || q[-1] == '\t')) {
        *q = 0;
        break;
      }
    char *b = p, *t = p + strlen(p);
    while (*b == ' ' || *b == '\t' || *b == '\r') b++;
    while (t > b && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r')) *--t = 0;
    if (*b) rc = fn(&c, b, ud);
    p = nl ? nl + 1 : end;
  }
  free(data);
  return rc;
}

typedef struct cat_state {
  int cat;
  int section; /* -1 none yet, else LK_MENTION .. LK_UNMENTION */
  int nmention;
  int have_name;
} cat_state;

static int paper_index(const char *s) {
  for (int p = 0; p < LB_NPAPER; p++)
    if (!strcasecmp(s, lb_paper_labels[p])) return p;
  return -1;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *t = s + strlen(s);
  while (t > s && (t[-1] == ' ' || t[-1] == '\t')) *--t = 0;
  return s;
}

static int category_line(ctx *c, char *s, void *ud) {
  cat_state *st = ud;
  lb_category *cat = &c->r->cat[st->cat];
  if (s[0] == '%') {
    char *val = s + 1;
    while (*val && *val != ' ' && *val != '\t') val++;
    size_t kl = (size_t)(val - s - 1);
    val = trim(val);
    if (kl == 4 && !strncmp(s + 1, "name", 4)) {
      if (!*val) return fail(c, "%%name needs a value");
      for (char *q = val; *q; q++)
        if (*q == ',' || *q == '"') return fail(c, "%%name may not hold a comma or a quote (it is a CSV column name)");
      free(cat->name);
      if (!(cat->name = gz_strdup(val, c->e))) return -1;
      st->have_name = 1;
      return 0;
    }
    if (kl == 5 && !strncmp(s + 1, "paper", 5)) {
      char *save = NULL;
      for (char *tok = strtok_r(val, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (!strcasecmp(tok, "none")) continue;
        int p = paper_index(tok);
        if (p < 0) return fail(c, "'%s' is not one of the paper's 10 labels (Edema, Opacity, Pneumothorax, ...)", tok);
        cat->paper |= 1u << p;
      }
      return 0;
    }
    if (kl == 7 && !strncmp(s + 1, "reflacx", 7)) {
      char *save = NULL;
      for (char *tok = strtok_r(val, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        tok = trim(tok);
        if (!*tok) continue;
        char **q = gz_realloc(cat->reflacx, sizeof *q * (size_t)(cat->nreflacx + 1), c->e);
        if (!q) return -1;
        cat->reflacx = q;
        if (!(q[cat->nreflacx] = gz_strdup(tok, c->e))) return -1;
        cat->nreflacx++;
      }
      return 0;
    }
    return fail(c, "unknown directive '%.*s' (known: %%name, %%paper, %%reflacx)", (int)kl + 1, s);
  }
  if (s[0] == '[') {
    static const char *const names[] = {"[mention]", "[neutral]", "[qualifier]", "[unmention]"};
    for (int k = 0; k < 4; k++)
      if (!strcmp(s, names[k])) {
        st->section = k;
        return 0;
      }
    return fail(c, "unknown section '%s' (known: [mention] [neutral] [qualifier] [unmention])", s);
  }
  if (st->section < 0) return fail(c, "a phrase before any section: start with [mention]");
  int rule = add_line(c->r, c->file, c->line, s, c->e);
  if (rule < 0) return -1;
  if (st->section == LK_MENTION || st->section == LK_NEUTRAL) st->nmention++;
  return expand(c, s, st->section, st->cat, rule, 0);
}

static int trigger_line(ctx *c, char *s, void *ud) {
  int *st = ud; /* st[0] = kind, st[1] = current default window */
  int kind = st[0];
  if (s[0] == '%') {
    int w;
    char extra;
    if (sscanf(s, "%%window %d %c", &w, &extra) == 1) {
      if (kind == LK_PSEUDO || kind == LK_TERM) return fail(c, "%%window means nothing in this file");
      if (w < 0 || w > 64) return fail(c, "%%window %d: a window is 0..64 words", w);
      st[1] = w;
      return 0;
    }
    return fail(c, "unknown directive '%s' (known: %%window N)", s);
  }
  if (s[0] == '[') return fail(c, "sections belong in category files, not in trigger files");
  int window = st[1];
  char *at = strrchr(s, '@');
  if (at) {
    if (kind == LK_PSEUDO || kind == LK_TERM) return fail(c, "a window '@N' means nothing in this file");
    char *endp;
    long w = strtol(at + 1, &endp, 10);
    if (endp == at + 1 || *endp || w < 0 || w > 64) return fail(c, "'%s': a window is written '@N' with N in 0..64", at);
    window = (int)w;
    *at = 0;
    trim(s);
    if (!*s) return fail(c, "a window with no phrase");
  }
  int rule = add_line(c->r, c->file, c->line, s, c->e);
  if (rule < 0) return -1;
  return expand(c, s, kind, -1, rule, window);
}

typedef struct index_state {
  int n;
} index_state;

static int index_line(ctx *c, char *s, void *ud) {
  (void)ud;
  lb_rules *r = c->r;
  for (char *q = s; *q; q++)
    if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_'))
      return fail(c, "'%s' is not a category code (lower-case letters, digits and '_')", s);
  if (r->ncat >= LB_MAX_CATEGORIES) return fail(c, "more than %d categories", LB_MAX_CATEGORIES);
  for (int k = 0; k < r->ncat; k++)
    if (!strcmp(r->cat[k].code, s)) return fail(c, "category '%s' listed twice", s);
  if (!(r->cat[r->ncat].code = gz_strdup(s, c->e))) return -1;
  r->ncat++;
  return 0;
}

/* ------------------------------------------------------------------ checks and the trie */

typedef struct dup_key {
  int kind, category, rule;
  const char *text;
} dup_key;

static int cmp_dup(const void *a, const void *b) {
  const dup_key *x = a, *y = b;
  if (x->kind != y->kind) return x->kind - y->kind;
  if (x->category != y->category) return x->category - y->category;
  int c = strcmp(x->text, y->text);
  return c ? c : x->rule - y->rule;
}

/* The same phrase twice in one kind and category, from two lines, is a mistake worth naming. */
static int check_duplicates(lb_rules *r, gz_err *e) {
  dup_key *k = gz_malloc(sizeof *k * (size_t)(r->nph ? r->nph : 1), e);
  if (!k) return -1;
  for (int i = 0; i < r->nph; i++)
    k[i] = (dup_key){r->ph[i].kind, r->ph[i].category, r->ph[i].rule, r->pool + r->ph[i].text};
  if (r->nph > 1) qsort(k, (size_t)r->nph, sizeof *k, cmp_dup);
  int rc = 0;
  for (int i = 1; i < r->nph && !rc; i++) {
    const dup_key *x = &k[i - 1], *y = &k[i];
    if (x->kind == y->kind && x->category == y->category && !strcmp(x->text, y->text) && x->rule != y->rule)
      rc = gz_fail(e, GZ_EFORMAT, "%s/%s: the phrase '%s' is also %s", r->dir, r->where[y->rule], y->text,
                   r->where[x->rule]);
  }
  free(k);
  return rc;
}

/* A temporary trie with sibling lists, flattened into sorted edge arrays afterwards. */
typedef struct tnode {
  int first_child, next_sibling;
  unsigned char c;
} tnode;

static int build_trie(lb_rules *r, gz_err *e) {
  int cap = 1024, n = 1;
  tnode *t = gz_malloc(sizeof *t * (size_t)cap, e);
  int *end_node = gz_malloc(sizeof *end_node * (size_t)(r->nph ? r->nph : 1), e);
  if (!t || !end_node) goto oom;
  t[0] = (tnode){-1, -1, 0};
  for (int i = 0; i < r->nph; i++) {
    const lb_phrase *p = &r->ph[i];
    const char *s = r->pool + r->elem[p->elem0].off;
    int cur = 0;
    for (int k = 0; k < p->first_len; k++) {
      unsigned char ch = (unsigned char)s[k];
      int ch_node = t[cur].first_child;
      while (ch_node >= 0 && t[ch_node].c != ch) ch_node = t[ch_node].next_sibling;
      if (ch_node < 0) {
        if (n == cap) {
          cap *= 2;
          tnode *q = gz_realloc(t, sizeof *t * (size_t)cap, e);
          if (!q) goto oom;
          t = q;
        }
        ch_node = n++;
        t[ch_node] = (tnode){-1, t[cur].first_child, ch};
        t[cur].first_child = ch_node;
      }
      cur = ch_node;
    }
    end_node[i] = cur;
  }
  r->node = gz_calloc((size_t)n, sizeof *r->node, e);
  r->edge = gz_malloc(sizeof *r->edge * (size_t)n, e);
  r->out = gz_malloc(sizeof *r->out * (size_t)(r->nph ? r->nph : 1), e);
  if (!r->node || !r->edge || !r->out) goto oom;
  r->nnode = n;
  int ne = 0;
  for (int v = 0; v < n; v++) {
    r->node[v].edge0 = (uint32_t)ne;
    int b = ne;
    for (int ch = t[v].first_child; ch >= 0; ch = t[ch].next_sibling) r->edge[ne++] = (lb_edge){t[ch].c, (uint32_t)ch};
    for (int x = b + 1; x < ne; x++) /* insertion sort by byte */
      for (int y = x; y > b && r->edge[y - 1].c > r->edge[y].c; y--) {
        lb_edge tmp = r->edge[y];
        r->edge[y] = r->edge[y - 1];
        r->edge[y - 1] = tmp;
      }
    r->node[v].nedge = (uint16_t)(ne - b);
  }
  /* outputs: phrases grouped by their end node, in phrase order */
  int *count = gz_calloc((size_t)n + 1, sizeof *count, e);
  if (!count) goto oom;
  for (int i = 0; i < r->nph; i++) count[end_node[i] + 1]++;
  for (int v = 0; v < n; v++) count[v + 1] += count[v];
  for (int v = 0; v < n; v++) r->node[v].out0 = (uint32_t)count[v], r->node[v].nout = (uint16_t)(count[v + 1] - count[v]);
  for (int i = 0; i < r->nph; i++) r->out[count[end_node[i]]++] = (uint32_t)i;
  free(count);
  memset(r->root, 0, sizeof r->root);
  for (int ch = t[0].first_child; ch >= 0; ch = t[ch].next_sibling) r->root[t[ch].c] = (uint32_t)ch;
  free(t);
  free(end_node);
  return 0;
oom:
  free(t);
  free(end_node);
  return -1;
}

/* ------------------------------------------------------------------ loading */

lb_rules *lb_rules_load(const char *dir, gz_err *e) {
  if (!gz_is_dir(dir)) {
    gz_fail(e, GZ_EIO, "%s: the labeler's rules folder does not exist", dir);
    return NULL;
  }
  lb_rules *r = gz_calloc(1, sizeof *r, e);
  if (!r) return NULL;
  if (!(r->dir = gz_strdup(dir, e))) goto fail;
  if (for_lines(r, "categories.txt", index_line, NULL, e)) goto fail;
  if (r->ncat == 0) {
    gz_fail(e, GZ_EFORMAT, "%s/categories.txt: no category listed", dir);
    goto fail;
  }
  for (int k = 0; k < r->ncat; k++) {
    char rel[256];
    snprintf(rel, sizeof rel, "categories/%s.txt", r->cat[k].code);
    cat_state st = {k, -1, 0, 0};
    if (for_lines(r, rel, category_line, &st, e)) goto fail;
    if (!st.have_name) {
      gz_fail(e, GZ_EFORMAT, "%s/%s: no %%name line (the category's output column name)", dir, rel);
      goto fail;
    }
    if (st.nmention == 0) {
      gz_fail(e, GZ_EFORMAT, "%s/%s: no phrase under [mention] or [neutral]: the category could never be found", dir, rel);
      goto fail;
    }
    for (int j = 0; j < k; j++)
      if (!strcasecmp(r->cat[j].name, r->cat[k].name)) {
        gz_fail(e, GZ_EFORMAT, "%s/%s: %%name '%s' is already the name of categories/%s.txt", dir, rel, r->cat[k].name,
                r->cat[j].code);
        goto fail;
      }
  }
  for (int kind = LK_PRE_NEG; kind < LK_NKINDS; kind++) {
    char rel[256];
    snprintf(rel, sizeof rel, "triggers/%s.txt", trigger_files[kind]);
    int st[2] = {kind, default_window[kind]};
    if (for_lines(r, rel, trigger_line, st, e)) goto fail;
  }
  /* a neutral term needs qualifiers to ever be positive */
  for (int k = 0; k < r->ncat; k++) {
    int neutral = 0, qual = 0;
    for (int i = 0; i < r->nph; i++)
      if (r->ph[i].category == k) neutral |= r->ph[i].kind == LK_NEUTRAL, qual |= r->ph[i].kind == LK_QUALIFIER;
    if (neutral && !qual) {
      gz_fail(e, GZ_EFORMAT, "%s/categories/%s.txt: [neutral] terms but no [qualifier]: they could never be positive",
              dir, r->cat[k].code);
      goto fail;
    }
  }
  if (check_duplicates(r, e)) goto fail;
  if (build_trie(r, e)) goto fail;
  return r;
fail:
  lb_rules_free(r);
  return NULL;
}

void lb_rules_free(lb_rules *r) {
  if (!r) return;
  for (int k = 0; k < LB_MAX_CATEGORIES; k++) {
    free(r->cat[k].name);
    free(r->cat[k].code);
    for (int j = 0; j < r->cat[k].nreflacx; j++) free(r->cat[k].reflacx[j]);
    free(r->cat[k].reflacx);
  }
  for (int i = 0; i < r->nlines; i++) free(r->where[i]);
  free(r->where);
  free(r->ph);
  free(r->elem);
  free(r->pool);
  free(r->node);
  free(r->edge);
  free(r->out);
  free(r->dir);
  free(r);
}

int lb_rules_default_dir(char *buf, size_t n, gz_err *e) {
  const char *env = getenv("GAZELOC_LABELER_RULES");
  if (env && *env) {
    if (!gz_is_dir(env)) return gz_fail(e, GZ_EIO, "GAZELOC_LABELER_RULES=%s: no such folder", env);
    snprintf(buf, n, "%s", env);
    return 0;
  }
  const char *root = getenv("GAZELOC_ROOT");
  if (root && *root) {
    snprintf(buf, n, "%s/labeler/rules", root);
    if (gz_is_dir(buf)) return 0;
  }
  char exe[4096];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0) {
    exe[k] = 0;
    static const char *const up[] = {"/../../../labeler/rules", "/../share/gazeloc/labeler/rules"};
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    for (int i = 0; i < 2; i++) {
      char cand[4200], real[PATH_MAX];
      snprintf(cand, sizeof cand, "%s%s", exe, up[i]);
      if (!gz_is_dir(cand)) continue;
      snprintf(buf, n, "%s", realpath(cand, real) ? real : cand);
      return 0;
    }
  }
  snprintf(buf, n, "labeler/rules");
  if (gz_is_dir(buf)) return 0;
  return gz_fail(e, GZ_EIO,
                 "cannot find the labeler's rules folder: set GAZELOC_LABELER_RULES, or GAZELOC_ROOT to the repository, "
                 "or pass --rules DIR");
}

/* ------------------------------------------------------------------ accessors */

int lb_ncategories(const lb_rules *r) { return r->ncat; }
const char *lb_category_name(const lb_rules *r, int c) { return r->cat[c].name; }
const char *lb_category_code(const lb_rules *r, int c) { return r->cat[c].code; }
uint32_t lb_category_paper(const lb_rules *r, int c) { return r->cat[c].paper; }

int lb_category_find(const lb_rules *r, const char *s) {
  for (int c = 0; c < r->ncat; c++)
    if (!strcasecmp(s, r->cat[c].name) || !strcasecmp(s, r->cat[c].code)) return c;
  return -1;
}

int lb_category_for_reflacx(const lb_rules *r, const char *label) {
  for (int c = 0; c < r->ncat; c++)
    for (int j = 0; j < r->cat[c].nreflacx; j++)
      if (!strcasecmp(label, r->cat[c].reflacx[j])) return c;
  return -1;
}

const char *lb_rule_where(const lb_rules *r, int rule) {
  if (rule < 0 || rule >= r->nlines) return "(none)";
  return r->where[rule];
}

void lb_rules_counts(const lb_rules *r, int *lines, int *phrases) {
  if (lines) *lines = r->nlines;
  if (phrases) *phrases = r->nph;
}
