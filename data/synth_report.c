/* The simulated radiologist, part 1: what the reader perceives (findings with a certainty, false
 * positives, loose ellipses, the chest box) and what is dictated (the report with word timings).
 *
 * Reports use the mention vocabulary of the paper's modified CheXpert labeler and the negation and
 * uncertainty cues of the original one (spec/synthetic.md 4), chosen so that every mention phrase
 * triggers only the label it is meant for (for example "opacity" appears only where both atelectasis
 * and consolidation are intended, "density", "lines", "tube" or "flat" never by accident).
 * Punctuation is dictated: "." and "," are their own timed tokens (data-formats.md 1.5-1.6). */
#include "data/synth_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static float clampf(float v, float a, float b) { return v < a ? a : v > b ? b : v; }
static int pick(gz_rng *r, int n) { return (int)gz_rng_below(r, (uint32_t)n); }

/* ---------------------------------------------------------------- perception and annotation */

static const float detect_prob[SK_N] = {0.85f, 0.93f, 0.95f, 0.85f, 0.92f, 0.85f, 0.9f,
                                        0.7f,  0.8f,  0.75f, 0.8f,  0.75f, 0.85f, 0.85f};
/* Low inter-reader agreement labels (spec 1.3: edema, groundglass, atelectasis...) get lower certainty. */
static const int low_kappa[SK_N] = {1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0};

static int draw_certainty(gz_rng *r, int kind) {
  double u = gz_rng_uniform_d(r);
  if (low_kappa[kind]) return u < 0.08 ? 2 : u < 0.4 ? 3 : u < 0.68 ? 4 : 5;
  return u < 0.1 ? 3 : u < 0.33 ? 4 : 5;
}

static synth_box jitter_box(synth_box b, double sc, double ss, int w, int h, gz_rng *r) {
  double bw = b.x1 - b.x0, bh = b.y1 - b.y0;
  double e = gz_rng_range(r, 1.08, 1.3); /* the extent plus 10-30 % (spec 6) */
  double cx = 0.5 * (b.x0 + b.x1) + gz_rng_normal(r) * sc * bw, cy = 0.5 * (b.y0 + b.y1) + gz_rng_normal(r) * sc * bh;
  double nw = bw * e * exp(gz_rng_normal(r) * ss), nh = bh * e * exp(gz_rng_normal(r) * ss);
  if (nw < 0.03 * w) nw = 0.03 * w;
  if (nh < 0.03 * h) nh = 0.03 * h;
  synth_box o = {(float)(cx - nw / 2), (float)(cy - nh / 2), (float)(cx + nw / 2), (float)(cy + nh / 2)};
  o.x0 = clampf(o.x0, -0.02f * (float)w, 1.02f * (float)w); o.x1 = clampf(o.x1, -0.02f * (float)w, 1.02f * (float)w);
  o.y0 = clampf(o.y0, -0.02f * (float)h, 1.02f * (float)h); o.y1 = clampf(o.y1, -0.02f * (float)h, 1.02f * (float)h);
  return o;
}

void synth_reader_perceive(const synth_study *s, const synth_render *rd, const synth_image *img, synth_reading *R,
                           gz_rng *r) {
  (void)img;
  R->npercept = 0;
  unsigned seen = 0;
  for (int i = 0; i < s->nfind; i++) {
    const synth_finding *f = &s->find[i];
    if (rd->fnparts[i] == 0) continue;
    float pd = detect_prob[f->kind] * (f->severity ? 1.05f : 0.95f);
    if (gz_rng_uniform(r) >= pd) continue;
    synth_percept *p = &R->per[R->npercept++];
    memset(p, 0, sizeof *p);
    p->kind = f->kind; p->column2 = -1; p->truth = i;
    p->side = f->side; p->severity = f->severity; p->zone = f->zone;
    p->certainty = draw_certainty(r, f->kind);
    p->nparts = rd->fnparts[i];
    for (int k = 0; k < p->nparts; k++) p->part[k] = rd->fpart[i][k];
    /* an opacity the reader cannot call: "may reflect atelectasis or consolidation" (one ellipse, both labels) */
    if ((f->kind == SK_ATELECTASIS || (f->kind == SK_CONSOLIDATION && (f->zone == 0 || f->zone == 1))) &&
        f->side != 2 && gz_rng_uniform(r) < 0.2f) {
      p->column2 = synth_kind_column[f->kind == SK_ATELECTASIS ? SK_CONSOLIDATION : SK_ATELECTASIS];
      p->certainty = 3;
    }
    seen |= 1u << f->kind;
  }
  /* a false positive now and then, at low certainty, where such findings live */
  if (gz_rng_uniform(r) < 0.15f && R->npercept < SYNTH_MAX_FINDINGS) {
    static const int fp_kinds[5] = {SK_ATELECTASIS, SK_CONSOLIDATION, SK_GROUNDGLASS, SK_EDEMA, SK_EFFUSION};
    int kind = fp_kinds[pick(r, 5)];
    if (!(seen & (1u << kind))) {
      synth_percept *p = &R->per[R->npercept++];
      memset(p, 0, sizeof *p);
      p->kind = kind; p->column2 = -1; p->truth = -1;
      p->side = pick(r, 2);
      p->certainty = 1 + pick(r, 3);
      p->nparts = 1;
      if (kind == SK_EDEMA) {
        p->side = 2; p->nparts = 2;
        p->part[0] = rd->region[SR_HILUM_R]; p->part[1] = rd->region[SR_HILUM_L];
      } else if (kind == SK_CONSOLIDATION || kind == SK_GROUNDGLASS) {
        synth_box b = rd->region[SR_LUNG_R + p->side];
        float hh = b.y1 - b.y0;
        b.y0 += 0.45f * hh; b.y1 -= 0.2f * hh;
        p->part[0] = b;
        p->zone = p->side ? 1 : 0;
      } else {
        p->part[0] = rd->region[SR_BASE_R + p->side];
      }
    }
  }
  /* ellipses: every selected label except support devices; jittered between readers (spec 1.3) */
  R->nell = 0;
  memset(R->cert, 0, sizeof R->cert);
  for (int i = 0; i < R->npercept; i++) {
    synth_percept *p = &R->per[i];
    int tight = p->kind == SK_CARDIOMEGALY; /* cardiomegaly IoU ~0.75, the lung findings 0.25-0.40 */
    for (int k = 0; k < p->nparts && R->nell < SYNTH_MAX_ELL; k++) {
      synth_ellipse *el = &R->ell[R->nell++];
      el->box = jitter_box(p->part[k], tight ? 0.045 : 0.2, tight ? 0.08 : 0.32, rd->w, rd->h, r);
      el->certainty = p->certainty;
      el->columns = 1u << synth_kind_column[p->kind];
      if (p->column2 >= 0) el->columns |= 1u << p->column2;
    }
    int cols[2] = {synth_kind_column[p->kind], p->column2};
    for (int k = 0; k < 2; k++)
      if (cols[k] >= 0 && R->cert[cols[k]] < p->certainty) R->cert[cols[k]] = p->certainty;
  }
  R->devices = s->devices > 0;
  R->cert[RL_SUPPORT] = R->devices;
  /* chest box: inter-reader IoU about 0.92 (spec 1.3) */
  synth_box cb = rd->chestbox;
  float j = 0.012f * (float)rd->h;
  R->chestbox.x0 = cb.x0 + j * (float)gz_rng_normal(r); R->chestbox.x1 = cb.x1 + j * (float)gz_rng_normal(r);
  R->chestbox.y0 = cb.y0 + j * (float)gz_rng_normal(r); R->chestbox.y1 = cb.y1 + j * (float)gz_rng_normal(r);
}

/* ---------------------------------------------------------------- report text */

typedef struct rb {
  synth_reading *R;
  gz_rng *r;
  int len;
} rb;

static void sent_begin(rb *b, int target, int region) {
  synth_reading *R = b->R;
  if (R->nsent >= SYNTH_MAX_SENT) return;
  synth_sentence *s = &R->sent[R->nsent];
  memset(s, 0, sizeof *s);
  s->first_word = R->nwords;
  s->target = target;
  s->region = region;
}

static void add_token(rb *b, const char *w) {
  synth_reading *R = b->R;
  if (R->nwords >= SYNTH_MAX_WORDS) return;
  int punct = !strcmp(w, ".") || !strcmp(w, ",");
  int n = (int)strlen(w);
  if (b->len + n + 2 >= (int)sizeof R->text) return;
  if (b->len && !punct) R->text[b->len++] = ' ';
  memcpy(R->text + b->len, w, (size_t)n);
  b->len += n;
  R->text[b->len] = 0;
  snprintf(R->word[R->nwords].text, sizeof R->word[0].text, "%s", w);
  R->nwords++;
}

/* Appends a sentence written as words separated by spaces. A mention is wrapped in {} (column c1) or <>
 * (column c2), with status st; ## marks an observation of both columns (the same span twice), positive;
 * a mention wrapped in [] is a negated mention of column cn. "." ends the sentence and is added here. */
static void say(rb *b, int target, int region, int c1, int c2, int st, int cn, const char *fmt, ...) GZ_PRINTF(8, 9);
static void say(rb *b, int target, int region, int c1, int c2, int st, int cn, const char *fmt, ...) {
  synth_reading *R = b->R;
  if (R->nsent >= SYNTH_MAX_SENT || R->nwords + 40 >= SYNTH_MAX_WORDS) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  sent_begin(b, target, region);
  int mstart = -1, mcol[2] = {-1, -1}, mst = st;
  char *save = NULL;
  for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    char open = tok[0];
    if (open == '{' || open == '<' || open == '#' || open == '[') {
      tok++;
      mstart = b->len + (b->len ? 1 : 0);
      mcol[0] = open == '{' ? c1 : open == '<' ? c2 : open == '#' ? c1 : cn;
      mcol[1] = open == '#' ? c2 : -1;
      /* '#': the shared observation ("opacity, which may reflect A or B") is itself seen, so CheXpert-style
       * labelers call it positive; the uncertainty belongs to the diagnoses that follow */
      mst = open == '[' ? MS_NEGATIVE : open == '#' ? MS_POSITIVE : st;
    }
    size_t n = strlen(tok);
    int close = n && strchr("}>#]", tok[n - 1]);
    if (close) tok[--n] = 0;
    add_token(b, tok);
    if (close && mstart >= 0) {
      for (int k = 0; k < 2; k++) {
        if (mcol[k] < 0 || R->nment >= SYNTH_MAX_MENTIONS) continue;
        synth_mention *m = &R->ment[R->nment++];
        m->column = mcol[k]; m->status = mst; m->start = mstart; m->end = b->len; m->sentence = R->nsent;
      }
      mstart = -1;
    }
  }
  add_token(b, ".");
  R->sent[R->nsent].nwords = R->nwords - R->sent[R->nsent].first_word;
  R->nsent++;
}

static const char *side_word(int side) { return side == 0 ? "right" : side == 1 ? "left" : "bilateral"; }
static const char *zone_word(const synth_box *b, const synth_render *rd) {
  float cy = 0.5f * (b->y0 + b->y1), a = rd->region[SR_LUNG_R].y0, z = rd->region[SR_LUNG_R].y1;
  float t = (cy - a) / (z - a);
  return t < 0.36f ? "upper" : t < 0.64f ? "mid" : "lower";
}
static const char *lobe_word(int zone) {
  static const char *l[5] = {"right lower lobe", "left lower lobe", "right upper lobe", "right middle lobe", "lingula"};
  return l[zone < 0 || zone > 4 ? 0 : zone];
}
static const char *ordinal(int rib) {
  static const char *o[10] = {"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"};
  return o[rib < 0 || rib > 9 ? 5 : rib];
}

/* One or two sentences for a perceived finding with certainty >= 3. */
static void say_finding(rb *b, const synth_percept *p, int idx, const synth_render *rd) {
  gz_rng *r = b->r;
  int c = synth_kind_column[p->kind], unc = p->certainty < 5, st = unc ? MS_UNCERTAIN : MS_POSITIVE;
  const char *sd = side_word(p->side);
  static const char *sev3[3] = {"mild", "moderate", "severe"}, *size3[3] = {"small", "moderate", "large"};
  int v = pick(r, 3);
  const char *unc_pre = p->certainty == 4 ? (v == 0 ? "likely" : v == 1 ? "probable" : "suspected") : (v == 0 ? "possible" : v == 1 ? "possibly" : "questionable");
  if (p->certainty == 4 && !strcmp(unc_pre, "probable")) unc_pre = "likely";
  if (p->certainty == 3 && !strcmp(unc_pre, "questionable")) unc_pre = "possible";
  if (p->column2 >= 0) {
    say(b, idx, -1, synth_kind_column[SK_ATELECTASIS], synth_kind_column[SK_CONSOLIDATION], MS_UNCERTAIN, -1,
        v == 2 ? "#opacity# at the %s base may reflect {atelectasis} or <consolidation>"
               : "%s basilar #opacity# , which may reflect {atelectasis} or <consolidation>",
        sd);
    return;
  }
  switch (p->kind) {
  case SK_EFFUSION:
    if (p->side == 2 && !unc && pick(r, 3) == 0) {
      say(b, idx, -1, c, -1, st, -1, "%s right {pleural effusion}", size3[p->severity]);
      say(b, idx, -1, c, -1, st, -1, "there is also a small left {effusion}");
    } else if (unc) say(b, idx, -1, c, -1, st, -1, "%s small %s {pleural effusion}", unc_pre, sd);
    else if (v == 0) say(b, idx, -1, c, -1, st, -1, "%s %s {pleural effusion%s}", size3[p->severity], sd, p->side == 2 ? "s" : "");
    else if (v == 1 && p->side != 2) say(b, idx, -1, c, -1, st, -1, "%s %s {pleural effusion} with {blunting} of the costophrenic angle", size3[p->severity], sd);
    else say(b, idx, -1, c, -1, st, -1, "there is a %s %s {effusion}", size3[p->severity], sd);
    break;
  case SK_ATELECTASIS:
    if (p->zone == 1) say(b, idx, -1, c, -1, st, -1, unc ? "%s left lower lobe {collapse}" : "%sleft lower lobe {collapse}", unc ? unc_pre : "");
    else if (unc) say(b, idx, -1, c, -1, st, -1, "%s %s {atelectasis}", unc_pre, p->side == 2 ? "bibasilar" : p->side ? "left basilar" : "right basilar");
    else if (v == 0) say(b, idx, -1, c, -1, st, -1, "%s {atelectasis}", p->side == 2 ? "bibasilar" : p->side ? "left basilar" : "right basilar");
    else if (v == 1) say(b, idx, -1, c, -1, st, -1, "linear {atelectasis} at the %s", p->side == 2 ? "lung bases" : p->side ? "left base" : "right base");
    else say(b, idx, -1, c, -1, st, -1, "%s basilar {atelectasis} with mild {volume loss}", p->side == 2 ? "bilateral" : sd);
    break;
  case SK_CONSOLIDATION:
    if (unc) say(b, idx, -1, c, -1, st, -1, v == 0 ? "cannot exclude {pneumonia} in the %s" : v == 1 ? "question of {consolidation} in the %s" : "possible %s {consolidation}", lobe_word(p->zone));
    else if (v == 0) say(b, idx, -1, c, -1, st, -1, "{consolidation} in the %s", lobe_word(p->zone));
    else if (v == 1) say(b, idx, -1, c, -1, st, -1, "focal %s {consolidation}", lobe_word(p->zone));
    else say(b, idx, -1, c, -1, st, -1, "%s {infiltrate} , compatible with {pneumonia}", lobe_word(p->zone));
    break;
  case SK_CARDIOMEGALY:
    if (unc) say(b, idx, -1, c, -1, st, -1, v == 0 ? "borderline {heart size}" : v == 1 ? "%s mild {cardiomegaly}" : "{the heart} may be mildly enlarged", unc_pre);
    else if (v == 0) say(b, idx, -1, c, -1, st, -1, "%s {cardiomegaly}", sev3[p->severity]);
    else if (v == 1) say(b, idx, -1, c, -1, st, -1, "{the heart} is enlarged");
    else say(b, idx, -1, c, -1, st, -1, "the {cardiac silhouette} is %s enlarged", p->severity ? "moderately" : "mildly");
    break;
  case SK_EDEMA:
    if (unc) say(b, idx, -1, c, -1, st, -1, v == 0 ? "findings may reflect mild {pulmonary edema}" : "%s mild {pulmonary edema}", unc_pre);
    else if (v == 0) say(b, idx, -1, c, -1, st, -1, "%s {pulmonary edema}", sev3[p->severity]);
    else if (v == 1) say(b, idx, -1, c, -1, st, -1, "%s {pulmonary vascular congestion} with perihilar {edema}", sev3[p->severity]);
    else say(b, idx, -1, c, -1, st, -1, "bilateral perihilar {edema}");
    break;
  case SK_PNEUMOTHORAX:
    if (unc) say(b, idx, -1, c, -1, st, -1, v == 0 ? "question of a small %s apical {pneumothorax}" : "possible %s apical {pneumothorax}", sd);
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "%s %s apical {pneumothorax}" : "there is a %s %s {pneumothorax}", p->severity ? "moderate" : "small", sd);
    break;
  case SK_LESION: {
    const char *z = zone_word(&p->part[0], rd), *w = p->severity ? "mass" : "nodule";
    if (unc) say(b, idx, -1, c, -1, st, -1, "%s {%s} in the %s %s lung", unc_pre, w, sd, z);
    else if (v == 0) say(b, idx, -1, c, -1, st, -1, "%s %s lung {%s}", sd, z, w);
    else say(b, idx, -1, c, -1, st, -1, "rounded {%s} in the %s %s lung", w, sd, z);
    break;
  }
  case SK_FRACTURE:
    if (unc) say(b, idx, -1, c, -1, st, -1, "%s %s %s rib {fracture}", unc_pre, sd, ordinal(p->zone));
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "acute {fracture} of the %s lateral %s rib" : "%s %s rib {fracture}", sd, ordinal(p->zone));
    break;
  case SK_MEDIASTINUM:
    if (unc) say(b, idx, -1, c, -1, st, -1, "the superior {mediastinum} may be widened");
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "the superior {mediastinum} is widened" : v == 1 ? "{mediastinal widening}" : "abnormal mediastinal {contour}");
    break;
  case SK_GROUNDGLASS:
    if (unc) say(b, idx, -1, c, -1, st, -1, "%s {ground-glass opacity} in the %s lung%s", unc_pre, p->side == 2 ? "lower" : sd, p->side == 2 ? "s" : "");
    else if (p->side == 2) say(b, idx, -1, c, -1, st, -1, "bilateral {hazy opacities}");
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "{hazy opacity} in the %s lung" : "{ground-glass opacities} in the %s lung", sd);
    break;
  case SK_ILD:
    if (unc) say(b, idx, -1, c, -1, st, -1, "%s {fibrosis} at the lung bases", unc_pre);
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "bibasilar {reticulation}" : "chronic {interstitial} changes at the lung bases");
    break;
  case SK_HILUM:
    if (unc) say(b, idx, -1, c, -1, st, -1, "%s %s {hilar enlargement}", unc_pre, sd);
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "{enlarged %s hilum}" : "%s {hilar enlargement}", sd);
    break;
  case SK_HYPERINFLATION:
    if (unc) say(b, idx, -1, c, -1, st, -1, "the lungs may be {hyperinflated}");
    else say(b, idx, -1, c, -1, st, -1, v == 0 ? "the lungs are {hyperinflated}" : "{hyperexpansion} of the lungs");
    break;
  case SK_HERNIA:
    say(b, idx, -1, c, -1, st, -1, unc ? "%s small {hiatal hernia}" : "%ssmall {hiatal hernia}", unc ? unc_pre : "");
    break;
  default: break;
  }
}

/* CheXpert aggregation of a column's mentions (data-formats.md 3.1 step 4). */
static void aggregate(synth_reading *R) {
  for (int c = 0; c < RL_N; c++) {
    int pos = 0, unc = 0, neg = 0;
    for (int i = 0; i < R->nment; i++)
      if (R->ment[i].column == c) {
        if (R->ment[i].status == MS_POSITIVE) pos = 1;
        else if (R->ment[i].status == MS_UNCERTAIN) unc = 1;
        else neg = 1;
      }
    R->intended[c] = pos ? 1 : unc ? -1 : neg ? 0 : 2;
  }
}

static int order_of(int kind) {
  static const int ord[SK_N] = {2, 0, 8, 3, 6, 7, 4, 13, 9, 1, 5, 10, 3, 11};
  return ord[kind];
}

void synth_report_build(const synth_study *s, synth_reading *R, const synth_render *rd, double survey_s, gz_rng *r) {
  (void)s;
  rb b = {R, r, 0};
  R->text[0] = 0;
  R->nwords = R->nsent = R->nment = 0;
  int cPTX = synth_kind_column[SK_PNEUMOTHORAX], cEFF = synth_kind_column[SK_EFFUSION];
  int cCAR = synth_kind_column[SK_CARDIOMEGALY], cCON = synth_kind_column[SK_CONSOLIDATION];
  int cEDE = synth_kind_column[SK_EDEMA], cMED = synth_kind_column[SK_MEDIASTINUM], cFRA = synth_kind_column[SK_FRACTURE];
  if (gz_rng_uniform(r) < 0.15f) say(&b, -1, -1, -1, -1, 0, -1, "%s view of the chest", R->devices ? "portable ap" : "frontal");
  if (R->devices) {
    int c = RL_SUPPORT;
    if (s->devices > 1) say(&b, -1, SR_MEDIASTINUM, c, -1, MS_POSITIVE, -1, "{endotracheal tube} and right internal jugular {catheter} in place");
    else say(&b, -1, SR_MEDIASTINUM, c, -1, MS_POSITIVE, -1, "right internal jugular {catheter} with tip in the svc");
  }
  /* findings in reading order: lungs, pleura, heart, mediastinum, bones */
  int idx[SYNTH_MAX_FINDINGS + 2], n = 0;
  for (int i = 0; i < R->npercept; i++) idx[n++] = i;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && order_of(R->per[idx[j]].kind) < order_of(R->per[idx[j - 1]].kind); j--) {
      int t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t;
    }
  unsigned said = 0; /* REFLACX columns with a positive or uncertain mention */
  for (int k = 0; k < n; k++) {
    const synth_percept *p = &R->per[idx[k]];
    if (p->certainty >= 3) {
      say_finding(&b, p, idx[k], rd);
      said |= 1u << synth_kind_column[p->kind];
      if (p->column2 >= 0) said |= 1u << p->column2;
    } else if (gz_rng_uniform(r) < 0.5f) { /* "unlikely": the reader rules it out aloud */
      int c = synth_kind_column[p->kind];
      if (p->kind == SK_EFFUSION) say(&b, idx[k], -1, -1, -1, 0, c, "no definite [pleural effusion]");
      else if (p->kind == SK_EDEMA) say(&b, idx[k], -1, -1, -1, 0, c, "no overt [pulmonary edema]");
      else if (p->kind == SK_CONSOLIDATION) say(&b, idx[k], -1, -1, -1, 0, c, "no definite focal [consolidation]");
      else if (p->kind == SK_ATELECTASIS) say(&b, idx[k], -1, -1, -1, 0, c, "no significant [atelectasis]");
      else if (p->kind == SK_GROUNDGLASS) say(&b, idx[k], -1, -1, -1, 0, c, "no definite [ground-glass opacity]");
    }
  }
  /* negations for the regions with nothing to report (normal reports are only these) */
  int nsaid = 0;
  for (int k = 0; k < n; k++) nsaid += R->per[k].certainty >= 3;
  int normal = nsaid == 0, added = 0, want = normal ? 3 + pick(r, 3) : 2 + pick(r, 2);
  for (int tries = 0; tries < 24 && added < want; tries++) {
    int v = pick(r, 8);
    unsigned need = 0;
    switch (v) {
    case 0: need = 1u << cPTX; break;
    case 1: need = 1u << cEFF; break;
    case 2: need = (1u << cEFF) | (1u << cPTX); break;
    case 3: need = 1u << cCAR; break;
    case 4: need = (1u << cCON) | (1u << cEFF) | (1u << cPTX); break;
    case 5: need = 1u << cEDE; break;
    case 6: need = 1u << cMED; break;
    default: need = 1u << cFRA; break;
    }
    unsigned have = 0;
    for (int i = 0; i < R->nment; i++) have |= 1u << R->ment[i].column;
    if (need & (said | have)) continue;
    int q = pick(r, 2);
    switch (v) {
    case 0: say(&b, -1, SR_APEX_R, -1, -1, 0, cPTX, "no [pneumothorax]"); break;
    case 1: say(&b, -1, SR_BASE_R, -1, -1, 0, cEFF, q ? "no [pleural effusion]" : "no evidence of [pleural effusion]"); break;
    case 2: say(&b, -1, SR_BASE_L, -1, cPTX, MS_NEGATIVE, cEFF, "no [pleural effusion] or <pneumothorax>"); break;
    case 3: say(&b, -1, SR_HEART, -1, -1, 0, cCAR, q ? "[heart size] is normal" : "the [cardiac silhouette] is within normal limits"); break;
    case 4: say(&b, -1, SR_LUNG_R, cEFF, cPTX, MS_NEGATIVE, cCON, "no focal [consolidation] , {pleural effusion} , or <pneumothorax>"); break;
    case 5: say(&b, -1, SR_HILUM_R, -1, -1, 0, cEDE, "no [pulmonary edema]"); break;
    case 6: say(&b, -1, SR_MEDIASTINUM, -1, -1, 0, cMED, "the mediastinal [contour] is normal"); break;
    default: say(&b, -1, SR_RIBS_R, -1, -1, 0, cFRA, q ? "no displaced rib [fracture]" : "no acute [fracture]"); break;
    }
    added++;
  }
  /* sentences without mentions: what else a radiologist says (no labeler phrase occurs in them) */
  static const char *plain[5] = {"the lungs are well expanded", "the osseous structures are intact",
                                 "the visualized upper abdomen is unremarkable", "no acute cardiopulmonary process",
                                 "the lungs are clear"};
  static const int plain_region[5] = {SR_LUNG_L, SR_RIBS_L, -1, SR_LUNG_R, SR_LUNG_R};
  int nplain = pick(r, 3);
  unsigned used = 0;
  for (int k = 0; (k < nplain || R->nsent == 0) && k < 8; k++) {
    int v = pick(r, normal ? 5 : 3);
    if (used >> v & 1) continue;
    used |= 1u << v;
    say(&b, -1, plain_region[v], -1, -1, 0, -1, "%s", plain[v]);
  }
  if (nsaid && gz_rng_uniform(r) < 0.15f) say(&b, -1, -1, -1, -1, 0, -1, "clinical correlation is recommended");
  aggregate(R);

  /* word timings: the first word after a silent survey, about 2-3 tokens per second, pauses between
   * sentences (spec/synthetic.md 6); the true lag of each sentence for the gaze model */
  double t = survey_s;
  for (int si = 0; si < R->nsent; si++) {
    synth_sentence *S = &R->sent[si];
    double lag = R->lag_mean * exp(R->lag_sd * gz_rng_normal(r) - 0.5 * R->lag_sd * R->lag_sd); /* mean lag_mean */
    S->lag = lag < 0.1 ? 0.1 : lag;
    for (int w = S->first_word; w < S->first_word + S->nwords; w++) {
      synth_word *W = &R->word[w];
      int punct = !strcmp(W->text, ".") || !strcmp(W->text, ",");
      double dur = punct ? gz_rng_range(r, 0.15, 0.32) : 0.12 + 0.045 * (double)strlen(W->text) + 0.05 * gz_rng_normal(r);
      if (dur < 0.15) dur = 0.15;
      if (dur > 0.7) dur = 0.7;
      W->t0 = round(t * 100) / 100;
      W->t1 = round((t + dur) * 100) / 100;
      if (W->t1 <= W->t0) W->t1 = W->t0 + 0.01;
      t = W->t1 + (punct ? gz_rng_range(r, 0.05, 0.25) : gz_rng_range(r, 0.02, 0.14));
    }
    S->t_start = R->word[S->first_word].t0;
    S->t_mention = -1;
    t += gz_rng_range(r, 1.0, 3.6); /* pause before the next sentence: looking, thinking */
  }
  /* the mention word of each sentence: the word holding the start char of its last mention */
  for (int i = 0; i < R->nment; i++) {
    const synth_mention *m = &R->ment[i];
    synth_sentence *S = &R->sent[m->sentence];
    int pos = 0;
    for (int w = 0; w < R->nwords; w++) {
      int punct = !strcmp(R->word[w].text, ".") || !strcmp(R->word[w].text, ",");
      if (w && !punct) pos++;
      int end = pos + (int)strlen(R->word[w].text);
      if (m->start >= pos && m->start < end) {
        if (R->word[w].t0 > S->t_mention) S->t_mention = R->word[w].t0;
        break;
      }
      pos = end;
    }
  }
  for (int si = 0; si < R->nsent; si++)
    if (R->sent[si].t_mention < 0) R->sent[si].t_mention = R->word[R->sent[si].first_word + R->sent[si].nwords - 1].t0;
}
