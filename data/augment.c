/* Random affine augmentation, exactly as torchvision applies it to tensors (see augment.h). */
#include "data/data.h"

#include <math.h>

const gz_affine_range gz_affine_paper = {45.0f, 0.15f, 0.85f, 1.15f};

gz_affine gz_affine_draw(const gz_affine_range *g, int width, int height, gz_rng *r) {
  gz_affine a;
  a.angle_deg = (float)gz_rng_range(r, -g->max_deg, g->max_deg);
  double max_dx = g->max_translate * width, max_dy = g->max_translate * height;
  a.tx = (int)lround(gz_rng_range(r, -max_dx, max_dx));
  a.ty = (int)lround(gz_rng_range(r, -max_dy, max_dy));
  a.scale = (float)gz_rng_range(r, g->scale_lo, g->scale_hi);
  return a;
}

/* torchvision's _get_inverse_affine_matrix with centre (0, 0) (the tensor path centres the grid) and no
 * shear: M^-1 = T(-t) R(-a) / s, as 2x3 row-major. */
static void inverse_matrix(const gz_affine *a, double m[6]) {
  double rot = a->angle_deg * M_PI / 180.0;
  double ca = cos(rot), sa = sin(rot);
  /* with shear 0: a=cos, b=-sin, c=sin, d=cos; matrix = [d, -b, 0, -c, a, 0] / scale */
  m[0] = ca / a->scale, m[1] = sa / a->scale, m[2] = 0;
  m[3] = -sa / a->scale, m[4] = ca / a->scale, m[5] = 0;
  m[2] += m[0] * (-a->tx) + m[1] * (-a->ty);
  m[5] += m[3] * (-a->tx) + m[4] * (-a->ty);
}

void gz_affine_table(const gz_affine *a, int w, int h, int *src) {
  double md[6];
  inverse_matrix(a, md);
  /* torch builds theta in float32 and divides it by (w/2, h/2) (affine_grid's normalisation), then
   * grid_sample maps back: ix = ((gx + 1) * w - 1) / 2, and nearest rounds half to even (nearbyint).
   * Following the same float32 steps keeps ties on the same side as PyTorch's. */
  float m[6];
  for (int i = 0; i < 6; i++) m[i] = (float)md[i];
  float r00 = m[0] / (0.5f * (float)w), r10 = m[1] / (0.5f * (float)w), r20 = m[2] / (0.5f * (float)w);
  float r01 = m[3] / (0.5f * (float)h), r11 = m[4] / (0.5f * (float)h), r21 = m[5] / (0.5f * (float)h);
  for (int y = 0; y < h; y++) {
    float by = (float)y - (float)h * 0.5f + 0.5f;
    for (int x = 0; x < w; x++) {
      float bx = (float)x - (float)w * 0.5f + 0.5f;
      float gx = bx * r00 + by * r10 + r20, gy = bx * r01 + by * r11 + r21;
      float ix = ((gx + 1.0f) * (float)w - 1.0f) / 2.0f, iy = ((gy + 1.0f) * (float)h - 1.0f) / 2.0f;
      long sx = lrintf(ix), sy = lrintf(iy); /* round half to even, as nearbyint */
      src[(size_t)y * (size_t)w + (size_t)x] = (sx >= 0 && sx < w && sy >= 0 && sy < h) ? (int)(sy * w + sx) : -1;
    }
  }
}

void gz_affine_apply(const int *src, const float *in, float *out, int planes, int w, int h) {
  size_t n = (size_t)w * (size_t)h;
  for (int p = 0; p < planes; p++) {
    const float *ip = in + (size_t)p * n;
    float *op = out + (size_t)p * n;
    for (size_t i = 0; i < n; i++) op[i] = src[i] >= 0 ? ip[src[i]] : 0.0f;
  }
}
