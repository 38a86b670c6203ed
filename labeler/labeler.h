/* labeler: report text -> per-category status and the character spans of each mention.
 *
 * A CheXpert-style labeler (stanfordmlgroup/chexpert-labeler, as modified for REFLACX by the paper's
 * authors; ../shared/spec/data-formats.md section 3) in plain C with surface rules instead of a
 * dependency parse. The pipeline, per report:
 *
 *   clean      lower case, "and/or" -> "or", "x/y" -> "x or y", ".." -> ".", a space after "." and ",",
 *              whitespace collapsed; every cleaned character remembers its offset in the original text
 *   sentences  split at ". " (and "?", "!"), abbreviations and decimals kept whole
 *   match      one pass of a trie over the cleaned text finds every phrase of every rule file:
 *              mentions, neutral terms, qualifiers, unmentions and triggers
 *   mentions   a category's phrase matches minus those overlapping one of its unmentions; overlapping
 *              matches of one category merge into one mention
 *   classify   each mention is NEGATIVE if a negation trigger's scope covers it, else UNCERTAIN if an
 *              uncertainty trigger's does, else POSITIVE; scopes run forward (pre-) or backward (post-)
 *              over a window of words inside the sentence and stop at terminators
 *   aggregate  per category, CheXpert's rules: any POSITIVE -> 1; NEGATIVE and UNCERTAIN -> -1;
 *              otherwise the one value present; no mention -> blank
 *
 * Spans are [start, end) byte offsets into the ORIGINAL text (not a cleaned copy), so they index
 * transcription.txt directly. The rules are plain-text files (labeler/rules/, see docs/labeler.md),
 * loaded and validated at start-up. Loaded rules are read-only and may be shared by any number of
 * threads; each thread labels with its own lb_result.
 */
#ifndef GAZELOC_LABELER_H
#define GAZELOC_LABELER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

/* ------------------------------------------------------------------ values */

enum lb_value {
  LB_NEGATIVE = 0,
  LB_POSITIVE = 1,
  LB_UNCERTAIN = -1,
  LB_BLANK = -2, /* no mention (an empty cell in the output) */
  LB_NO_GOLD = -3, /* lb_read_gold: the gold table has no row for this report */
};

/* The paper's 10 labels, in the paper's order (src/list_labels.py). */
#define LB_NPAPER 10
extern const char *const lb_paper_labels[LB_NPAPER];

#define LB_MAX_CATEGORIES 64

/* ------------------------------------------------------------------ rules */

typedef struct lb_rules lb_rules;

/* Loads and validates every rule file under `dir` (categories.txt, categories/, triggers/). Any
 * mistake is an error naming the file, the line and what is wrong. */
lb_rules *lb_rules_load(const char *dir, gz_err *e);
/* The rules folder to use when none is given: $GAZELOC_LABELER_RULES, else $GAZELOC_ROOT/labeler/rules,
 * else labeler/rules beside the repository that holds the running program (build/<x>/bin/../../..),
 * else ./labeler/rules. Writes the path into buf; -1 with e set when none exists. */
int lb_rules_default_dir(char *buf, size_t n, gz_err *e);
void lb_rules_free(lb_rules *r);

int lb_ncategories(const lb_rules *r);
const char *lb_category_name(const lb_rules *r, int c); /* output name, e.g. "pleural effusion" */
const char *lb_category_code(const lb_rules *r, int c); /* short code, e.g. "peff" */
int lb_category_find(const lb_rules *r, const char *name_or_code); /* case-insensitive; -1 if none */
/* Bit p set when category c maps to lb_paper_labels[p]. */
uint32_t lb_category_paper(const lb_rules *r, int c);
/* Category that a REFLACX metadata label column (e.g. "Abnormal mediastinal contour") maps to, or -1. */
int lb_category_for_reflacx(const lb_rules *r, const char *label);
/* "file:line: text" of a rule (phrase or trigger) id, for --explain. */
const char *lb_rule_where(const lb_rules *r, int rule);
/* Numbers of rule lines and of compiled phrases (after {a|b} expansion), for logs. */
void lb_rules_counts(const lb_rules *r, int *lines, int *phrases);

/* ------------------------------------------------------------------ labeling */

/* Why a mention got its status. */
enum lb_reason {
  LB_BY_DEFAULT = 0,    /* a mention no trigger reaches: positive */
  LB_BY_PRE_NEGATION,   /* a trigger before it ("no", "without", "free of", "normal") */
  LB_BY_POST_NEGATION,  /* a trigger after it ("is normal", "has resolved") */
  LB_BY_PRE_UNCERTAINTY,
  LB_BY_POST_UNCERTAINTY,
  LB_BY_QUALIFIER,      /* a neutral term ("heart size") made positive by a qualifier ("enlarged") */
};

typedef struct lb_mention {
  size_t start, end; /* [start, end) in the original text */
  int category;
  int status;   /* LB_POSITIVE, LB_NEGATIVE or LB_UNCERTAIN */
  int reason;   /* enum lb_reason */
  int phrase;   /* rule id of the phrase that found it */
  int trigger;  /* rule id of the deciding trigger or qualifier, -1 when none */
  int sentence; /* index into lb_result.sentences */
} lb_mention;

typedef struct lb_span {
  size_t start, end; /* [start, end) in the original text */
} lb_span;

/* One labeled report. Reuse one lb_result for many reports: its buffers grow and are kept. */
typedef struct lb_result {
  int ncat;
  int8_t value[LB_MAX_CATEGORIES]; /* enum lb_value per category */
  int8_t paper[LB_NPAPER];         /* enum lb_value per paper label (see lb_paper_value) */
  lb_mention *mentions;            /* positive, negative and uncertain mentions, by start */
  int nmentions;
  lb_span *sentences;
  int nsentences;
  int ndropped;                    /* neutral terms with neither qualifier nor trigger (not counted) */
  struct lb_scratch *scratch;      /* internal buffers */
  int mcap, scap;
} lb_result;

lb_result *lb_result_new(gz_err *e);
void lb_result_free(lb_result *res);

/* Labels `len` bytes of `text` (need not be NUL-terminated). Fails only on allocation. */
int lb_label(const lb_rules *r, const char *text, size_t len, lb_result *res, gz_err *e);

/* CheXpert aggregation of several values (LB_BLANK ignored). */
int lb_aggregate(int a, int b);
/* Paper label p from category values: aggregation over the categories that map to it. */
void lb_paper_values(const lb_rules *r, const int8_t *value, int8_t *paper);

/* Writes, per mention, the text, its status, and the rules that decided it. */
void lb_explain(const lb_rules *r, const char *text, size_t len, const lb_result *res, FILE *out);

/* ------------------------------------------------------------------ reports in and labels out */

/* A list of reports: one-report-per-line headerless CSV, or every reading of a REFLACX main_data
 * folder (metadata_phase_{1,2,3}.csv in phase order, rows in file order, discarded readings
 * skipped; a folder without metadata tables: every sub-folder holding transcription.txt, by name). */
typedef struct lb_reports {
  int n, cap;
  char **text;
  size_t *len;
  char **id; /* reading id for folder input, NULL entries for CSV input */
  int has_ids;
  int nskipped; /* discarded readings */
} lb_reports;

int lb_reports_read_csv(lb_reports *rp, const char *path, gz_err *e);
int lb_reports_read_reflacx(lb_reports *rp, const char *main_data, gz_err *e);
int lb_reports_add(lb_reports *rp, const char *id, const char *text, size_t len, gz_err *e);
void lb_reports_free(lb_reports *rp);

/* The authors' output: [id,] Reports, the categories (1.0 / 0.0 / -1.0 / empty), the
 * <category>_location columns ("[[105, 116], [124, 137]]"), then "paper:<label>" for the 10 paper labels. */
void lb_write_header(const lb_rules *r, gz_csvw *w, int with_id);
void lb_write_row(const lb_rules *r, gz_csvw *w, const char *id, const char *text, size_t len,
                  const lb_result *res);
/* "[[s, e], ...]" of the positive and uncertain mentions of category c, into buf. */
void lb_format_locations(const lb_result *res, int c, char *buf, size_t n);

/* ------------------------------------------------------------------ evaluation */

/* Precision / recall / F1 per category and per paper label, counting a label as predicted (or as
 * gold) when it is 1 or -1, as the paper's Table 4. */
typedef struct lb_eval {
  int ncat;
  long tp[LB_MAX_CATEGORIES], fp[LB_MAX_CATEGORIES], fn[LB_MAX_CATEGORIES], tn[LB_MAX_CATEGORIES];
  int has_gold[LB_MAX_CATEGORIES]; /* the gold table had this category */
  long ptp[LB_NPAPER], pfp[LB_NPAPER], pfn[LB_NPAPER], ptn[LB_NPAPER];
  long nreports;
} lb_eval;

void lb_eval_init(lb_eval *ev, int ncat);
/* Adds one report. gold[c] is LB_BLANK/LB_NEGATIVE for absent, LB_POSITIVE/LB_UNCERTAIN for present;
 * categories with has_gold[c] == 0 are not counted. Paper labels: present if any mapped gold category
 * is present (only paper labels all of whose categories have gold). */
void lb_eval_add(lb_eval *ev, const lb_rules *r, const int8_t *gold, const int8_t *pred);
void lb_eval_print(const lb_eval *ev, const lb_rules *r, FILE *out);

/* Reads gold labels: a REFLACX metadata table (column "id"; label columns by name, certainty > 0 or
 * True = present) or a CheXpert-format labeled CSV ("Reports" then category columns, 1/-1 present).
 * For REFLACX, rows are matched to rp->id; for CheXpert format, by row order (the Reports text must
 * match). Fills gold[i * LB_MAX_CATEGORIES + c] for each report i and has_gold in ev. */
int lb_read_gold(const lb_rules *r, const char *path, const lb_reports *rp, int8_t *gold, lb_eval *ev,
                 gz_err *e);

#endif
