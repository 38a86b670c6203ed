/* The degraded-labeler experiment (data/degrade.c): the achieved recall and precision on a synthetic label
 * set, measured from the actions (not from the reported figures), determinism in the seed, mention deletion
 * and false mentions on a transcript, and the option's parsing. */
#include "data/data.h"
#include "testutil.h"

#include <math.h>

enum { N = 2000 };

/* A synthetic label set: 30 % of reports mention the label, 90 % of the others have words to hold one. */
static void label_set(unsigned char *pos, unsigned char *can_add) {
  gz_rng r;
  gz_rng_init(&r, 5, 0);
  for (int i = 0; i < N; i++) {
    pos[i] = gz_rng_uniform(&r) < 0.3f;
    can_add[i] = !pos[i] && gz_rng_uniform(&r) < 0.9f;
  }
}

START_TEST(plan_hits_recall_and_precision) {
  static unsigned char pos[N], can_add[N];
  static signed char a1[N], a2[N], a3[N];
  label_set(pos, can_add);
  const double want[][2] = {{0.51, 0.86}, {0.9, 0.5}, {1.0, 1.0}, {0.0, 1.0}};
  for (int c = 0; c < 4; c++) {
    gz_degrade d = {3, want[c][0], want[c][1]};
    gz_degrade_stats st;
    gz_err e = {0};
    ck_assert_msg(gz_degrade_plan(&d, 7, N, pos, can_add, a1, &st, &e) == 0, "%s", e.msg);
    /* labels after degradation vs the labeler's output: count from the actions themselves */
    int P = 0, tp = 0, fp = 0;
    for (int i = 0; i < N; i++) {
      ck_assert(a1[i] >= 0 || pos[i]);     /* only positives lose mentions */
      ck_assert(a1[i] <= 0 || can_add[i]); /* only negatives that can hold one gain a false one */
      int after = (pos[i] && a1[i] != -1) || a1[i] == 1;
      P += pos[i], tp += after && pos[i], fp += after && !pos[i];
    }
    double recall = (double)tp / P, precision = tp + fp ? (double)tp / (tp + fp) : 1.0;
    fprintf(stderr, "degrade %.2f/%.2f: P %d, deleted %d, added %d -> recall %.4f precision %.4f\n", want[c][0],
            want[c][1], P, st.deleted, st.added, recall, precision);
    ck_assert_int_eq(st.positives, P);
    ck_assert_msg(fabs(recall - want[c][0]) <= 0.5 / P, "recall %.4f, asked %.2f", recall, want[c][0]);
    if (tp) ck_assert_msg(fabs(precision - want[c][1]) <= 1.0 / (tp + fp), "precision %.4f, asked %.2f", precision, want[c][1]);
    if (tp) ck_assert(fabs(st.recall - recall) < 1e-15 && fabs(st.precision - precision) < 1e-15);
    /* deterministic in the seed: the same seed picks the same reports, another seed others (same counts) */
    ck_assert_int_eq(gz_degrade_plan(&d, 7, N, pos, can_add, a2, &st, &e), 0);
    ck_assert(memcmp(a1, a2, N) == 0);
    ck_assert_int_eq(gz_degrade_plan(&d, 8, N, pos, can_add, a3, &st, &e), 0);
    int differ = 0, n1 = 0, n3 = 0;
    for (int i = 0; i < N; i++) differ += a1[i] != a3[i], n1 += a1[i] != 0, n3 += a3[i] != 0;
    ck_assert_int_eq(n1, n3);
    if (n1 > 10 && st.deleted < P) ck_assert_int_gt(differ, 0); /* (all deleted: nothing to choose) */
  }
  /* too few reports to hold the false mentions */
  gz_degrade d = {3, 1.0, 0.1};
  gz_degrade_stats st;
  gz_err e = {0};
  ck_assert_int_eq(gz_degrade_plan(&d, 7, N, pos, can_add, a1, &st, &e), -1);
  ck_assert(strstr(e.msg, "false Pleural abnormality mentions") != NULL);
  gz_degrade_off(&d);
  ck_assert_int_eq(gz_degrade_plan(&d, 7, N, pos, can_add, a1, &st, &e), 0);
  for (int i = 0; i < N; i++) ck_assert_int_eq(a1[i], 0);
}
END_TEST

/* "Small left pleural effusion . Heart is enlarged ." with two mentions (pleural effusion, enlarged heart). */
static const char *const words[] = {"Small", "left", "pleural", "effusion", ".", "Heart", "is", "enlarged", "."};
enum { NW = 9 };

static void transcript(gz_word *w, gz_transcript *t) {
  for (int i = 0; i < NW; i++) w[i] = (gz_word){(char *)words[i], i * 0.5, i * 0.5 + 0.4};
  gz_err e = {0};
  ck_assert_msg(gz_transcript_build(w, NW, NULL, 0, "test", t, &e) == 0, "%s", e.msg);
}

/* Mentions of "pleural effusion" (Pleural abnormality) and "enlarged" (Cardiomegaly) in the rebuilt text. */
static gz_mention *mentions(const gz_transcript *t, int *nm) {
  gz_mention *m = malloc(2 * sizeof *m);
  int p = (int)(strstr(t->text, "pleural") - t->text), h = (int)(strstr(t->text, "enlarged") - t->text);
  m[0] = (gz_mention){gz_category_index("pleural effusion"), p, p + 16};
  m[1] = (gz_mention){gz_category_index("enlarged cardiac silhouette"), h, h + 8};
  *nm = 2;
  return m;
}

static unsigned labels_of(const gz_mention *m, int nm) {
  unsigned b = 0;
  for (int i = 0; i < nm; i++) b |= gz_category_mask(m[i].category);
  return b;
}

START_TEST(mentions_deleted_and_added) {
  gz_word w[NW];
  gz_transcript t;
  transcript(w, &t);
  ck_assert_str_eq(t.text, "Small left pleural effusion. Heart is enlarged.");
  ck_assert_int_eq(gz_degrade_can_add(w, NW), 1);
  ck_assert_int_eq(gz_degrade_can_add(w, 0), 0);
  ck_assert_int_eq(gz_degrade_can_add(w + 4, 1), 0); /* a lone '.' holds no word */
  gz_degrade d;
  gz_err e = {0};
  ck_assert_int_eq(gz_degrade_parse(NULL, &d, &e), 0);
  int nm;
  gz_mention *m = mentions(&t, &nm);
  ck_assert_uint_eq(labels_of(m, nm), (1u << 3) | (1u << 8));
  ck_assert_int_eq(gz_degrade_mentions(&d, -1, 1, 0, &t, &m, &nm, &e), 0);
  ck_assert_int_eq(nm, 1);
  ck_assert_uint_eq(labels_of(m, nm), 1u << 8); /* the cardiomegaly mention stays */
  /* a false mention: the label's own category on a word of a sentence, the same word for the same key */
  int first = -1, words_hit = 0;
  for (uint64_t reading = 0; reading < 40; reading++) {
    int n2 = nm;
    gz_mention *m2 = malloc(sizeof *m2 * (size_t)n2);
    memcpy(m2, m, sizeof *m2 * (size_t)n2);
    ck_assert_msg(gz_degrade_mentions(&d, 1, 1, reading, &t, &m2, &n2, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n2, nm + 1);
    gz_mention f = m2[n2 - 1];
    ck_assert_int_eq(f.category, gz_category_index("pleural abnormality"));
    int wi = gz_word_of_char(&t, f.start);
    ck_assert(wi >= 0 && strcmp(words[wi], ".") != 0);
    ck_assert_int_eq(f.end - f.start, (int)strlen(words[wi]));
    words_hit |= 1 << wi;
    if (reading == 3) first = f.start;
    /* the window of its sentence now carries the label */
    gz_window *win = NULL;
    int nwin = 0, orphans = 0;
    gz_strategy st = GZ_STRATEGY_DEFAULT;
    ck_assert_int_eq(gz_windows(&t, m2, n2, &st, &win, &nwin, &orphans, &e), 0);
    unsigned all = 0;
    for (int i = 0; i < nwin; i++) all |= win[i].labels;
    ck_assert_uint_eq(all, (1u << 3) | (1u << 8));
    free(win), free(m2);
  }
  ck_assert_int_eq(__builtin_popcount((unsigned)words_hit), 7); /* every non-'.' word gets picked */
  int n3 = nm;
  gz_mention *m3 = malloc(sizeof *m3 * (size_t)n3);
  memcpy(m3, m, sizeof *m3 * (size_t)n3);
  ck_assert_int_eq(gz_degrade_mentions(&d, 1, 1, 3, &t, &m3, &n3, &e), 0);
  ck_assert_int_eq(m3[n3 - 1].start, first);
  free(m3), free(m);
  gz_transcript_free(&t);
}
END_TEST

START_TEST(option_parsing) {
  gz_degrade d;
  gz_err e = {0};
  ck_assert_int_eq(gz_degrade_parse("", &d, &e), 0);
  ck_assert(d.label == 3 && d.recall == 0.51 && d.precision == 0.86);
  ck_assert_int_eq(gz_degrade_parse("fracture", &d, &e), 0);
  ck_assert(d.label == 7 && d.recall == 0.51 && d.precision == 0.86);
  ck_assert_int_eq(gz_degrade_parse("Pleural_Abnormality:0.6:0.9", &d, &e), 0);
  ck_assert(d.label == 3 && d.recall == 0.6 && d.precision == 0.9);
  ck_assert_int_eq(gz_degrade_parse("abnormal-mediastinum-contour:0.5:1", &d, &e), 0);
  ck_assert(d.label == 9 && d.recall == 0.5 && d.precision == 1.0);
  ck_assert_int_eq(gz_degrade_parse("2:0.7:0.8", &d, &e), 0);
  ck_assert(d.label == 2 && d.recall == 0.7);
  ck_assert_int_eq(gz_degrade_parse("edema", &d, &e), -1);
  ck_assert_str_eq(e.msg, "--degrade-labeler: Edema shares the labeler category 'pulmonary edema' with other labels");
  ck_assert_int_eq(gz_degrade_parse("pleural", &d, &e), -1);
  ck_assert_int_eq(gz_degrade_parse("3:1.5:0.5", &d, &e), -1);
  ck_assert_int_eq(gz_degrade_parse("3:0.5:0", &d, &e), -1);
  ck_assert_int_eq(gz_degrade_parse("3:0.5", &d, &e), -1);
  ck_assert_int_eq(gz_degrade_parse("3:0.5:0.8x", &d, &e), -1);
  ck_assert_int_eq(gz_degrade_parse("10", &d, &e), -1);
}
END_TEST

Suite *suite_data_degrade(void) {
  Suite *s = suite_create("data_degrade");
  TCase *t = tcase_create("degrade");
  tcase_add_test(t, plan_hits_recall_and_precision);
  tcase_add_test(t, mentions_deleted_and_added);
  tcase_add_test(t, option_parsing);
  suite_add_tcase(s, t);
  return s;
}
