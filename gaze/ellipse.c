/* Ellipse ground truth (method.md section 4, "Ellipse GT"; eyetracking_object.get_ellipses_image) and IoU
 * (method.md section 6). */
#include "gaze/gaze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* skimage.draw.ellipse(r=cx, c=cy, r_radius=rx, c_radius=ry, shape=(width, height)), rotation 0:
 * candidates in [ceil(c - rad), floor(c + rad)] clipped to the shape, inside iff
 * (dx/rx)^2 + (dy/ry)^2 < 1 (a zero radius gives 0/0 or d/0: never inside). */
int gz_ellipse_raster(const gz_ellipse *el, int width, int height, float **crop, int *y0, int *x0, int *ch, int *cw,
                      gz_err *e) {
  *crop = NULL;
  *ch = *cw = *y0 = *x0 = 0;
  double cx = (el->xmin + el->xmax) / 2, cy = (el->ymin + el->ymax) / 2;
  double rx = fabs(el->xmin - el->xmax) / 2, ry = fabs(el->ymin - el->ymax) / 2;
  if (!(rx > 0) || !(ry > 0)) return 0;
  double xa = fmax(ceil(cx - rx), 0), xb = fmin(floor(cx + rx), width - 1);
  double ya = fmax(ceil(cy - ry), 0), yb = fmin(floor(cy + ry), height - 1);
  if (xa > xb || ya > yb) return 0;
  int X0 = (int)xa, Y0 = (int)ya, W = (int)xb - X0 + 1, H = (int)yb - Y0 + 1;
  float *c = gz_calloc((size_t)W * H, sizeof *c, e);
  if (!c) return -1;
  for (int y = 0; y < H; y++) {
    double v = (Y0 + y - cy) / ry;
    for (int x = 0; x < W; x++) {
      double u = (X0 + x - cx) / rx;
      if (u * u + v * v < 1.0) c[(size_t)y * W + x] = 1.0f;
    }
  }
  *crop = c;
  *y0 = Y0;
  *x0 = X0;
  *ch = H;
  *cw = W;
  return 0;
}

int gz_ellipse_masks(const gz_ellipse *el, int nel, int width, int height, const gz_geom *g, int min_certainty,
                     float *masks, unsigned *present, gz_err *e) {
  size_t n = (size_t)g->size * g->size;
  memset(masks, 0, sizeof *masks * n * GZ_NLABELS);
  *present = 0;
  if (g->w != width || g->h != height)
    return gz_fail(e, GZ_EINVAL, "ellipse masks: geometry made for %dx%d, image is %dx%d", g->w, g->h, width, height);
  float *map = gz_malloc(sizeof *map * n, e);
  if (!map) return -1;
  for (int i = 0; i < nel; i++) {
    if (el[i].certainty < min_certainty || !el[i].labels) continue;
    *present |= el[i].labels;
    float *crop;
    int y0, x0, ch, cw;
    if (gz_ellipse_raster(&el[i], width, height, &crop, &y0, &x0, &ch, &cw, e)) goto fail;
    if (!crop) continue;
    int rc = gz_geom_apply_crop(g, crop, y0, x0, ch, cw, map, e);
    free(crop);
    if (rc) goto fail;
    for (int k = 0; k < GZ_NLABELS; k++) {
      if (!(el[i].labels >> k & 1)) continue;
      float *m = masks + n * k;
      for (size_t j = 0; j < n; j++)
        if (map[j] > 0.5f) m[j] = 1.0f; /* (resize > 0.5), max-combined */
    }
  }
  free(map);
  return 0;
fail:
  free(map);
  return -1;
}

double gz_iou(const float *map, const float *mask, size_t n, float thr) {
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; i++) {
    int p = map[i] > thr, g = mask[i] > 0.5f;
    inter += (size_t)(p & g);
    uni += (size_t)(p | g);
  }
  return uni ? (double)inter / (double)uni : 0.0;
}
