/* Readers of a REFLACX main_data folder and of the labeler's labeled_reports file: columns by name,
 * phases with different label columns, discarded readings, CRLF/BOM/quotes, exact error messages. */
#include "gaze/gaze.h"
#include "gaze_fixture.h"

static const char *META3 =
    "\xEF\xBB\xBFid,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,image_size_y,"
    "Abnormal mediastinal contour,Acute fracture,Atelectasis,Consolidation,Enlarged cardiac silhouette,Enlarged hilum,"
    "Groundglass opacity,Hiatal hernia,High lung volume / emphysema,Interstitial lung disease,Lung nodule or mass,"
    "Other,Pleural abnormality,Pneumothorax,Pulmonary edema,Support devices\r\n"
    "P300R000001,train,False,physionet.org/files/mimic-cxr/2.0.0/files/p10/p10000001/s50000001/aa-bb.dcm,aa-bb,"
    "10000001,300,380,0,0,4,0,0,0,0,0,0,0,0,\"note, with comma\",0,0,0,True\r\n"
    "P300R000002,test,True,physionet.org/files/mimic-cxr/2.0.0/files/p10/p10000002/s50000002/cc-dd.dcm,cc-dd,"
    "10000002,2544.0,3056,0,0,0,0,0,0,0,0,0,0,0,,0,0,0,False\r\n";

/* Phase 1 has other label columns and its own order: found by name all the same. */
static const char *META1 =
    "id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,image_size_y,Airway wall thickening,"
    "Atelectasis,Consolidation,Emphysema,Enlarged cardiac silhouette,Fibrosis,Fracture,Groundglass opacity,Mass,Nodule,"
    "Other,Pleural effusion,Pleural thickening,Pneumothorax,Pulmonary edema,Quality issue,Support devices,"
    "Wide mediastinum\n"
    "P102R009922,validate,False,x/p1/p1/s1/ee.dcm,ee,1,200,100,0,0,0,0,0,0,0,0,0,0,,0,0,0,0,False,False,0\n";

START_TEST(metadata_by_name) {
  char *dir = tu_tempdir();
  fx_write(dir, "metadata_phase_3.csv", META3);
  fx_write(dir, "metadata_phase_1.csv", META1);
  gz_meta m;
  gz_err e = {0};
  char *p = fx_path(dir, "metadata_phase_3.csv");
  ck_assert_msg(gz_meta_read(p, 3, &m, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(m.n, 2);
  ck_assert_str_eq(m.rows[0].id, "P300R000001");
  ck_assert_int_eq(m.rows[0].discarded, 0);
  ck_assert_int_eq(m.rows[1].discarded, 1);
  ck_assert_int_eq(m.rows[1].size_x, 2544); /* "2544.0" */
  ck_assert_int_eq(m.rows[0].subject_id, 10000001);
  ck_assert_str_eq(m.rows[1].split, "test");
  gz_meta_free(&m);
  free(p);
  p = fx_path(dir, "metadata_phase_1.csv");
  ck_assert_msg(gz_meta_read(p, 1, &m, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(m.n, 1);
  ck_assert_int_eq(m.rows[0].phase, 1);
  ck_assert_int_eq(m.rows[0].size_y, 100);
  gz_meta_free(&m);
  fx_write(dir, "metadata_phase_1.csv", "id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,"
                                        "image_size_y\r\nP1,train,Nope,a,b,1,2,3\r\n");
  ck_assert_int_eq(gz_meta_read(p, 1, &m, &e), -1);
  ck_assert_msg(strstr(e.msg, "metadata_phase_1.csv line 2, column 3 (eye_tracking_data_discarded): 'Nope' is not "
                              "True or False"), "%s", e.msg);
  fx_write(dir, "metadata_phase_1.csv", "id,split,image,dicom_id,subject_id,image_size_x,image_size_y\r\n");
  ck_assert_int_eq(gz_meta_read(p, 1, &m, &e), -1);
  ck_assert_msg(strstr(e.msg, "missing column 'eye_tracking_data_discarded'"), "%s", e.msg);
  free(p);
  tu_rmtree(dir);
}
END_TEST

START_TEST(fixations_columns_and_errors) {
  char *dir = tu_tempdir();
  gz_err e = {0};
  gz_fixation *f;
  int n;
  /* columns in another order, LF endings, a quoted number, Python rounding of the rectangle */
  fx_write(dir, "fixations.csv",
           "x_position,y_position,timestamp_end_fixation,timestamp_start_fixation,"
           "angular_resolution_x_pixels_per_degree,angular_resolution_y_pixels_per_degree,xmin_shown_from_image,"
           "ymin_shown_from_image,xmax_shown_from_image,ymax_shown_from_image\n"
           "10,20,1.5,1.25,\"100\",90,2.5,3.5,299.5,-0.5\n");
  char *p = fx_path(dir, "fixations.csv");
  ck_assert_msg(gz_read_fixations(p, &f, &n, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(n, 1);
  ck_assert(f[0].t0 == 1.25 && f[0].t1 == 1.5 && f[0].x == 10 && f[0].sx == 100 && f[0].sy == 90);
  ck_assert_int_eq(f[0].rx0, 2);   /* round(2.5) = 2 */
  ck_assert_int_eq(f[0].ry0, 4);   /* round(3.5) = 4 */
  ck_assert_int_eq(f[0].rx1, 300); /* round(299.5) = 300 */
  ck_assert_int_eq(f[0].ry1, 0);   /* round(-0.5) = -0 */
  free(f);
  fx_buf b = {0};
  fx_printf(&b, FX_HEADER);
  fx_fix(&b, 0.1, 0.2, 5, 5, 100, 100, 0, 0, 10, 10);
  fx_printf(&b, "0.3,0.4,abc,5,1.0,100,100,1.0,0.5,0,0,10,10,0,0,3840,2160\r\n");
  fx_write(dir, "fixations.csv", b.s);
  ck_assert_int_eq(gz_read_fixations(p, &f, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "fixations.csv line 3, column 3 (x_position): 'abc' is not a number"), "%s", e.msg);
  b.n = 0;
  fx_printf(&b, FX_HEADER);
  fx_fix(&b, 0.5, 0.2, 5, 5, 100, 100, 0, 0, 10, 10);
  fx_write(dir, "fixations.csv", b.s);
  ck_assert_int_eq(gz_read_fixations(p, &f, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "line 2, column 2 (timestamp_end_fixation): fixation ends (0.2) before it starts (0.5)"),
                "%s", e.msg);
  b.n = 0;
  fx_printf(&b, FX_HEADER);
  fx_fix(&b, 0.1, 0.2, 5, 5, 0, 100, 0, 0, 10, 10);
  fx_write(dir, "fixations.csv", b.s);
  ck_assert_int_eq(gz_read_fixations(p, &f, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "(angular_resolution_x_pixels_per_degree): angular resolution must be positive"), "%s",
                e.msg);
  fx_write(dir, "fixations.csv", "timestamp_start_fixation,timestamp_end_fixation\r\n1,2\r\n");
  ck_assert_int_eq(gz_read_fixations(p, &f, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "missing column 'x_position'"), "%s", e.msg);
  fx_write(dir, "fixations.csv", FX_HEADER "0.1,0.2,5\r\n"); /* too few fields */
  ck_assert_int_eq(gz_read_fixations(p, &f, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "fixations.csv line 2"), "%s", e.msg);
  free(b.s);
  free(p);
  tu_rmtree(dir);
}
END_TEST

START_TEST(reading_load_and_discarded) {
  char *root = tu_tempdir();
  gz_err e = {0};
  gz_meta_row row = {.id = "P300R000001", .split = "train", .size_x = 300, .size_y = 380, .phase = 3};
  char *d = fx_mkreading(root, row.id);
  fx_buf b = {0};
  fx_printf(&b, FX_HEADER);
  fx_fix(&b, 0.1, 0.3, 50, 60, 30, 30, 0, 0, 300, 380);
  fx_write(d, "fixations.csv", b.s);
  fx_words(d, "no acute findings .", 0.5, 0.4, NULL);
  fx_write(d, "anomaly_location_ellipses.csv", "xmin,ymin,xmax,ymax,certainty,Atelectasis\r\n");
  fx_write(d, "chest_bounding_box.csv", "xmin,ymin,xmax,ymax\r\n10,20,290,370\r\n");
  gz_reading r;
  ck_assert_msg(gz_reading_load(root, &row, &r, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(r.nfix, 1);
  ck_assert_int_eq(r.nwords, 4);
  ck_assert_str_eq(r.transcription, "no acute findings.");
  ck_assert_int_eq(r.has_chest_box, 1);
  ck_assert_int_eq(r.chest_box[3], 370);
  gz_reading_free(&r);
  /* a broken transcript file is an error naming it */
  fx_write(d, "timestamps_transcription.csv", "word,timestamp_start_word,timestamp_end_word\r\nno,0.5\r\n");
  ck_assert_int_eq(gz_reading_load(root, &row, &r, &e), -1);
  ck_assert_msg(strstr(e.msg, "P300R000001/timestamps_transcription.csv line 2"), "%s", e.msg);
  /* the discarded layout: no fixations.csv */
  char *p = fx_path(d, "fixations.csv");
  remove(p);
  free(p);
  ck_assert_int_eq(gz_reading_load(root, &row, &r, &e), 1);
  row.discarded = 1;
  ck_assert_int_eq(gz_reading_load(root, &row, &r, &e), 1);
  free(b.s);
  free(d);
  tu_rmtree(root);
}
END_TEST

START_TEST(labeled_reports) {
  char *dir = tu_tempdir();
  gz_err e = {0};
  gz_labels_file lf;
  fx_buf b = {0};
  fx_printf(&b, "id,Reports");
  for (int k = 0; k < GZ_NCATEGORIES; k++) fx_printf(&b, ",%s", gz_category_names[k]);
  for (int k = 0; k < GZ_NCATEGORIES; k++) fx_printf(&b, ",%s_location", gz_category_names[k]);
  fx_printf(&b, "\r\n");
  size_t header = b.n;
  fx_printf(&b, "P300R000001,\"the heart is enlarged. small effusion, likely.\"");
  for (int k = 0; k < GZ_NCATEGORIES; k++) fx_printf(&b, ",%s", k == 4 ? "1.0" : k == 14 ? "-1.0" : "");
  for (int k = 0; k < GZ_NCATEGORIES; k++)
    fx_printf(&b, ",%s", k == 4 ? "\"[[13, 21]]\"" : k == 14 ? "\"[[29, 37], [40,41]]\"" : "[]");
  fx_printf(&b, "\r\n");
  fx_write(dir, "labels.csv", b.s);
  char *p = fx_path(dir, "labels.csv");
  ck_assert_msg(gz_labels_read(p, &lf, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(lf.n, 1);
  const gz_report_labels *r = gz_labels_find(&lf, "P300R000001");
  ck_assert_ptr_nonnull(r);
  ck_assert_ptr_null(gz_labels_find(&lf, "P300R000002"));
  ck_assert_int_eq(r->nm, 3);
  ck_assert_int_eq(r->m[0].category, 4);
  ck_assert_int_eq(r->m[0].start, 13);
  ck_assert_int_eq(r->m[2].category, 14);
  ck_assert_int_eq(r->m[2].start, 40);
  ck_assert_int_eq(r->m[2].end, 41);
  gz_labels_free(&lf);
  /* a malformed location cell names line, column and header */
  b.n = header;
  fx_printf(&b, "P300R000001,x");
  for (int k = 0; k < GZ_NCATEGORIES; k++) fx_printf(&b, ",");
  for (int k = 0; k < GZ_NCATEGORIES; k++) fx_printf(&b, ",%s", k == 2 ? "\"[[5, 3]]\"" : "[]");
  fx_printf(&b, "\r\n");
  fx_write(dir, "labels.csv", b.s);
  ck_assert_int_eq(gz_labels_read(p, &lf, &e), -1);
  ck_assert_msg(strstr(e.msg, "labels.csv line 2, column 26 (atelectasis_location): '[[5, 3]]': range [5, 3] ends "
                              "before it starts"), "%s", e.msg);
  const char *bad[] = {"[[1, 2]", "[1, 2]", "[[1, 2], ]", "[[a, 2]]", "[[1, 2]] x", "[[1 2]]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    gz_mention *m = NULL;
    int nm = 0, cap = 0;
    ck_assert_msg(gz_parse_locations(bad[i], 0, &m, &nm, &cap, &e) == -1, "accepted %s", bad[i]);
    free(m);
  }
  fx_write(dir, "labels.csv", "id,Reports,atelectasis\r\nP1,x,1.0\r\n");
  ck_assert_int_eq(gz_labels_read(p, &lf, &e), -1);
  ck_assert_msg(strstr(e.msg, "no '<category>_location' column"), "%s", e.msg);
  fx_write(dir, "labels.csv", "Reports,atelectasis_location\r\nx,[]\r\n");
  ck_assert_int_eq(gz_labels_read(p, &lf, &e), -1);
  ck_assert_msg(strstr(e.msg, "missing column 'id'"), "%s", e.msg);
  free(p);
  free(b.s);
  tu_rmtree(dir);
}
END_TEST

START_TEST(etm_roundtrip) {
  char *dir = tu_tempdir();
  gz_err e = {0};
  float *m = calloc(64 * 64, sizeof *m), *back;
  int size, label;
  char *p = fx_path(dir, "a.etm");
  ck_assert_int_eq(gz_etm_write(p, m, 64, -1, 0, &e), 0); /* all zero: header only */
  ck_assert_int_eq(gz_etm_read(p, &back, &size, &label, &e), 0);
  ck_assert(size == 64 && label == -1 && back[0] == 0.0f);
  free(back);
  m[10 * 64 + 5] = 0.25f;
  m[40 * 64 + 50] = 1.0f;
  m[20 * 64 + 30] = -0.0f; /* a negative zero is zero */
  ck_assert_int_eq(gz_etm_write(p, m, 64, 7, 0, &e), 0);
  size_t len;
  char *raw = gz_read_file(p, &len, &e);
  ck_assert_uint_eq(len, 32 + 4 * (41 - 10) * (51 - 5)); /* the box [10, 41) x [5, 51) */
  ck_assert_int_eq(gz_etm_read(p, &back, &size, &label, &e), 0);
  ck_assert_int_eq(label, 7);
  ck_assert_int_eq(memcmp(back, m, sizeof *m * 64 * 64), 0);
  free(back);
  /* 16-bit fixed point: half the size, error <= 0.5/65535 */
  m[30 * 64 + 20] = 0.123456f;
  m[31 * 64 + 20] = 1.5f; /* clamped */
  char *pq = fx_path(dir, "q.etm");
  ck_assert_int_eq(gz_etm_write(pq, m, 64, 3, 1, &e), 0);
  char *rawq = gz_read_file(pq, &len, &e);
  ck_assert_uint_eq(len, 32 + 2 * (41 - 10) * (51 - 5));
  ck_assert_int_eq(memcmp(rawq, "GZETMAPQ", 8), 0);
  free(rawq);
  ck_assert_int_eq(gz_etm_read(pq, &back, &size, &label, &e), 0);
  ck_assert_int_eq(label, 3);
  for (int i = 0; i < 64 * 64; i++) {
    float want = m[i] > 1 ? 1 : m[i];
    ck_assert_msg(fabsf(back[i] - want) <= 0.5f / 65535 + 1e-7f, "pixel %d: %g vs %g", i, back[i], want);
  }
  ck_assert(back[40 * 64 + 50] == 1.0f && back[0] == 0.0f);
  free(back);
  free(pq);
  /* truncated or foreign files are errors */
  ck_assert_int_eq(gz_write_file_atomic(p, raw, len - 4, &e), 0);
  ck_assert_int_eq(gz_etm_read(p, &back, &size, &label, &e), -1);
  ck_assert_msg(strstr(e.msg, "inconsistent header"), "%s", e.msg);
  ck_assert_int_eq(gz_write_file_atomic(p, "hello", 5, &e), 0);
  ck_assert_int_eq(gz_etm_read(p, &back, &size, &label, &e), -1);
  ck_assert_msg(strstr(e.msg, "not a gazeloc map file"), "%s", e.msg);
  free(raw);
  free(m);
  free(p);
  tu_rmtree(dir);
}
END_TEST

/* Broken files never crash: random damage (truncation, stray bytes, quotes, huge numbers) to each file of a
 * reading, then load -> transcript -> maps. Every outcome is 0, 1 or -1 with a message naming a file. */
START_TEST(damaged_files_never_crash) {
  static const char *FILES[] = {"fixations.csv", "timestamps_transcription.csv", "transcription.txt",
                                "anomaly_location_ellipses.csv", "chest_bounding_box.csv"};
  static const char *JUNK[] = {"\"", ",", "\r\n", "\n", "nan", "1e999", "-", "\xEF\xBB\xBF", "\x00", ".", "999999999999"};
  char *root = tu_tempdir();
  gz_meta_row row = {.id = "P300R000009", .size_x = 200, .size_y = 240, .phase = 3};
  char *d = fx_mkreading(root, row.id);
  gz_rng r;
  gz_rng_init(&r, 5, 5);
  fx_buf fx = {0};
  fx_random_fixations(&fx, &r, 30, 200, 240, 0.0, 10.0, 10, 30);
  char *good[5];
  char *text;
  fx_words(d, "the heart is enlarged . small effusion , likely .", 0.5, 0.4, &text);
  good[0] = fx.s;
  char *tp = fx_path(d, "timestamps_transcription.csv");
  good[1] = gz_read_file(tp, NULL, NULL);
  free(tp);
  good[2] = text;
  good[3] = strdup("xmin,ymin,xmax,ymax,certainty,Atelectasis\r\n10,20,100,200,4,True\r\n");
  good[4] = strdup("xmin,ymin,xmax,ymax\r\n1,2,199,239\r\n");
  gz_mention m[2] = {{gz_category_index("atelectasis"), 13, 21}, {gz_category_index("pleural effusion"), 30, 38}};
  int outcomes[3] = {0}, last = -1;
  for (int k = 0; k < 5; k++) fx_write(d, FILES[k], good[k]);
  for (int it = 0; it < 150; it++) {
    int f = (int)gz_rng_below(&r, 5);
    if (last >= 0) fx_write(d, FILES[last], good[last]); /* undo the previous damage */
    last = f;
    size_t n = strlen(good[f]);
    char *bad = malloc(n + 64);
    memcpy(bad, good[f], n + 1);
    int op = (int)gz_rng_below(&r, 3);
    size_t at = n ? gz_rng_below(&r, (uint32_t)n) : 0;
    if (op == 0) bad[at] = '\0'; /* truncation */
    else if (op == 1) { /* insertion */
      const char *j = JUNK[gz_rng_below(&r, sizeof JUNK / sizeof JUNK[0])];
      size_t jl = strlen(j);
      memmove(bad + at + jl, bad + at, n - at + 1);
      memcpy(bad + at, j, jl);
    } else { /* a character replaced */
      bad[at] = "0123456789.,-\"\r\nxE "[gz_rng_below(&r, 20)];
    }
    fx_write(d, FILES[f], bad);
    free(bad);
    gz_err e = {0};
    gz_reading rd;
    int rc = gz_reading_load(root, &row, &rd, &e);
    if (rc == 0) {
      gz_prepared p;
      gz_label_maps lm = {0};
      gz_strategy st = GZ_STRATEGY_DEFAULT;
      rc = gz_prepare(&rd, 64, NULL, &p, &e);
      if (rc == 0) {
        rc = gz_label_maps_compute(&p, m, 2, &st, &lm, &e);
        for (int i = 0; rc == 0 && i < GZ_NLABELS * 64 * 64; i++) ck_assert(isfinite(lm.maps[i]));
        gz_label_maps_free(&lm);
        gz_prepared_free(&p);
      }
      gz_reading_free(&rd);
    }
    ck_assert(rc == 0 || rc == 1 || rc == -1);
    if (rc == -1) ck_assert_msg(strstr(e.msg, root) || strstr(e.msg, "mention"), "message names no file: %s", e.msg);
    outcomes[rc + 1]++;
  }
  ck_assert_int_gt(outcomes[0], 30); /* most damage is detected */
  ck_assert_int_gt(outcomes[1], 5);  /* some is harmless (e.g. a digit changed) */
  for (int k = 0; k < 5; k++) free(good[k]);
  free(d);
  tu_rmtree(root);
}
END_TEST

Suite *suite_gaze_readers(void) {
  Suite *s = suite_create("gaze_readers");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, metadata_by_name);
  tcase_add_test(tc, fixations_columns_and_errors);
  tcase_add_test(tc, reading_load_and_discarded);
  tcase_add_test(tc, labeled_reports);
  tcase_add_test(tc, etm_roundtrip);
  tcase_add_test(tc, damaged_files_never_crash);
  suite_add_tcase(s, tc);
  return s;
}
