/* Example overlays for the documentation and for teaching: one reading's image with its ellipses
 * (colour per paper label), and the same image under its whole-reading gaze heatmap with the fixations.
 * Written at most 256 px on the long side so that each PNG stays small. */
#include "data/synth_tables.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image_write.h>

static const uint8_t label_rgb[10][3] = {{255, 80, 80},  {255, 200, 0},  {80, 200, 255}, {80, 255, 120}, {255, 120, 255},
                                         {255, 160, 60}, {160, 120, 255}, {255, 255, 255}, {255, 60, 160}, {60, 255, 255}};

static void put(uint8_t *img, int w, int h, int x, int y, const uint8_t *c) {
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  memcpy(img + 3 * ((size_t)y * w + x), c, 3);
}

/* jet-like colour map for t in [0, 1] */
static void cmap(float t, float *rgb) {
  rgb[0] = fminf(1, fmaxf(0, 1.5f - fabsf(4 * t - 3)));
  rgb[1] = fminf(1, fmaxf(0, 1.5f - fabsf(4 * t - 2)));
  rgb[2] = fminf(1, fmaxf(0, 1.5f - fabsf(4 * t - 1)));
}

int synth_write_examples(const char *prefix, const synth_render *rd, const synth_reading *R, gz_err *e) {
  if (synth_mkdirs_for(prefix, e)) return -1;
  double sc = 256.0 / (rd->w > rd->h ? rd->w : rd->h);
  if (sc > 1) sc = 1;
  int w = (int)lround(rd->w * sc), h = (int)lround(rd->h * sc);
  uint8_t *a = gz_malloc((size_t)w * h * 3, e), *b = gz_malloc((size_t)w * h * 3, e);
  float *hm = gz_malloc(sizeof(float) * (size_t)w * h, e);
  synth_fixrow *fx = gz_malloc(sizeof(synth_fixrow) * (size_t)(R->nfix + 1), e);
  int rc = -1;
  if (!a || !b || !hm || !fx) goto done;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t v = rd->pixels[(size_t)(int)(y / sc) * rd->w + (int)(x / sc)];
      uint8_t *p = a + 3 * ((size_t)y * w + x);
      p[0] = p[1] = p[2] = v;
    }
  memcpy(b, a, (size_t)w * h * 3);
  /* ellipses: the inscribed axis-aligned ellipse of each box, dashed when certainty <= 2 */
  for (int i = 0; i < R->nell; i++) {
    const synth_ellipse *E = &R->ell[i];
    int lab = -1;
    for (int k = 0; k < SK_N && lab < 0; k++)
      if (E->columns >> synth_kind_column[k] & 1)
        for (int q = 0; q < 10; q++)
          if (synth_kind_paper[k] >> q & 1 && q != 1) { lab = q; break; }
    const uint8_t *col = label_rgb[lab < 0 ? 1 : lab];
    double cx = 0.5 * (E->box.x0 + E->box.x1) * sc, cy = 0.5 * (E->box.y0 + E->box.y1) * sc;
    double rx = 0.5 * (E->box.x1 - E->box.x0) * sc, ry = 0.5 * (E->box.y1 - E->box.y0) * sc;
    for (int k = 0; k < 720; k++) {
      if (E->certainty <= 2 && (k / 20) % 2) continue;
      double t = k * M_PI / 360;
      put(a, w, h, (int)lround(cx + rx * cos(t)), (int)lround(cy + ry * sin(t)), col);
    }
  }
  /* whole-reading heatmap over the image, and the fixation centres */
  for (int i = 0; i < R->nfix; i++) {
    const synth_fix *F = &R->fix[i];
    fx[i] = (synth_fixrow){F->t0, F->t1, F->x, F->y, F->resx, F->resy, {F->shown[0], F->shown[1], F->shown[2], F->shown[3]}};
  }
  synth_heatmap(fx, R->nfix, -1e9, 1e9, sc, w, h, hm);
  float mx = 0;
  for (size_t k = 0; k < (size_t)w * h; k++) mx = fmaxf(mx, hm[k]);
  for (size_t k = 0; mx > 0 && k < (size_t)w * h; k++) {
    float t = hm[k] / mx, rgb[3];
    cmap(t, rgb);
    float al = 0.6f * sqrtf(t);
    for (int c = 0; c < 3; c++) b[3 * k + c] = (uint8_t)lroundf((1 - al) * b[3 * k + c] + al * 255 * rgb[c]);
  }
  static const uint8_t white[3] = {255, 255, 255};
  for (int i = 0; i < R->nfix; i++) put(b, w, h, (int)lround(R->fix[i].x * sc), (int)lround(R->fix[i].y * sc), white);
  char path[4400];
  snprintf(path, sizeof path, "%s_ellipses.png", prefix);
  if (!stbi_write_png(path, w, h, 3, a, w * 3)) { gz_fail(e, GZ_EIO, "cannot write %s", path); goto done; }
  snprintf(path, sizeof path, "%s_gaze.png", prefix);
  if (!stbi_write_png(path, w, h, 3, b, w * 3)) { gz_fail(e, GZ_EIO, "cannot write %s", path); goto done; }
  rc = 0;
done:
  free(a); free(b); free(hm); free(fx);
  return rc;
}
