/* gazeloc-etmaps end to end on a small REFLACX folder written here: files, summary, overlays, --search, and the
 * exact error messages of bad invocations. */
#include <stb_image.h>
#include <stb_image_write.h>
#include <sys/wait.h>

#include "gaze/gaze.h"
#include "gaze_fixture.h"

enum { W = 320, H = 400 };

static const char *TOKENS[3] = {"the heart is enlarged . small left pleural effusion . no pneumothorax .",
                                "mild pulmonary edema . left basilar atelectasis , likely . tubes in place .",
                                "no acute findings ."};

static const char *META_HDR =
    "id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,image_size_y,Atelectasis\r\n";

/* Mentions of reading k as labeled_reports location cells per category. */
static void labels_row(fx_buf *b, const char *id, const char *text, int k) {
  int loc[GZ_NCATEGORIES][2];
  for (int c = 0; c < GZ_NCATEGORIES; c++) loc[c][0] = -1;
  const char *words[3][3] = {{"enlarged", "pleural effusion", NULL}, {"pulmonary edema", "atelectasis", "tubes"}, {NULL}};
  const char *cats[3][3] = {{"enlarged cardiac silhouette", "pleural effusion", NULL},
                            {"pulmonary edema", "atelectasis", "support devices"}, {NULL}};
  for (int i = 0; i < 3 && words[k][i]; i++) {
    int c = gz_category_index(cats[k][i]);
    loc[c][0] = (int)(strstr(text, words[k][i]) - text);
    loc[c][1] = loc[c][0] + (int)strlen(words[k][i]);
  }
  fx_printf(b, "%s,\"%s\"", id, text);
  for (int c = 0; c < GZ_NCATEGORIES; c++) fx_printf(b, ",%s", loc[c][0] >= 0 ? "1.0" : "");
  for (int c = 0; c < GZ_NCATEGORIES; c++) {
    if (loc[c][0] >= 0) fx_printf(b, ",\"[[%d, %d]]\"", loc[c][0], loc[c][1]);
    else fx_printf(b, ",[]");
  }
  fx_printf(b, "\r\n");
}

/* DIR with readings 0, 1 (ok), 2 (no finding), 3 (discarded flag), 4 (malformed fixations). */
static char *make_dataset(char **labels_path) {
  char *root = tu_tempdir();
  fx_buf meta = {0}, lab = {0};
  fx_printf(&meta, "%s", META_HDR);
  fx_printf(&lab, "id,Reports");
  for (int c = 0; c < GZ_NCATEGORIES; c++) fx_printf(&lab, ",%s", gz_category_names[c]);
  for (int c = 0; c < GZ_NCATEGORIES; c++) fx_printf(&lab, ",%s_location", gz_category_names[c]);
  fx_printf(&lab, "\r\n");
  for (int k = 0; k < 5; k++) {
    char id[32];
    snprintf(id, sizeof id, "P300R00000%d", k);
    fx_printf(&meta, "%s,%s,%s,physionet.org/files/mimic-cxr/2.0.0/files/p10/p1000000%d/s5000000%d/d%d.dcm,d%d,"
                     "1000000%d,%d,%d,0\r\n", id, k % 2 ? "test" : "train", k == 3 ? "True" : "False", k, k, k, k, k,
              W, H);
    char *d = fx_mkreading(root, id);
    char *text;
    fx_words(d, TOKENS[k % 3], 1.0, 0.5, &text);
    gz_rng r;
    gz_rng_init(&r, 99, (uint64_t)k);
    fx_buf fx = {0};
    fx_random_fixations(&fx, &r, 60, W, H, 0.0, 25.0, 15, 35);
    if (k == 4) fx_printf(&fx, "1.0,oops,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\r\n");
    fx_write(d, "fixations.csv", fx.s);
    fx_write(d, "anomaly_location_ellipses.csv",
             "xmin,ymin,xmax,ymax,certainty,Atelectasis,Pleural abnormality,Enlarged cardiac silhouette\r\n"
             "40,220,150,380,4,True,True,False\r\n100,60,260,250,5,False,False,True\r\n");
    if (k != 3) labels_row(&lab, id, text, k % 3);
    free(text);
    free(fx.s);
    free(d);
  }
  fx_write(root, "metadata_phase_3.csv", meta.s);
  *labels_path = tu_write(root, "labeled_reports.csv", lab.s, lab.n);
  free(meta.s);
  free(lab.s);
  return root;
}

/* Runs the program; returns the exit status, output in *out (malloc'd). */
static int run(const char *args, char **out) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "GAZELOC_QUIET=1 %s/gazeloc-etmaps %s 2>&1", getenv("GAZELOC_BIN") ? getenv("GAZELOC_BIN") : "build/release/bin", args);
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  fx_buf b = {0};
  fx_printf(&b, "%s", "");
  char line[4096];
  while (fgets(line, sizeof line, p)) fx_printf(&b, "%s", line);
  int st = pclose(p);
  *out = b.s;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(maps_summary_and_overlays) {
  char *labels, *root = make_dataset(&labels), *out;
  /* an 8-bit JPEG for reading 0 in a MIMIC-CXR-JPG tree */
  char *mimic = fx_path(root, "mimic"), jpg[4400], cmd[4400];
  snprintf(cmd, sizeof cmd, "mkdir -p %s/files/p10/p10000000/s50000000", mimic);
  ck_assert_int_eq(system(cmd), 0);
  unsigned char *img = malloc(W * H);
  for (int i = 0; i < W * H; i++) img[i] = (unsigned char)(i % W * 255 / W);
  snprintf(jpg, sizeof jpg, "%s/files/p10/p10000000/s50000000/d0.jpg", mimic);
  ck_assert(stbi_write_jpg(jpg, W, H, 1, img, 90));
  free(img);
  char args[8192];
  snprintf(args, sizeof args, "%s --labels %s --out %s/out --mimic %s --threads 2", root, labels, root, mimic);
  int rc = run(args, &out);
  ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
  ck_assert_msg(strstr(out, "3 readings written, 1 skipped (errors above), 1 discarded, 0 without a labels row; 8 maps"), "%s",
                out);
  ck_assert_msg(strstr(out, "skipping P300R000004: ") && strstr(out, "fixations.csv line 62, column 2 "
                "(timestamp_end_fixation): 'oops' is not a number"), "%s", out);
  free(out);
  char path[4400];
  snprintf(path, sizeof path, "%s/out/maps.csv", root);
  gz_err e = {0};
  char *csv = gz_read_file(path, NULL, &e);
  ck_assert_msg(csv != NULL, "%s", e.msg);
  ck_assert_msg(strstr(csv, "P300R000000,ok,Pleural abnormality|Cardiomegaly,Pleural abnormality|Cardiomegaly,2,0,0,1\n"),
                "%s", csv);
  ck_assert_msg(strstr(csv, "P300R000001,ok,Edema|Opacity|Atelectasis,Edema|Opacity|Atelectasis,2,0,0,1\n"), "%s", csv);
  ck_assert_msg(strstr(csv, "P300R000002,ok,,,0,0,0,1\n"), "%s", csv);
  ck_assert_msg(strstr(csv, "P300R000004,skipped,"), "%s", csv);
  free(csv);
  /* the file holds exactly what the library computes */
  float *map;
  int size, label;
  snprintf(path, sizeof path, "%s/out/P300R000001/atelectasis.etm", root);
  ck_assert_msg(gz_etm_read(path, &map, &size, &label, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(size, 512);
  ck_assert_int_eq(label, 5);
  gz_meta_row row = {.id = "P300R000001", .size_x = W, .size_y = H};
  gz_reading rd;
  ck_assert_int_eq(gz_reading_load(root, &row, &rd, &e), 0);
  gz_labels_file lf;
  ck_assert_int_eq(gz_labels_read(labels, &lf, &e), 0);
  const gz_report_labels *rl = gz_labels_find(&lf, "P300R000001");
  gz_prepared p;
  gz_label_maps lm = {0};
  ck_assert_int_eq(gz_prepare(&rd, 512, NULL, &p, &e), 0);
  gz_strategy st = GZ_STRATEGY_DEFAULT;
  ck_assert_int_eq(gz_label_maps_compute(&p, rl->m, rl->nm, &st, &lm, &e), 0);
  ck_assert_int_eq(memcmp(map, lm.maps + (size_t)5 * 512 * 512, sizeof(float) * 512 * 512), 0);
  float mx = 0;
  for (int i = 0; i < 512 * 512; i++) mx = fmaxf(mx, map[i]);
  ck_assert(mx > 0.9f && mx <= 1.0f);
  free(map);
  gz_label_maps_free(&lm);
  gz_prepared_free(&p);
  gz_reading_free(&rd);
  gz_labels_free(&lf);
  /* overlays: only where the image exists */
  int w, h, c;
  snprintf(path, sizeof path, "%s/out/P300R000000/cardiomegaly.png", root);
  unsigned char *png = stbi_load(path, &w, &h, &c, 0);
  ck_assert_msg(png != NULL, "no overlay %s", path);
  ck_assert(w == 512 && h == 512 && c == 3);
  stbi_image_free(png);
  snprintf(path, sizeof path, "%s/out/P300R000001/atelectasis.png", root);
  ck_assert(!gz_is_file(path));
  snprintf(path, sizeof path, "%s/out/P300R000000/whole_report.etm", root);
  ck_assert(gz_is_file(path));
  free(mimic);
  free(labels);
  tu_rmtree(root);
}
END_TEST

START_TEST(whole_report_only_without_labels) {
  char *labels, *root = make_dataset(&labels), *out, args[8192], path[4400];
  snprintf(args, sizeof args, "%s --out %s/o2 --limit 2 --u16", root, root);
  ck_assert_int_eq(run(args, &out), 0);
  ck_assert_msg(strstr(out, "no --labels: writing only the whole-report maps"), "%s", out);
  free(out);
  snprintf(path, sizeof path, "%s/o2/P300R000000/whole_report.etm", root);
  gz_err e = {0};
  char *raw = gz_read_file(path, NULL, &e);
  ck_assert_msg(raw && !memcmp(raw, "GZETMAPQ", 8), "not a 16-bit map file");
  free(raw);
  snprintf(path, sizeof path, "%s/o2/P300R000000/cardiomegaly.etm", root);
  ck_assert(!gz_is_file(path));
  free(labels);
  tu_rmtree(root);
}
END_TEST

START_TEST(search_table) {
  char *labels, *root = make_dataset(&labels), *out, args[8192], path[4400];
  snprintf(args, sizeof args, "%s --labels %s --out %s/s --search --size 128 --threads 2", root, labels, root);
  int rc = run(args, &out);
  ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
  ck_assert_msg(strstr(out, "rank  strategy") && strstr(out, "search table written to"), "%s", out);
  free(out);
  snprintf(path, sizeof path, "%s/s/search.csv", root);
  gz_err e = {0};
  gz_csv *c = gz_csv_open(path, 0, &e);
  ck_assert_msg(c != NULL, "%s", e.msg);
  int rows = 0, stage2 = 0, ci = gz_csv_find(c, "mean_iou"), cs = gz_csv_find(c, "stage"),
      cp = gz_csv_find(c, "positives_atelectasis");
  double prev = 2, v;
  while (gz_csv_next(c, &e) == 1) {
    ck_assert_int_eq(gz_csv_double(c, ci, &v, &e), 0);
    ck_assert_msg(v <= prev && v >= 0 && v <= 1, "not ranked: %g after %g", v, prev);
    prev = v;
    stage2 += !strcmp(gz_csv_field(c, cs), "2");
    ck_assert_str_eq(gz_csv_field(c, cp), "3"); /* readings 0, 1, 2 hold an atelectasis ellipse */
    rows++;
  }
  gz_csv_close(c);
  ck_assert_int_eq(rows, 3 * 4 * 3 + 5 * 4 + 8); /* delayed rules x ends x 3 delays, plain rules x ends, stage 2 */
  ck_assert_int_eq(stage2, 8);
  ck_assert(prev < 1.0); /* the table is not degenerate */
  /* the same table with one thread, byte for byte */
  snprintf(args, sizeof args, "%s --labels %s --out %s/s1 --search --size 128 --threads 1", root, labels, root);
  ck_assert_int_eq(run(args, &out), 0);
  free(out);
  char p1[4400];
  snprintf(p1, sizeof p1, "%s/s1/search.csv", root);
  size_t n0, n1;
  char *a = gz_read_file(path, &n0, &e), *b = gz_read_file(p1, &n1, &e);
  ck_assert(a && b && n0 == n1 && !memcmp(a, b, n0));
  free(a);
  free(b);
  free(labels);
  tu_rmtree(root);
}
END_TEST

START_TEST(bad_invocations) {
  char *out;
  ck_assert_int_eq(run("/nonexistent/dir", &out), 2);
  ck_assert_msg(strstr(out, "gazeloc-etmaps: error: /nonexistent/dir is not a folder"), "%s", out);
  free(out);
  ck_assert_int_eq(run("", &out), 2);
  ck_assert_msg(strstr(out, "gazeloc-etmaps: error: missing DIR"), "%s", out);
  free(out);
  ck_assert_int_eq(run(". --strategy 2s_middle_lastmention", &out), 2);
  ck_assert_msg(strstr(out, "error: strategy '2s_middle_lastmention': unknown start rule 'middle'"), "%s", out);
  free(out);
  ck_assert_int_eq(run(". --search", &out), 2);
  ck_assert_msg(strstr(out, "error: --search needs --labels"), "%s", out);
  free(out);
  ck_assert_int_eq(run(". --phases 4", &out), 2);
  ck_assert_msg(strstr(out, "error: --phases '4': expected a list of 1, 2, 3"), "%s", out);
  free(out);
  ck_assert_int_eq(run(". --bogus 1", &out), 2);
  ck_assert_msg(strstr(out, "error: unknown option --bogus"), "%s", out);
  free(out);
  char *dir = tu_tempdir(), args[4400];
  snprintf(args, sizeof args, "%s", dir);
  ck_assert_int_eq(run(args, &out), 2);
  ck_assert_msg(strstr(out, "metadata_phase_3.csv") && strstr(out, "error"), "%s", out);
  free(out);
  ck_assert_int_eq(run("--help", &out), 0);
  ck_assert_msg(strstr(out, "usage: gazeloc-etmaps DIR"), "%s", out);
  free(out);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_gaze_etmaps(void) {
  Suite *s = suite_create("gaze_etmaps");
  TCase *tc = tcase_create("program");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, maps_summary_and_overlays);
  tcase_add_test(tc, whole_report_only_without_labels);
  tcase_add_test(tc, search_table);
  tcase_add_test(tc, bad_invocations);
  suite_add_tcase(s, tc);
  return s;
}
