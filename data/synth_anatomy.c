/* Procedural chest radiographs: body and soft tissue, lungs with vessel markings, heart, mediastinum,
 * trachea, spine, ribs, clavicles, diaphragm, stomach bubble, exposure and noise; PA, AP and lateral.
 *
 * The image is an attenuation map A (sum of tissue "densities" along the ray) turned into brightness
 * with I = 1 - exp(-k A), as on a film: air is black, soft tissue grey, bone and heart white. Geometry
 * is in height units (x = (px - W/2)/H, y = py/H) so that one patient model serves every size; the map
 * is rendered at most 768 px high and upsampled, and the noise is added at full size.
 * Anatomy and its proportions: spec/synthetic.md 3 (heart 1/3 right, 2/3 left of the midline,
 * cardiothoracic ratio < 0.5 when normal, costophrenic angles, ribs 1-10, clavicles). */
#include "data/synth_internal.h"
#include "data/synth_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float clampf(float v, float a, float b) { return v < a ? a : v > b ? b : v; }
static float smooth01(float t) { t = clampf(t, 0, 1); return t * t * (3 - 2 * t); }

void synth_chest_draw(synth_chest *c, int view, int ap, gz_rng *r) {
  memset(c, 0, sizeof *c);
  c->view = view;
  c->cx = (float)gz_rng_range(r, -0.02, 0.02);
  c->tw = (float)gz_rng_range(r, 0.32, 0.37);
  c->apex = (float)gz_rng_range(r, 0.10, 0.14) + (ap ? 0.01f : 0.0f);
  float d = (float)gz_rng_range(r, 0.62, 0.69);
  c->dome[0] = d;
  c->dome[1] = d + (float)gz_rng_range(r, 0.005, 0.03); /* left hemidiaphragm slightly lower */
  for (int s = 0; s < 2; s++) c->cp[s] = c->dome[s] + (float)gz_rng_range(r, 0.05, 0.07);
  float ctr = (float)gz_rng_range(r, 0.40, 0.50) * (ap ? 1.06f : 1.0f); /* AP magnifies the heart */
  c->heart_a = ctr * c->tw;
  c->heart_cx = c->cx + c->heart_a / 3; /* one third right, two thirds left of the midline */
  c->heart_b = (float)gz_rng_range(r, 0.10, 0.125);
  c->heart_cy = c->dome[1] - 0.55f * c->heart_b;
  c->med_w = (float)gz_rng_range(r, 0.05, 0.062);
  c->hilum_y = (float)gz_rng_range(r, 0.36, 0.41);
  c->rot = (float)gz_rng_range(r, -0.02, 0.02);
  c->rib_dy = (c->cp[0] - c->apex) / 9.3f;
  c->gain = (float)gz_rng_range(r, 0.9, 1.05);
  c->gamma = (float)gz_rng_range(r, 0.85, 1.15);
  c->bias = (float)gz_rng_range(r, 0.0, 0.05);
  c->noise = (float)gz_rng_range(r, 0.008, 0.018) * (ap ? 1.6f : 1.0f);
  if (ap) c->gain *= 0.92f;
}

/* Findings that change the anatomy itself (cardiomegaly, wide mediastinum, volume change). */
void synth_chest_apply_findings(synth_chest *c, const synth_study *s) {
  for (int i = 0; i < s->nfind; i++) {
    const synth_finding *f = &s->find[i];
    switch (f->kind) {
    case SK_CARDIOMEGALY: { /* CTR > 0.5, left border displaced left and down */
      float ctr = 0.53f + 0.05f * (float)f->severity + f->p[0] * 0.03f;
      c->heart_a = ctr * c->tw;
      c->heart_cx = c->cx + c->heart_a * 0.38f;
      c->heart_b *= 1.12f;
      c->heart_cy = c->dome[1] - 0.5f * c->heart_b;
      break;
    }
    case SK_MEDIASTINUM:
      for (int k = 0; k < 2; k++)
        if (f->side == 2 || f->side == k) c->med_extra[k] = 0.022f + 0.012f * (float)f->severity + 0.008f * f->p[0];
      break;
    case SK_HYPERINFLATION: /* low, flattened diaphragm and a narrow heart */
      for (int k = 0; k < 2; k++) { c->dome[k] += 0.07f; c->cp[k] += 0.05f; }
      c->heart_a *= 0.88f;
      c->heart_cy = c->dome[1] - 0.55f * c->heart_b;
      c->rib_dy = (c->cp[0] - c->apex) / 9.3f;
      break;
    case SK_ATELECTASIS: /* volume loss: the hemidiaphragm on that side rises */
      for (int k = 0; k < 2; k++)
        if (f->side == 2 || f->side == k) { c->dome[k] -= 0.012f; c->cp[k] -= 0.008f; }
      break;
    default: break;
    }
  }
}

/* Distances (height units, > 0 inside) to the borders of one lung; returns the smallest. */
static float lung_dist(const synth_chest *c, int side, float x, float y, float *d_lat, float *d_top) {
  float sg = side ? 1.0f : -1.0f;
  float mid = c->cx + c->rot * (y - 0.4f);
  float xx = (x - mid) * sg; /* distance from the midline towards this lung */
  float t = clampf((y - c->apex) / (c->cp[side] - c->apex), 0, 1);
  float lat = c->tw * (0.42f + 0.58f * sqrtf(t));
  float dl = lat - xx;
  float xa = 0.45f * c->tw;
  float dt = (y - c->apex) - 1.6f * (xx - xa) * (xx - xa);
  float u = xx / c->tw, u0 = 0.45f;
  float yd = u > u0 ? c->dome[side] + (c->cp[side] - c->dome[side]) * ((u - u0) / (1 - u0)) * ((u - u0) / (1 - u0))
                    : c->dome[side] + 0.05f * ((u0 - u) / u0) * ((u0 - u) / u0);
  float dd = yd - y;
  float knob = side ? 0.022f * expf(-((y - 0.26f) * (y - 0.26f)) / (2 * 0.025f * 0.025f)) : 0;
  float dm = xx - (c->med_w + c->med_extra[side] * smooth01((y - 0.12f) / 0.06f) + knob);
  /* outside the heart ellipse */
  float hx = (x - c->heart_cx) / c->heart_a, hy = (y - c->heart_cy) / c->heart_b;
  float dh = (sqrtf(hx * hx + hy * hy) - 1) * fminf(c->heart_a, c->heart_b);
  float dmin = fminf(fminf(dl, dt), fminf(dd, fminf(dm, dh)));
  if (d_lat) *d_lat = dl;
  if (d_top) *d_top = dt;
  return dmin;
}

int synth_lung_inside(const synth_chest *c, int side, float x, float y, float *d_lat, float *d_top) {
  return lung_dist(c, side, x, y, d_lat, d_top) > 0;
}

float synth_lung_soft(const synth_chest *c, int side, float x, float y) {
  return smooth01(lung_dist(c, side, x, y, NULL, NULL) / 0.008f + 0.5f);
}

/* Lung vessel markings: branching random walks from each hilum, tapering (spec 3: markings are what a
 * pneumothorax lacks). */
static void draw_vessels(const synth_chest *c, float *V, int rw, int rh, gz_rng *r) {
  for (int side = 0; side < 2; side++) {
    float sg = side ? 1.0f : -1.0f;
    float hx = c->cx + sg * (side ? c->heart_a * 0.55f : c->med_w + 0.035f), hy = c->hilum_y;
    for (int b = 0; b < 16; b++) {
      float ang = (float)(-2.3 + 3.1 * (b + gz_rng_uniform(r)) / 16.0); /* from up-lateral to down-lateral */
      float x = hx, y = hy, w = 0.0042f;
      for (int step = 0; step < 18 && w > 0.0012f; step++) {
        float dx = sg * cosf(ang) * 0.018f, dy = sinf(ang) * 0.018f;
        float nx = x + dx, ny = y + dy;
        if (lung_dist(c, side, nx, ny, NULL, NULL) < -0.01f && step > 2) break;
        synth_stroke(V, rw, rh, x, y, nx, ny, w, w * 0.9f, 0.11f, SD_ROUND);
        if (gz_rng_uniform(r) < 0.28f) { /* a side branch */
          float a2 = ang + (gz_rng_uniform(r) < 0.5f ? -0.5f : 0.5f);
          float bx = nx, by = ny, bw = w * 0.7f;
          for (int k = 0; k < 5; k++) {
            float ex = bx + sg * cosf(a2) * 0.016f, ey = by + sinf(a2) * 0.016f;
            synth_stroke(V, rw, rh, bx, by, ex, ey, bw, bw * 0.85f, 0.09f, SD_ROUND);
            bx = ex; by = ey; bw *= 0.85f;
            a2 += (gz_rng_uniform(r) - 0.5f) * 0.5f;
          }
        }
        x = nx; y = ny; w *= 0.9f;
        ang += (gz_rng_uniform(r) - 0.5f) * 0.35f;
      }
    }
  }
}

void synth_rib_point(const synth_chest *c, int side, int rib, float t, float *x, float *y) {
  float sg = side ? 1.0f : -1.0f;
  float y0 = c->apex - 0.015f + (float)rib * c->rib_dy;
  float yy = y0 - 0.032f * sinf(3.14159f * t) + 0.075f * t * t;
  float tt = clampf((yy - c->apex) / (c->cp[side] - c->apex), 0, 1);
  float lat = c->tw * (0.42f + 0.58f * sqrtf(tt)) + 0.02f;
  *x = c->cx + sg * (0.03f + t * (lat - 0.03f));
  *y = yy;
}

/* Posterior and anterior ribs, clavicles; a fractured rib (spec 3: ribs 4-9, lateral arc, a cortical
 * break with a step) is drawn in two pieces with a lucent gap. */
static void draw_bones(const synth_chest *c, const synth_study *s, float *B, int rw, int rh, int ap) {
  int frac_side = -1, frac_rib = -1;
  float frac_t = 0, frac_step = 0;
  for (int i = 0; i < s->nfind; i++)
    if (s->find[i].kind == SK_FRACTURE) {
      frac_side = s->find[i].side; frac_rib = s->find[i].zone;
      frac_t = s->find[i].p[0]; frac_step = s->find[i].p[1];
    }
  for (int side = 0; side < 2; side++) {
    float sg = side ? 1.0f : -1.0f;
    for (int i = 0; i < 10; i++) {
      float px = 0, py = 0;
      for (int k = 0; k <= 20; k++) {
        float t = (float)k / 20, x, y;
        synth_rib_point(c, side, i, t, &x, &y);
        int fr = side == frac_side && i == frac_rib;
        if (fr && t > frac_t) y += frac_step;
        if (k > 0 && !(fr && fabsf(t - frac_t) < 0.05f))
          synth_stroke(B, rw, rh, px, py, x, y, 0.0085f, 0.0085f, 0.15f, SD_CORTEX);
        px = x; py = y;
      }
      /* anterior rib: from the lateral end, medially and down */
      float ax = px, ay = py;
      for (int k = 1; k <= 10; k++) {
        float t = (float)k / 10;
        float x = c->cx + sg * ((fabsf(px - c->cx)) * (1 - 0.62f * t)), y = py + 0.10f * t - 0.02f * t * t;
        synth_stroke(B, rw, rh, ax, ay, x, y, 0.010f, 0.010f, 0.05f, SD_ROUND);
        ax = x; ay = y;
      }
    }
    /* clavicle: medial end near the midline, lateral end up towards the shoulder */
    float yb = ap ? 0.105f : 0.125f, qx = 0, qy = 0;
    for (int k = 0; k <= 14; k++) {
      float u = (float)k / 14;
      float x = c->cx + sg * (0.025f + 0.25f * u), y = yb - 0.055f * u + 0.01f * sinf(6.283f * u);
      if (k) synth_stroke(B, rw, rh, qx, qy, x, y, 0.011f, 0.010f, 0.24f, SD_CORTEX);
      qx = x; qy = y;
    }
  }
}

/* Support devices: a central venous catheter from the right neck into the SVC; with 2, also an ET tube. */
static void draw_devices(const synth_chest *c, int devices, float *B, int rw, int rh) {
  if (!devices) return;
  float x0 = c->cx - 0.16f, y0 = 0.0f, x1 = c->cx - 0.07f, y1 = 0.18f, x2 = c->cx - 0.03f, y2 = c->hilum_y;
  synth_stroke(B, rw, rh, x0, y0, x1, y1, 0.0022f, 0.0022f, 0.5f, SD_ROUND);
  synth_stroke(B, rw, rh, x1, y1, x2, y2, 0.0022f, 0.0022f, 0.5f, SD_ROUND);
  if (devices > 1) {
    synth_stroke(B, rw, rh, c->cx - 0.009f, 0.0f, c->cx - 0.009f, c->hilum_y - 0.12f, 0.0018f, 0.0018f, 0.45f, SD_ROUND);
    synth_stroke(B, rw, rh, c->cx + 0.009f, 0.0f, c->cx + 0.009f, c->hilum_y - 0.12f, 0.0018f, 0.0018f, 0.45f, SD_ROUND);
  }
}

/* The soft tissue, lungs, heart, mediastinum, trachea, spine, abdomen of a frontal film. */
static void frontal_base(const synth_chest *c, float *A, float *L, int rw, int rh) {
  float bw = c->tw * 1.13f;
  for (int py = 0; py < rh; py++) {
    float y = ((float)py + 0.5f) / (float)rh;
    float half = y < 0.11f ? 0.11f + (bw - 0.11f) * smooth01((y - 0.0f) / 0.11f)
                           : bw * (1 - 0.1f * smooth01((y - c->dome[0]) / 0.3f)); /* narrower towards the waist */
    for (int px = 0; px < rw; px++) {
      float x = ((float)px + 0.5f - 0.5f * (float)rw) / (float)rh;
      float mid = c->cx + c->rot * (y - 0.4f);
      float xx = fabsf(x - mid);
      float body = xx < half ? sqrtf(1 - (xx / half) * (xx / half)) : 0;
      float a = 0.46f * smooth01(body * 6) * (0.55f + 0.45f * body);
      float lung = 0;
      for (int s = 0; s < 2; s++) {
        float m = synth_lung_soft(c, s, x, y);
        if (m > 0) {
          float t = clampf((y - c->apex) / (c->cp[s] - c->apex), 0, 1);
          lung = fmaxf(lung, m * (0.75f + 0.25f * t));
        }
      }
      L[(size_t)py * rw + px] = lung;
      a -= 0.34f * lung;
      /* heart */
      float hx = (x - c->heart_cx) / c->heart_a, hy = (y - c->heart_cy) / c->heart_b;
      float hr = hx * hx + hy * hy;
      if (hr < 1.1f) /* fades under the diaphragm, where it meets the abdomen */
        a += 0.45f * smooth01((1.0f - hr) * 12) * (0.7f + 0.3f * sqrtf(fmaxf(0, 1 - hr))) *
             (0.45f + 0.55f * smooth01((c->dome[1] + 0.01f - y) / 0.03f));
      /* mediastinum above the heart, widened when abnormal */
      if (y > 0.04f && y < c->heart_cy) {
        int s = x > mid;
        float knob = s ? 0.022f * expf(-((y - 0.26f) * (y - 0.26f)) / (2 * 0.025f * 0.025f)) : 0;
        float w = c->med_w + c->med_extra[s] * smooth01((y - 0.12f) / 0.06f) + knob;
        a += 0.36f * smooth01((w - xx) / 0.006f + 0.5f);
      }
      /* trachea and main bronchi: air column */
      float car = c->hilum_y - 0.09f;
      if (y < car) a -= 0.13f * smooth01((0.013f - xx) / 0.004f + 0.5f) * smooth01(y / 0.03f);
      /* spine: vertebral bodies with darker disc spaces */
      a += 0.1f * smooth01((0.034f - xx) / 0.005f + 0.5f) * (0.75f + 0.25f * cosf(6.2832f * y / 0.047f));
      /* abdomen under the diaphragm */
      float under = 0;
      for (int s = 0; s < 2; s++) {
        float d_lat, d_top;
        if ((x > mid) == s && xx < c->tw * 1.05f) {
          lung_dist(c, s, x, y, &d_lat, &d_top);
          float u = xx / c->tw, u0 = 0.45f;
          float yd = u > u0 ? c->dome[s] + (c->cp[s] - c->dome[s]) * ((u - u0) / (1 - u0)) * ((u - u0) / (1 - u0))
                            : c->dome[s] + 0.05f * ((u0 - u) / u0) * ((u0 - u) / u0);
          under = smooth01((y - yd) / 0.012f + 0.5f);
        }
      }
      a += 0.2f * under * smooth01(body * 4);
      /* stomach bubble under the left hemidiaphragm */
      float gx = (x - (c->cx + 0.55f * c->tw)) / 0.045f, gy = (y - (c->dome[1] + 0.05f)) / 0.026f;
      if (gx * gx + gy * gy < 1) a -= 0.22f * smooth01((1 - gx * gx - gy * gy) * 5);
      A[(size_t)py * rw + px] = a;
    }
  }
}

/* A lateral film: body, spine behind, heart in front, one lung field and the domes. Findings are not
 * drawn on laterals (they only exist so that the frontal-view filter has work to do). */
static void lateral_base(const synth_chest *c, float *A, int rw, int rh) {
  for (int py = 0; py < rh; py++) {
    float y = ((float)py + 0.5f) / (float)rh;
    for (int px = 0; px < rw; px++) {
      float x = ((float)px + 0.5f - 0.5f * (float)rw) / (float)rh;
      float bx = (x - c->cx) / 0.3f, by = (y - 0.5f) / 0.62f;
      float body = bx * bx + by * by < 1 ? sqrtf(1 - bx * bx - by * by) : 0;
      float a = 0.6f * smooth01(body * 5);
      float lx = (x - c->cx) / 0.2f, ly = (y - 0.42f) / 0.28f;
      float lung = smooth01((1 - lx * lx - ly * ly) * 4);
      if (y > c->dome[0] + 0.02f * lx) lung *= 0.0f;
      a -= 0.4f * lung;
      float hx = (x - (c->cx - 0.08f)) / 0.11f, hy = (y - (c->dome[0] - 0.1f)) / 0.11f;
      if (hx * hx + hy * hy < 1) a += 0.3f * smooth01((1 - hx * hx - hy * hy) * 6);
      float sx = x - (c->cx + 0.19f);
      a += 0.32f * smooth01((0.035f - fabsf(sx)) / 0.006f + 0.5f) * (0.8f + 0.2f * cosf(6.2832f * y / 0.047f));
      A[(size_t)py * rw + px] = a;
    }
  }
}

static synth_box box_px(float x0, float y0, float x1, float y1, int w, int h) {
  synth_box b = {(x0 * (float)h + 0.5f * (float)w), y0 * (float)h, (x1 * (float)h + 0.5f * (float)w), y1 * (float)h};
  return b;
}

static void compute_regions(const synth_chest *c, synth_render *o) {
  int w = o->w, h = o->h;
  for (int s = 0; s < 2; s++) {
    float sg = s ? 1.0f : -1.0f;
    float xin = c->cx + sg * c->med_w, xout = c->cx + sg * c->tw;
    float xa = fminf(xin, xout), xb = fmaxf(xin, xout);
    o->region[SR_LUNG_R + s] = box_px(xa, c->apex, xb, c->cp[s], w, h);
    o->region[SR_APEX_R + s] = box_px(xa, c->apex, xb, c->apex + 0.13f, w, h);
    float xl = fminf(c->cx + sg * 0.5f * c->tw, xout), xr = fmaxf(c->cx + sg * 0.5f * c->tw, xout);
    o->region[SR_BASE_R + s] = box_px(xl, c->dome[s] - 0.08f, xr, c->cp[s] + 0.01f, w, h);
    float hxm = c->cx + sg * (s ? c->heart_a * 0.55f : c->med_w + 0.035f);
    o->region[SR_HILUM_R + s] = box_px(hxm - 0.04f, c->hilum_y - 0.045f, hxm + 0.04f, c->hilum_y + 0.045f, w, h);
    float ro = c->cx + sg * c->tw * 1.02f, ri = c->cx + sg * c->tw * 0.62f;
    o->region[SR_RIBS_R + s] = box_px(fminf(ro, ri), c->apex + 0.1f, fmaxf(ro, ri), c->dome[s], w, h);
  }
  o->region[SR_HEART] = box_px(c->heart_cx - c->heart_a, c->heart_cy - c->heart_b, c->heart_cx + c->heart_a,
                               fminf(c->heart_cy + c->heart_b, c->dome[1]), w, h);
  float mw = c->med_w + fmaxf(c->med_extra[0], c->med_extra[1]);
  o->region[SR_MEDIASTINUM] = box_px(c->cx - mw, 0.1f, c->cx + mw, c->heart_cy - 0.5f * c->heart_b, w, h);
  o->region[SR_SPINE] = box_px(c->cx - 0.035f, 0.05f, c->cx + 0.035f, c->dome[0], w, h);
  synth_box cb = o->region[SR_LUNG_R];
  synth_box l = o->region[SR_LUNG_L];
  cb.x0 = fminf(cb.x0, l.x0); cb.x1 = fmaxf(cb.x1, l.x1);
  cb.y0 = fminf(cb.y0, l.y0); cb.y1 = fmaxf(cb.y1, l.y1);
  o->chestbox = cb;
}

int synth_render_image(const gz_synth_opts *o, const synth_study *s, const synth_image *img,
                       uint64_t image_index, synth_render *out, gz_err *e) {
  memset(out, 0, sizeof *out);
  gz_rng r;
  gz_rng_init(&r, o->seed, synth_stream(SS_IMAGE, image_index));
  int lateral = img->view >= 2;
  synth_chest *c = &out->chest;
  synth_chest_draw(c, lateral ? 2 : img->view, img->view == 1, &r);
  if (!lateral) synth_chest_apply_findings(c, s);
  if (img->frontal_rank > 0) { c->noise *= 2.2f; c->rot *= 3; c->gain *= 0.8f; } /* the poor second frontal */
  out->w = img->w;
  out->h = img->h;
  out->rh = img->h > 768 ? 768 : img->h;
  out->rw = (int)lroundf((float)img->w * (float)out->rh / (float)img->h);
  int rw = out->rw, rh = out->rh;
  size_t n = (size_t)rw * rh;
  float *A = gz_calloc(n, sizeof(float), e), *L = gz_calloc(n, sizeof(float), e);
  float *V = gz_calloc(n, sizeof(float), e), *B = gz_calloc(n, sizeof(float), e);
  out->pixels = gz_malloc((size_t)img->w * img->h, e);
  if (!A || !L || !V || !B || !out->pixels) goto fail;
  if (lateral) {
    lateral_base(c, A, rw, rh);
  } else {
    frontal_base(c, A, L, rw, rh);
    draw_vessels(c, V, rw, rh, &r);
    draw_bones(c, s, B, rw, rh, img->view == 1);
    draw_devices(c, s->devices, B, rw, rh);
    for (int i = 0; i < s->nfind; i++) {
      out->mask[i] = gz_calloc(n, 1, e);
      if (!out->mask[i]) goto fail;
      synth_lesion_render(c, &s->find[i], i, A, V, out->mask[i], rw, rh, o->seed,
                          synth_stream(SS_IMAGE, image_index) ^ ((uint64_t)(i + 1) << 32));
    }
  }
  for (size_t i = 0; i < n; i++) A[i] += V[i] * L[i] + B[i];
  /* film response, then bilinear upsampling to the final size with noise at full resolution */
  for (size_t i = 0; i < n; i++) {
    float v = 1 - expf(-2.0f * fmaxf(A[i], 0));
    A[i] = c->bias + c->gain * powf(v, c->gamma);
  }
  int W = img->w, H = img->h;
  float sx = (float)rw / (float)W, sy = (float)rh / (float)H;
  for (int y = 0; y < H; y++) {
    float fy = ((float)y + 0.5f) * sy - 0.5f;
    int y0 = (int)floorf(fy);
    float ty = fy - (float)y0;
    int ya = y0 < 0 ? 0 : y0 >= rh ? rh - 1 : y0, yb = y0 + 1 < 0 ? 0 : y0 + 1 >= rh ? rh - 1 : y0 + 1;
    for (int x = 0; x < W; x++) {
      float fx = ((float)x + 0.5f) * sx - 0.5f;
      int x0 = (int)floorf(fx);
      float tx = fx - (float)x0;
      int xa = x0 < 0 ? 0 : x0 >= rw ? rw - 1 : x0, xb = x0 + 1 < 0 ? 0 : x0 + 1 >= rw ? rw - 1 : x0 + 1;
      float v = (1 - ty) * ((1 - tx) * A[(size_t)ya * rw + xa] + tx * A[(size_t)ya * rw + xb]) +
                ty * ((1 - tx) * A[(size_t)yb * rw + xa] + tx * A[(size_t)yb * rw + xb]);
      /* quantum noise: stronger in bright (more attenuated, fewer photons) areas, as on a film */
      float u1 = gz_rng_uniform(&r) + gz_rng_uniform(&r) + gz_rng_uniform(&r) - 1.5f; /* ~N(0, 0.25) */
      v += c->noise * 2.0f * u1 * (0.6f + 0.6f * v);
      out->pixels[(size_t)y * W + x] = (uint8_t)lroundf(clampf(v, 0, 1) * 255.0f);
    }
  }
  compute_regions(c, out);
  if (!lateral) synth_finding_boxes(s, out);
  free(A); free(L); free(V); free(B);
  return 0;
fail:
  free(A); free(L); free(V); free(B);
  synth_render_free(out);
  return -1;
}

void synth_render_free(synth_render *r) {
  free(r->pixels);
  r->pixels = NULL;
  for (int i = 0; i < SYNTH_MAX_FINDINGS; i++) { free(r->mask[i]); r->mask[i] = NULL; }
}
