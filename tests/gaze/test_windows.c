/* Transcript rebuild, sentences, mention -> word, and every window rule on a hand-made dictation with
 * known answers (method.md section 4, gotcha 5). */
#include "gaze/gaze.h"
#include "gaze_fixture.h"

static const char *TOKENS =
    "the heart is enlarged . there is a small pleural effusion , likely . no pneumothorax , tubes in place .";

typedef struct {
  char *dir;
  gz_word *w;
  int nw;
  char *text;
  gz_transcript t;
} dict;

static void dict_open(dict *d) {
  gz_err e = {0};
  d->dir = tu_tempdir();
  fx_words(d->dir, TOKENS, 2.0, 0.5, &d->text);
  char *p = fx_path(d->dir, "timestamps_transcription.csv");
  ck_assert_msg(gz_read_words(p, &d->w, &d->nw, &e) == 0, "%s", e.msg);
  free(p);
  ck_assert_msg(gz_transcript_build(d->w, d->nw, d->text, strlen(d->text), d->dir, &d->t, &e) == 0, "%s", e.msg);
}

static void dict_close(dict *d) {
  gz_transcript_free(&d->t);
  for (int i = 0; i < d->nw; i++) free(d->w[i].text);
  free(d->w);
  free(d->text);
  tu_rmtree(d->dir);
}

static int at(const dict *d, const char *needle) { return (int)(strstr(d->t.text, needle) - d->t.text); }

START_TEST(rebuild_and_sentences) {
  dict d;
  dict_open(&d);
  ck_assert_str_eq(d.t.text, "the heart is enlarged. there is a small pleural effusion, likely. no pneumothorax, "
                             "tubes in place.");
  ck_assert_int_eq(d.t.ns, 3);
  ck_assert_int_eq(d.t.s[0].first_word, 0);
  ck_assert_int_eq(d.t.s[0].last_word, 4);
  ck_assert(fabs(d.t.s[0].t_start - 2.0) < 1e-9 && fabs(d.t.s[0].t_end - 4.45) < 1e-9);
  ck_assert(fabs(d.t.s[1].t_start - 4.5) < 1e-9 && fabs(d.t.s[1].t_end - 8.95) < 1e-9);
  ck_assert_int_eq(d.t.s[1].char_start, at(&d, "there"));
  ck_assert_int_eq(d.t.s[1].char_dot, at(&d, ". no") );
  ck_assert_int_eq(gz_sentence_of_char(&d.t, at(&d, "enlarged")), 0);
  ck_assert_int_eq(gz_sentence_of_char(&d.t, at(&d, ". there")), 1); /* the '.' itself is not below its index */
  ck_assert_int_eq(gz_sentence_of_char(&d.t, (int)strlen(d.t.text)), -1);
  /* word rule: both ends inclusive, the later word wins */
  ck_assert_int_eq(gz_word_of_char(&d.t, at(&d, "heart")), 1);
  ck_assert_int_eq(gz_word_of_char(&d.t, at(&d, " is a")), 5);       /* the space after "there" */
  ck_assert_int_eq(gz_word_of_char(&d.t, at(&d, ", likely")), 11);   /* "effusion" ends there, ',' wins */
  dict_close(&d);
}
END_TEST

START_TEST(rebuild_mismatch_reported) {
  dict d;
  dict_open(&d);
  gz_err e = {0};
  gz_transcript t;
  const char *bad = "the heart is enlarged. there is a small pleural effusion , likely.";
  ck_assert_int_eq(gz_transcript_build(d.w, d.nw, bad, strlen(bad), "P300R000001", &t, &e), -1);
  ck_assert_msg(strstr(e.msg, "P300R000001: the text rebuilt from timestamps_transcription.csv differs from "
                              "transcription.txt at character 56"), "%s", e.msg);
  /* a trailing newline is a mismatch too (the file has none) */
  char *nl = malloc(strlen(d.text) + 2);
  sprintf(nl, "%s\n", d.text);
  ck_assert_int_eq(gz_transcript_build(d.w, d.nw, nl, strlen(nl), "x", &t, &e), -1);
  free(nl);
  dict_close(&d);
}
END_TEST

/* Mentions: cardiac silhouette (sentence 0), pleural effusion + pleural abnormality (sentence 1), support
 * devices (sentence 2: not a paper label, so no window). */
static int mentions(const dict *d, gz_mention *m) {
  m[0] = (gz_mention){gz_category_index("enlarged cardiac silhouette"), at(d, "enlarged"), at(d, "enlarged") + 8};
  m[1] = (gz_mention){gz_category_index("pleural abnormality"), at(d, "effusion"), at(d, "effusion") + 8};
  m[2] = (gz_mention){gz_category_index("pleural effusion"), at(d, "pleural"), at(d, "effusion") + 8};
  m[3] = (gz_mention){gz_category_index("support devices"), at(d, "tubes"), at(d, "tubes") + 5};
  return 4;
}

static void check_window(const char *name, double t0, double t1) {
  dict d;
  dict_open(&d);
  gz_mention m[4];
  int nm = mentions(&d, m), n, orphans;
  gz_strategy st;
  gz_err e = {0};
  ck_assert_msg(gz_strategy_parse(name, &st, &e) == 0, "%s", e.msg);
  char back[128];
  gz_strategy_format(&st, back, sizeof back);
  ck_assert_str_eq(back, name);
  gz_window *w;
  ck_assert_msg(gz_windows(&d.t, m, nm, &st, &w, &n, &orphans, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(n, 2);
  ck_assert_int_eq(orphans, 0);
  ck_assert_int_eq(w[1].sentence, 1);
  ck_assert_uint_eq(w[0].labels, 1u << 8);  /* Cardiomegaly */
  ck_assert_uint_eq(w[1].labels, 1u << 3);  /* Pleural abnormality */
  ck_assert_msg(fabs(w[1].t0 - t0) < 1e-9 && fabs(w[1].t1 - t1) < 1e-9, "%s: got [%g, %g], want [%g, %g]", name,
                w[1].t0, w[1].t1, t0, t1);
  free(w);
  dict_close(&d);
}

START_TEST(default_window) {
  /* sentence 0: max(2.0 - 1.5, 0) -> start of "enlarged" */
  dict d;
  dict_open(&d);
  gz_mention m[4];
  int nm = mentions(&d, m), n;
  gz_window *w;
  gz_err e = {0};
  gz_strategy st = GZ_STRATEGY_DEFAULT;
  ck_assert_int_eq(gz_windows(&d.t, m, nm, &st, &w, &n, NULL, &e), 0);
  ck_assert(fabs(w[0].t0 - 0.5) < 1e-9 && fabs(w[0].t1 - 3.5) < 1e-9);
  /* sentence 1: max(4.5 - 1.5, 2.0) -> start of the word holding the LAST mention ("effusion") */
  ck_assert(fabs(w[1].t0 - 3.0) < 1e-9 && fabs(w[1].t1 - 7.0) < 1e-9);
  free(w);
  dict_close(&d);
}
END_TEST

START_TEST(every_rule) {
  check_window("1.5s_startofsentence_lastmention", 3.0, 7.0);
  check_window("1.5s_startofsentence_firstmention", 3.0, 6.5);
  check_window("1.5s_startofsentence_endofsentence", 3.0, 8.95);
  check_window("1.5s_startofsentence_startofsentence", 3.0, 4.5);
  check_window("5s_startofsentence_lastmention", 2.0, 7.0);  /* capped by the previous sentence's start */
  check_window("1.5s_endofsentence_lastmention", 7.45, 7.0); /* (an inverted window: no fixation weight) */
  check_window("1.5s_mention_lastmention", 5.0, 7.0);
  check_window("single_lastmention", 4.5, 7.0);
  check_window("double_lastmention", 2.0, 7.0);
  check_window("all_lastmention", 0.0, 7.0);
  check_window("allsentences_lastmention", 2.0, 7.0);
  check_window("andpause_lastmention", 4.45, 7.0);
}
END_TEST

START_TEST(orphans_and_bad_names) {
  dict d;
  dict_open(&d);
  gz_mention m[2] = {{gz_category_index("pneumothorax"), (int)strlen(d.t.text) - 1, (int)strlen(d.t.text)},
                     {gz_category_index("atelectasis"), 100000, 100005}};
  int n, orphans;
  gz_window *w;
  gz_err e = {0};
  gz_strategy st = GZ_STRATEGY_DEFAULT;
  ck_assert_int_eq(gz_windows(&d.t, m, 2, &st, &w, &n, &orphans, &e), 0);
  ck_assert_int_eq(n, 0);
  ck_assert_int_eq(orphans, 2);
  free(w);
  /* a mention starting on a '.' belongs to the next sentence, whose words do not hold it: an error */
  gz_mention dot = {gz_category_index("atelectasis"), at(&d, ". there"), at(&d, ". there") + 1};
  ck_assert_int_eq(gz_windows(&d.t, &dot, 1, &st, &w, &n, &orphans, &e), -1);
  ck_assert_msg(strstr(e.msg, "a mention at character 21 of sentence 1 falls in no word"), "%s", e.msg);
  ck_assert_int_eq(gz_strategy_parse("startofsentence", &st, &e), -1);
  ck_assert_msg(strstr(e.msg, "expected DELAYs_START_END"), "%s", e.msg);
  ck_assert_int_eq(gz_strategy_parse("xs_startofsentence_lastmention", &st, &e), -1);
  ck_assert_msg(strstr(e.msg, "is not a delay in seconds"), "%s", e.msg);
  ck_assert_int_eq(gz_strategy_parse("1.5s_single_lastmention", &st, &e), -1);
  ck_assert_msg(strstr(e.msg, "unknown start rule 'single'"), "%s", e.msg);
  ck_assert_int_eq(gz_strategy_parse("double_lastword", &st, &e), -1);
  ck_assert_msg(strstr(e.msg, "unknown end rule 'lastword'"), "%s", e.msg);
  dict_close(&d);
}
END_TEST

START_TEST(label_mapping) {
  ck_assert_uint_eq(gz_label_mask_for_name("Pulmonary edema"), 3u);            /* Edema + Opacity */
  ck_assert_uint_eq(gz_label_mask_for_name("pulmonary edema"), 3u);
  ck_assert_uint_eq(gz_label_mask_for_name("Lung nodule or mass"), (1u << 4) | 2u);
  ck_assert_uint_eq(gz_label_mask_for_name("Wide mediastinum"), 1u << 9);
  ck_assert_uint_eq(gz_label_mask_for_name("acute fracture & fracture"), 1u << 7);
  ck_assert_uint_eq(gz_label_mask_for_name("Support devices"), 0u);
  ck_assert_uint_eq(gz_label_mask_for_name("Enlarged hilum"), 0u);
  ck_assert_uint_eq(gz_label_mask_for_name("High lung volume / emphysema"), 0u);
  int mapped = 0;
  for (int k = 0; k < GZ_NCATEGORIES; k++) mapped += gz_category_mask(k) != 0;
  ck_assert_int_eq(mapped, 15); /* 21 minus airway, hilum, hernia, emphysema, quality, support devices */
  ck_assert_str_eq(gz_label_names[9], "Abnormal Mediastinum Contour");
}
END_TEST

/* Random dictations (commas, colons, empty sentences, a trailing part without '.') against the authors'
 * sentence loop ported literally (tools/gaze_windows_reference.py): every rule, equal to the last bit. */
START_TEST(random_dictations_match_authors_loop) {
  static const char *VOCAB[] = {"the", "left", "lung", "is", "clear", "mild", "edema", "effusion", "small", "no",
                                "pneumothorax", "x-ray", "of", ",", ":", ".", "."};
  static const double DELAYS[] = {0.5, 1.5, 2.5, 7.5};
  gz_rng r;
  gz_rng_init(&r, 42, 0);
  int compared = 0;
  for (int rep = 0; rep < 12; rep++) {
    char *dir = tu_tempdir();
    fx_buf tok = {0};
    fx_printf(&tok, "%s", "");
    int n = 8 + (int)gz_rng_below(&r, 40);
    for (int i = 0; i < n; i++) fx_printf(&tok, "%s%s", i ? " " : "", VOCAB[gz_rng_below(&r, 17)]);
    if (rep % 3) fx_printf(&tok, " .");
    char *text;
    fx_words(dir, tok.s, gz_rng_range(&r, 0, 3), 0.37, &text);
    gz_word *w;
    int nw;
    gz_err e = {0};
    char *p = fx_path(dir, "timestamps_transcription.csv");
    ck_assert_int_eq(gz_read_words(p, &w, &nw, &e), 0);
    free(p);
    gz_transcript t;
    ck_assert_msg(gz_transcript_build(w, nw, text, strlen(text), dir, &t, &e) == 0, "%s", e.msg);
    /* mentions: random characters inside random words (never on a space or a '.') */
    gz_mention m[6];
    int nm = 0;
    fx_buf mf = {0};
    fx_printf(&mf, "%s", "");
    for (int k = 0; k < 6; k++) {
      int wi = (int)gz_rng_below(&r, (uint32_t)nw), len = (int)strlen(w[wi].text);
      if (!strcmp(w[wi].text, ".")) continue; /* a mention on a '.' falls in no word (an error, tested above) */
      int pos = t.word_start[wi] + (int)gz_rng_below(&r, (uint32_t)len);
      if (k == 5) pos = t.word_start[wi]; /* a word start: may also end the previous (glued) word */
      m[nm++] = (gz_mention){gz_category_index("atelectasis"), pos, pos + 3};
      fx_printf(&mf, "%d %d\n", pos, pos + 3);
    }
    fx_write(dir, "mentions.txt", mf.s);
    char cmd[8192];
    int at = snprintf(cmd, sizeof cmd, "%s %s/tools/gaze_windows_reference.py %s %s/mentions.txt", tu_python(),
                      tu_root(), dir, dir);
    gz_strategy all[GZ_NSTART_RULES * GZ_NEND_RULES];
    int ns = 0;
    for (int a = 0; a < GZ_NSTART_RULES; a++)
      for (int b = 0; b < GZ_NEND_RULES; b++) {
        all[ns] = (gz_strategy){a, b, DELAYS[gz_rng_below(&r, 4)]};
        char name[128];
        gz_strategy_format(&all[ns++], name, sizeof name);
        at += snprintf(cmd + at, sizeof cmd - (size_t)at, " %s", name);
      }
    FILE *pp = popen(cmd, "r");
    ck_assert_ptr_nonnull(pp);
    char line[512];
    int got = 0, idx[GZ_NSTART_RULES * GZ_NEND_RULES] = {0};
    gz_window *win[GZ_NSTART_RULES * GZ_NEND_RULES];
    int nwin[GZ_NSTART_RULES * GZ_NEND_RULES];
    for (int k = 0; k < ns; k++) ck_assert_int_eq(gz_windows(&t, m, nm, &all[k], &win[k], &nwin[k], NULL, &e), 0);
    while (fgets(line, sizeof line, pp)) {
      char name[128];
      int sent;
      double t0, t1;
      ck_assert_int_eq(sscanf(line, "%127s %d %lf %lf", name, &sent, &t0, &t1), 4);
      int k = 0;
      for (; k < ns; k++) {
        char mine[128];
        gz_strategy_format(&all[k], mine, sizeof mine);
        if (!strcmp(mine, name)) break;
      }
      ck_assert_int_lt(k, ns);
      ck_assert_msg(idx[k] < nwin[k], "%s: reference has more windows", name);
      gz_window *x = &win[k][idx[k]++];
      ck_assert_msg(x->sentence == sent && x->t0 == t0 && x->t1 == t1, "%s (%s): ours s%d [%.17g, %.17g], authors s%d [%.17g, %.17g]",
                    name, text, x->sentence, x->t0, x->t1, sent, t0, t1);
      got++;
    }
    ck_assert_int_eq(pclose(pp), 0);
    for (int k = 0; k < ns; k++) {
      ck_assert_int_eq(idx[k], nwin[k]);
      free(win[k]);
    }
    compared += got;
    gz_transcript_free(&t);
    for (int i = 0; i < nw; i++) free(w[i].text);
    free(w);
    free(text);
    free(tok.s);
    free(mf.s);
    tu_rmtree(dir);
  }
  ck_assert_int_gt(compared, 300);
}
END_TEST

Suite *suite_gaze_windows(void) {
  Suite *s = suite_create("gaze_windows");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rebuild_and_sentences);
  tcase_add_test(tc, rebuild_mismatch_reported);
  tcase_add_test(tc, default_window);
  tcase_add_test(tc, every_rule);
  tcase_add_test(tc, orphans_and_bad_names);
  tcase_add_test(tc, label_mapping);
  tcase_add_test(tc, random_dictations_match_authors_loop);
  suite_add_tcase(s, tc);
  return s;
}
