/* Line charts as PNG: an RGB canvas, axes with "nice" ticks, and text from stb_easy_font (a vector font
 * of axis-aligned quads, which we fill at 2x scale). No plotting library: a few hundred pixels of logic. */
#include "eval/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A third-party header of static functions: its own style is not ours to warn about. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-braces"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

enum { W = 900, H = 540, LEFT = 90, RIGHT = 200, TOP = 50, BOTTOM = 70, TEXT_SCALE = 2 };

typedef struct {
  unsigned char px[H][W][3];
} canvas;

static const unsigned char palette[][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
                                           {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                           {188, 189, 34}, {23, 190, 207}};

static void dot(canvas *c, int x, int y, const unsigned char *rgb) {
  if (x >= 0 && x < W && y >= 0 && y < H) memcpy(c->px[y][x], rgb, 3);
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, const unsigned char *rgb) {
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) dot(c, x, y, rgb);
}

/* Bresenham, drawn `thick` pixels wide. */
static void line(canvas *c, int x0, int y0, int x1, int y1, const unsigned char *rgb, int thick) {
  int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
  for (;;) {
    for (int t = 0; t < thick; t++) dot(c, x0 + (dy == 0 ? 0 : t), y0 + (dy == 0 ? t : 0), rgb);
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

static int text_width(const char *s) { return stb_easy_font_width((char *)s) * TEXT_SCALE; }

static void text(canvas *c, int x, int y, const char *s, const unsigned char *rgb) {
  static float quads[4 * 4 * 2000]; /* 4 vertices of 16 bytes per quad */
  unsigned char col[4] = {0, 0, 0, 255};
  int nq = stb_easy_font_print(0, 0, (char *)s, col, quads, sizeof quads);
  for (int q = 0; q < nq; q++) {
    const float *v = quads + 16 * q; /* x, y, z, color per vertex */
    int x0 = x + (int)(v[0] * TEXT_SCALE), y0 = y + (int)(v[1] * TEXT_SCALE);
    int x1 = x + (int)(v[8] * TEXT_SCALE), y1 = y + (int)(v[9] * TEXT_SCALE);
    rect(c, x0, y0, x1, y1, rgb);
  }
}

/* Tick step of 1, 2 or 5 times a power of ten giving about 6 ticks. */
static double nice_step(double span) {
  double raw = span / 6, p = pow(10, floor(log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

int gz_plot_png(const char *path, const char *title, const char *xlabel, const char *ylabel, const gz_series *s,
                int ns, double y_lo, double y_hi, gz_err *e) {
  double x0 = INFINITY, x1 = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (int k = 0; k < ns; k++)
    for (int i = 0; i < s[k].n; i++) {
      if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
      x0 = fmin(x0, s[k].x[i]), x1 = fmax(x1, s[k].x[i]);
      ylo = fmin(ylo, s[k].y[i]), yhi = fmax(yhi, s[k].y[i]);
    }
  if (!(x0 <= x1)) return gz_fail(e, GZ_EINVAL, "%s: nothing to plot (no finite points)", path);
  if (y_lo < y_hi) ylo = y_lo, yhi = y_hi;
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (yhi == ylo) ylo -= 0.5, yhi += 0.5;
  double ys = nice_step(yhi - ylo), xs = nice_step(x1 - x0);
  if (!(y_lo < y_hi)) ylo = floor(ylo / ys) * ys, yhi = ceil(yhi / ys) * ys;
  canvas *c = gz_malloc(sizeof *c, e);
  if (!c) return -1;
  memset(c, 255, sizeof *c);
  static const unsigned char black[3] = {0, 0, 0}, grid[3] = {225, 225, 225}, grey[3] = {90, 90, 90};
  int pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define PX(x) (LEFT + (int)lround(((x) - x0) / (x1 - x0) * pw))
#define PY(y) (TOP + ph - (int)lround(((y) - ylo) / (yhi - ylo) * ph))
  char buf[64];
  for (double t = ceil(ylo / ys - 1e-9) * ys; t <= yhi + 1e-9 * ys; t += ys) {
    line(c, LEFT, PY(t), LEFT + pw, PY(t), grid, 1);
    snprintf(buf, sizeof buf, "%g", fabs(t) < 1e-12 * ys ? 0.0 : t);
    text(c, LEFT - 8 - text_width(buf), PY(t) - 6, buf, grey);
  }
  for (double t = ceil(x0 / xs - 1e-9) * xs; t <= x1 + 1e-9 * xs; t += xs) {
    line(c, PX(t), TOP, PX(t), TOP + ph, grid, 1);
    snprintf(buf, sizeof buf, "%g", fabs(t) < 1e-12 * xs ? 0.0 : t);
    text(c, PX(t) - text_width(buf) / 2, TOP + ph + 10, buf, grey);
  }
  line(c, LEFT, TOP + ph, LEFT + pw, TOP + ph, black, 2);
  line(c, LEFT, TOP, LEFT, TOP + ph, black, 2);
  for (int k = 0; k < ns; k++) {
    const unsigned char *col = palette[k % 10];
    int have = 0, px = 0, py = 0;
    for (int i = 0; i < s[k].n; i++) {
      if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) { have = 0; continue; }
      double yv = fmin(fmax(s[k].y[i], ylo), yhi);
      int qx = PX(s[k].x[i]), qy = PY(yv);
      if (have) line(c, px, py, qx, qy, col, 2);
      else rect(c, qx - 1, qy - 1, qx + 2, qy + 2, col);
      px = qx, py = qy, have = 1;
    }
    rect(c, LEFT + pw + 20, TOP + 10 + 24 * k, LEFT + pw + 44, TOP + 14 + 24 * k, col);
    text(c, LEFT + pw + 52, TOP + 4 + 24 * k, s[k].name ? s[k].name : "", black);
  }
#undef PX
#undef PY
  text(c, (W - text_width(title)) / 2, 14, title, black);
  text(c, LEFT + (pw - text_width(xlabel)) / 2, H - 30, xlabel, black);
  text(c, 8, TOP - 30, ylabel, black);
  int rc = gz_write_png(path, W, H, 3, &c->px[0][0][0], e);
  free(c);
  return rc;
}
