/* Ellipse masks against the reference (skimage.draw.ellipse semantics, torch geometry, > 0.5, max per paper
 * label), rasterization against the formula, and IoU edge cases (method.md sections 4 and 6). */
#include "gaze/gaze.h"
#include "gaze_fixture.h"

enum { W = 420, H = 350, S = 512 };

/* Rows: P3 label columns in order (see ELL_HEADER_P3):
 * mediastinal, acute fracture, atelectasis, consolidation, cardiac, hilum, groundglass, hernia, emphysema,
 * ILD, nodule-or-mass, Other, pleural, pneumothorax, edema, support devices */
static const char *ELLIPSES =
    ELL_HEADER_P3
    "40,50,200,300,5,False,False,True,False,False,False,False,False,False,False,False,False,False,False,False,False\r\n"
    "380,20,250,120,4,False,False,False,False,False,False,False,False,False,False,False,False,True,False,True,False\r\n"
    "100,100,160,180,2,False,False,False,False,False,False,False,False,False,False,True,False,False,False,False,False\r\n"
    "-60,300,90,420,3,True,False,False,False,False,False,False,False,False,False,False,False,False,False,False,False\r\n"
    "300,300,300,340,5,False,True,False,False,False,False,False,False,False,False,False,False,False,False,False,False\r\n"
    "10,10,30,20,5,False,False,False,False,False,True,False,False,False,False,False,\"a, b\",False,False,False,True\r\n";

START_TEST(masks_match_reference) {
  char *dir = tu_tempdir();
  fx_write(dir, "anomaly_location_ellipses.csv", ELLIPSES);
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s %s/tools/gaze_reference.py ellipses --reading %s --width %d --height %d --out %s",
           tu_python(), tu_root(), dir, W, H, dir);
  ck_assert_msg(system(cmd) == 0, "reference failed: %s", cmd);
  gz_err e = {0};
  gz_ellipse *el;
  int n;
  char *p = fx_path(dir, "anomaly_location_ellipses.csv");
  ck_assert_msg(gz_read_ellipses(p, &el, &n, &e) == 0, "%s", e.msg);
  free(p);
  ck_assert_int_eq(n, 6);
  ck_assert_uint_eq(el[1].labels, (1u << 3) | 3u); /* pleural abnormality + pulmonary edema -> Edema, Opacity */
  ck_assert_uint_eq(el[5].labels, 0u);            /* hilum, Other, support devices: unmapped */
  gz_geom g;
  ck_assert_int_eq(gz_geom_init(&g, H, W, S, &e), 0);
  float *masks = malloc(sizeof *masks * GZ_NLABELS * S * S);
  unsigned present;
  ck_assert_msg(gz_ellipse_masks(el, n, W, H, &g, 3, masks, &present, &e) == 0, "%s", e.msg);
  p = fx_path(dir, "masks.f32");
  FILE *f = fopen(p, "rb");
  free(p);
  float *ref = malloc(sizeof *ref * GZ_NLABELS * S * S);
  ck_assert_uint_eq(fread(ref, sizeof *ref, (size_t)GZ_NLABELS * S * S, f), (size_t)GZ_NLABELS * S * S);
  fclose(f);
  size_t diff = 0, ones = 0;
  for (size_t i = 0; i < (size_t)GZ_NLABELS * S * S; i++) {
    diff += masks[i] != ref[i];
    ones += ref[i] > 0;
  }
  ck_assert_msg(diff == 0, "%zu of %zu mask pixels differ", diff, ones);
  ck_assert_uint_gt(ones, 1000);
  char *pres = gz_read_file((p = fx_path(dir, "present.txt")), NULL, &e);
  free(p);
  char mine[GZ_NLABELS + 1];
  for (int k = 0; k < GZ_NLABELS; k++) mine[k] = (char)('0' + (present >> k & 1));
  mine[GZ_NLABELS] = 0;
  ck_assert_str_eq(mine, pres);
  free(pres);
  free(masks);
  free(ref);
  free(el);
  gz_geom_free(&g);
  tu_rmtree(dir);
}
END_TEST

START_TEST(raster_matches_formula) {
  gz_rng r;
  gz_rng_init(&r, 3, 3);
  gz_err e = {0};
  for (int t = 0; t < 200; t++) {
    gz_ellipse el = {gz_rng_range(&r, -50, 150), gz_rng_range(&r, -50, 150), gz_rng_range(&r, -50, 150),
                     gz_rng_range(&r, -50, 150), 5, 1};
    if (t % 3 == 0) { /* integer boxes, as in the files, give exact half-pixel centres */
      el.xmin = floor(el.xmin), el.xmax = floor(el.xmax), el.ymin = floor(el.ymin), el.ymax = floor(el.ymax);
    }
    float *crop;
    int y0, x0, ch, cw;
    ck_assert_int_eq(gz_ellipse_raster(&el, 100, 90, &crop, &y0, &x0, &ch, &cw, &e), 0);
    double cx = (el.xmin + el.xmax) / 2, cy = (el.ymin + el.ymax) / 2;
    double rx = fabs(el.xmax - el.xmin) / 2, ry = fabs(el.ymax - el.ymin) / 2;
    for (int y = 0; y < 90; y++)
      for (int x = 0; x < 100; x++) {
        double u = (x - cx) / rx, v = (y - cy) / ry;
        int want = rx > 0 && ry > 0 && u * u + v * v < 1.0;
        int got = crop && y >= y0 && y < y0 + ch && x >= x0 && x < x0 + cw && crop[(size_t)(y - y0) * cw + x - x0] > 0;
        ck_assert_msg(want == got, "ellipse %d pixel (%d,%d): want %d got %d", t, x, y, want, got);
      }
    free(crop);
  }
}
END_TEST

START_TEST(iou_edges) {
  float map[4] = {0.1f, 0.5f, 0.9f, 0.0f}, mask[4] = {0, 1, 1, 0}, none[4] = {0};
  ck_assert(gz_iou(none, none, 4, 0.15f) == 0.0);           /* empty union: 0, not NaN */
  ck_assert(gz_iou(map, mask, 4, 0.15f) == 1.0);
  ck_assert(fabs(gz_iou(map, mask, 4, 0.05f) - 2.0 / 3.0) < 1e-12);
  ck_assert(gz_iou(map, mask, 4, 0.9f) == 0.0);             /* strict: 0.9 > 0.9 is false */
  ck_assert(fabs(gz_iou(map, mask, 4, 0.5f) - 0.5) < 1e-12);
  ck_assert(gz_iou(map, none, 4, 0.95f) == 0.0);
}
END_TEST

START_TEST(malformed_ellipses) {
  char *dir = tu_tempdir();
  gz_err e = {0};
  gz_ellipse *el;
  int n;
  fx_write(dir, "a.csv", "xmin,ymin,xmax,ymax,certainty,Atelectasis\r\n1,2,3,4,5.0,True\r\n1,2,3,4,x,True\r\n");
  char *p = fx_path(dir, "a.csv");
  ck_assert_int_eq(gz_read_ellipses(p, &el, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "a.csv line 3, column 5 (certainty): 'x' is not an integer"), "%s", e.msg);
  fx_write(dir, "a.csv", "xmin,ymin,xmax,ymax,certainty,Atelectasis\r\n1,2,3,4,5,Maybe\r\n");
  ck_assert_int_eq(gz_read_ellipses(p, &el, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "line 2, column 6 (Atelectasis): 'Maybe' is not True or False"), "%s", e.msg);
  fx_write(dir, "a.csv", "xmin,ymin,xmax,certainty\r\n");
  ck_assert_int_eq(gz_read_ellipses(p, &el, &n, &e), -1);
  ck_assert_msg(strstr(e.msg, "missing column 'ymax'"), "%s", e.msg);
  fx_write(dir, "a.csv", "xmin,ymin,xmax,ymax,certainty,Atelectasis\r\n"); /* header only: no ellipse */
  ck_assert_int_eq(gz_read_ellipses(p, &el, &n, &e), 0);
  ck_assert_int_eq(n, 0);
  free(el);
  free(p);
  tu_rmtree(dir);
}
END_TEST

Suite *suite_gaze_ellipse(void) {
  Suite *s = suite_create("gaze_ellipse");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, masks_match_reference);
  tcase_add_test(tc, raster_matches_formula);
  tcase_add_test(tc, iou_edges);
  tcase_add_test(tc, malformed_ellipses);
  suite_add_tcase(s, tc);
  return s;
}
