/* The labeler: the team's test set (every case exact, labels and spans), the held-out reports
 * (precision and recall), spans against the original text, and every kind of bad rule file and input. */
#include <ctype.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "cases.h"
#include "labeler/labeler.h"
#include "testutil.h"

static lb_rules *rules;

static void load_rules(void) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/labeler/rules", tu_root());
  gz_err e = {0};
  rules = lb_rules_load(dir, &e);
  ck_assert_msg(rules != NULL, "%s", e.msg);
}
static void free_rules(void) {
  lb_rules_free(rules);
  rules = NULL;
}

static lb_result *label(lb_result *res, const char *text) {
  gz_err e = {0};
  ck_assert_int_eq(lb_label(rules, text, strlen(text), res, &e), 0);
  return res;
}

static int cat(const char *code) {
  int c = lb_category_find(rules, code);
  ck_assert_msg(c >= 0, "no category %s", code);
  return c;
}

/* ------------------------------------------------------------------ case files */

typedef struct case_stats {
  int cases, failed, value_diffs, span_diffs;
  lb_eval ev;
  long spans_total, spans_same;
} case_stats;

static void run_case_file(const char *name, int check_spans, case_stats *st, char *fails, size_t failn) {
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/labeler/%s", tu_root(), name);
  gz_err e = {0};
  size_t len;
  char *data = gz_read_file(path, &len, &e);
  ck_assert_msg(data != NULL, "%s", e.msg);
  lb_result *res = lb_result_new(&e);
  memset(st, 0, sizeof *st);
  lb_eval_init(&st->ev, lb_ncategories(rules));
  for (int c = 0; c < lb_ncategories(rules); c++) st->ev.has_gold[c] = 1;
  size_t fk = 0;
  fails[0] = 0;
  int lineno = 0;
  for (char *p = data, *nl; p && *p; p = nl ? nl + 1 : NULL) {
    nl = strchr(p, '\n');
    if (nl) *nl = 0;
    lineno++;
    if (!*p || *p == '#') continue;
    char *text;
    size_t tl;
    tc_expect x;
    char msg[2048] = "";
    ck_assert_msg(tc_parse(rules, p, &text, &tl, &x, msg, sizeof msg) == 0, "%s line %d: %s", name, lineno, msg);
    ck_assert_int_eq(lb_label(rules, text, tl, res, &e), 0);
    st->cases++;
    int8_t gold[LB_MAX_CATEGORIES];
    for (int c = 0; c < LB_MAX_CATEGORIES; c++) gold[c] = (int8_t)x.value[c];
    lb_eval_add(&st->ev, rules, gold, res->value);
    int bad = tc_compare(rules, res, &x, check_spans, msg, sizeof msg);
    if (bad) {
      st->failed++;
      if (fk + 600 < failn)
        fk += (size_t)snprintf(fails + fk, failn - fk, "\n  %s:%d \"%.80s\":%s", name, lineno, text, msg);
    }
    /* span agreement, for the held-out figures */
    for (int c = 0; c < lb_ncategories(rules); c++) {
      if (!x.has_spans[c] || x.value[c] != res->value[c]) continue;
      for (int s = 0; s < x.nspan[c]; s++) {
        st->spans_total++;
        for (int i = 0; i < res->nmentions; i++) {
          const lb_mention *m = &res->mentions[i];
          if (m->category == c && m->status != LB_NEGATIVE && m->start == x.span[c][s][0] && m->end == x.span[c][s][1]) {
            st->spans_same++;
            break;
          }
        }
      }
    }
    free(text);
  }
  lb_result_free(res);
  free(data);
}

START_TEST(team_test_set) {
  case_stats st;
  static char fails[1 << 16];
  run_case_file("cases.txt", 1, &st, fails, sizeof fails);
  if (getenv("GAZELOC_LABELER_REPORT")) {
    printf("team test set (cases.txt): %d cases\n", st.cases);
    lb_eval_print(&st.ev, rules, stdout);
  }
  ck_assert_int_ge(st.cases, 300);
  ck_assert_msg(st.failed == 0, "%d of %d cases differ:%s", st.failed, st.cases, fails);
}
END_TEST

START_TEST(every_category_in_test_set) {
  /* the test set names every category at least once as positive/uncertain and once as negative */
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/labeler/cases.txt", tu_root());
  gz_err e = {0};
  size_t len;
  char *data = gz_read_file(path, &len, &e);
  ck_assert_ptr_nonnull(data);
  int pos[LB_MAX_CATEGORIES] = {0}, neg[LB_MAX_CATEGORIES] = {0};
  for (char *p = data, *nl; p && *p; p = nl ? nl + 1 : NULL) {
    nl = strchr(p, '\n');
    if (nl) *nl = 0;
    if (!*p || *p == '#') continue;
    char *text, msg[512];
    size_t tl;
    tc_expect x;
    ck_assert_msg(tc_parse(rules, p, &text, &tl, &x, msg, sizeof msg) == 0, "%s", msg);
    for (int c = 0; c < lb_ncategories(rules); c++) pos[c] += x.value[c] == 1 || x.value[c] == -1, neg[c] += x.value[c] == 0;
    free(text);
  }
  for (int c = 0; c < lb_ncategories(rules); c++) {
    ck_assert_msg(pos[c] > 0, "no positive case for %s", lb_category_name(rules, c));
    ck_assert_msg(neg[c] > 0, "no negative case for %s", lb_category_name(rules, c));
  }
  free(data);
}
END_TEST

START_TEST(heldout_reports) {
  case_stats st;
  static char fails[1 << 16];
  run_case_file("heldout.txt", 0, &st, fails, sizeof fails);
  long tp = 0, fp = 0, fn = 0;
  for (int c = 0; c < lb_ncategories(rules); c++) tp += st.ev.tp[c], fp += st.ev.fp[c], fn += st.ev.fn[c];
  double prec = (double)tp / (double)(tp + fp), rec = (double)tp / (double)(tp + fn);
  if (getenv("GAZELOC_LABELER_REPORT")) {
    printf("held-out reports (heldout.txt): %d reports, %d with any difference in values%s\n", st.cases, st.failed,
           fails);
    lb_eval_print(&st.ev, rules, stdout);
    printf("spans: %ld of %ld expected spans found exactly\n", st.spans_same, st.spans_total);
  }
  /* a floor, not a target: the figures themselves are in docs/labeler.md */
  ck_assert_msg(prec >= 0.9 && rec >= 0.9, "held-out micro precision %.3f recall %.3f:%s", prec, rec, fails);
}
END_TEST

/* ------------------------------------------------------------------ spans and text */

static void assert_span(const char *text, const lb_result *res, int c, const char *word) {
  for (int i = 0; i < res->nmentions; i++) {
    const lb_mention *m = &res->mentions[i];
    if (m->category != c) continue;
    ck_assert_msg(m->end - m->start == strlen(word) && !strncmp(text + m->start, word, strlen(word)),
                  "span [%zu, %zu) is \"%.*s\", want \"%s\"", m->start, m->end, (int)(m->end - m->start), text + m->start,
                  word);
    return;
  }
  ck_abort_msg("no mention of %s", lb_category_code(rules, c));
}

START_TEST(spans_index_original_text) {
  gz_err e = {0};
  lb_result *res = lb_result_new(&e);
  const char *texts[] = {
      "No pneumothorax.\r\nSmall LEFT Pleural   Effusion.",  /* CRLF, upper case, runs of spaces */
      "  \t\"Small\" left effusion,no pneumothorax",          /* leading white space, quotes, no space after comma */
      "Right and/or left effusion.",                         /* and/or -> or */
      "Effusion/atelectasis at the base..  Pneumothorax.",   /* x/y -> x or y, ".." */
      "1.5 cm nodule, 1,000 ml effusion.",                   /* numbers keep their dots and commas */
      "Opacity\n\nat the  right base.\tEffusion.",           /* new lines and tabs */
  };
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    const char *t = texts[k];
    label(res, t);
    for (int i = 0; i < res->nmentions; i++) {
      const lb_mention *m = &res->mentions[i];
      ck_assert_uint_le(m->end, strlen(t));
      ck_assert_uint_lt(m->start, m->end);
      /* the span starts and ends at word boundaries of the original */
      ck_assert(m->start == 0 || !isalnum((unsigned char)t[m->start - 1]));
      ck_assert(m->end == strlen(t) || !isalnum((unsigned char)t[m->end]));
    }
    for (int s = 0; s < res->nsentences; s++) ck_assert_uint_le(res->sentences[s].end, strlen(t));
  }
  label(res, texts[0]);
  assert_span(texts[0], res, cat("peff"), "Effusion");
  ck_assert_int_eq(res->value[cat("ptx")], 0);
  ck_assert_int_eq(res->value[cat("peff")], 1);
  ck_assert_int_eq(res->nsentences, 2);
  label(res, texts[1]);
  assert_span(texts[1], res, cat("peff"), "effusion");
  ck_assert_int_eq(res->value[cat("ptx")], 0);
  label(res, texts[3]);
  assert_span(texts[3], res, cat("atel"), "atelectasis");
  assert_span(texts[3], res, cat("peff"), "Effusion");
  ck_assert_int_eq(res->nsentences, 2);
  label(res, texts[4]);
  assert_span(texts[4], res, cat("nod"), "nodule");
  ck_assert_int_eq(res->nsentences, 1); /* "1.5" and "1,000" split nothing */
  label(res, texts[5]);
  assert_span(texts[5], res, cat("peff"), "Effusion");
  ck_assert_int_eq(res->nsentences, 2);
  lb_result_free(res);
}
END_TEST

START_TEST(empty_and_odd_reports) {
  gz_err e = {0};
  lb_result *res = lb_result_new(&e);
  const char *odd[] = {"", " ", ".", ". . .", "\r\n", ",,,", "no", "?", "....effusion", "effusion", "/", "a/", "/b",
                       "and/or", "x\xc3\xa9 effusion", "no\0effusion"};
  for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
    size_t n = k == sizeof odd / sizeof odd[0] - 1 ? 12 : strlen(odd[k]);
    ck_assert_int_eq(lb_label(rules, odd[k], n, res, &e), 0);
  }
  label(res, "");
  ck_assert_int_eq(res->nmentions, 0);
  ck_assert_int_eq(res->nsentences, 0);
  for (int c = 0; c < lb_ncategories(rules); c++) ck_assert_int_eq(res->value[c], LB_BLANK);
  for (int p = 0; p < LB_NPAPER; p++) ck_assert_int_eq(res->paper[p], LB_BLANK);
  label(res, "effusion");
  ck_assert_int_eq(res->value[cat("peff")], 1);
  /* a long report: the buffers grow */
  size_t n = 200000;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < n; i++) big[i] = "No effusion. Small pneumothorax. "[i % 33];
  big[n] = 0;
  label(res, big);
  ck_assert_int_eq(res->value[cat("ptx")], 1);
  ck_assert_int_eq(res->value[cat("peff")], 0);
  /* one sentence of a megabyte, thick with triggers, mentions and neutral terms: the work per mention
   * stays local, so this takes milliseconds, not hours */
  const char *unit = "no effusion, heart size possible enlarged mediastinum in the heart, ";
  size_t ul = strlen(unit), reps = (1u << 20) / ul;
  big = realloc(big, reps * ul + 1);
  for (size_t i = 0; i < reps; i++) memcpy(big + i * ul, unit, ul);
  big[reps * ul] = 0;
  double t0 = gz_now();
  label(res, big);
  ck_assert_double_lt(gz_now() - t0, 2.0);
  ck_assert_int_eq(res->value[cat("peff")], 0);
  free(big);
  lb_result_free(res);
}
END_TEST

START_TEST(aggregation_and_paper_labels) {
  ck_assert_int_eq(lb_aggregate(LB_BLANK, LB_NEGATIVE), LB_NEGATIVE);
  ck_assert_int_eq(lb_aggregate(LB_NEGATIVE, LB_UNCERTAIN), LB_UNCERTAIN);
  ck_assert_int_eq(lb_aggregate(LB_NEGATIVE, LB_POSITIVE), LB_POSITIVE);
  ck_assert_int_eq(lb_aggregate(LB_UNCERTAIN, LB_POSITIVE), LB_POSITIVE);
  ck_assert_int_eq(lb_aggregate(LB_NEGATIVE, LB_NEGATIVE), LB_NEGATIVE);
  ck_assert_int_eq(lb_aggregate(LB_BLANK, LB_BLANK), LB_BLANK);
  gz_err e = {0};
  lb_result *res = lb_result_new(&e);
  label(res, "No pulmonary edema. Possible left lower lobe pneumonia. No effusion. Small effusion on the right.");
  ck_assert_int_eq(res->value[cat("edema")], 0);
  ck_assert_int_eq(res->value[cat("cons")], -1);
  ck_assert_int_eq(res->value[cat("peff")], 1); /* NEG + POS -> POS */
  ck_assert_int_eq(res->paper[0], 0);           /* Edema */
  ck_assert_int_eq(res->paper[1], -1);          /* Opacity: edema 0, consolidation -1 */
  ck_assert_int_eq(res->paper[3], 1);           /* Pleural abnormality */
  ck_assert_int_eq(res->paper[2], LB_BLANK);    /* Pneumothorax */
  ck_assert_str_eq(lb_paper_labels[9], "Abnormal Mediastinum Contour");
  /* every category maps to the paper labels the spec names */
  ck_assert_uint_eq(lb_category_paper(rules, cat("edema")), 1u << 0 | 1u << 1);
  ck_assert_uint_eq(lb_category_paper(rules, cat("nom")), 1u << 4 | 1u << 1);
  ck_assert_uint_eq(lb_category_paper(rules, cat("med")), 1u << 9);
  ck_assert_uint_eq(lb_category_paper(rules, cat("sd")), 0);
  ck_assert_int_eq(lb_category_for_reflacx(rules, "High lung volume / emphysema"), cat("emph"));
  ck_assert_int_eq(lb_category_for_reflacx(rules, "Wide mediastinum"), cat("med"));
  ck_assert_int_eq(lb_category_for_reflacx(rules, "Other"), -1);
  lb_result_free(res);
}
END_TEST

START_TEST(output_format) {
  gz_err e = {0};
  lb_result *res = lb_result_new(&e);
  const char *t = "Small left effusion. Atelectasis and atelectasis. No pneumothorax.";
  label(res, t);
  char buf[256];
  lb_format_locations(res, cat("atel"), buf, sizeof buf);
  ck_assert_str_eq(buf, "[[21, 32], [37, 48]]");
  lb_format_locations(res, cat("ptx"), buf, sizeof buf); /* negative mentions have no location */
  ck_assert_str_eq(buf, "[]");
  char *mem = NULL;
  size_t memlen = 0;
  FILE *f = open_memstream(&mem, &memlen);
  gz_csvw w;
  gz_csvw_init(&w, f, 0);
  lb_write_header(rules, &w, 0);
  lb_write_row(rules, &w, NULL, t, strlen(t), res);
  fclose(f);
  ck_assert(!strncmp(mem, "Reports,acute fracture & fracture,airway wall thickening,atelectasis,", 69));
  ck_assert_ptr_nonnull(strstr(mem, "wide mediastinum & abnormal mediastinum contour_location,paper:Edema,"));
  char *row = strchr(mem, '\n') + 1;
  ck_assert(!strncmp(row, "Small left effusion. Atelectasis and atelectasis. No pneumothorax.,,,1.0,", 72));
  ck_assert_ptr_nonnull(strstr(row, "\"[[21, 32], [37, 48]]\""));
  free(mem);
  lb_result_free(res);
}
END_TEST

START_TEST(results_are_independent) {
  /* two results over the same rules, interleaved, give what each gives alone (the rules are read-only) */
  gz_err e = {0};
  lb_result *a = lb_result_new(&e), *b = lb_result_new(&e);
  const char *x = "Moderate cardiomegaly. No effusion.", *y = "Possible pneumothorax. Heart size is normal.";
  label(a, x);
  label(b, y);
  ck_assert_int_eq(a->value[cat("ecs")], 1);
  ck_assert_int_eq(b->value[cat("ecs")], 0);
  ck_assert_int_eq(b->value[cat("ptx")], -1);
  ck_assert_int_eq(a->value[cat("ptx")], LB_BLANK);
  lb_result_free(a);
  lb_result_free(b);
}
END_TEST

START_TEST(explain_names_rules) {
  gz_err e = {0};
  lb_result *res = lb_result_new(&e);
  const char *t = "No pneumothorax. Heart size is enlarged.";
  label(res, t);
  char *mem = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&mem, &len);
  lb_explain(rules, t, strlen(t), res, f);
  fclose(f);
  ck_assert_ptr_nonnull(strstr(mem, "\"pneumothorax\" pneumothorax: NEGATIVE, by pre-negation (triggers/pre_negation.txt:"));
  ck_assert_ptr_nonnull(strstr(mem, "categories/ptx.txt:"));
  ck_assert_ptr_nonnull(strstr(mem, "\"Heart size\" enlarged cardiac silhouette: POSITIVE, by qualifier (categories/ecs.txt:"));
  free(mem);
  lb_result_free(res);
}
END_TEST

/* ------------------------------------------------------------------ malformed rules */

static char *make_rules(void) {
  /* a minimal valid rules folder */
  char *d = tu_tempdir();
  char p[4200];
  snprintf(p, sizeof p, "%s/categories", d);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/triggers", d);
  mkdir(p, 0755);
  free(tu_write(d, "categories.txt", "# one category\nptx\n", 19));
  const char *ptx = "%name pneumothorax\n%paper Pneumothorax\n%reflacx Pneumothorax\n[mention]\npneumothora\n";
  free(tu_write(d, "categories/ptx.txt", ptx, strlen(ptx)));
  const char *kinds[] = {"pre_negation", "post_negation", "pre_uncertainty", "post_uncertainty", "pseudo", "terminators"};
  const char *body[] = {"no\n", "resolved\n", "possible\n", "versus\n", "no change\n", "but\n"};
  for (int k = 0; k < 6; k++) {
    snprintf(p, sizeof p, "triggers/%s.txt", kinds[k]);
    free(tu_write(d, p, body[k], strlen(body[k])));
  }
  return d;
}

static void expect_rule_error(const char *file, const char *content, const char *needle) {
  char *d = make_rules();
  free(tu_write(d, file, content, strlen(content)));
  gz_err e = {0};
  lb_rules *r = lb_rules_load(d, &e);
  ck_assert_msg(r == NULL, "%s: '%s' was accepted", file, content);
  ck_assert_msg(strstr(e.msg, needle) != NULL, "%s: message '%s' lacks '%s'", file, e.msg, needle);
  ck_assert(e.code == GZ_EFORMAT || e.code == GZ_EIO); /* a missing file is an I/O error */
  tu_rmtree(d);
}

START_TEST(minimal_rules_load) {
  char *d = make_rules();
  gz_err e = {0};
  lb_rules *r = lb_rules_load(d, &e);
  ck_assert_msg(r != NULL, "%s", e.msg);
  ck_assert_int_eq(lb_ncategories(r), 1);
  lb_result *res = lb_result_new(&e);
  ck_assert_int_eq(lb_label(r, "No pneumothorax.", 16, res, &e), 0);
  ck_assert_int_eq(res->value[0], 0);
  ck_assert_int_eq(lb_label(r, "Pneumothorax versus skin fold.", 30, res, &e), 0);
  ck_assert_int_eq(res->value[0], -1);
  lb_result_free(res);
  lb_rules_free(r);
  tu_rmtree(d);
}
END_TEST

START_TEST(malformed_rules) {
  const char *c = "categories/ptx.txt";
  const char *head = "%name pneumothorax\n[mention]\n";
  char buf[512];
#define CAT(body) (snprintf(buf, sizeof buf, "%s%s", head, body), buf)
  expect_rule_error(c, CAT("Pneumothorax\n"), "line 3: upper-case letter 'P'");
  expect_rule_error(c, CAT("pneumo{thorax\n"), "line 3: '{' without its '}'");
  expect_rule_error(c, CAT("pneumo}thorax\n"), "line 3: '}' without its '{'");
  expect_rule_error(c, CAT("{a{b}}\n"), "groups do not nest");
  expect_rule_error(c, CAT("...thorax\n"), "may not begin with a gap");
  expect_rule_error(c, CAT("pneumo...\n"), "may not end with a gap");
  expect_rule_error(c, CAT("pneumo....thorax\n"), "a gap is exactly three dots");
  expect_rule_error(c, CAT("pneumo  thorax\n"), "two spaces in a row");
  expect_rule_error(c, CAT("pneumo*thorax\n"), "character '*'");
  expect_rule_error(c, CAT("pneu<mothorax\n"), "only at the very start or end");
  expect_rule_error(c, CAT("{|}\n"), "an empty phrase");
  expect_rule_error(c, CAT("pneumothora\nptx\npneumothora\n"), "the phrase 'pneumothora' is also categories/ptx.txt:3");
  expect_rule_error(c, CAT("{a|b|c|d|e|f|g|h}{a|b|c|d|e|f|g|h}{a|b|c|d|e|f|g|h}{a|b|c|d|e|f|g|h}{a|b}x\n"), "more than 4096");
  expect_rule_error(c, "%name pneumothorax\npneumothora\n", "line 2: a phrase before any section");
  expect_rule_error(c, "%name pneumothorax\n[mentions]\n", "unknown section '[mentions]'");
  expect_rule_error(c, "%name pneumothorax\n%colour red\n[mention]\nptx\n", "unknown directive '%colour'");
  expect_rule_error(c, "%name pneumothorax\n%paper Pneumonia\n[mention]\nptx\n", "'Pneumonia' is not one of the paper's 10 labels");
  expect_rule_error(c, "[mention]\nptx\n", "no %name line");
  expect_rule_error(c, "%name a, b\n[mention]\nptx\n", "may not hold a comma");
  expect_rule_error(c, "%name pneumothorax\n[unmention]\nptx\n", "no phrase under [mention] or [neutral]");
  expect_rule_error(c, "%name pneumothorax\n[neutral]\nptx\n", "[neutral] terms but no [qualifier]");
  expect_rule_error("categories.txt", "ptx\nPTX\n", "'PTX' is not a category code");
  expect_rule_error("categories.txt", "ptx\nptx\n", "category 'ptx' listed twice");
  expect_rule_error("categories.txt", "# nothing\n", "no category listed");
  expect_rule_error("categories.txt", "ptx\nedema\n", "categories/edema.txt");
  expect_rule_error("triggers/pre_negation.txt", "no @x\n", "a window is written '@N'");
  expect_rule_error("triggers/pre_negation.txt", "no @99\n", "a window is written '@N'");
  expect_rule_error("triggers/pre_negation.txt", "%window -1\nno\n", "a window is 0..64 words");
  expect_rule_error("triggers/pre_negation.txt", "%scope 3\nno\n", "unknown directive '%scope 3'");
  expect_rule_error("triggers/pseudo.txt", "no change @3\n", "means nothing in this file");
  expect_rule_error("triggers/terminators.txt", "[mention]\n", "sections belong in category files");
#undef CAT
  /* a missing file and a missing folder */
  char *d = make_rules();
  char p[4200];
  snprintf(p, sizeof p, "%s/triggers/pseudo.txt", d);
  unlink(p);
  gz_err e = {0};
  ck_assert_ptr_null(lb_rules_load(d, &e));
  ck_assert_ptr_nonnull(strstr(e.msg, "pseudo.txt"));
  tu_rmtree(d);
  ck_assert_ptr_null(lb_rules_load("/nonexistent/rules", &e));
  ck_assert_ptr_nonnull(strstr(e.msg, "rules folder does not exist"));
}
END_TEST

/* ------------------------------------------------------------------ inputs, gold, the program */

START_TEST(csv_input) {
  char *d = tu_tempdir();
  const char *csv = "No effusion.\r\n\"Small effusion, no pneumothorax.\"\r\n\r\n\"He said \"\"no\"\" effusion.\"\r\n";
  char *path = tu_write(d, "r.csv", csv, strlen(csv));
  lb_reports rp = {0};
  gz_err e = {0};
  ck_assert_msg(lb_reports_read_csv(&rp, path, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(rp.n, 3); /* a blank line is no report, as pandas' read_csv skips it for CheXpert */
  ck_assert_str_eq(rp.text[1], "Small effusion, no pneumothorax.");
  ck_assert_str_eq(rp.text[2], "He said \"no\" effusion.");
  ck_assert_int_eq(rp.has_ids, 0);
  lb_reports_free(&rp);
  free(path);
  const char *bad = "No effusion.\nSmall effusion, no pneumothorax.\n";
  path = tu_write(d, "bad.csv", bad, strlen(bad));
  ck_assert_int_eq(lb_reports_read_csv(&rp, path, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "line 2"));
  ck_assert_ptr_nonnull(strstr(e.msg, "must be wrapped in \"...\""));
  lb_reports_free(&rp);
  free(path);
  const char *unterminated = "\"No effusion.\n";
  path = tu_write(d, "open.csv", unterminated, strlen(unterminated));
  ck_assert_int_eq(lb_reports_read_csv(&rp, path, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "open.csv"));
  lb_reports_free(&rp);
  free(path);
  ck_assert_int_eq(lb_reports_read_csv(&rp, "/nonexistent/r.csv", &e), -1);
  lb_reports_free(&rp);
  tu_rmtree(d);
}
END_TEST

static void write_reading(const char *d, const char *id, const char *text) {
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", d, id);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/transcription.txt", id);
  free(tu_write(d, p, text, strlen(text)));
}

START_TEST(reflacx_folder_and_gold) {
  char *d = tu_tempdir();
  const char *meta =
      "id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,image_size_y,Atelectasis,"
      "Enlarged cardiac silhouette,Other,Pleural abnormality,Pneumothorax,Support devices\r\n"
      "P300R000002,test,False,x,y,1,2,3,0,4,\"a, b\",3,0,True\r\n"
      "P300R000001,train,True,x,y,1,2,3,0,0,,0,0,False\r\n"
      "P300R000003,train,False,x,y,1,2,3,3,0,,0,0,False\r\n";
  free(tu_write(d, "metadata_phase_3.csv", meta, strlen(meta)));
  write_reading(d, "P300R000002", "Cardiomegaly. Small right effusion. Endotracheal tube in place.");
  write_reading(d, "P300R000003", "Left basilar atelectasis. No pneumothorax.");
  lb_reports rp = {0};
  gz_err e = {0};
  ck_assert_msg(lb_reports_read_reflacx(&rp, d, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(rp.n, 2);
  ck_assert_int_eq(rp.nskipped, 1);
  ck_assert_str_eq(rp.id[0], "P300R000002"); /* metadata order */
  ck_assert_str_eq(rp.id[1], "P300R000003");
  char gpath[4200];
  snprintf(gpath, sizeof gpath, "%s/metadata_phase_3.csv", d);
  int8_t gold[2 * LB_MAX_CATEGORIES];
  lb_eval ev;
  lb_eval_init(&ev, lb_ncategories(rules));
  ck_assert_msg(lb_read_gold(rules, gpath, &rp, gold, &ev, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(gold[cat("ecs")], LB_POSITIVE);
  ck_assert_int_eq(gold[cat("atel")], LB_NEGATIVE);
  ck_assert_int_eq(gold[cat("sd")], LB_POSITIVE);
  ck_assert_int_eq(gold[LB_MAX_CATEGORIES + cat("atel")], LB_POSITIVE);
  ck_assert(ev.has_gold[cat("pab")] && !ev.has_gold[cat("peff")]);
  lb_result *res = lb_result_new(&e);
  for (int i = 0; i < rp.n; i++) {
    ck_assert_int_eq(lb_label(rules, rp.text[i], rp.len[i], res, &e), 0);
    lb_eval_add(&ev, rules, gold + i * LB_MAX_CATEGORIES, res->value);
  }
  ck_assert_int_eq(ev.tp[cat("ecs")], 1);
  ck_assert_int_eq(ev.tp[cat("pab")], 1);
  ck_assert_int_eq(ev.tp[cat("atel")], 1);
  ck_assert_int_eq(ev.fp[cat("ptx")] + ev.fn[cat("ptx")], 0);
  ck_assert_int_eq(ev.ptp[3], 1); /* paper Pleural abnormality */
  lb_result_free(res);
  /* a bad certainty */
  const char *badmeta = "id,Atelectasis\r\nP300R000002,maybe\r\n";
  char *bp = tu_write(d, "bad_meta.csv", badmeta, strlen(badmeta));
  ck_assert_int_eq(lb_read_gold(rules, bp, &rp, gold, &ev, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "line 2"));
  ck_assert_ptr_nonnull(strstr(e.msg, "'maybe' is neither a certainty"));
  free(bp);
  lb_reports_free(&rp);
  /* a non-discarded reading without its transcription */
  snprintf(gpath, sizeof gpath, "%s/P300R000003/transcription.txt", d);
  unlink(gpath);
  ck_assert_int_eq(lb_reports_read_reflacx(&rp, d, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "P300R000003"));
  lb_reports_free(&rp);
  tu_rmtree(d);
}
END_TEST

START_TEST(chexpert_gold) {
  char *d = tu_tempdir();
  lb_reports rp = {0};
  gz_err e = {0};
  lb_reports_add(&rp, NULL, "No effusion.", 12, &e);
  lb_reports_add(&rp, NULL, "Small effusion, no pneumothorax.", 32, &e);
  const char *g = "Reports,pleural effusion,pneumothorax\nNo effusion.,0.0,\n\"Small effusion, no pneumothorax.\",-1.0,0\n";
  char *gp = tu_write(d, "gold.csv", g, strlen(g));
  int8_t gold[2 * LB_MAX_CATEGORIES];
  lb_eval ev;
  lb_eval_init(&ev, lb_ncategories(rules));
  ck_assert_msg(lb_read_gold(rules, gp, &rp, gold, &ev, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(gold[cat("peff")], LB_NEGATIVE);
  ck_assert_int_eq(gold[LB_MAX_CATEGORIES + cat("peff")], LB_UNCERTAIN);
  ck_assert_int_eq(gold[cat("ptx")], LB_BLANK);
  free(gp);
  const char *bad = "Reports,pleural effusion\nNo effusion.,2\nx,1\n";
  gp = tu_write(d, "gold2.csv", bad, strlen(bad));
  ck_assert_int_eq(lb_read_gold(rules, gp, &rp, gold, &ev, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "'2' is not a label value"));
  free(gp);
  const char *shifted = "Reports,pleural effusion\nSmall effusion, no pneumothorax.,1\n";
  gp = tu_write(d, "gold3.csv", shifted, strlen(shifted));
  ck_assert_int_eq(lb_read_gold(rules, gp, &rp, gold, &ev, &e), -1);
  free(gp);
  const char *neither = "a,b\n1,2\n";
  gp = tu_write(d, "gold4.csv", neither, strlen(neither));
  ck_assert_int_eq(lb_read_gold(rules, gp, &rp, gold, &ev, &e), -1);
  ck_assert_ptr_nonnull(strstr(e.msg, "neither a REFLACX metadata table"));
  free(gp);
  lb_reports_free(&rp);
  tu_rmtree(d);
}
END_TEST

static int run_cmd(const char *cmd, char *out, size_t n) {
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t k = fread(out, 1, n - 1, p);
  out[k] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(program) {
  const char *bin = getenv("GAZELOC_BIN");
  char exe[4200];
  snprintf(exe, sizeof exe, "%s/gazeloc-label", bin ? bin : "build/release/bin");
  if (access(exe, X_OK) != 0) {
    fprintf(stderr, "labeler_program: %s not built; skipped\n", exe);
    return;
  }
  char *d = tu_tempdir();
  const char *csv = "No effusion.\n\"Small effusion, possible pneumothorax.\"\n";
  char *in = tu_write(d, "in.csv", csv, strlen(csv));
  static char out[1 << 16];
  char cmd[9000];
  snprintf(cmd, sizeof cmd, "GAZELOC_QUIET=1 GAZELOC_LOG=error '%s' '%s' --out '%s/out.csv' --explain 2>&1", exe, in, d);
  ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
  ck_assert_ptr_nonnull(strstr(out, "\"pneumothorax\" pneumothorax: UNCERTAIN, by pre-uncertainty"));
  snprintf(cmd, sizeof cmd, "%s/out.csv", d);
  size_t len;
  gz_err e = {0};
  char *table = gz_read_file(cmd, &len, &e);
  ck_assert_ptr_nonnull(table);
  ck_assert(!strncmp(table, "Reports,", 8));
  ck_assert_ptr_nonnull(strstr(table, "\"Small effusion, possible pneumothorax.\""));
  ck_assert_ptr_nonnull(strstr(table, "\"[[6, 14]]\""));
  free(table);
  /* the same with 2 threads and to standard output: the same table */
  snprintf(cmd, sizeof cmd, "GAZELOC_QUIET=1 GAZELOC_LOG=error '%s' '%s' --threads 2 | cmp - '%s/out.csv'", exe, in, d);
  ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
  /* evaluation against a CheXpert-format gold table */
  const char *g = "Reports,pleural effusion,pneumothorax\nNo effusion.,0,\n\"Small effusion, possible pneumothorax.\",1,\n";
  char *gp = tu_write(d, "gold.csv", g, strlen(g));
  snprintf(cmd, sizeof cmd, "GAZELOC_QUIET=1 GAZELOC_LOG=error '%s' '%s' --out '%s/o2.csv' --evaluate '%s' 2>&1", exe, in, d, gp);
  ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 0);
  ck_assert_ptr_nonnull(strstr(out, "precision"));
  ck_assert_ptr_nonnull(strstr(out, "pleural effusion"));
  /* errors: a bad option, a missing input, a bad rules folder */
  snprintf(cmd, sizeof cmd, "'%s' '%s' --bogus 2>&1", exe, in);
  ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 2);
  ck_assert_ptr_nonnull(strstr(out, "gazeloc-label: error: unknown option"));
  snprintf(cmd, sizeof cmd, "'%s' /nonexistent.csv 2>&1", exe);
  ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
  ck_assert_ptr_nonnull(strstr(out, "gazeloc-label: error: "));
  snprintf(cmd, sizeof cmd, "'%s' '%s' --rules /nonexistent 2>&1", exe, in);
  ck_assert_int_eq(run_cmd(cmd, out, sizeof out), 1);
  ck_assert_ptr_nonnull(strstr(out, "rules folder does not exist"));
  free(gp);
  free(in);
  tu_rmtree(d);
}
END_TEST

Suite *suite_labeler(void) {
  Suite *s = suite_create("labeler");
  TCase *t = tcase_create("test set");
  tcase_add_checked_fixture(t, load_rules, free_rules);
  tcase_add_test(t, team_test_set);
  tcase_add_test(t, every_category_in_test_set);
  tcase_add_test(t, heldout_reports);
  suite_add_tcase(s, t);
  t = tcase_create("text");
  tcase_add_checked_fixture(t, load_rules, free_rules);
  tcase_add_test(t, spans_index_original_text);
  tcase_add_test(t, empty_and_odd_reports);
  tcase_add_test(t, aggregation_and_paper_labels);
  tcase_add_test(t, output_format);
  tcase_add_test(t, results_are_independent);
  tcase_add_test(t, explain_names_rules);
  suite_add_tcase(s, t);
  t = tcase_create("rules");
  tcase_add_test(t, minimal_rules_load);
  tcase_add_test(t, malformed_rules);
  suite_add_tcase(s, t);
  t = tcase_create("io");
  tcase_add_checked_fixture(t, load_rules, free_rules);
  tcase_add_test(t, csv_input);
  tcase_add_test(t, reflacx_folder_and_gold);
  tcase_add_test(t, chexpert_gold);
  tcase_add_test(t, program);
  tcase_set_timeout(t, 30);
  suite_add_tcase(s, t);
  return s;
}
