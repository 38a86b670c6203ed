/* The synthetic dataset: formats (read back with base's CSV reader, column order and types of
 * data-formats.md), CRLF and True/False, the transcription round trip, JPEG sizes, determinism
 * (same seed -> same bytes whatever the thread count; another seed -> other bytes), the truth sidecar,
 * and the program's refusals. Small datasets (128-160 px) keep this fast. */
#include "base/base.h"
#include "data/data.h"
#include "data/synth_internal.h"
#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <sys/wait.h>
#include <xxhash.h>

static int run(const char *args);

static char *g_tmp, *g_a, *g_b, *g_c;

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", a, b);
  return p;
}

typedef struct {
  const char *out;
  uint64_t seed;
  int threads;
} set_job;

/* Runs in a child process (see tu_in_child): the generator uses OpenMP. */
static int make_set_child(void *arg) {
  const set_job *j = arg;
  const char *out = j->out;
  uint64_t seed = j->seed;
  int threads = j->threads;
  gz_synth_opts o;
  gz_synth_defaults(&o, GZ_SYNTH_DEMO);
  o.out = out;
  o.seed = seed;
  o.n_studies = 30;
  o.n_readings = 12;
  o.size = 144;
  o.progress = 0;
  o.examples = 1;
  omp_set_num_threads(threads);
  gz_synth_summary s;
  gz_err e = {0};
  int rc = gz_synth_generate(&o, &s, &e);
  if (rc) fprintf(stderr, "generation failed: %s\n", e.msg);
  return rc;
}

static void make_set(const char *out, uint64_t seed, int threads) {
  set_job j = {out, seed, threads};
  if (tu_in_child(make_set_child, &j) != 0) {
    fprintf(stderr, "generation of %s failed\n", out);
    abort();
  }
}

static void setup(void) {
  g_tmp = tu_tempdir();
  g_a = join(g_tmp, "a");
  g_b = join(g_tmp, "b");
  g_c = join(g_tmp, "c");
  make_set(g_a, 7, 2);
  make_set(g_b, 7, 1);
  make_set(g_c, 8, 2);
}

static void teardown(void) {
  free(g_a); free(g_b); free(g_c);
  tu_rmtree(g_tmp);
}

/* ---------------------------------------------------------------- helpers */

static gz_csv *open_csv(const char *root, const char *rel) {
  char *p = join(root, rel);
  gz_err e = {0};
  gz_csv *c = gz_csv_open(p, 0, &e);
  ck_assert_msg(c != NULL, "%s", e.msg);
  free(p);
  return c;
}

static void expect_header(gz_csv *c, const char *const *cols, int n) {
  ck_assert_int_eq(gz_csv_ncols(c), n);
  for (int i = 0; i < n; i++) ck_assert_str_eq(gz_csv_header(c, i), cols[i]);
}

static void expect_crlf(const char *path) {
  size_t n;
  gz_err e = {0};
  char *s = gz_read_file(path, &n, &e);
  ck_assert_msg(s != NULL, "%s", e.msg);
  ck_assert_msg(n > 2 && s[n - 1] == '\n' && s[n - 2] == '\r', "%s must end with CRLF", path);
  for (size_t i = 0; i < n; i++)
    if (s[i] == '\n') ck_assert_msg(i > 0 && s[i - 1] == '\r', "%s: bare LF at byte %zu", path, i);
  free(s);
}

static const char *const reflacx_labels[16] = {
    "Abnormal mediastinal contour", "Acute fracture", "Atelectasis", "Consolidation", "Enlarged cardiac silhouette",
    "Enlarged hilum", "Groundglass opacity", "Hiatal hernia", "High lung volume / emphysema",
    "Interstitial lung disease", "Lung nodule or mass", "Other", "Pleural abnormality", "Pneumothorax",
    "Pulmonary edema", "Support devices"};

/* Calls fn for every reading id in metadata_phase_3.csv. */
static int for_readings(const char *root, void (*fn)(const char *dir, const char *id, long w, long h)) {
  gz_csv *c = open_csv(root, "reflacx/main_data/metadata_phase_3.csv");
  gz_err e = {0};
  int n = 0;
  while (gz_csv_next(c, &e) == 1) {
    long w, h;
    ck_assert_int_eq(gz_csv_int(c, 6, &w, &e), 0);
    ck_assert_int_eq(gz_csv_int(c, 7, &h, &e), 0);
    char *md = join(root, "reflacx/main_data");
    char *dir = join(md, gz_csv_field(c, 0));
    fn(dir, gz_csv_field(c, 0), w, h);
    free(dir);
    free(md);
    n++;
  }
  gz_csv_close(c);
  return n;
}

/* ---------------------------------------------------------------- REFLACX */

START_TEST(reflacx_metadata) {
  gz_csv *c = open_csv(g_a, "reflacx/main_data/metadata_phase_3.csv");
  static const char *lead[8] = {"id", "split", "eye_tracking_data_discarded", "image", "dicom_id", "subject_id",
                                "image_size_x", "image_size_y"};
  ck_assert_int_eq(gz_csv_ncols(c), 24);
  for (int i = 0; i < 8; i++) ck_assert_str_eq(gz_csv_header(c, i), lead[i]);
  for (int i = 0; i < 16; i++) ck_assert_str_eq(gz_csv_header(c, 8 + i), reflacx_labels[i]);
  gz_err e = {0};
  int n = 0, st;
  char prev[256] = "";
  while ((st = gz_csv_next(c, &e)) == 1) {
    const char *id = gz_csv_field(c, 0), *split = gz_csv_field(c, 1), *img = gz_csv_field(c, 3);
    ck_assert_int_eq((int)strlen(id), 11);
    ck_assert(!strncmp(id, "P300R", 5));
    ck_assert(!strcmp(split, "train") || !strcmp(split, "validate") || !strcmp(split, "test"));
    int b;
    ck_assert_int_eq(gz_csv_bool(c, 2, &b, &e), 0);
    ck_assert_str_eq(gz_csv_field(c, 2), "False");
    ck_assert(!strncmp(img, "physionet.org/files/mimic-cxr/2.0.0/files/p", 43));
    ck_assert(strstr(img, gz_csv_field(c, 4)) != NULL);
    ck_assert_msg(strcmp(prev, img) < 0, "phase 3 is sorted by image");
    snprintf(prev, sizeof prev, "%s", img);
    const char *dic = gz_csv_field(c, 4);
    ck_assert_int_eq((int)strlen(dic), 44);
    for (int k = 8; k < 44; k += 9) ck_assert_int_eq(dic[k], '-');
    ck_assert_int_eq((int)strlen(gz_csv_field(c, 5)), 8);
    for (int k = 8; k < 24; k++) {
      if (k == 8 + 11) { ck_assert_str_eq(gz_csv_field(c, k), ""); continue; }
      if (k == 8 + 15) { ck_assert_int_eq(gz_csv_bool(c, k, &b, &e), 0); continue; }
      long v;
      ck_assert_msg(gz_csv_int(c, k, &v, &e) == 0, "%s", e.msg);
      ck_assert(v >= 0 && v <= 5);
    }
    n++;
  }
  ck_assert_int_eq(st, 0);
  ck_assert_int_eq(n, 12);
  gz_csv_close(c);
  char *p = join(g_a, "reflacx/main_data/metadata_phase_3.csv");
  expect_crlf(p);
  free(p);
}
END_TEST

static void check_reading_files(const char *dir, const char *id, long W, long H) {
  (void)id;
  gz_err e = {0};
  static const char *fh[17] = {"timestamp_start_fixation", "timestamp_end_fixation", "x_position", "y_position",
                               "pupil_area_normalized", "angular_resolution_x_pixels_per_degree",
                               "angular_resolution_y_pixels_per_degree", "window_width", "window_level",
                               "xmin_shown_from_image", "ymin_shown_from_image", "xmax_shown_from_image",
                               "ymax_shown_from_image", "xmin_in_screen_coordinates", "ymin_in_screen_coordinates",
                               "xmax_in_screen_coordinates", "ymax_in_screen_coordinates"};
  gz_csv *c = open_csv(dir, "fixations.csv");
  expect_header(c, fh, 17);
  int n = 0, st;
  double last_t0 = -10;
  while ((st = gz_csv_next(c, &e)) == 1) {
    double t0, t1, pupil, ww, wl;
    long v[13];
    ck_assert_int_eq(gz_csv_double(c, 0, &t0, &e), 0);
    ck_assert_int_eq(gz_csv_double(c, 1, &t1, &e), 0);
    ck_assert_int_eq(gz_csv_double(c, 4, &pupil, &e), 0);
    ck_assert_int_eq(gz_csv_double(c, 7, &ww, &e), 0);
    ck_assert_int_eq(gz_csv_double(c, 8, &wl, &e), 0);
    int ic[] = {2, 3, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16};
    for (int k = 0; k < 12; k++) ck_assert_msg(gz_csv_int(c, ic[k], &v[k], &e) == 0, "%s", e.msg);
    ck_assert(t1 > t0 && t0 > last_t0 && t0 > -1 && t1 - t0 < 2);
    last_t0 = t0;
    ck_assert(pupil >= 0.6 && pupil <= 1.6);
    ck_assert(ww > 1.5e-5 && ww <= 2 && wl >= 0 && wl <= 1);
    ck_assert(v[2] > 0 && v[3] > 0);                               /* angular resolution */
    ck_assert(v[4] >= 0 && v[5] >= 0 && v[6] <= W && v[7] <= H);   /* shown rectangle inside the image */
    ck_assert(v[8] >= 0 && v[9] >= 0 && v[10] <= 3840 && v[11] <= 2160); /* on the 4K screen */
    n++;
  }
  ck_assert_int_eq(st, 0);
  ck_assert_int_gt(n, 20);
  gz_csv_close(c);
  static const char *th[3] = {"word", "timestamp_start_word", "timestamp_end_word"};
  c = open_csv(dir, "timestamps_transcription.csv");
  expect_header(c, th, 3);
  double prev_end = 0;
  while ((st = gz_csv_next(c, &e)) == 1) {
    double a, b;
    ck_assert_int_eq(gz_csv_double(c, 1, &a, &e), 0);
    ck_assert_int_eq(gz_csv_double(c, 2, &b, &e), 0);
    ck_assert(b > a && a >= prev_end - 1e-9 && b < 240);
    prev_end = b;
  }
  ck_assert_int_eq(st, 0);
  gz_csv_close(c);
  c = open_csv(dir, "anomaly_location_ellipses.csv");
  static const char *eh[5] = {"xmin", "ymin", "xmax", "ymax", "certainty"};
  ck_assert_int_eq(gz_csv_ncols(c), 21);
  for (int i = 0; i < 5; i++) ck_assert_str_eq(gz_csv_header(c, i), eh[i]);
  for (int i = 0; i < 16; i++) ck_assert_str_eq(gz_csv_header(c, 5 + i), reflacx_labels[i]);
  while ((st = gz_csv_next(c, &e)) == 1) {
    long v[5];
    for (int k = 0; k < 5; k++) ck_assert_int_eq(gz_csv_int(c, k, &v[k], &e), 0);
    ck_assert(v[2] > v[0] && v[3] > v[1] && v[4] >= 1 && v[4] <= 5);
    int any = 0, b;
    for (int k = 5; k < 21; k++) {
      ck_assert_int_eq(gz_csv_bool(c, k, &b, &e), 0);
      ck_assert(!strcmp(gz_csv_field(c, k), "True") || !strcmp(gz_csv_field(c, k), "False"));
      any |= b;
    }
    ck_assert(any);
  }
  ck_assert_int_eq(st, 0);
  gz_csv_close(c);
  c = open_csv(dir, "chest_bounding_box.csv");
  expect_header(c, eh, 4);
  ck_assert_int_eq(gz_csv_next(c, &e), 1);
  long b[4];
  for (int k = 0; k < 4; k++) ck_assert_int_eq(gz_csv_int(c, k, &b[k], &e), 0);
  ck_assert(b[2] > b[0] && b[3] > b[1] && b[0] >= -W / 10 && b[2] <= W + W / 10);
  ck_assert_int_eq(gz_csv_next(c, &e), 0);
  gz_csv_close(c);
  static const char *files[4] = {"fixations.csv", "timestamps_transcription.csv", "anomaly_location_ellipses.csv",
                                 "chest_bounding_box.csv"};
  for (int k = 0; k < 4; k++) {
    char *p = join(dir, files[k]);
    expect_crlf(p);
    free(p);
  }
}

START_TEST(reflacx_reading_files) { ck_assert_int_eq(for_readings(g_a, check_reading_files), 12); }
END_TEST

/* transcription.replace('.', ' .').replace(',', ' ,') == ' '.join(words) (data-formats.md 1.5), and the
 * paper's rebuild (a space before every word but . , :) gives the file back (1.6). */
static void check_round_trip(const char *dir, const char *id, long W, long H) {
  (void)W; (void)H;
  char *p = join(dir, "transcription.txt");
  gz_err e = {0};
  size_t n;
  char *t = gz_read_file(p, &n, &e);
  ck_assert_msg(t != NULL, "%s", e.msg);
  ck_assert_msg(n > 0 && t[n - 1] == '.', "%s: the report ends with a period and no newline", id);
  char *spaced = malloc(2 * n + 1), *joined = malloc(4 * n + 64), *rebuilt = malloc(4 * n + 64);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i] == '.' || t[i] == ',') spaced[k++] = ' ';
    spaced[k++] = t[i];
  }
  spaced[k] = 0;
  joined[0] = rebuilt[0] = 0;
  gz_csv *c = open_csv(dir, "timestamps_transcription.csv");
  int w = 0;
  while (gz_csv_next(c, &e) == 1) {
    const char *word = gz_csv_field(c, 0);
    ck_assert(strchr(word, ' ') == NULL && *word);
    if (w) strcat(joined, " ");
    strcat(joined, word);
    if (w && strcmp(word, ".") && strcmp(word, ",") && strcmp(word, ":")) strcat(rebuilt, " ");
    strcat(rebuilt, word);
    w++;
  }
  gz_csv_close(c);
  ck_assert_str_eq(spaced, joined);
  ck_assert_str_eq(t, rebuilt);
  free(spaced); free(joined); free(rebuilt); free(t); free(p);
}

START_TEST(transcription_round_trip) { ck_assert_int_eq(for_readings(g_a, check_round_trip), 12); }
END_TEST

/* ---------------------------------------------------------------- MIMIC */

START_TEST(mimic_tables_and_jpegs) {
  gz_err e = {0};
  gz_csv *c = open_csv(g_a, "mimic/mimic-cxr-2.0.0-chexpert.csv");
  static const char *ch[16] = {"subject_id", "study_id", "Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
                               "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion", "Lung Opacity", "No Finding",
                               "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax", "Support Devices"};
  expect_header(c, ch, 16);
  int studies = 0, st;
  while ((st = gz_csv_next(c, &e)) == 1) {
    for (int k = 2; k < 16; k++) {
      const char *v = gz_csv_field(c, k);
      ck_assert(!strcmp(v, "") || !strcmp(v, "1.0") || !strcmp(v, "0.0") || !strcmp(v, "-1.0"));
    }
    studies++;
  }
  ck_assert_int_eq(st, 0);
  ck_assert_int_eq(studies, 30);
  gz_csv_close(c);
  c = open_csv(g_a, "mimic/mimic-cxr-2.0.0-split.csv");
  static const char *sh[4] = {"dicom_id", "study_id", "subject_id", "split"};
  expect_header(c, sh, 4);
  int images = 0;
  while (gz_csv_next(c, &e) == 1) {
    const char *s = gz_csv_field(c, 3);
    ck_assert(!strcmp(s, "train") || !strcmp(s, "validate") || !strcmp(s, "test"));
    images++;
  }
  gz_csv_close(c);
  c = open_csv(g_a, "mimic/mimic-cxr-2.0.0-metadata.csv");
  int cd = gz_csv_require(c, "dicom_id", &e), cs = gz_csv_require(c, "subject_id", &e);
  int ct = gz_csv_require(c, "study_id", &e), cv = gz_csv_require(c, "ViewPosition", &e);
  int cr = gz_csv_require(c, "Rows", &e), cc = gz_csv_require(c, "Columns", &e);
  ck_assert(cd >= 0 && cs >= 0 && ct >= 0 && cv >= 0 && cr >= 0 && cc >= 0);
  int n = 0, lateral = 0;
  while (gz_csv_next(c, &e) == 1) {
    long rows, cols;
    ck_assert_int_eq(gz_csv_int(c, cr, &rows, &e), 0);
    ck_assert_int_eq(gz_csv_int(c, cc, &cols, &e), 0);
    const char *vp = gz_csv_field(c, cv);
    ck_assert(!strcmp(vp, "PA") || !strcmp(vp, "AP") || !strcmp(vp, "LATERAL") || !strcmp(vp, "LL"));
    lateral += vp[0] == 'L';
    char rel[512];
    const char *sub = gz_csv_field(c, cs);
    snprintf(rel, sizeof rel, "mimic/files/p%.2s/p%s/s%s/%s.jpg", sub, sub, gz_csv_field(c, ct), gz_csv_field(c, cd));
    char *p = join(g_a, rel);
    int w, h, comp;
    unsigned char *px = stbi_load(p, &w, &h, &comp, 0);
    ck_assert_msg(px != NULL, "%s does not decode", p);
    ck_assert_int_eq(w, cols);
    ck_assert_int_eq(h, rows);
    ck_assert_int_eq(comp, 1); /* single-component 8-bit, as MIMIC-CXR-JPG */
    stbi_image_free(px);
    free(p);
    n++;
  }
  gz_csv_close(c);
  ck_assert_int_eq(n, images);
  ck_assert_int_gt(lateral, 0); /* the frontal filter has work to do */
}
END_TEST

/* The generator's own JPEG encoder, decoded by stb_image, against stb_image_write's encoder at the same
 * quality (same luminance table and IJG scaling; stb stores YCbCr, decoded here as grey): odd sizes
 * (partial edge blocks), smooth plus noisy content. Our error must match stb's within 15 % + 0.2 grey
 * levels on average (both are baseline JPEG; only rounding details differ). */
typedef struct mb { unsigned char *p; size_t n; } mb;
static void mb_put(void *ctx, void *data, int size) {
  mb *m = ctx;
  m->p = realloc(m->p, m->n + (size_t)size);
  memcpy(m->p + m->n, data, (size_t)size);
  m->n += (size_t)size;
}

static double mae_of(const unsigned char *jpg, size_t n, const uint8_t *px, int w, int h, int *comp_out) {
  int dw, dh, comp;
  unsigned char *dec = stbi_load_from_memory(jpg, (int)n, &dw, &dh, &comp, 1);
  ck_assert_msg(dec != NULL, "stb_image rejects the stream: %s", stbi_failure_reason());
  ck_assert_int_eq(dw, w);
  ck_assert_int_eq(dh, h);
  double mae = 0;
  for (size_t i = 0; i < (size_t)w * h; i++) mae += abs((int)dec[i] - (int)px[i]);
  stbi_image_free(dec);
  *comp_out = comp;
  return mae / ((double)w * h);
}

START_TEST(jpeg_encoder_round_trip) {
  int sizes[3][2] = {{8, 8}, {37, 23}, {129, 77}};
  for (int s = 0; s < 3; s++)
    for (int qi = 0; qi < 2; qi++) {
      int w = sizes[s][0], h = sizes[s][1], quality = qi ? 60 : 92;
      uint8_t *px = malloc((size_t)w * h);
      gz_rng r;
      gz_rng_init(&r, 42, (uint64_t)s);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          double v = 128 + 90 * sin(x * 0.13) * cos(y * 0.07) + 6 * gz_rng_normal(&r);
          px[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
      uint8_t *jpg;
      size_t n;
      int comp, comp_stb;
      ck_assert_int_eq(synth_jpeg_gray(px, w, h, quality, &jpg, &n), 0);
      double ours = mae_of(jpg, n, px, w, h, &comp);
      ck_assert_int_eq(comp, 1);
      mb m = {0};
      ck_assert(stbi_write_jpg_to_func(mb_put, &m, w, h, 1, px, quality));
      double theirs = mae_of(m.p, m.n, px, w, h, &comp_stb);
      ck_assert_msg(ours <= theirs * 1.15 + 0.2, "quality %d %dx%d: mean abs error %.3f vs stb %.3f", quality, w, h,
                    ours, theirs);
      ck_assert_msg(ours < (qi ? 5.0 : 3.0), "quality %d %dx%d: mean abs error %.3f", quality, w, h, ours);
      free(m.p);
      free(jpg);
      free(px);
    }
}
END_TEST

/* ---------------------------------------------------------------- determinism */

typedef struct hashes { char names[512][160]; uint64_t h[512]; int n; } hashes;

static int hash_cb(const char *path, const char *name, int kind, int depth, void *ud, gz_err *e) {
  (void)name; (void)depth; (void)e;
  hashes *H = ud;
  if (kind != GZ_WALK_FILE || H->n >= 512) return 0;
  size_t n;
  char *s = gz_read_file(path, &n, NULL);
  ck_assert(s != NULL);
  const char *rel = strstr(path, "/a/") ? strstr(path, "/a/") : strstr(path, "/b/") ? strstr(path, "/b/") : strstr(path, "/c/");
  snprintf(H->names[H->n], sizeof H->names[0], "%s", rel ? rel + 3 : path);
  H->h[H->n++] = XXH3_64bits(s, n);
  free(s);
  return 0;
}

START_TEST(same_seed_same_bytes_other_seed_differs) {
  static hashes A, B, C;
  memset(&A, 0, sizeof A); memset(&B, 0, sizeof B); memset(&C, 0, sizeof C);
  gz_err e = {0};
  ck_assert_int_eq(gz_walk(g_a, 10, hash_cb, &A, &e), 0);
  ck_assert_int_eq(gz_walk(g_b, 10, hash_cb, &B, &e), 0);
  ck_assert_int_eq(gz_walk(g_c, 10, hash_cb, &C, &e), 0);
  ck_assert_int_gt(A.n, 50);
  ck_assert_int_lt(A.n, 512);
  ck_assert_int_eq(A.n, B.n); /* 2 threads vs 1 thread */
  for (int i = 0; i < A.n; i++) {
    ck_assert_str_eq(A.names[i], B.names[i]);
    ck_assert_msg(A.h[i] == B.h[i], "%s differs between runs with the same seed", A.names[i]);
  }
  int same = 0; /* another seed: other ids, images, readings */
  for (int i = 0; i < C.n; i++)
    for (int j = 0; j < A.n; j++)
      if (!strcmp(C.names[i], A.names[j]) && C.h[i] == A.h[j]) same++;
  ck_assert_int_lt(same, 3); /* only seed-independent files could match (none are expected) */
}
END_TEST

/* ---------------------------------------------------------------- truth */

START_TEST(truth_mentions_match_text) {
  gz_err e = {0};
  gz_csv *c = open_csv(g_a, "truth/mentions.csv");
  int n = 0, pos = 0;
  while (gz_csv_next(c, &e) == 1) {
    char rel[256];
    snprintf(rel, sizeof rel, "reflacx/main_data/%s/transcription.txt", gz_csv_field(c, 0));
    char *p = join(g_a, rel);
    char *t = gz_read_file(p, NULL, &e);
    ck_assert(t != NULL);
    long a, b;
    ck_assert_int_eq(gz_csv_int(c, 3, &a, &e), 0);
    ck_assert_int_eq(gz_csv_int(c, 4, &b, &e), 0);
    ck_assert(a >= 0 && b > a && b <= (long)strlen(t));
    ck_assert_int_eq((int)(b - a), (int)strlen(gz_csv_field(c, 6)));
    ck_assert(!strncmp(t + a, gz_csv_field(c, 6), (size_t)(b - a)));
    pos += strcmp(gz_csv_field(c, 2), "negative") != 0;
    free(t); free(p);
    n++;
  }
  gz_csv_close(c);
  ck_assert_int_gt(n, 12);
  ck_assert_int_gt(pos, 0);
  c = open_csv(g_a, "truth/calibration.csv");
  int rows = 0;
  while (gz_csv_next(c, &e) == 1) {
    double v;
    ck_assert_int_eq(gz_csv_double(c, 1, &v, &e), 0);
    ck_assert(v >= -1 && v <= 1);
    rows++;
  }
  gz_csv_close(c);
  ck_assert_int_eq(rows, 6);
  char *p = join(g_a, "truth/readings.csv");
  ck_assert(gz_is_file(p));
  free(p);
}
END_TEST

/* The figures recomputed from the files equal the ones printed at generation (same routine, same files). */
START_TEST(calibration_recomputes) {
  gz_synth_calib c;
  gz_err e = {0};
  ck_assert_msg(gz_synth_calibrate(g_a, 96, &c, &e) == 0, "%s", e.msg);
  ck_assert_int_gt(c.n_ncc, 0);
  ck_assert(c.ncc_mean > 0 && c.ncc_mean < 1 && c.base_mean > -1 && c.base_mean < 1);
  ck_assert(c.iou_mean >= 0 && c.iou_mean <= 1);
}
END_TEST

/* Every labeler phrase in the reports falls inside an intended mention of a label the phrase belongs to,
 * and every intended mention is found by a phrase (tools/synth_check_mentions.py, the modified CheXpert
 * labeler's mention and unmention lists). */
START_TEST(mentions_match_labeler_phrases) {
  char cmd[9000];
  snprintf(cmd, sizeof cmd, "'%s' '%s/tools/synth_check_mentions.py' '%s' >/dev/null", tu_python(), tu_root(), g_a);
  int st = system(cmd);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "synth_check_mentions.py found problems (run it on %s)", g_a);
}
END_TEST

/* The window search of method.md 4 (delay before the sentence start, scored by IoU against the ellipses)
 * ranks best a delay within 0.5 s of the generator's mean lag: the gaze carries its label-specific signal
 * where the generator put it (60 readings per lag, 128 px). */
START_TEST(window_search_finds_the_lag) {
  double lags[2] = {1.0, 2.0};
  for (int k = 0; k < 2; k++) {
    char *out = join(g_tmp, k ? "lag2" : "lag1");
    /* a separate process: OpenMP's thread pool does not survive Check's fork after the fixture used it */
    char args[4400];
    snprintf(args, sizeof args, "--out '%s' --seed 11 --images 90 --readings 60 --size 128 --lag %.1f --quiet "
             "--examples 0 --no-masks --no-calibration", out, lags[k]);
    ck_assert_int_eq(run(args), 0);
    gz_err e = {0};
    double best = -1, best_iou = -1;
    for (int d = 0; d <= 8; d++) {
      double iou, thr;
      ck_assert_msg(gz_synth_window_iou(out, 64, 0.5 * d, &iou, &thr, &e) == 0, "%s", e.msg);
      if (iou > best_iou) { best_iou = iou; best = 0.5 * d; }
    }
    ck_assert_msg(fabs(best - lags[k]) <= 0.5 + 1e-9, "lag %.1f s: the best window delay is %.1f s", lags[k], best);
    free(out);
  }
}
END_TEST

/* Ellipses of the same finding drawn by five simulated readers (spec/synthetic.md 1.3: pairwise IoU of the
 * unioned ellipses per label about 0.75 for cardiomegaly, 0.25-0.40 for lung findings). The generator's
 * own reader model on 60 rendered studies; IoU on a 128 px raster. */
static double ell_iou(const synth_reading *A, const synth_reading *B, int col, int w, int h) {
  double in = 0, un = 0;
  for (int y = 0; y < 128; y++)
    for (int x = 0; x < 128; x++) {
      double px = (x + 0.5) * w / 128.0, py = (y + 0.5) * h / 128.0;
      int a = 0, b = 0;
      for (int k = 0; k < 2; k++) {
        const synth_reading *R = k ? B : A;
        for (int i = 0; i < R->nell; i++) {
          const synth_ellipse *E = &R->ell[i];
          if (!(E->columns >> col & 1)) continue;
          double cx = 0.5 * (E->box.x0 + E->box.x1), cy = 0.5 * (E->box.y0 + E->box.y1);
          double rx = 0.5 * (E->box.x1 - E->box.x0), ry = 0.5 * (E->box.y1 - E->box.y0);
          double dx = (px - cx) / rx, dy = (py - cy) / ry;
          if (dx * dx + dy * dy <= 1) { if (k) b = 1; else a = 1; }
        }
      }
      in += a && b;
      un += a || b;
    }
  return un > 0 ? in / un : 0;
}

START_TEST(inter_reader_ellipse_iou) {
  gz_synth_opts o;
  gz_synth_defaults(&o, GZ_SYNTH_DEMO);
  o.out = "/nonexistent";
  o.normal_frac = 0; /* every study abnormal: more pairs */
  double sum[SK_N] = {0};
  int cnt[SK_N] = {0};
  static synth_reading R[5];
  for (int i = 0; i < 60; i++) {
    synth_study st;
    memset(&st, 0, sizeof st);
    gz_rng r;
    gz_rng_init(&r, 3, synth_stream(SS_STUDY, (uint64_t)i));
    synth_draw_findings(&o, &st, &r);
    synth_image im = {.study = 0, .view = 0, .w = 200, .h = 230, .reading = 0};
    synth_render rd;
    gz_err e = {0};
    o.seed = 3;
    ck_assert_int_eq(synth_render_image(&o, &st, &im, (uint64_t)i, &rd, &e), 0);
    for (int k = 0; k < 5; k++) {
      gz_rng rr;
      gz_rng_init(&rr, 3, synth_stream(SS_READING, (uint64_t)(1000 * k + i)));
      memset(&R[k], 0, sizeof R[k]);
      synth_reader_perceive(&st, &rd, &im, &R[k], &rr);
    }
    for (int kind = 0; kind < SK_N; kind++) {
      int col = synth_kind_column[kind];
      for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++) {
          if (R[a].cert[col] < 3 || R[b].cert[col] < 3) continue; /* both readers drew it (certainty >= 3) */
          sum[kind] += ell_iou(&R[a], &R[b], col, rd.w, rd.h);
          cnt[kind]++;
        }
    }
    synth_render_free(&rd);
  }
  ck_assert_int_gt(cnt[SK_CARDIOMEGALY], 10);
  double card = sum[SK_CARDIOMEGALY] / cnt[SK_CARDIOMEGALY];
  ck_assert_msg(card > 0.65 && card < 0.88, "cardiomegaly inter-reader IoU %.3f", card);
  int lung[4] = {SK_ATELECTASIS, SK_CONSOLIDATION, SK_EFFUSION, SK_EDEMA};
  for (int k = 0; k < 4; k++) {
    if (cnt[lung[k]] < 10) continue;
    double v = sum[lung[k]] / cnt[lung[k]];
    ck_assert_msg(v > 0.25 && v < 0.5, "%s inter-reader IoU %.3f", synth_reflacx_labels[synth_kind_column[lung[k]]], v);
    fprintf(stderr, "inter-reader ellipse IoU %s: %.3f (%d pairs)\n", synth_reflacx_labels[synth_kind_column[lung[k]]], v, cnt[lung[k]]);
  }
  fprintf(stderr, "inter-reader ellipse IoU cardiomegaly: %.3f (%d pairs)\n", card, cnt[SK_CARDIOMEGALY]);
}
END_TEST

/* ---------------------------------------------------------------- options and the program */

START_TEST(option_checks) {
  gz_synth_opts o;
  gz_err e = {0};
  gz_synth_defaults(&o, GZ_SYNTH_DEMO);
  ck_assert_int_eq(gz_synth_check(&o, &e), -1); /* no --out */
  o.out = "/tmp/x";
  ck_assert_int_eq(gz_synth_check(&o, &e), 0);
  o.size = 10;
  ck_assert_int_eq(gz_synth_check(&o, &e), -1);
  ck_assert(strstr(e.msg, "--size") != NULL);
  gz_synth_defaults(&o, GZ_SYNTH_DEMO);
  o.out = "/tmp/x";
  o.n_studies = 5;
  o.n_readings = 50;
  char *dir = tu_tempdir();
  char *out = join(dir, "d");
  o.out = out;
  o.progress = 0;
  gz_synth_summary s;
  ck_assert_int_eq(gz_synth_generate(&o, &s, &e), -1); /* more readings than single-frontal studies */
  ck_assert(strstr(e.msg, "--readings") != NULL);
  free(out);
  tu_rmtree(dir);
}
END_TEST

static int run(const char *args) {
  const char *bin = getenv("GAZELOC_BIN");
  char cmd[9000];
  if (snprintf(cmd, sizeof cmd, "'%s/gazeloc-synth' %s >/dev/null 2>&1", bin ? bin : "build/release/bin", args) >=
      (int)sizeof cmd)
    return -1;
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(program_refuses_bad_input) {
  char *dir = tu_tempdir();
  char args[4096];
  ck_assert_int_eq(run("--help"), 0);
  ck_assert_int_ne(run("--seed 1"), 0);
  snprintf(args, sizeof args, "--out '%s/x' --seed -3", dir);
  ck_assert_int_ne(run(args), 0);
  snprintf(args, sizeof args, "--out '%s/x' --seed 1 --size abc", dir);
  ck_assert_int_ne(run(args), 0);
  snprintf(args, sizeof args, "--out '%s/x' --seed 1 --preset huge", dir);
  ck_assert_int_ne(run(args), 0);
  /* a non-empty folder is refused without --force and replaced with it */
  char *keep = join(dir, "keep.txt");
  FILE *f = fopen(keep, "w");
  fputs("user file", f);
  fclose(f);
  snprintf(args, sizeof args, "--out '%s' --seed 1 --images 8 --readings 3 --size 96 --quiet --no-calibration", dir);
  ck_assert_int_ne(run(args), 0);
  snprintf(args, sizeof args, "--out '%s' --seed 1 --images 8 --readings 3 --size 96 --quiet --no-calibration --force", dir);
  ck_assert_int_eq(run(args), 0);
  ck_assert(gz_is_file(keep)); /* only reflacx/, mimic/ and truth/ are replaced */
  char *md = join(dir, "reflacx/main_data/metadata_phase_3.csv");
  ck_assert(gz_is_file(md));
  free(md); free(keep);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_data_synth(void) {
  Suite *s = suite_create("data_synth");
  TCase *t = tcase_create("synth");
  tcase_add_unchecked_fixture(t, setup, teardown);
  tcase_set_timeout(t, 120);
  tcase_add_test(t, reflacx_metadata);
  tcase_add_test(t, reflacx_reading_files);
  tcase_add_test(t, transcription_round_trip);
  tcase_add_test(t, mimic_tables_and_jpegs);
  tcase_add_test(t, jpeg_encoder_round_trip);
  tcase_add_test(t, same_seed_same_bytes_other_seed_differs);
  tcase_add_test(t, truth_mentions_match_text);
  tcase_add_test(t, calibration_recomputes);
  tcase_add_test(t, mentions_match_labeler_phrases);
  tcase_add_test(t, window_search_finds_the_lag);
  tcase_add_test(t, inter_reader_ellipse_iou);
  tcase_add_test(t, option_checks);
  tcase_add_test(t, program_refuses_bad_input);
  suite_add_tcase(s, t);
  return s;
}
