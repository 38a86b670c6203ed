/* Findings: which ones a study has (prevalence from spec/synthetic.md 1.5), and how each looks and
 * where it lies on a frontal film (spec/synthetic.md 3). Each finding adds its density to the
 * attenuation map and writes its true mask; the mask is what the truth sidecar stores and what the
 * simulated reader looks at and draws a (loose) ellipse around. */
#include "data/synth_internal.h"
#include "data/synth_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const synth_reflacx_labels[RL_N] = {
    "Abnormal mediastinal contour", "Acute fracture", "Atelectasis", "Consolidation", "Enlarged cardiac silhouette",
    "Enlarged hilum", "Groundglass opacity", "Hiatal hernia", "High lung volume / emphysema",
    "Interstitial lung disease", "Lung nodule or mass", "Other", "Pleural abnormality", "Pneumothorax",
    "Pulmonary edema", "Support devices"};

const char *const synth_paper_labels[10] = {"Edema", "Opacity", "Pneumothorax", "Pleural abnormality", "Lung Lesion",
                                            "Atelectasis", "Consolidation", "Fracture", "Cardiomegaly",
                                            "Abnormal Mediastinum Contour"};

/* kind -> REFLACX column (alphabetical index above) */
const int synth_kind_column[SK_N] = {2, 3, 4, 14, 12, 13, 10, 1, 0, 6, 9, 5, 8, 7};

/* kind -> paper labels (method.md 5, Table 2): bit k = paper label k */
#define PB(k) (1u << (k))
const unsigned synth_kind_paper[SK_N] = {
    PB(5) | PB(1), PB(6) | PB(1), PB(8), PB(0) | PB(1), PB(3), PB(2), PB(4) | PB(1), PB(7), PB(9), PB(1), PB(1), 0, 0, 0};

/* Share of REFLACX phase-3 reports mentioning each label (spec/synthetic.md 1.5). */
const double synth_kind_prevalence[SK_N] = {0.305, 0.265, 0.195, 0.11, 0.325, 0.03, 0.025,
                                            0.03,  0.015, 0.085, 0.015, 0.02, 0.02, 0.005};

static float clampf(float v, float a, float b) { return v < a ? a : v > b ? b : v; }
static float smooth01(float t) { t = clampf(t, 0, 1); return t * t * (3 - 2 * t); }

static int has_kind(const synth_study *s, int kind) {
  for (int i = 0; i < s->nfind; i++)
    if (s->find[i].kind == kind) return 1;
  return 0;
}

static void add_finding(synth_study *s, int kind, gz_rng *r) {
  if (s->nfind >= SYNTH_MAX_FINDINGS || has_kind(s, kind)) return;
  synth_finding *f = &s->find[s->nfind++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  double u = gz_rng_uniform_d(r);
  f->side = (int)gz_rng_below(r, 2);
  f->severity = u < 0.5 ? 0 : u < 0.85 ? 1 : 2;
  for (int k = 0; k < 8; k++) f->p[k] = gz_rng_uniform(r);
  switch (kind) {
  case SK_EFFUSION: /* usually bilateral in heart failure, otherwise slightly more often right */
    if (has_kind(s, SK_EDEMA) || gz_rng_uniform(r) < 0.3f) f->side = 2;
    else f->side = gz_rng_uniform(r) < 0.55f ? 0 : 1;
    break;
  case SK_ATELECTASIS:
    f->side = gz_rng_uniform(r) < 0.4f ? 2 : (int)gz_rng_below(r, 2); /* bibasilar is the most common */
    f->zone = gz_rng_uniform(r) < 0.15f ? 1 : 0;                     /* 1: left lower lobe collapse */
    if (f->zone == 1) f->side = 1;
    break;
  case SK_CONSOLIDATION: /* lower lobes most often; 0 RLL 1 LLL 2 RUL 3 RML 4 lingula */
    f->zone = (int)(u < 0.35 ? 0 : u < 0.65 ? 1 : u < 0.78 ? 2 : u < 0.9 ? 3 : 4);
    f->side = (f->zone == 1 || f->zone == 4) ? 1 : 0;
    f->severity = (int)gz_rng_below(r, 3);
    break;
  case SK_EDEMA: case SK_ILD: case SK_HYPERINFLATION: f->side = 2; break;
  case SK_MEDIASTINUM: f->side = gz_rng_uniform(r) < 0.7f ? 2 : 1; break;
  case SK_GROUNDGLASS: f->side = gz_rng_uniform(r) < 0.3f ? 2 : (int)gz_rng_below(r, 2); break;
  case SK_FRACTURE: /* ribs 4-9, lateral arc */
    f->zone = 3 + (int)gz_rng_below(r, 6);
    f->p[0] = 0.55f + 0.3f * f->p[0];
    f->p[1] = (f->p[1] < 0.5f ? -1.0f : 1.0f) * 0.009f;
    break;
  case SK_CARDIOMEGALY: case SK_HERNIA: f->side = 2; break;
  case SK_LESION: f->severity = gz_rng_uniform(r) < 0.6f ? 0 : 1; break; /* nodule or mass */
  default: break;
  }
}

/* A study's findings: 35 % normal; among the rest each label at its REFLACX rate scaled so that the
 * mean number of labels per report is about 1.44 (spec/synthetic.md 1.5), with edema pulling in
 * cardiomegaly and bilateral effusions as in heart failure. */
void synth_draw_findings(const gz_synth_opts *o, synth_study *s, gz_rng *r) {
  s->nfind = 0;
  s->devices = gz_rng_uniform(r) < 0.25f ? 1 + (gz_rng_uniform(r) < 0.35f) : 0;
  if (gz_rng_uniform_d(r) < o->normal_frac) return;
  for (int tries = 0; tries < 20 && s->nfind == 0; tries++)
    for (int k = 0; k < SK_N; k++) {
      double p = synth_kind_prevalence[k] * 1.45 * o->prevalence_scale;
      if (p > 0.9) p = 0.9;
      if (gz_rng_uniform_d(r) < p) add_finding(s, k, r);
    }
  if (has_kind(s, SK_EDEMA)) {
    if (gz_rng_uniform(r) < 0.5f) add_finding(s, SK_CARDIOMEGALY, r);
    if (gz_rng_uniform(r) < 0.4f) add_finding(s, SK_EFFUSION, r);
  }
  /* keep geometry conflicts out: hyperinflation and cardiomegaly rarely coexist */
  if (has_kind(s, SK_HYPERINFLATION) && has_kind(s, SK_CARDIOMEGALY)) {
    for (int i = 0; i < s->nfind; i++)
      if (s->find[i].kind == SK_HYPERINFLATION) { s->find[i] = s->find[--s->nfind]; break; }
  }
}

/* ---------------------------------------------------------------- rendering */

typedef struct lctx {
  const synth_chest *c;
  int rw, rh;
  float *A, *V;
  uint8_t *mask;
  float *T; /* scratch */
} lctx;

static float lung_soft_any(const synth_chest *c, int side, float x, float y) {
  if (side == 2) return fmaxf(synth_lung_soft(c, 0, x, y), synth_lung_soft(c, 1, x, y));
  return synth_lung_soft(c, side, x, y);
}

static float lat_at(const synth_chest *c, int side, float y) {
  float t = clampf((y - c->apex) / (c->cp[side] - c->apex), 0, 1);
  return c->tw * (0.42f + 0.58f * sqrtf(t));
}

/* Pleural effusion: dependent opacity with a meniscus higher laterally (spec 3). */
static void effusion(lctx *L, const synth_finding *f) {
  const synth_chest *c = L->c;
  static const float h[3] = {0.055f, 0.15f, 0.27f};
  for (int s = 0; s < 2; s++) {
    if (f->side != 2 && f->side != s) continue;
    float hh = h[f->severity] * (0.85f + 0.3f * f->p[s]);
    float sg = s ? 1.0f : -1.0f;
    for (int py = 0; py < L->rh; py++) {
      float y = synth_hy(py, L->rh);
      if (y < c->cp[s] - hh - 0.05f) continue;
      for (int px = 0; px < L->rw; px++) {
        float x = synth_hx(px, L->rw, L->rh);
        float xx = (x - c->cx) * sg;
        if (xx < 0) continue;
        float u = clampf(xx / lat_at(c, s, y), 0, 1);
        float level = c->cp[s] - hh + (0.35f * hh + 0.02f) * (1 - u) * (1 - u); /* meniscus */
        float m = synth_lung_soft(c, s, x, y) * smooth01((y - level) / 0.012f + 0.5f);
        if (m <= 0) continue;
        size_t i = (size_t)py * L->rw + px;
        L->A[i] += 0.36f * m;
        L->V[i] *= 1 - m;
        if (m > 0.5f) L->mask[i] = 1;
      }
    }
  }
}

/* Pneumothorax: apical and lateral rim without lung markings, bounded by a thin visceral pleural line. */
static void pneumothorax(lctx *L, const synth_finding *f) {
  const synth_chest *c = L->c;
  int s = f->side;
  float ylim = c->apex + (0.35f + 0.15f * (float)f->severity) * (c->cp[s] - c->apex);
  float w0 = 0.035f + 0.02f * (float)f->severity + 0.01f * f->p[0];
  for (int py = 0; py < L->rh; py++) {
    float y = synth_hy(py, L->rh);
    if (y > ylim) break;
    float q = (y - c->apex) / (ylim - c->apex);
    float w = w0 * (1 - q * q);
    for (int px = 0; px < L->rw; px++) {
      float x = synth_hx(px, L->rw, L->rh), dl, dt;
      if (!synth_lung_inside(c, s, x, y, &dl, &dt)) continue;
      float d = fminf(dl, dt);
      size_t i = (size_t)py * L->rw + px;
      if (d < w) {
        L->V[i] = 0;
        L->A[i] -= 0.06f;
        L->mask[i] = 1;
      }
      if (fabsf(d - w) < 0.0028f && w > 0.004f) L->A[i] += 0.13f;
    }
  }
}

/* A blob with a noisy outline, radii (ax, ay), clipped to the lungs. Used by consolidation, groundglass,
 * hilum, hernia, lesions. */
static void blob(lctx *L, uint64_t seed, float cx, float cy, float ax, float ay, float rough, float density,
                 float edge, int side, int lung_clip, float cut_y) {
  int x0 = (int)floorf(synth_px_x(cx - ax * 1.4f, L->rw, L->rh)), x1 = (int)ceilf(synth_px_x(cx + ax * 1.4f, L->rw, L->rh));
  int y0 = (int)floorf(synth_px_y(cy - ay * 1.4f, L->rh)), y1 = (int)ceilf(synth_px_y(cy + ay * 1.4f, L->rh));
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 > L->rw - 1) x1 = L->rw - 1;
  if (y1 > L->rh - 1) y1 = L->rh - 1;
  for (int py = y0; py <= y1; py++)
    for (int px = x0; px <= x1; px++) {
      float x = synth_hx(px, L->rw, L->rh), y = synth_hy(py, L->rh);
      float dx = (x - cx) / ax, dy = (y - cy) / ay;
      float rr = sqrtf(dx * dx + dy * dy);
      float ang = atan2f(dy, dx);
      float bound = 1 + rough * synth_vnoise(seed, 2.0f * cosf(ang) + 5, 2.0f * sinf(ang) + 5);
      float m = smooth01((bound - rr) / edge + 0.5f);
      if (cut_y > 0) m *= smooth01((cut_y - y) / 0.004f + 0.5f);
      if (lung_clip) m *= lung_soft_any(L->c, side, x, y);
      if (m <= 0) continue;
      size_t i = (size_t)py * L->rw + px;
      L->A[i] += density * m * (0.85f + 0.15f * synth_vnoise(seed ^ 77, x * 60, y * 60));
      if (m > 0.5f) L->mask[i] = 1;
    }
}

static void lobe_center(const synth_chest *c, int zone, float *x, float *y) {
  /* 0 RLL 1 LLL 2 RUL 3 RML 4 lingula: lateral fraction and height inside each lung */
  static const float fx[5] = {0.62f, 0.66f, 0.6f, 0.42f, 0.55f};
  int side = (zone == 1 || zone == 4) ? 1 : 0;
  float sg = side ? 1.0f : -1.0f;
  float yy = zone == 2 ? c->apex + 0.45f * (c->hilum_y - c->apex)
             : zone == 3 ? c->hilum_y + 0.09f
             : zone == 4 ? c->hilum_y + 0.08f
                         : c->hilum_y + 0.62f * (c->dome[side] - c->hilum_y);
  *y = yy;
  *x = c->cx + sg * fx[zone] * lat_at(c, side, yy);
}

void synth_lesion_render(const synth_chest *c, const synth_finding *f, int fi, float *A, float *V, uint8_t *mask,
                         int rw, int rh, uint64_t seed, uint64_t stream) {
  (void)fi;
  lctx L = {c, rw, rh, A, V, mask, NULL};
  gz_rng r;
  gz_rng_init(&r, seed, stream);
  uint64_t nseed = gz_rng_u64(&r);
  switch (f->kind) {
  case SK_EFFUSION: effusion(&L, f); break;
  case SK_PNEUMOTHORAX: pneumothorax(&L, f); break;
  case SK_CONSOLIDATION: {
    float x, y;
    lobe_center(c, f->zone, &x, &y);
    float ax = 0.065f + 0.025f * (float)f->severity, ay = 0.055f + 0.02f * (float)f->severity;
    int side = (f->zone == 1 || f->zone == 4) ? 1 : 0;
    blob(&L, nseed, x, y, ax, ay, 0.25f, 0.30f, 0.25f, side, 1, f->zone == 2 ? c->hilum_y - 0.01f : 0);
    /* air bronchograms: dark branching tubes inside the opacity */
    float sg = side ? 1.0f : -1.0f;
    for (int k = 0; k < 3; k++) {
      float bx = x - sg * ax * 0.6f, by = y - ay * 0.3f + 0.2f * ay * (float)k;
      float ex = x + sg * ax * (0.3f + 0.3f * gz_rng_uniform(&r)), ey = by + ay * 0.5f * (gz_rng_uniform(&r) - 0.3f);
      float *T = calloc((size_t)rw * rh, sizeof(float));
      if (!T) break;
      synth_stroke(T, rw, rh, bx, by, ex, ey, 0.0035f, 0.002f, 0.1f, SD_ROUND);
      for (size_t i = 0; i < (size_t)rw * rh; i++)
        if (T[i] > 0 && mask[i]) A[i] -= T[i];
      free(T);
    }
    break;
  }
  case SK_GROUNDGLASS:
    for (int s = 0; s < 2; s++) {
      if (f->side != 2 && f->side != s) continue;
      float sg = s ? 1.0f : -1.0f, y = c->hilum_y + (0.05f + 0.12f * f->p[2 + s]) * (c->dome[s] - c->hilum_y) * 2.5f;
      float x = c->cx + sg * 0.6f * lat_at(c, s, y);
      blob(&L, nseed + (uint64_t)s, x, y, 0.085f + 0.03f * f->p[4], 0.075f + 0.02f * f->p[5], 0.3f, 0.12f, 0.6f, s, 1, 0);
    }
    break;
  case SK_EDEMA: /* bilateral perihilar haze, inner two thirds, with basal septal lines (spec 3) */
    for (int s = 0; s < 2; s++) {
      float sg = s ? 1.0f : -1.0f;
      float hx = c->cx + sg * (s ? c->heart_a * 0.7f : c->med_w + 0.06f), hy = c->hilum_y + 0.04f;
      float sx = 0.075f + 0.015f * (float)f->severity, sy = 0.12f + 0.02f * (float)f->severity;
      float dens = 0.10f + 0.04f * (float)f->severity;
      for (int py = 0; py < rh; py++)
        for (int px = 0; px < rw; px++) {
          float x = synth_hx(px, rw, rh), y = synth_hy(py, rh);
          float dx = (x - hx) / sx, dy = (y - hy) / sy;
          float g = expf(-0.5f * (dx * dx + dy * dy));
          if (g < 0.05f) continue;
          float m = synth_lung_soft(c, s, x, y);
          if (m <= 0) continue;
          size_t i = (size_t)py * rw + px;
          A[i] += dens * g * m * (0.75f + 0.25f * synth_vnoise(nseed, x * 40, y * 40));
          if (g > 0.35f && m > 0.5f) mask[i] = 1;
        }
      for (int k = 0; k < 4; k++) { /* Kerley B lines: short horizontal lines at the lateral bases */
        float y = c->dome[s] - 0.02f - 0.018f * (float)k, xo = c->cx + sg * (lat_at(c, s, y) - 0.004f);
        synth_stroke(V, rw, rh, xo, y, xo - sg * 0.03f, y, 0.0018f, 0.0018f, 0.12f, SD_ROUND);
      }
    }
    break;
  case SK_ATELECTASIS:
    if (f->zone == 1) { /* left lower lobe collapse: triangular density behind the heart */
      blob(&L, nseed, c->cx + 0.09f, c->dome[1] - 0.06f, 0.055f, 0.05f, 0.15f, 0.2f, 0.2f, 1, 0, 0);
    } else {
      float *T = calloc((size_t)rw * rh, sizeof(float));
      if (!T) break;
      for (int s = 0; s < 2; s++) {
        if (f->side != 2 && f->side != s) continue;
        float sg = s ? 1.0f : -1.0f;
        int nb = 1 + (gz_rng_uniform(&r) < 0.4f);
        for (int b = 0; b < nb; b++) { /* linear (discoid) bands at the base */
          float y = c->dome[s] - 0.035f - 0.045f * (float)b - 0.02f * gz_rng_uniform(&r);
          float lat = lat_at(c, s, y);
          float xm = c->cx + sg * lat * (0.45f + 0.2f * gz_rng_uniform(&r));
          float len = 0.06f + 0.05f * gz_rng_uniform(&r), ang = (gz_rng_uniform(&r) - 0.5f) * 0.5f;
          float hw = 0.008f + 0.004f * gz_rng_uniform(&r);
          synth_stroke(T, rw, rh, xm - len * cosf(ang), y - len * sinf(ang), xm + len * cosf(ang), y + len * sinf(ang),
                       hw, hw * 0.7f, 0.26f, SD_ROUND);
        }
      }
      for (int py = 0; py < rh; py++)
        for (int px = 0; px < rw; px++) {
          size_t i = (size_t)py * rw + px;
          if (T[i] <= 0) continue;
          float m = lung_soft_any(c, f->side, synth_hx(px, rw, rh), synth_hy(py, rh));
          A[i] += T[i] * m;
          if (T[i] * m > 0.08f) mask[i] = 1;
        }
      free(T);
    }
    break;
  case SK_LESION: { /* nodule <= 3 cm or mass > 3 cm anywhere in the lung fields (height unit ~ 42 cm) */
    float rad = f->severity ? 0.04f + 0.03f * f->p[0] : 0.017f + 0.015f * f->p[0];
    float x = 0, y = 0;
    int side = f->side;
    for (int t = 0; t < 200; t++) {
      float sg = side ? 1.0f : -1.0f;
      y = c->apex + 0.08f + (c->dome[side] - c->apex - 0.12f) * gz_rng_uniform(&r);
      x = c->cx + sg * lat_at(c, side, y) * (0.25f + 0.7f * gz_rng_uniform(&r));
      float dl, dt;
      if (synth_lung_inside(c, side, x, y, &dl, &dt) && synth_lung_soft(c, side, x + rad, y) > 0.9f &&
          synth_lung_soft(c, side, x - rad, y) > 0.9f && synth_lung_soft(c, side, x, y - rad) > 0.9f &&
          synth_lung_soft(c, side, x, y + rad) > 0.9f)
        break;
    }
    blob(&L, nseed, x, y, rad, rad * (0.9f + 0.2f * f->p[1]), f->severity ? 0.18f : 0.05f, 0.36f, 0.12f, side, 0, 0);
    break;
  }
  case SK_FRACTURE: { /* callus / hematoma at the break drawn by the rib renderer */
    float x, y;
    synth_rib_point(c, f->side, f->zone, f->p[0], &x, &y);
    blob(&L, nseed, x, y + 0.5f * f->p[1], 0.016f, 0.013f, 0.1f, 0.07f, 0.4f, f->side, 0, 0);
    break;
  }
  case SK_HILUM: {
    float sg = f->side ? 1.0f : -1.0f;
    float hx = c->cx + sg * (f->side ? c->heart_a * 0.55f : c->med_w + 0.035f);
    blob(&L, nseed, hx + sg * 0.01f, c->hilum_y, 0.038f, 0.045f, 0.2f, 0.22f, 0.3f, f->side, 0, 0);
    break;
  }
  case SK_HERNIA: { /* retrocardiac round opacity with an air-fluid level */
    float hx = c->cx + 0.035f, hy = c->dome[1] - 0.05f;
    blob(&L, nseed, hx, hy, 0.05f, 0.042f, 0.05f, 0.2f, 0.15f, 2, 0, 0);
    for (int py = 0; py < rh; py++)
      for (int px = 0; px < rw; px++) {
        size_t i = (size_t)py * rw + px;
        if (mask[i] && synth_hy(py, rh) < hy - 0.012f) A[i] -= 0.3f;
      }
    break;
  }
  case SK_ILD: /* reticular net in the lower, peripheral lung */
    for (int s = 0; s < 2; s++) {
      float sg = s ? 1.0f : -1.0f;
      for (int k = 0; k < 90; k++) {
        float y = c->hilum_y + (c->dome[s] - c->hilum_y) * (0.15f + 0.8f * gz_rng_uniform(&r));
        float x = c->cx + sg * lat_at(c, s, y) * (0.5f + 0.48f * gz_rng_uniform(&r));
        float a = 6.2832f * gz_rng_uniform(&r), l = 0.012f + 0.012f * gz_rng_uniform(&r);
        synth_stroke(V, rw, rh, x, y, x + l * cosf(a), y + l * sinf(a), 0.0016f, 0.0016f, 0.16f, SD_ROUND);
      }
      for (int py = 0; py < rh; py++)
        for (int px = 0; px < rw; px++) {
          float x = synth_hx(px, rw, rh), y = synth_hy(py, rh);
          if (y < c->hilum_y + 0.1f * (c->dome[s] - c->hilum_y)) continue;
          if ((x - c->cx) * sg < 0.5f * lat_at(c, s, y)) continue;
          float m = synth_lung_soft(c, s, x, y);
          size_t i = (size_t)py * rw + px;
          A[i] += 0.05f * m;
          if (m > 0.5f) mask[i] = 1;
        }
    }
    break;
  case SK_HYPERINFLATION: /* darker, larger lungs: the mask is both lungs */
    for (int py = 0; py < rh; py++)
      for (int px = 0; px < rw; px++) {
        float m = lung_soft_any(c, 2, synth_hx(px, rw, rh), synth_hy(py, rh));
        size_t i = (size_t)py * rw + px;
        A[i] -= 0.05f * m;
        if (m > 0.5f) mask[i] = 1;
      }
    break;
  case SK_CARDIOMEGALY: /* the silhouette itself (geometry changed in synth_chest_apply_findings) */
    for (int py = 0; py < rh; py++)
      for (int px = 0; px < rw; px++) {
        float x = synth_hx(px, rw, rh), y = synth_hy(py, rh);
        float hx = (x - c->heart_cx) / c->heart_a, hy = (y - c->heart_cy) / c->heart_b;
        if (hx * hx + hy * hy < 1 && y < c->dome[1]) mask[(size_t)py * rw + px] = 1;
      }
    break;
  case SK_MEDIASTINUM: /* the widened part of the upper mediastinum */
    for (int py = 0; py < rh; py++) {
      float y = synth_hy(py, rh);
      if (y < 0.1f || y > c->heart_cy - 0.4f * c->heart_b) continue;
      for (int px = 0; px < rw; px++) {
        float x = synth_hx(px, rw, rh);
        int s = x > c->cx;
        float xx = fabsf(x - c->cx);
        float wide = c->med_w + c->med_extra[s] * smooth01((y - 0.12f) / 0.06f);
        if (c->med_extra[s] > 0 && xx > c->med_w - 0.015f && xx < wide + 0.006f) mask[(size_t)py * rw + px] = 1;
      }
    }
    break;
  default: break;
  }
}

static int bilateral_kind(const synth_finding *f) {
  return f->side == 2 && (f->kind == SK_EFFUSION || f->kind == SK_EDEMA || f->kind == SK_ATELECTASIS ||
                          f->kind == SK_GROUNDGLASS || f->kind == SK_ILD || f->kind == SK_HYPERINFLATION);
}

void synth_finding_boxes(const synth_study *s, synth_render *rd) {
  int rw = rd->rw, rh = rd->rh;
  float sc = (float)rd->h / (float)rh;
  float mid = synth_px_x(rd->chest.cx, rw, rh);
  for (int i = 0; i < s->nfind; i++) {
    const uint8_t *m = rd->mask[i];
    int split = bilateral_kind(&s->find[i]);
    int x0[2] = {rw, rw}, y0[2] = {rh, rh}, x1[2] = {-1, -1}, y1[2] = {-1, -1};
    long area = 0;
    for (int y = 0; y < rh; y++)
      for (int x = 0; x < rw; x++) {
        if (!m[(size_t)y * rw + x]) continue;
        int p = split && (float)x > mid;
        area++;
        if (x < x0[p]) x0[p] = x;
        if (x > x1[p]) x1[p] = x;
        if (y < y0[p]) y0[p] = y;
        if (y > y1[p]) y1[p] = y;
      }
    rd->farea[i] = area;
    rd->fnparts[i] = 0;
    for (int p = 0; p < 2; p++) {
      if (x1[p] < 0 || (x1[p] - x0[p] + 1) * (y1[p] - y0[p] + 1) < 4) continue;
      synth_box b = {(float)x0[p] * sc, (float)y0[p] * sc, (float)(x1[p] + 1) * sc, (float)(y1[p] + 1) * sc};
      rd->fpart[i][rd->fnparts[i]++] = b;
    }
  }
}
