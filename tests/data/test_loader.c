/* The training data pipeline on a hand-made mini MIMIC-CXR-JPG + REFLACX: splits, labels, cache, maps,
 * targets, normalization, augmentation alignment, and batches independent of the loader thread count. */
#include "data/data.h"
#include "testutil.h"

#include <math.h>
#include <sys/stat.h>

enum { IW = 200, IH = 160, S = 64 };

static void mk(const char *root, const char *rel) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  gz_err e;
  ck_assert_int_eq(gz_mkdir_p(p, &e), 0);
}

static void put(const char *root, const char *rel, const char *text) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  gz_err e;
  ck_assert_msg(gz_write_file_atomic(p, text, strlen(text), &e) == 0, "%s", e.msg);
}

/* A dark image with a bright square at (cx, cy). */
static void jpg(const char *root, int subject, int study, const char *dicom, int cx, int cy) {
  char rel[256], p[1024];
  snprintf(rel, sizeof rel, "mimic/files/p10/p%08d/s%08d", subject, study);
  mk(root, rel);
  snprintf(p, sizeof p, "%s/%s/%s.jpg", root, rel, dicom);
  static unsigned char px[IW * IH];
  for (int y = 0; y < IH; y++)
    for (int x = 0; x < IW; x++) px[y * IW + x] = (abs(x - cx) < 8 && abs(y - cy) < 8) ? 250 : 10;
  gz_err e;
  ck_assert_int_eq(gz_write_jpg(p, IW, IH, 1, px, 100, &e), 0);
}

static char *fixture(void) {
  char *root = tu_tempdir();
  mk(root, "mimic");
  put(root, "mimic/mimic-cxr-2.0.0-metadata.csv",
      "dicom_id,subject_id,study_id,ViewPosition\r\nd1,10000001,50000001,PA\r\nd2,10000002,50000002,AP\r\n"
      "d3,10000003,50000003,PA\r\nd4,10000004,50000004,PA\r\nd5,10000005,50000005,PA\r\nd6,10000006,50000006,PA\r\n");
  put(root, "mimic/mimic-cxr-2.0.0-split.csv",
      "dicom_id,study_id,subject_id,split\r\nd1,50000001,10000001,train\r\nd2,50000002,10000002,train\r\n"
      "d3,50000003,10000003,train\r\nd4,50000004,10000004,train\r\nd5,50000005,10000005,validate\r\n"
      "d6,50000006,10000006,test\r\n");
  put(root, "mimic/mimic-cxr-2.0.0-chexpert.csv",
      "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,"
      "Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices\r\n"
      "10000001,50000001,,1.0,,,,,,,,,,,,\r\n10000002,50000002,1.0,,,,,,,,,,,,,\r\n10000003,50000003,,,,,,,,,1.0,,,,,\r\n"
      "10000004,50000004,,,,,,,,,,1.0,,,,\r\n10000005,50000005,,1.0,,,,,,,,,,,,\r\n10000006,50000006,,,,,,,,,,,,,1.0,\r\n");
  int cx[6] = {60, 100, 140, 70, 120, 90}, cy[6] = {50, 80, 110, 60, 90, 70};
  for (int i = 0; i < 6; i++) {
    char d[16];
    snprintf(d, sizeof d, "d%d", i + 1);
    jpg(root, 10000001 + i, 50000001 + i, d, cx[i], cy[i]);
  }
  /* One REFLACX reading of d1 (train): the radiologist looks at the square while saying "enlarged". */
  mk(root, "reflacx/main_data/P300R000001");
  put(root, "reflacx/main_data/metadata_phase_3.csv",
      "id,split,eye_tracking_data_discarded,image,dicom_id,subject_id,image_size_x,image_size_y\r\n"
      "P300R000001,train,False,physionet.org/files/mimic-cxr/2.0.0/files/p10/p10000001/s50000001/d1.dcm,d1,10000001,200,160\r\n");
  char fx[4096] = "timestamp_start_fixation,timestamp_end_fixation,x_position,y_position,pupil_area_normalized,"
                  "angular_resolution_x_pixels_per_degree,angular_resolution_y_pixels_per_degree,window_width,"
                  "window_level,xmin_shown_from_image,ymin_shown_from_image,xmax_shown_from_image,ymax_shown_from_image,"
                  "xmin_in_screen_coordinates,ymin_in_screen_coordinates,xmax_in_screen_coordinates,"
                  "ymax_in_screen_coordinates\r\n"
                  "0.100,0.900,60,50,1.0,6,6,1.0,0.5,0,0,200,160,0,0,3840,2160\r\n"
                  "1.000,1.800,62,49,1.0,6,6,1.0,0.5,0,0,200,160,0,0,3840,2160\r\n"
                  "4.000,4.500,150,130,1.0,6,6,1.0,0.5,0,0,200,160,0,0,3840,2160\r\n";
  put(root, "reflacx/main_data/P300R000001/fixations.csv", fx);
  put(root, "reflacx/main_data/P300R000001/timestamps_transcription.csv",
      "word,timestamp_start_word,timestamp_end_word\r\nheart,1.00,1.20\r\nis,1.30,1.40\r\nenlarged,1.50,1.90\r\n"
      ".,1.95,2.00\r\nno,4.00,4.10\r\neffusion,4.20,4.60\r\n.,4.70,4.75\r\n");
  put(root, "reflacx/main_data/P300R000001/transcription.txt", "heart is enlarged. no effusion.");
  put(root, "reflacx/main_data/P300R000001/anomaly_location_ellipses.csv",
      "xmin,ymin,xmax,ymax,certainty,Enlarged cardiac silhouette,Pleural abnormality\r\n40,30,80,70,5,True,False\r\n"
      "150,120,190,150,2,False,True\r\n");
  put(root, "reflacx/main_data/P300R000001/chest_bounding_box.csv", "xmin,ymin,xmax,ymax\r\n10,10,190,150\r\n");
  put(root, "labels.csv",
      "id,Reports,enlarged cardiac silhouette,enlarged cardiac silhouette_location\r\n"
      "P300R000001,heart is enlarged. no effusion.,1.0,\"[[9, 17]]\"\r\n");
  return root;
}

static void open_ds(gz_dataset *d, const char *root, int method, char *paths[4]) {
  gz_data_opts o;
  gz_data_opts_default(&o);
  const char *rel[4] = {"mimic", "reflacx/main_data", "labels.csv", "cache"};
  for (int i = 0; i < 4; i++) {
    paths[i] = malloc(strlen(root) + strlen(rel[i]) + 2);
    sprintf(paths[i], "%s/%s", root, rel[i]);
  }
  o.mimic_root = paths[0], o.reflacx_main = paths[1], o.labels_csv = paths[2], o.cache_dir = paths[3];
  o.size = S;
  o.method = method;
  gz_err e = {0};
  ck_assert_msg(gz_dataset_open(d, &o, &e) == 0, "%s", e.msg);
  ck_assert_msg(gz_dataset_cache(d, &e) == 0, "%s", e.msg);
}

START_TEST(splits_labels_targets) {
  char *root = fixture(), *paths[4];
  gz_dataset d;
  open_ds(&d, root, GZ_METHOD_ET, paths);
  ck_assert_int_eq(d.nrx, 1);
  ck_assert_int_eq(d.train.n, 5); /* 4 MIMIC train + 1 REFLACX train */
  ck_assert_int_eq(d.val_mimic.n, 1);
  ck_assert_int_eq(d.test_mimic.n, 1);
  ck_assert_int_eq(d.rx[0].et_labels, 1u << 8); /* Cardiomegaly from "enlarged" */
  ck_assert_int_eq(d.rx[0].ell_labels, 1u << 8); /* the pleural ellipse has certainty 2: not counted */
  gz_batch b;
  gz_err e = {0};
  ck_assert_int_eq(gz_batch_alloc(&b, 1, S, 1, &e), 0);
  const gz_sample *rs = &d.train.s[4];
  ck_assert_int_eq(rs->reading, 0);
  ck_assert_msg(gz_sample_fill(&d, rs, 0, 1, 0, 4, &b, 0, &e) == 0, "%s", e.msg);
  ck_assert(b.annotated[0] == 1 && b.y[8] == 1.0f && b.y[0] == 0.0f);
  ck_assert_int_eq(b.gt[8], 1);
  /* padding rows are 0 and the dark background 10/255, each normalized twice with channel 0's statistics */
  float pad = ((0.0f - 0.485f) / 0.229f - 0.485f) / 0.229f, dark = ((10.0f / 255 - 0.485f) / 0.229f - 0.485f) / 0.229f;
  ck_assert_msg(fabsf(b.x[0] - pad) < 1e-4f, "padding %g, want %g", b.x[0], pad);
  ck_assert_msg(fabsf(b.x[32 * S + 2] - dark) < 0.1f, "background %g, want about %g", b.x[32 * S + 2], dark);
  /* decoder target of Cardiomegaly peaks near the fixations (60, 50) in image px, other labels empty */
  int H = S / 2, G = S / 16, best = 0;
  const float *t8 = b.t + 8 * H * H;
  for (int i = 0; i < H * H; i++) best = t8[i] > t8[best] ? i : best;
  /* image 200x160 -> long side 64: scale 0.32, padded by (64 - 51.2)/2 rows on top */
  double ex = 60 * 0.32 / 2, ey = (50 * 0.32 + 6.4) / 2;
  ck_assert_msg(fabs(best % H - ex) <= 2 && fabs(best / H - ey) <= 2, "peak at (%d,%d), expected near (%.1f,%.1f)",
                best % H, best / H, ex, ey);
  ck_assert_msg(t8[best] > 0.5f && t8[best] <= 1.0f, "peak %g (the map is max-normalized before the resize)", t8[best]);
  float others = 0, cells = 0;
  for (int k = 0; k < 10; k++)
    for (int i = 0; i < H * H; i++) others += k != 8 ? b.t[k * H * H + i] : 0;
  for (int i = 0; i < G * G; i++) cells += b.b[8 * G * G + i];
  ck_assert(others == 0);
  ck_assert(cells >= 1 && cells < G * G / 2);
  /* a MIMIC sample: not annotated, zero targets, MIMIC labels */
  ck_assert_int_eq(gz_sample_fill(&d, &d.train.s[1], 0, 1, 0, 1, &b, 0, &e), 0);
  ck_assert(b.annotated[0] == 0 && b.y[5] == 1.0f && b.y[1] == 1.0f); /* Atelectasis + Opacity */
  gz_batch_free(&b);
  gz_dataset_close(&d);
  for (int i = 0; i < 4; i++) free(paths[i]);
  tu_rmtree(root);
}
END_TEST

/* The same batches, bit for bit, with 1 and with 2 loader threads (shuffled, augmented). */
START_TEST(loader_thread_independent) {
  char *root = fixture(), *paths[4];
  gz_dataset d;
  open_ds(&d, root, GZ_METHOD_ET, paths);
  gz_loader a, c;
  gz_err e = {0};
  ck_assert_int_eq(gz_loader_start(&a, &d, &d.train, 2, 1, 1, 1, 42, 3, 1, 0, &e), 0);
  ck_assert_int_eq(gz_loader_start(&c, &d, &d.train, 2, 1, 1, 1, 42, 3, 2, 0, &e), 0);
  int rc, batches = 0;
  const gz_batch *ba, *bc;
  size_t SS = (size_t)S * S;
  while ((ba = gz_loader_next(&a, &rc, &e))) {
    bc = gz_loader_next(&c, &rc, &e);
    ck_assert_ptr_nonnull(bc);
    ck_assert_int_eq(ba->n, 2);
    ck_assert_int_eq(memcmp(ba->x, bc->x, sizeof(float) * 2 * 3 * SS), 0);
    ck_assert_int_eq(memcmp(ba->t, bc->t, sizeof(float) * 2 * 10 * SS / 4), 0);
    ck_assert_int_eq(memcmp(ba->y, bc->y, sizeof(float) * 2 * 10), 0);
    batches++;
  }
  ck_assert_int_eq(rc, 0);
  ck_assert_int_eq(batches, 2); /* 5 samples, batch 2, drop_last */
  ck_assert_ptr_null(gz_loader_next(&c, &rc, &e));
  gz_loader_stop(&a);
  gz_loader_stop(&c);
  /* a different epoch gives a different order */
  int o1[64], o2[64];
  gz_epoch_order(64, 42, 0, o1);
  gz_epoch_order(64, 42, 1, o2);
  ck_assert(memcmp(o1, o2, sizeof o1) != 0);
  gz_dataset_close(&d);
  for (int i = 0; i < 4; i++) free(paths[i]);
  tu_rmtree(root);
}
END_TEST

/* Data-parallel loading: parts 0 and 1 of 2 of every batch, one after the other, are the whole batch. */
START_TEST(loader_parts_make_the_batch) {
  char *root = fixture(), *paths[4];
  gz_dataset d;
  open_ds(&d, root, GZ_METHOD_ET, paths);
  gz_loader w, p0, p1;
  gz_err e = {0};
  ck_assert_int_eq(gz_loader_start(&w, &d, &d.train, 2, 1, 1, 1, 42, 3, 1, 0, &e), 0);
  ck_assert_int_eq(gz_loader_start_part(&p0, &d, &d.train, 2, 1, 1, 1, 42, 3, 1, 0, 0, 2, &e), 0);
  ck_assert_int_eq(gz_loader_start_part(&p1, &d, &d.train, 2, 1, 1, 1, 42, 3, 1, 0, 1, 2, &e), 0);
  int rc, batches = 0;
  const gz_batch *bw, *b0, *b1;
  size_t img = 3 * (size_t)S * S, tgt = 10 * (size_t)S * S / 4;
  while ((bw = gz_loader_next(&w, &rc, &e))) {
    b0 = gz_loader_next(&p0, &rc, &e), b1 = gz_loader_next(&p1, &rc, &e);
    ck_assert(b0 && b1 && b0->n == 1 && b1->n == 1);
    ck_assert_int_eq(memcmp(bw->x, b0->x, sizeof(float) * img), 0);
    ck_assert_int_eq(memcmp(bw->x + img, b1->x, sizeof(float) * img), 0);
    ck_assert_int_eq(memcmp(bw->t + tgt, b1->t, sizeof(float) * tgt), 0);
    ck_assert_int_eq(memcmp(bw->y + 10, b1->y, sizeof(float) * 10), 0);
    ck_assert_int_eq(bw->annotated[1], b1->annotated[0]);
    batches++;
  }
  ck_assert_int_eq(batches, 2);
  gz_loader_stop(&w), gz_loader_stop(&p0), gz_loader_stop(&p1);
  ck_assert_int_eq(gz_loader_start_part(&p0, &d, &d.train, 2, 1, 1, 1, 42, 3, 1, 0, 2, 2, &e), -1); /* no part 2 of 2 */
  gz_dataset_close(&d);
  for (int i = 0; i < 4; i++) free(paths[i]);
  tu_rmtree(root);
}
END_TEST

/* Augmented: the bright square of the image and the peak of its map move together. */
START_TEST(augmentation_keeps_alignment) {
  char *root = fixture(), *paths[4];
  gz_dataset d;
  open_ds(&d, root, GZ_METHOD_ELLIPSE, paths);
  gz_batch b;
  gz_err e = {0};
  ck_assert_int_eq(gz_batch_alloc(&b, 1, S, 0, &e), 0);
  const gz_sample *rs = &d.train.s[4];
  int H = S / 2;
  for (uint64_t epoch = 0; epoch < 6; epoch++) {
    ck_assert_int_eq(gz_sample_fill(&d, rs, 1, 7, epoch, 4, &b, 0, &e), 0);
    /* centroid of the bright square in the image vs centroid of the ellipse mask (same box) */
    double sx = 0, sy = 0, n = 0, mx = 0, my = 0, m = 0;
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++)
        if (b.x[y * S + x] > 2.0f) sx += x, sy += y, n++;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < H; x++)
        if (b.t[8 * H * H + y * H + x] > 0.5f) mx += 2 * x + 0.5, my += 2 * y + 0.5, m++;
    ck_assert_msg(n > 0 && m > 0, "epoch %lu: square %g px, mask %g px", (unsigned long)epoch, n, m);
    ck_assert_msg(fabs(sx / n - mx / m) < 3 && fabs(sy / n - my / m) < 3, "epoch %lu: square (%.1f,%.1f) mask (%.1f,%.1f)",
                  (unsigned long)epoch, sx / n, sy / n, mx / m, my / m);
  }
  gz_batch_free(&b);
  gz_dataset_close(&d);
  for (int i = 0; i < 4; i++) free(paths[i]);
  tu_rmtree(root);
}
END_TEST

Suite *suite_data_loader(void) {
  Suite *s = suite_create("data_loader");
  TCase *t = tcase_create("loader");
  tcase_set_timeout(t, 60);
  tcase_add_test(t, splits_labels_targets);
  tcase_add_test(t, loader_thread_independent);
  tcase_add_test(t, loader_parts_make_the_batch);
  tcase_add_test(t, augmentation_keeps_alignment);
  suite_add_tcase(s, t);
  return s;
}
