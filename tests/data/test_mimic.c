/* MIMIC-CXR-JPG tables: the paper's filters and label mapping on a hand-made table with every case. */
#include "data/data.h"
#include "testutil.h"

static const char *metadata =
    "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\r\n"
    "d-pa,10000001,50000001,CHEST (PA AND LAT),PA,3056,2544\r\n"
    "d-lat,10000001,50000001,CHEST (PA AND LAT),LATERAL,3056,2544\r\n"
    "d-ap,10000002,50000002,CHEST (PORTABLE AP),AP,2544,3056\r\n"
    "d-two-a,10000003,50000003,CHEST (PA AND LAT),PA,3056,2544\r\n"
    "d-two-b,10000003,50000003,CHEST (PA AND LAT),AP,3056,2544\r\n"
    "d-nolab,10000004,50000004,CHEST (PA AND LAT),PA,3056,2544\r\n"
    "d-moved,10000005,50000005,CHEST (PA AND LAT),PA,3056,2544\r\n"
    "d-test,10000006,50000006,CHEST (PA AND LAT),PA,3056,2544\r\n";
static const char *splits =
    "dicom_id,study_id,subject_id,split\r\n"
    "d-pa,50000001,10000001,train\r\nd-lat,50000001,10000001,train\r\nd-ap,50000002,10000002,validate\r\n"
    "d-two-a,50000003,10000003,train\r\nd-two-b,50000003,10000003,train\r\nd-nolab,50000004,10000004,train\r\n"
    "d-moved,50000005,10000005,train\r\nd-test,50000006,10000006,test\r\n";
static const char *chexpert =
    "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,"
    "Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices\r\n"
    "10000001,50000001,1.0,,,-1.0,,,,,,,,,,1.0\r\n"
    "10000002,50000002,,0.0,,,1.0,,,,,,-1.0,,,\r\n"
    "10000003,50000003,,,,,,,,,1.0,,,,,\r\n"
    "10000005,50000005,,,,,,,,,,,,1.0,,\r\n"
    "10000006,50000006,,,,,,1.0,1.0,,,1.0,,,1.0,\r\n";

static char *fixture(void) {
  char *dir = tu_tempdir();
  free(tu_write(dir, "mimic-cxr-2.0.0-metadata.csv", metadata, strlen(metadata)));
  free(tu_write(dir, "mimic-cxr-2.0.0-split.csv", splits, strlen(splits)));
  free(tu_write(dir, "mimic-cxr-2.0.0-chexpert.csv", chexpert, strlen(chexpert)));
  return dir;
}

static void expect_labels(const gz_mimic_image *im, const char *want) {
  for (int k = 0; k < GZ_NLABELS; k++)
    ck_assert_msg(im->label[k] == (unsigned char)(want[k] - '0'), "%s label %d", im->dicom_id, k);
}

START_TEST(filters_and_mapping) {
  char *dir = fixture();
  long moved[] = {10000005};
  gz_mimic m;
  gz_err e = {0};
  ck_assert_msg(gz_mimic_load(dir, moved, 1, &m, &e) == 0, "%s", e.msg);
  ck_assert_int_eq(m.n_rows_metadata, 8);
  ck_assert_int_eq(m.n_not_frontal, 1);
  ck_assert_int_eq(m.n_multi_frontal_studies, 1);
  ck_assert_int_eq(m.n_unlabeled, 1);
  ck_assert_int_eq(m.n, 4); /* sorted by dicom id: d-ap, d-moved, d-pa, d-test */
  ck_assert_str_eq(m.images[0].dicom_id, "d-ap");
  ck_assert_int_eq(m.images[0].ap, 1);
  ck_assert_int_eq(m.images[0].split, GZ_VALIDATE);
  expect_labels(&m.images[0], "0001000001"); /* Pleural Other -1 -> pleural; Enl. Cardiomediastinum -> mediastinum */
  ck_assert_str_eq(m.images[1].dicom_id, "d-moved");
  ck_assert_int_eq(m.images[1].split, GZ_VALIDATE); /* moved from train by the subject list */
  expect_labels(&m.images[1], "0100000000");        /* Pneumonia -> Opacity */
  ck_assert_str_eq(m.images[2].dicom_id, "d-pa");
  ck_assert_int_eq(m.images[2].split, GZ_TRAIN);
  expect_labels(&m.images[2], "1100010000"); /* Atelectasis 1 and Edema -1: both positive, both add Opacity */
  ck_assert_str_eq(m.images[3].dicom_id, "d-test");
  ck_assert_int_eq(m.images[3].split, GZ_TEST);
  expect_labels(&m.images[3], "0111100100");
  char path[512];
  gz_mimic_image_path("/data/mimic", &m.images[2], path, sizeof path);
  ck_assert_str_eq(path, "/data/mimic/files/p10/p10000001/s50000001/d-pa.jpg");
  gz_mimic_free(&m);
  tu_rmtree(dir);
}
END_TEST

START_TEST(bad_tables) {
  char *dir = fixture();
  gz_mimic m;
  gz_err e = {0};
  const char *bad = "subject_id,study_id,Atelectasis\r\n1,2,1.0\r\n";
  free(tu_write(dir, "mimic-cxr-2.0.0-chexpert.csv", bad, strlen(bad)));
  ck_assert_int_eq(gz_mimic_load(dir, NULL, 0, &m, &e), -1);
  ck_assert_msg(strstr(e.msg, "mimic-cxr-2.0.0-chexpert.csv: missing column 'Edema' in the header"), "%s", e.msg);
  char *lab = strdup(chexpert);
  char *p = strstr(strstr(lab, "10000005,50000005"), "1.0"); /* the Pneumonia cell of line 5 */
  p[0] = '2';
  free(tu_write(dir, "mimic-cxr-2.0.0-chexpert.csv", lab, strlen(lab)));
  ck_assert_int_eq(gz_mimic_load(dir, NULL, 0, &m, &e), -1);
  ck_assert_msg(strstr(e.msg, "line 5, column 14 (Pneumonia): '2.0' is not 1.0, 0.0, -1.0 or empty"), "%s", e.msg);
  free(lab);
  const char *sp = "dicom_id,study_id,subject_id,split\r\nd-pa,1,2,training\r\n";
  free(tu_write(dir, "mimic-cxr-2.0.0-chexpert.csv", chexpert, strlen(chexpert)));
  free(tu_write(dir, "mimic-cxr-2.0.0-split.csv", sp, strlen(sp)));
  ck_assert_int_eq(gz_mimic_load(dir, NULL, 0, &m, &e), -1);
  ck_assert_msg(strstr(e.msg, "line 2, column 4 (split): 'training' is not train, validate or test"), "%s", e.msg);
  const char *ids = "# moved subjects\n10000005\r\n\nabc\n";
  char *path = tu_write(dir, "val_mimicid.txt", ids, strlen(ids));
  long *v;
  int n;
  ck_assert_int_eq(gz_read_id_list(path, &v, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "val_mimicid.txt line 4: 'abc' is not a subject id"), "%s", e.msg);
  free(path);
  path = tu_write(dir, "val_mimicid.txt", ids, strlen(ids) - 4);
  ck_assert_int_eq(gz_read_id_list(path, &v, &n, &e), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_int_eq(v[0], 10000005);
  free(v), free(path);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_data_mimic(void) {
  Suite *s = suite_create("data_mimic");
  TCase *t = tcase_create("tables");
  tcase_add_test(t, filters_and_mapping);
  tcase_add_test(t, bad_tables);
  suite_add_tcase(s, t);
  return s;
}
