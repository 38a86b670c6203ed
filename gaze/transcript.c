/* Sentences from the timed words and the accumulation windows (method.md section 4, gotcha 5), following
 * find_fixations_all_sentences.py::generate_et_heatmaps_for_one_image step by step. */
#include "gaze/gaze.h"

#include <stdlib.h>
#include <string.h>

const char *const gz_start_rule_names[GZ_NSTART_RULES] = {"startofsentence", "endofsentence", "mention", "single",
                                                          "double",          "all",           "allsentences",
                                                          "andpause"};
const char *const gz_end_rule_names[GZ_NEND_RULES] = {"endofsentence", "firstmention", "lastmention",
                                                      "startofsentence"};

void gz_transcript_free(gz_transcript *t) {
  if (!t) return;
  free(t->text);
  free(t->word_start);
  free(t->s);
  memset(t, 0, sizeof *t);
}

static int is_glued(const char *w) { return !strcmp(w, ".") || !strcmp(w, ",") || !strcmp(w, ":"); }

int gz_transcript_build(const gz_word *w, int nw, const char *expected, size_t expected_len, const char *name,
                        gz_transcript *t, gz_err *e) {
  memset(t, 0, sizeof *t);
  size_t len = 0;
  for (int i = 0; i < nw; i++) len += strlen(w[i].text) + 1;
  if (len > (size_t)1 << 30) return gz_fail(e, GZ_ERANGE, "%s: transcript too long", name);
  t->text = gz_malloc(len + 1, e);
  t->word_start = gz_malloc(sizeof *t->word_start * (size_t)(nw ? nw : 1), e);
  t->s = gz_malloc(sizeof *t->s * (size_t)(nw ? nw : 1), e);
  if (!t->text || !t->word_start || !t->s) goto fail;
  t->nwords = nw;
  t->words = w;
  size_t at = 0;
  int new_sentence = 1;
  gz_sentence cur = {0};
  for (int i = 0; i < nw; i++) {
    /* a space before every word except '.', ',', ':' and the first token */
    if (!is_glued(w[i].text) && i > 0) t->text[at++] = ' ';
    if (new_sentence) {
      cur = (gz_sentence){.first_word = i, .char_start = (int)at, .t_start = w[i].t0};
      new_sentence = 0;
    }
    t->word_start[i] = (int)at;
    size_t n = strlen(w[i].text);
    memcpy(t->text + at, w[i].text, n);
    at += n;
    if (!strcmp(w[i].text, ".")) {
      cur.last_word = i;
      cur.char_dot = (int)at - 1;
      cur.t_end = w[i].t1;
      t->s[t->ns++] = cur;
      new_sentence = 1;
    }
  }
  t->text[at] = '\0';
  if (expected) {
    size_t common = 0;
    while (common < at && common < expected_len && t->text[common] == expected[common]) common++;
    if (common != at || at != expected_len) {
      /* name the first difference so a broken transcript is easy to find */
      gz_fail(e, GZ_EFORMAT,
              "%s: the text rebuilt from timestamps_transcription.csv differs from transcription.txt at character %zu "
              "(rebuilt %zu chars, file %zu chars; rebuilt \"%.30s\" vs file \"%.30s\")",
              name, common, at, expected_len, t->text + common, common < expected_len ? expected + common : "");
      goto fail;
    }
  }
  return 0;
fail:
  gz_transcript_free(t);
  return -1;
}

/* indices_stop: every '.' character of the report text, as the authors enumerate them. */
int gz_sentence_of_char(const gz_transcript *t, int pos) {
  int idx = 0;
  for (const char *p = t->text; *p; p++) {
    if (*p != '.') continue;
    if (pos < (int)(p - t->text)) return idx;
    idx++;
  }
  return -1;
}

int gz_word_of_char(const gz_transcript *t, int pos) {
  int s = gz_sentence_of_char(t, pos), found = -1;
  if (s < 0 || s >= t->ns) return -1;
  for (int i = t->s[s].first_word; i <= t->s[s].last_word; i++) {
    /* [len(full_sentence) - len(word), len(full_sentence)] right after appending the word, both ends in */
    int start = t->word_start[i], end = start + (int)strlen(t->words[i].text);
    if (start <= pos && pos <= end) found = i; /* later words overwrite, as in the loop */
  }
  return found;
}

int gz_strategy_parse(const char *s, gz_strategy *st, gz_err *e) {
  char buf[128];
  if (!s || strlen(s) >= sizeof buf) return gz_fail(e, GZ_EINVAL, "bad strategy name");
  strcpy(buf, s);
  char *parts[4];
  int np = 0;
  char *save = NULL;
  for (char *tok = strtok_r(buf, "_", &save); tok && np < 4; tok = strtok_r(NULL, "_", &save)) parts[np++] = tok;
  gz_strategy r = {-1, -1, 0};
  int k = 0;
  size_t l0 = np ? strlen(parts[0]) : 0;
  if (np == 3 && l0 > 1 && parts[0][l0 - 1] == 's') {
    parts[0][l0 - 1] = '\0';
    if (gz_parse_double(parts[0], &r.delay) || r.delay < 0)
      return gz_fail(e, GZ_EINVAL, "strategy '%s': '%ss' is not a delay in seconds", s, parts[0]);
    for (int i = 0; i < 3; i++)
      if (!strcmp(parts[1], gz_start_rule_names[i])) r.start_rule = i;
    k = 2;
  } else if (np == 2) {
    for (int i = 3; i < GZ_NSTART_RULES; i++)
      if (!strcmp(parts[0], gz_start_rule_names[i])) r.start_rule = i;
    k = 1;
  } else {
    return gz_fail(e, GZ_EINVAL, "strategy '%s': expected DELAYs_START_END (e.g. 1.5s_startofsentence_lastmention) "
                   "or START_END (e.g. single_lastmention)", s);
  }
  if (r.start_rule < 0)
    return gz_fail(e, GZ_EINVAL, "strategy '%s': unknown start rule '%s' (delayed: startofsentence, endofsentence, "
                   "mention; plain: single, double, all, allsentences, andpause)", s, parts[k - 1]);
  for (int i = 0; i < GZ_NEND_RULES; i++)
    if (!strcmp(parts[k], gz_end_rule_names[i])) r.end_rule = i;
  if (r.end_rule < 0)
    return gz_fail(e, GZ_EINVAL, "strategy '%s': unknown end rule '%s' (endofsentence, firstmention, lastmention, "
                   "startofsentence)", s, parts[k]);
  *st = r;
  return 0;
}

void gz_strategy_format(const gz_strategy *st, char *buf, size_t n) {
  const char *a = st->start_rule >= 0 && st->start_rule < GZ_NSTART_RULES ? gz_start_rule_names[st->start_rule] : "?";
  const char *b = st->end_rule >= 0 && st->end_rule < GZ_NEND_RULES ? gz_end_rule_names[st->end_rule] : "?";
  if (st->start_rule <= GZ_START_MENTION) snprintf(buf, n, "%gs_%s_%s", st->delay, a, b);
  else snprintf(buf, n, "%s_%s", a, b);
}

static double dmax(double a, double b) { return a > b ? a : b; }

int gz_windows(const gz_transcript *t, const gz_mention *m, int nm, const gz_strategy *st, gz_window **out, int *n,
               int *orphans, gz_err *e) {
  *out = NULL;
  *n = 0;
  if (orphans) *orphans = 0;
  if (st->start_rule < 0 || st->start_rule >= GZ_NSTART_RULES || st->end_rule < 0 || st->end_rule >= GZ_NEND_RULES)
    return gz_fail(e, GZ_EINVAL, "bad window strategy");
  int ns = t->ns;
  if (!ns) return 0;
  /* per sentence: first and last mention start, label union (mapped categories only) */
  int *first = gz_malloc(sizeof *first * (size_t)ns * 2, e);
  unsigned *labels = gz_calloc((size_t)ns, sizeof *labels, e);
  gz_window *w = gz_malloc(sizeof *w * (size_t)ns, e);
  if (!first || !labels || !w) goto fail;
  int *last = first + ns;
  for (int i = 0; i < ns; i++) first[i] = last[i] = -1;
  for (int i = 0; i < nm; i++) {
    unsigned mask = gz_category_mask(m[i].category);
    if (!mask) continue;
    int s = gz_sentence_of_char(t, m[i].start);
    if (s < 0 || s >= ns || m[i].start < 0) {
      if (orphans) (*orphans)++;
      continue;
    }
    labels[s] |= mask;
    if (first[s] < 0 || m[i].start < first[s]) first[s] = m[i].start;
    if (last[s] < 0 || m[i].start > last[s]) last[s] = m[i].start;
  }
  for (int s = 0; s < ns; s++) {
    if (!labels[s]) continue;
    const gz_sentence *S = &t->s[s];
    int wf = gz_word_of_char(t, first[s]), wl = gz_word_of_char(t, last[s]);
    if (wf < 0 || wl < 0) {
      gz_fail(e, GZ_EFORMAT, "a mention at character %d of sentence %d falls in no word", wf < 0 ? first[s] : last[s], s);
      goto fail;
    }
    double prev_start = s > 0 ? t->s[s - 1].t_start : 0, prev_end = s > 0 ? t->s[s - 1].t_end : 0;
    gz_window win = {.sentence = s, .labels = labels[s]};
    win.t1 = st->end_rule == GZ_END_ENDOFSENTENCE   ? S->t_end
             : st->end_rule == GZ_END_FIRSTMENTION  ? t->words[wf].t0
             : st->end_rule == GZ_END_LASTMENTION   ? t->words[wl].t0
                                                    : S->t_start;
    switch (st->start_rule) {
    case GZ_START_STARTOFSENTENCE: win.t0 = dmax(S->t_start - st->delay, prev_start); break;
    case GZ_START_ENDOFSENTENCE: win.t0 = dmax(S->t_end - st->delay, prev_start); break;
    case GZ_START_MENTION: win.t0 = dmax(t->words[wf].t0 - st->delay, prev_start); break;
    case GZ_START_SINGLE: win.t0 = S->t_start; break;
    case GZ_START_DOUBLE: win.t0 = prev_start; break;
    case GZ_START_ALL: win.t0 = 0; break;
    case GZ_START_ALLSENTENCES: win.t0 = t->s[0].t_start; break;
    default: win.t0 = prev_end; break;
    }
    w[(*n)++] = win;
  }
  free(first);
  free(labels);
  *out = w;
  return 0;
fail:
  free(first);
  free(labels);
  free(w);
  *n = 0;
  return -1;
}
