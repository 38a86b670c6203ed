/* Drawing primitives: tapered strokes and smooth value noise (see synth_draw.h). */
#include "data/synth_draw.h"

#include <math.h>
#include <stddef.h>

void synth_stroke(float *buf, int rw, int rh, float x0, float y0, float x1, float y1, float w0, float w1, float value,
                  int profile) {
  float ax = synth_px_x(x0, rw, rh), ay = synth_px_y(y0, rh), bx = synth_px_x(x1, rw, rh), by = synth_px_y(y1, rh);
  float wa = w0 * (float)rh, wb = w1 * (float)rh, wm = fmaxf(wa, wb) + 1.5f;
  int xa = (int)floorf(fminf(ax, bx) - wm), xb = (int)ceilf(fmaxf(ax, bx) + wm);
  int ya = (int)floorf(fminf(ay, by) - wm), yb = (int)ceilf(fmaxf(ay, by) + wm);
  if (xa < 0) xa = 0;
  if (ya < 0) ya = 0;
  if (xb > rw - 1) xb = rw - 1;
  if (yb > rh - 1) yb = rh - 1;
  float dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
  for (int py = ya; py <= yb; py++)
    for (int px = xa; px <= xb; px++) {
      float qx = (float)px + 0.5f - ax, qy = (float)py + 0.5f - ay;
      float t = l2 > 0 ? (qx * dx + qy * dy) / l2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      float ex = qx - t * dx, ey = qy - t * dy;
      float w = wa + t * (wb - wa);
      if (w < 0.5f) w = 0.5f; /* never thinner than a pixel, so thin structures survive at 128 px */
      float d = sqrtf(ex * ex + ey * ey) / w;
      if (d >= 1.25f) continue;
      float edge = d < 1 ? 1 : (1.25f - d) / 0.25f; /* half a pixel of antialiasing */
      float p;
      if (profile == SD_CORTEX) p = d < 1 ? 0.55f + 0.45f * d * d : 1;
      else if (profile == SD_FLAT) p = 1;
      else p = d < 1 ? sqrtf(1 - d * d) : 0.2f;
      float v = value * p * edge;
      float *o = &buf[(size_t)py * rw + px];
      if (v > *o) *o = v;
    }
}

static uint32_t hash3(uint64_t seed, int32_t x, int32_t y) {
  uint64_t h = seed ^ ((uint64_t)(uint32_t)x * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)(uint32_t)y * 0xC2B2AE3D27D4EB4FULL);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return (uint32_t)h;
}

float synth_vnoise(uint64_t seed, float x, float y) {
  float fx = floorf(x), fy = floorf(y);
  int32_t ix = (int32_t)fx, iy = (int32_t)fy;
  float tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx);
  ty = ty * ty * (3 - 2 * ty);
  float v00 = (float)hash3(seed, ix, iy) / 2147483648.0f - 1, v10 = (float)hash3(seed, ix + 1, iy) / 2147483648.0f - 1;
  float v01 = (float)hash3(seed, ix, iy + 1) / 2147483648.0f - 1;
  float v11 = (float)hash3(seed, ix + 1, iy + 1) / 2147483648.0f - 1;
  return (1 - ty) * ((1 - tx) * v00 + tx * v10) + ty * ((1 - tx) * v01 + tx * v11);
}
