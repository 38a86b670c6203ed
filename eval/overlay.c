/* Overlay pictures for the report: the x-ray in grey, a heatmap blended in red (opacity proportional to the
 * value), and the outline of the ellipse mask in green, as the paper's figures show them. */
#include "eval/eval.h"

#include <stdlib.h>

int gz_overlay_png(const char *path, const float *gray, const float *heat, const float *mask, int size, gz_err *e) {
  unsigned char *px = malloc((size_t)size * size * 3);
  if (!px) return gz_fail(e, GZ_ENOMEM, "%s: out of memory for a %dx%d overlay", path, size, size);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++) {
      size_t i = (size_t)y * size + x;
      float g = gray[i] < 0 ? 0 : gray[i] > 1 ? 1 : gray[i];
      float r = g, gg = g, b = g;
      if (heat) {
        float h = heat[i] < 0 ? 0 : heat[i] > 1 ? 1 : heat[i];
        float a = 0.6f * h;
        r = (1 - a) * r + a, gg = (1 - a) * gg, b = (1 - a) * b;
      }
      if (mask && mask[i] > 0.5f) { /* outline: a mask pixel with a 4-neighbour outside the mask */
        int edge = x == 0 || y == 0 || x == size - 1 || y == size - 1 || mask[i - 1] <= 0.5f ||
                   mask[i + 1] <= 0.5f || mask[i - size] <= 0.5f || mask[i + size] <= 0.5f;
        if (edge) r = 0, gg = 1, b = 0;
      }
      px[3 * i] = (unsigned char)(r * 255.0f + 0.5f);
      px[3 * i + 1] = (unsigned char)(gg * 255.0f + 0.5f);
      px[3 * i + 2] = (unsigned char)(b * 255.0f + 0.5f);
    }
  int rc = gz_write_png(path, size, size, 3, px, e);
  free(px);
  return rc;
}
