/* Drawing primitives of the synthetic generator, in height units (x = (px - W/2)/H, y = py/H). */
#ifndef GAZELOC_SYNTH_DRAW_H
#define GAZELOC_SYNTH_DRAW_H

#include <stdint.h>

enum synth_profile { SD_ROUND, SD_CORTEX, SD_FLAT };

/* Draws a tapered segment into buf (rw x rh) with buf = max(buf, value * profile(d)), where d is the
 * distance to the segment over the local half width (w0 at the start, w1 at the end). */
void synth_stroke(float *buf, int rw, int rh, float x0, float y0, float x1, float y1, float w0, float w1, float value,
                  int profile);
/* Smooth value noise in [-1, 1] with unit lattice spacing, keyed by seed (deterministic, thread-safe). */
float synth_vnoise(uint64_t seed, float x, float y);
/* Soft lung mask in [0, 1] of one side (synth_anatomy.c). */
struct synth_chest;
float synth_lung_soft(const struct synth_chest *c, int side, float x, float y);

static inline float synth_px_x(float x, int rw, int rh) { return x * (float)rh + 0.5f * (float)rw; }
static inline float synth_px_y(float y, int rh) { return y * (float)rh; }
static inline float synth_hx(int px, int rw, int rh) { return ((float)px + 0.5f - 0.5f * (float)rw) / (float)rh; }
static inline float synth_hy(int py, int rh) { return ((float)py + 0.5f) / (float)rh; }

#endif
