/* The paper's degraded-labeler experiment (spec method.md section 5, Table 5 text): the labeler's mentions of
 * one label in the ET-annotated training reports are degraded to a lower recall and precision, by deleting
 * mentions and adding false ones, and the ET model is trained on the result. A deleted or added mention
 * changes both what the reading contributes (its label) and where (the sentence windows that draw the
 * label-specific map), exactly as an imperfect labeler would. Counts are exact and the choice is a
 * counter-based permutation keyed by the training seed, so the same seed degrades the same readings. */
#include "data/data.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEGRADE_STREAM 0x4445475241440000ull /* "DEGRAD" */

void gz_degrade_off(gz_degrade *d) {
  d->label = -1;
  d->recall = 1.0, d->precision = 1.0;
}

/* "Pleural abnormality", "pleural_abnormality", "pleural-abnormality" and "3" all name label 3. */
static int label_of(const char *s, size_t n) {
  char *end;
  long k = strtol(s, &end, 10);
  if (end == s + n && n > 0) return k >= 0 && k < GZ_NLABELS ? (int)k : -1;
  for (int l = 0; l < GZ_NLABELS; l++) {
    const char *name = gz_label_names[l];
    size_t i = 0;
    for (; i < n && name[i]; i++) {
      char a = (char)tolower((unsigned char)s[i]), b = (char)tolower((unsigned char)name[i]);
      if (a == '_' || a == '-') a = ' ';
      if (a != b) break;
    }
    if (i == n && !name[i]) return l;
  }
  return -1;
}

int gz_degrade_parse(const char *s, gz_degrade *d, gz_err *e) {
  d->label = 3; /* Pleural abnormality, recall 0.51, precision 0.86: the paper's experiment */
  d->recall = 0.51, d->precision = 0.86;
  if (!s || !*s) return 0;
  const char *c1 = strchr(s, ':');
  size_t n = c1 ? (size_t)(c1 - s) : strlen(s);
  if (n && (d->label = label_of(s, n)) < 0)
    return gz_fail(e, GZ_EINVAL, "--degrade-labeler: '%.*s' is not a paper label (e.g. pleural_abnormality or 3)", (int)n, s);
  if (c1) {
    char *end;
    d->recall = strtod(c1 + 1, &end);
    if (*end != ':') return gz_fail(e, GZ_EINVAL, "--degrade-labeler: '%s' is not LABEL:RECALL:PRECISION", s);
    const char *p = end + 1;
    d->precision = strtod(p, &end);
    if (end == p || *end) return gz_fail(e, GZ_EINVAL, "--degrade-labeler: '%s' is not LABEL:RECALL:PRECISION", s);
  }
  if (!(d->recall >= 0 && d->recall <= 1) || !(d->precision > 0 && d->precision <= 1))
    return gz_fail(e, GZ_EINVAL, "--degrade-labeler: recall %g must be in [0, 1] and precision %g in (0, 1]", d->recall,
                   d->precision);
  /* Deleting a mention of a category shared with another label (pulmonary edema: Edema and Opacity) would
   * degrade that label too; only labels with categories of their own can be degraded alone. */
  unsigned bit = 1u << d->label;
  for (int c = 0; c < GZ_NCATEGORIES; c++) {
    unsigned m = gz_category_mask(c);
    if ((m & bit) && m != bit)
      return gz_fail(e, GZ_EINVAL, "--degrade-labeler: %s shares the labeler category '%s' with other labels",
                     gz_label_names[d->label], gz_category_names[c]);
  }
  return 0;
}

int gz_degrade_plan(const gz_degrade *d, uint64_t seed, int n, const unsigned char *positive,
                    const unsigned char *can_add, signed char *action, gz_degrade_stats *st, gz_err *e) {
  memset(st, 0, sizeof *st);
  memset(action, 0, (size_t)n);
  if (d->label < 0) return 0;
  int *pos = gz_malloc(sizeof *pos * (size_t)(n + 1), e), *neg = gz_malloc(sizeof *neg * (size_t)(n + 1), e);
  if (!pos || !neg) { free(pos), free(neg); return -1; }
  int np = 0, nn = 0;
  for (int i = 0; i < n; i++) {
    if (positive[i]) pos[np++] = i;
    else if (can_add[i]) neg[nn++] = i;
  }
  /* recall = kept / P and precision = kept / (kept + added), against the labeler's own output */
  int del = (int)lround((1.0 - d->recall) * np), kept = np - del;
  int add = (int)lround(kept * (1.0 - d->precision) / d->precision);
  if (add > nn) {
    free(pos), free(neg);
    return gz_fail(e, GZ_EINVAL,
                   "--degrade-labeler: precision %g needs %d false %s mentions but only %d training reports can take one",
                   d->precision, add, gz_label_names[d->label], nn);
  }
  gz_rng r;
  gz_rng_init(&r, seed, DEGRADE_STREAM);
  gz_rng_shuffle(&r, pos, (size_t)np);
  gz_rng_shuffle(&r, neg, (size_t)nn);
  for (int i = 0; i < del; i++) action[pos[i]] = -1;
  for (int i = 0; i < add; i++) action[neg[i]] = 1;
  st->positives = np, st->deleted = del, st->added = add;
  st->recall = np ? (double)kept / np : NAN;
  st->precision = kept + add ? (double)kept / (kept + add) : NAN;
  free(pos), free(neg);
  return 0;
}

/* A word that can hold a mention: inside a sentence (a '.' follows) and not punctuation. */
static int mention_word(const gz_word *w, int i, int last_dot) {
  const char *t = w[i].text;
  return i < last_dot && strcmp(t, ".") && strcmp(t, ",") && strcmp(t, ":");
}

static int last_dot(const gz_word *w, int nw) {
  int d = -1;
  for (int i = 0; i < nw; i++)
    if (!strcmp(w[i].text, ".")) d = i;
  return d;
}

int gz_degrade_can_add(const gz_word *w, int nw) {
  int d = last_dot(w, nw);
  for (int i = 0; i < d; i++)
    if (mention_word(w, i, d)) return 1;
  return 0;
}

int gz_degrade_mentions(const gz_degrade *d, int action, uint64_t seed, uint64_t reading, const gz_transcript *t,
                        gz_mention **m, int *nm, gz_err *e) {
  if (d->label < 0 || action == 0) return 0;
  unsigned bit = 1u << d->label;
  if (action < 0) { /* delete every mention of the label (its categories map to it alone) */
    int k = 0;
    for (int i = 0; i < *nm; i++)
      if (!(gz_category_mask((*m)[i].category) & bit)) (*m)[k++] = (*m)[i];
    *nm = k;
    return 0;
  }
  /* a false mention on a random word of a random sentence: the category the label's own name is */
  int cat = -1;
  for (int c = 0; c < GZ_NCATEGORIES && cat < 0; c++)
    if (gz_category_mask(c) == bit) cat = c;
  int dot = last_dot(t->words, t->nwords), count = 0;
  for (int i = 0; i < dot; i++) count += mention_word(t->words, i, dot);
  if (cat < 0 || count == 0)
    return gz_fail(e, GZ_EINVAL, "degraded labeler: no word can hold a false %s mention", gz_label_names[d->label]);
  gz_rng r;
  gz_rng_init(&r, seed, DEGRADE_STREAM ^ (reading + 1));
  int pick = (int)gz_rng_below(&r, (uint32_t)count), w = 0;
  for (int i = 0; i < dot; i++)
    if (mention_word(t->words, i, dot) && pick-- == 0) { w = i; break; }
  gz_mention *nmv = gz_realloc(*m, sizeof *nmv * (size_t)(*nm + 1), e);
  if (!nmv) return -1;
  *m = nmv;
  int start = t->word_start[w];
  nmv[(*nm)++] = (gz_mention){cat, start, start + (int)strlen(t->words[w].text)};
  return 0;
}
