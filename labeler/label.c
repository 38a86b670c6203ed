/* Labeling one report: clean with an offset map, split sentences, tokenize, find every phrase with the
 * trie, build mentions, decide each mention from trigger scopes, aggregate per category. No allocation
 * once the lb_result's buffers have grown to the longest report. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "labeler/internal.h"

static inline int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
static inline int is_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_alnum_lc(unsigned char c) { return (c >= 'a' && c <= 'z') || is_digit(c); }
static inline int is_wordch(unsigned char c) { return is_alnum_lc(c) || c == '\'' || c >= 128; }
static inline int is_gapch(unsigned char c) { return (c >= 'a' && c <= 'z') || c == ' ' || c == '-'; }

/* ------------------------------------------------------------------ results */

/* A result and its scratch live in one block aligned and padded to 128 bytes, so that results used by
 * different threads never share a cache line (their counters are written all the time). */
#define LB_PAD(x) (((x) + 127) & ~(size_t)127)

lb_result *lb_result_new(gz_err *e) {
  size_t a = LB_PAD(sizeof(lb_result)), b = LB_PAD(sizeof(struct lb_scratch));
  lb_result *res = aligned_alloc(128, a + b);
  if (!res) {
    gz_fail(e, GZ_ENOMEM, "out of memory (%zu bytes)", a + b);
    return NULL;
  }
  memset(res, 0, a + b);
  res->scratch = (struct lb_scratch *)((char *)res + a);
  return res;
}

void lb_result_free(lb_result *res) {
  if (!res) return;
  struct lb_scratch *S = res->scratch;
  free(S->t), free(S->map), free(S->tok_of), free(S->tok), free(S->m), free(S->tr), free(S->cd);
  free(S->sent_clean), free(S->mask), free(S->own);
  free(res->mentions);
  free(res->sentences);
  free(res);
}

#define GROW(arr, cap, need, e) lb_grow((void **)&(arr), &(cap), (need), sizeof *(arr), (e))

/* ------------------------------------------------------------------ cleaning */

/* CheXpert's cleaning (loader/load.py) with a map from each cleaned character to its original offset:
 * lower case; "and/or" -> "or"; "x/y" between letters -> "x or y"; ".." -> "."; a space after every "."
 * and "," (except inside numbers such as 1.5 or 1,000, which CheXpert would split); white space collapsed. */
static size_t clean(const char *s, size_t len, char *t, uint32_t *map) {
  size_t n = 0;
#define EMIT(ch, at) (t[n] = (char)(ch), map[n] = (uint32_t)(at), n++)
#define SPACE(at)                            \
  do {                                       \
    if (n && t[n - 1] != ' ') EMIT(' ', at); \
  } while (0)
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_space(c)) {
      SPACE(i);
      continue;
    }
    unsigned char lc = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
    if (lc == 'a' && i + 6 <= len && !strncasecmp(s + i, "and/or", 6) && (i == 0 || !is_alpha((unsigned char)s[i - 1])) &&
        (i + 6 == len || !is_alpha((unsigned char)s[i + 6]))) {
      EMIT('o', i + 4);
      EMIT('r', i + 5);
      i += 5;
      continue;
    }
    if (c == '/' && i > 0 && is_alpha((unsigned char)s[i - 1]) && i + 1 < len && is_alpha((unsigned char)s[i + 1])) {
      SPACE(i);
      EMIT('o', i);
      EMIT('r', i);
      EMIT(' ', i);
      continue;
    }
    if (c == '.' || c == ',') {
      if (!(c == '.' && n && t[n - 1] == '.')) EMIT(c, i);
      if (i + 1 < len) {
        unsigned char nx = (unsigned char)s[i + 1];
        int number = i > 0 && is_digit((unsigned char)s[i - 1]) && is_digit(nx);
        if (!(c == '.' && nx == '.') && !is_space(nx) && !number) SPACE(i);
      }
      continue;
    }
    EMIT(lc, i);
  }
  while (n && t[n - 1] == ' ') n--;
#undef EMIT
#undef SPACE
  return n;
}

/* ------------------------------------------------------------------ sentences and tokens */

static int is_abbreviation(const char *t, size_t dot) {
  static const char *const ab[] = {"dr", "mr", "mrs", "ms", "vs", "approx", "e.g", "i.e", "fig", "ca"};
  size_t b = dot;
  while (b > 0 && (is_alpha((unsigned char)t[b - 1]) || t[b - 1] == '.')) b--;
  size_t wl = dot - b;
  for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++)
    if (strlen(ab[k]) == wl && !memcmp(t + b, ab[k], wl)) return 1;
  return 0;
}

static int has_alnum(const char *t, size_t b, size_t e) {
  for (size_t i = b; i < e; i++)
    if (is_alnum_lc((unsigned char)t[i]) || (unsigned char)t[i] >= 128) return 1;
  return 0;
}

static int split_sentences(struct lb_scratch *S, size_t n, int *ns, gz_err *e) {
  const char *t = S->t;
  int k = 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    int boundary = i == n;
    if (i < n && (t[i] == '.' || t[i] == '?' || t[i] == '!') && (i + 1 == n || t[i + 1] == ' '))
      boundary = !(t[i] == '.' && is_abbreviation(t, i));
    if (!boundary) continue;
    size_t end = i < n ? i + 1 : n;
    if (end <= start) continue;
    if (!has_alnum(t, start, end)) {
      if (k) S->sent_clean[2 * k - 1] = (uint32_t)end; /* an empty sentence (". .") joins the previous one */
      else continue;                                   /* or, at the start, the next one */
    } else {
      if (GROW(S->sent_clean, S->sccap, 2 * k + 2, e)) return -1;
      S->sent_clean[2 * k] = (uint32_t)start;
      S->sent_clean[2 * k + 1] = (uint32_t)end;
      k++;
    }
    start = end < n && t[end] == ' ' ? end + 1 : end;
  }
  *ns = k;
  return 0;
}

static int tokenize(struct lb_scratch *S, size_t n, int nsent, gz_err *e) {
  const char *t = S->t;
  S->ntok = 0;
  int sent = 0, words = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)t[i];
    if (c == ' ') {
      S->tok_of[i++] = -1;
      continue;
    }
    size_t j = i + 1;
    int word = is_wordch(c);
    if (word)
      while (j < n && (is_wordch((unsigned char)t[j]) || (t[j] == '-' && j + 1 < n && is_wordch((unsigned char)t[j + 1]))))
        j++;
    while (sent + 1 < nsent && i >= S->sent_clean[2 * sent + 1]) sent++;
    if (GROW(S->tok, S->tokcap, S->ntok + 1, e)) return -1;
    lb_token *tk = &S->tok[S->ntok];
    tk->s = (uint32_t)i, tk->e = (uint32_t)j, tk->sent = sent, tk->wcum = words;
    tk->word = (uint8_t)word, tk->c = word ? 0 : (char)c;
    size_t wl = j - i;
    tk->conj = (uint8_t)(word && ((wl == 3 && !memcmp(t + i, "and", 3)) || (wl == 2 && !memcmp(t + i, "or", 2)) ||
                                  (wl == 3 && !memcmp(t + i, "nor", 3))));
    words += word;
    for (size_t q = i; q < j; q++) S->tok_of[q] = S->ntok;
    S->ntok++;
    i = j;
  }
  return 0;
}

/* ------------------------------------------------------------------ phrase matching */

static long match_rest(const lb_rules *r, const lb_phrase *p, const char *t, size_t n, int k, size_t pos) {
  if (k == p->nelem) {
    if (p->anchor_end && pos < n && is_alnum_lc((unsigned char)t[pos])) return -1;
    return (long)pos;
  }
  const lb_elem *el = &r->elem[p->elem0 + k];
  if (el->type == LE_LIT) {
    if (pos + el->len > n || memcmp(t + pos, r->pool + el->off, el->len)) return -1;
    return match_rest(r, p, t, n, k + 1, pos + el->len);
  }
  for (size_t g = 1; g <= LB_GAP_MAX && pos + g <= n && is_gapch((unsigned char)t[pos + g - 1]); g++) {
    long end = match_rest(r, p, t, n, k + 1, pos + g);
    if (end >= 0) return end;
  }
  return -1;
}

static int find_phrases(const lb_rules *r, struct lb_scratch *S, size_t n, gz_err *e) {
  const char *t = S->t;
  S->nm = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t v = r->root[(unsigned char)t[i]];
    if (!v) continue;
    int word_start = i == 0 || !is_alnum_lc((unsigned char)t[i - 1]);
    size_t j = i + 1;
    for (;;) {
      const lb_node *nd = &r->node[v];
      for (uint32_t o = nd->out0; o < nd->out0 + nd->nout; o++) {
        const lb_phrase *p = &r->ph[r->out[o]];
        if (p->anchor_start && !word_start) continue;
        long end = match_rest(r, p, t, n, 1, j);
        if (end < 0) continue;
        if (GROW(S->m, S->mcap, S->nm + 1, e)) return -1;
        S->m[S->nm++] = (lb_match){(uint32_t)i, (uint32_t)end, r->out[o]};
      }
      if (j >= n || !nd->nedge) break;
      unsigned char c = (unsigned char)t[j];
      const lb_edge *ed = &r->edge[nd->edge0];
      uint32_t next = 0;
      for (int x = 0; x < nd->nedge && ed[x].c <= c; x++)
        if (ed[x].c == c) {
          next = ed[x].child;
          break;
        }
      if (!next) break;
      v = next;
      j++;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ triggers and scopes */

enum { MASK_TERM = 1, MASK_TRIGGER = 2 };

static int cmp_trig_len(const void *a, const void *b) {
  const lb_trig *x = a, *y = b;
  uint32_t lx = x->e - x->s, ly = y->e - y->s;
  if (lx != ly) return lx > ly ? -1 : 1;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  return x->kind - y->kind;
}
static int cmp_trig_start(const void *a, const void *b) {
  const lb_trig *x = a, *y = b;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  return x->kind - y->kind;
}

/* Keeps the longest of overlapping triggers ("no evidence of" over "no", "not excluded" over "not");
 * triggers with the same span all stay ("may" is both a pre- and a post-uncertainty trigger). Pseudo-
 * triggers win like the others, then vanish. Terminators compete only with terminators: ", possible"
 * ends the scope before it and "possible" still starts its own. */
static int resolve_triggers(const lb_rules *r, struct lb_scratch *S, gz_err *e) {
  S->ntr = 0;
  for (int i = 0; i < S->nm; i++) {
    const lb_phrase *p = &r->ph[S->m[i].ph];
    if (p->kind < LK_PRE_NEG) continue;
    if (GROW(S->tr, S->trcap, S->ntr + 1, e)) return -1;
    S->tr[S->ntr++] = (lb_trig){S->m[i].s, S->m[i].e, p->kind, (int)S->m[i].ph, 0, 0, 0};
  }
  if (S->ntr > 1) qsort(S->tr, (size_t)S->ntr, sizeof *S->tr, cmp_trig_len);
  /* own[class * n + ch]: the kept trigger (class 0) or terminator (class 1) over each character, so
   * that each candidate is checked against what it covers, not against every kept trigger */
  size_t n = S->ntok ? S->tok[S->ntok - 1].e : 0;
  if (2 * n + 2 > S->owncap) {
    int32_t *o = gz_realloc(S->own, sizeof *o * (2 * n + 2), e);
    if (!o) return -1;
    S->own = o;
    S->owncap = 2 * n + 2;
  }
  memset(S->own, 0xff, sizeof *S->own * 2 * n);
  int kept = 0;
  for (int i = 0; i < S->ntr; i++) {
    lb_trig x = S->tr[i];
    int32_t *own = S->own + (x.kind == LK_TERM ? n : 0);
    int ok = 1;
    for (uint32_t ch = x.s; ch < x.e && ok; ch++) {
      if (own[ch] < 0) continue;
      const lb_trig *y = &S->tr[own[ch]];
      if (!(x.s == y->s && x.e == y->e) || y->kind == LK_PSEUDO) ok = 0;
    }
    if (!ok) continue;
    S->tr[kept] = x;
    for (uint32_t ch = x.s; ch < x.e; ch++) own[ch] = kept;
    kept++;
  }
  int out = 0;
  for (int i = 0; i < kept; i++)
    if (S->tr[i].kind != LK_PSEUDO) S->tr[out++] = S->tr[i];
  S->ntr = out;
  if (S->ntr > 1) qsort(S->tr, (size_t)S->ntr, sizeof *S->tr, cmp_trig_start);
  if (GROW(S->mask, S->maskcap, 2 * S->ntok + 2, e)) return -1;
  memset(S->mask, 0, sizeof *S->mask * (size_t)(2 * S->ntok));
  for (int i = 0; i < S->ntr; i++) {
    lb_trig *x = &S->tr[i];
    x->t0 = S->tok_of[x->s];
    x->t1 = S->tok_of[x->e - 1];
    if (x->t0 < 0) x->t0 = S->tok_of[x->s + 1]; /* a phrase that starts with a space */
    if (x->t1 < 0) x->t1 = S->tok_of[x->e - 2];
    x->sent = S->tok[x->t0].sent;
    uint8_t bit = x->kind == LK_TERM ? MASK_TERM : MASK_TRIGGER;
    S->mask[2 * x->t0] |= bit;     /* starts at token t0 */
    S->mask[2 * x->t1 + 1] |= bit; /* ends at token t1 */
  }
  return 0;
}

static inline int words_between(const struct lb_scratch *S, int a_last, int b_first) {
  if (b_first <= a_last) return 0;
  return S->tok[b_first].wcum - S->tok[a_last].wcum - S->tok[a_last].word;
}

static inline int hard_punct(char c) { return c == ';' || c == ':' || c == '(' || c == ')'; }

/* The first clean character a pre-trigger cannot reach: the sentence end, ';' or ':', a terminator, or
 * another trigger (one right after it, as in "no suspicious", does not stop it). */
static uint32_t pre_scope_end(const struct lb_scratch *S, const lb_trig *x, int window) {
  int words = 0;
  for (int k = x->t1 + 1; k < S->ntok; k++) {
    const lb_token *tk = &S->tok[k];
    if (tk->sent != x->sent || (words += tk->word) > window + 16) return tk->s;
    if (!tk->word && hard_punct(tk->c)) return tk->s;
    uint8_t m = S->mask[2 * k];
    if (m & MASK_TERM) return tk->s;
    if ((m & MASK_TRIGGER) && k > x->t1 + 1) return tk->s;
  }
  return UINT32_MAX;
}

/* The first clean character a post-trigger reaches back to: the sentence start, after ';' or ':', after
 * a terminator or another trigger, or after a comma unless "and"/"or" lies between the comma and the
 * trigger ("effusion, pneumothorax and consolidation have resolved"). */
static uint32_t post_scope_start(const struct lb_scratch *S, const lb_trig *x, int window) {
  int conj = 0, words = 0;
  for (int k = x->t0 - 1; k >= 0; k--) {
    const lb_token *tk = &S->tok[k];
    if (tk->sent != x->sent || (words += tk->word) > window + 16) return tk->e; /* room for the mention itself */
    if (!tk->word && hard_punct(tk->c)) return tk->e;
    if (!tk->word && tk->c == ',' && !conj) return tk->e;
    conj |= tk->conj;
    uint8_t m = S->mask[2 * k + 1];
    if (m & MASK_TERM) return tk->e;
    if ((m & MASK_TRIGGER) && k < x->t0 - 1) return tk->e;
  }
  return 0;
}

/* Does trigger x reach the clean span [s, e) whose tokens are [t0, t1]? */
static int reaches(const lb_rules *r, const struct lb_scratch *S, const lb_trig *x, uint32_t s, uint32_t e, int t0,
                   int t1) {
  const lb_phrase *p = &r->ph[x->ph];
  if (x->kind == LK_PRE_NEG || x->kind == LK_PRE_UNC) {
    if (s < x->e) return 0;
    if (words_between(S, x->t1, t0) > p->window) return 0;
    return s < pre_scope_end(S, x, p->window);
  }
  if (e > x->s) return 0;
  if (words_between(S, t1, x->t0) > p->window) return 0;
  return s >= post_scope_start(S, x, p->window);
}

/* ------------------------------------------------------------------ mentions */

static int cmp_cand(const void *a, const void *b) {
  const lb_cand *x = a, *y = b;
  if (x->category != y->category) return x->category - y->category;
  if (x->s != y->s) return x->s < y->s ? -1 : 1;
  return x->e > y->e ? -1 : x->e < y->e;
}
static int cmp_mention(const void *a, const void *b) {
  const lb_mention *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->category - y->category;
}

static int first_match_from(const struct lb_scratch *S, uint32_t pos) {
  int lo = 0, hi = S->nm;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (S->m[mid].s < pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int build_candidates(const lb_rules *r, struct lb_scratch *S, gz_err *e) {
  S->ncd = 0;
  for (int i = 0; i < S->nm; i++) {
    const lb_match *m = &S->m[i];
    const lb_phrase *p = &r->ph[m->ph];
    if (p->kind != LK_MENTION && p->kind != LK_NEUTRAL) continue;
    int un = 0;
    uint32_t from = m->s > (uint32_t)r->maxlen ? m->s - (uint32_t)r->maxlen : 0;
    for (int k = first_match_from(S, from); k < S->nm && S->m[k].s < m->e && !un; k++) {
      const lb_match *u = &S->m[k];
      const lb_phrase *q = &r->ph[u->ph];
      un = q->kind == LK_UNMENTION && q->category == p->category && u->s < m->e && m->s < u->e;
    }
    if (un) continue;
    if (GROW(S->cd, S->cdcap, S->ncd + 1, e)) return -1;
    S->cd[S->ncd++] = (lb_cand){m->s, m->e, p->category, (int)m->ph, p->kind == LK_NEUTRAL};
  }
  if (S->ncd > 1) qsort(S->cd, (size_t)S->ncd, sizeof *S->cd, cmp_cand);
  int out = 0;
  for (int i = 0; i < S->ncd; i++) {
    lb_cand c = S->cd[i];
    if (out && S->cd[out - 1].category == c.category && c.s < S->cd[out - 1].e) {
      lb_cand *prev = &S->cd[out - 1];
      if (c.e > prev->e) prev->e = c.e;
      if (prev->neutral && !c.neutral) prev->ph = c.ph;
      prev->neutral &= c.neutral;
      continue;
    }
    S->cd[out++] = c;
  }
  S->ncd = out;
  return 0;
}

static int clear_between(const struct lb_scratch *S, int a, int b) {
  for (int k = a + 1; k < b; k++) {
    const lb_token *tk = &S->tok[k];
    if (!tk->word && (hard_punct(tk->c) || tk->c == ',' || tk->c == '.')) return 0;
    if (S->mask[2 * k] & MASK_TERM) return 0;
  }
  return 1;
}

/* The nearest qualifier of the category in reach of a neutral term: up to 6 words after it or 4 before,
 * with no punctuation or terminator in between. Returns the match index or -1. */
static int find_qualifier(const lb_rules *r, const struct lb_scratch *S, const lb_cand *c, int t0, int t1) {
  int best = -1, bestd = 1 << 30;
  int lo_tok = t0 > 40 ? t0 - 40 : 0, hi_tok = t1 + 40 < S->ntok ? t1 + 40 : S->ntok - 1;
  for (int i = first_match_from(S, S->tok[lo_tok].s); i < S->nm && S->m[i].s <= S->tok[hi_tok].e; i++) {
    const lb_match *m = &S->m[i];
    const lb_phrase *p = &r->ph[m->ph];
    if (p->kind != LK_QUALIFIER || p->category != c->category) continue;
    int q0 = S->tok_of[m->s], q1 = S->tok_of[m->e - 1];
    if (q0 < 0 || q1 < 0 || S->tok[q0].sent != S->tok[t0].sent) continue;
    int d;
    if (m->s < c->e && c->s < m->e) d = 0;
    else if (m->s >= c->e) {
      d = words_between(S, t1, q0);
      if (d > 6 || !clear_between(S, t1, q0)) continue;
    } else {
      d = words_between(S, q1, t0);
      if (d > 4 || !clear_between(S, q1, t0)) continue;
    }
    if (d < bestd) best = i, bestd = d;
  }
  return best;
}

int lb_aggregate(int a, int b) {
  if (a == LB_BLANK) return b;
  if (b == LB_BLANK) return a;
  if (a == LB_POSITIVE || b == LB_POSITIVE) return LB_POSITIVE;
  if (a == LB_UNCERTAIN || b == LB_UNCERTAIN) return LB_UNCERTAIN;
  return LB_NEGATIVE;
}

void lb_paper_values(const lb_rules *r, const int8_t *value, int8_t *paper) {
  for (int p = 0; p < LB_NPAPER; p++) {
    int v = LB_BLANK;
    for (int c = 0; c < r->ncat; c++)
      if (r->cat[c].paper >> p & 1) v = lb_aggregate(v, value[c]);
    paper[p] = (int8_t)v;
  }
}

int lb_label(const lb_rules *r, const char *text, size_t len, lb_result *res, gz_err *e) {
  struct lb_scratch *S = res->scratch;
  res->ncat = r->ncat;
  res->nmentions = res->nsentences = res->ndropped = 0;
  for (int c = 0; c < LB_MAX_CATEGORIES; c++) res->value[c] = LB_BLANK;
  if (len > (size_t)UINT32_MAX / 8) return gz_fail(e, GZ_ERANGE, "a report of %zu bytes is too long", len);
  size_t need = 4 * len + 16;
  if (need > S->tcap) {
    char *t = gz_realloc(S->t, need, e);
    if (!t) return -1;
    S->t = t;
    uint32_t *map = gz_realloc(S->map, need * sizeof *map, e);
    if (!map) return -1;
    S->map = map;
    int32_t *tok_of = gz_realloc(S->tok_of, need * sizeof *tok_of, e);
    if (!tok_of) return -1;
    S->tok_of = tok_of;
    S->tcap = need;
  }
  size_t n = clean(text, len, S->t, S->map);
  int ns = 0;
  if (split_sentences(S, n, &ns, e) || tokenize(S, n, ns, e) || find_phrases(r, S, n, e) ||
      resolve_triggers(r, S, e) || build_candidates(r, S, e))
    return -1;
  if (GROW(res->sentences, res->scap, ns, e)) return -1;
  for (int k = 0; k < ns; k++) {
    res->sentences[k].start = S->map[S->sent_clean[2 * k]];
    res->sentences[k].end = S->map[S->sent_clean[2 * k + 1] - 1] + 1;
  }
  res->nsentences = ns;
  if (GROW(res->mentions, res->mcap, S->ncd, e)) return -1;
  for (int i = 0; i < S->ncd; i++) {
    const lb_cand *c = &S->cd[i];
    int t0 = S->tok_of[c->s], t1 = S->tok_of[c->e - 1];
    if (t0 < 0) t0 = S->tok_of[c->s + 1];
    if (t1 < 0) t1 = S->tok_of[c->e - 2];
    int sent = S->tok[t0].sent;
    int q = c->neutral ? find_qualifier(r, S, c, t0, t1) : -1;
    int neg = -1, unc = -1, negd = 1 << 30, uncd = 1 << 30;
    /* triggers are in order of their start; none more than 64 words (the largest window) plus its own
     * length away can reach, so the search starts near the mention */
    int w0 = S->tok[t0].wcum - 100, w1 = S->tok[t1].wcum + 100;
    int lo = 0, hi = S->ntr;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (S->tok[S->tr[mid].t0].wcum < w0) lo = mid + 1;
      else hi = mid;
    }
    for (int k = lo; k < S->ntr && S->tok[S->tr[k].t0].wcum <= w1; k++) {
      const lb_trig *x = &S->tr[k];
      if (x->sent != sent || x->kind == LK_TERM) continue;
      int hit = reaches(r, S, x, c->s, c->e, t0, t1);
      if (!hit && q >= 0) {
        const lb_match *m = &S->m[q];
        hit = reaches(r, S, x, m->s, m->e, S->tok_of[m->s], S->tok_of[m->e - 1]);
      }
      if (!hit) continue;
      int d = x->s >= c->e ? words_between(S, t1, x->t0) : words_between(S, x->t1, t0);
      if ((x->kind == LK_PRE_NEG || x->kind == LK_POST_NEG) && d < negd) neg = k, negd = d;
      if ((x->kind == LK_PRE_UNC || x->kind == LK_POST_UNC) && d < uncd) unc = k, uncd = d;
    }
    lb_mention *mt = &res->mentions[res->nmentions];
    mt->trigger = -1;
    if (neg >= 0) {
      mt->status = LB_NEGATIVE;
      mt->reason = S->tr[neg].kind == LK_PRE_NEG ? LB_BY_PRE_NEGATION : LB_BY_POST_NEGATION;
      mt->trigger = r->ph[S->tr[neg].ph].rule;
    } else if (unc >= 0) {
      mt->status = LB_UNCERTAIN;
      mt->reason = S->tr[unc].kind == LK_PRE_UNC ? LB_BY_PRE_UNCERTAINTY : LB_BY_POST_UNCERTAINTY;
      mt->trigger = r->ph[S->tr[unc].ph].rule;
    } else if (c->neutral) {
      if (q < 0) {
        res->ndropped++;
        continue;
      }
      mt->status = LB_POSITIVE;
      mt->reason = LB_BY_QUALIFIER;
      mt->trigger = r->ph[S->m[q].ph].rule;
    } else {
      mt->status = LB_POSITIVE;
      mt->reason = LB_BY_DEFAULT;
    }
    /* the span covers whole words: "atelecta" reports as "atelectasis" */
    uint32_t cs = c->s, ce = c->e;
    while (cs > 0 && is_alnum_lc((unsigned char)S->t[cs - 1]) && is_alnum_lc((unsigned char)S->t[cs])) cs--;
    while (ce < n && is_alnum_lc((unsigned char)S->t[ce]) && is_alnum_lc((unsigned char)S->t[ce - 1])) ce++;
    mt->start = S->map[cs];
    mt->end = S->map[ce - 1] + 1;
    mt->category = c->category;
    mt->phrase = r->ph[c->ph].rule;
    mt->sentence = sent;
    res->value[c->category] = (int8_t)lb_aggregate(res->value[c->category], mt->status);
    res->nmentions++;
  }
  if (res->nmentions > 1) qsort(res->mentions, (size_t)res->nmentions, sizeof *res->mentions, cmp_mention);
  lb_paper_values(r, res->value, res->paper);
  return 0;
}

/* ------------------------------------------------------------------ explanations */

static const char *status_name(int s) {
  return s == LB_POSITIVE ? "POSITIVE" : s == LB_NEGATIVE ? "NEGATIVE" : s == LB_UNCERTAIN ? "UNCERTAIN" : "BLANK";
}
static const char *reason_name(int reason) {
  switch (reason) {
  case LB_BY_PRE_NEGATION: return "pre-negation";
  case LB_BY_POST_NEGATION: return "post-negation";
  case LB_BY_PRE_UNCERTAINTY: return "pre-uncertainty";
  case LB_BY_POST_UNCERTAINTY: return "post-uncertainty";
  case LB_BY_QUALIFIER: return "qualifier";
  default: return "no trigger in reach";
  }
}

void lb_explain(const lb_rules *r, const char *text, size_t len, const lb_result *res, FILE *out) {
  (void)len;
  for (int i = 0; i < res->nmentions; i++) {
    const lb_mention *m = &res->mentions[i];
    fprintf(out, "  [%zu, %zu) \"%.*s\" %s: %s, by %s", m->start, m->end, (int)(m->end - m->start), text + m->start,
            r->cat[m->category].name, status_name(m->status), reason_name(m->reason));
    if (m->trigger >= 0) fprintf(out, " (%s)", lb_rule_where(r, m->trigger));
    fprintf(out, "; found by %s; sentence %d\n", lb_rule_where(r, m->phrase), m->sentence);
  }
  if (res->ndropped)
    fprintf(out, "  %d neutral term(s) without a qualifier or trigger in reach, not counted\n", res->ndropped);
  for (int c = 0; c < r->ncat; c++)
    if (res->value[c] != LB_BLANK) fprintf(out, "  => %s = %d\n", r->cat[c].name, res->value[c]);
}
