/* The simulated radiologist, part 2: eye movements (spec/synthetic.md 2 and 6).
 *
 * A reading starts with a silent global survey (central fixations, then both lungs apex to base, heart,
 * mediastinum and hila, costophrenic angles, bones), then dictation. For each sentence that talks about
 * a finding or a region, the gaze goes there `lag` seconds before the sentence starts (the eye-voice
 * span, lag drawn around the reader's mean) and dwells until shortly after the mention word; inside
 * that window a share of fixations still goes elsewhere (comparisons with the other side, refixations,
 * survey), and outside it the survey revisits perceived findings now and then. Positions carry a
 * per-reading calibration offset (mean 0.44 deg, spec 1.3) and fixational noise.
 *
 * Display: 3840x2160 screen; the image is fit into a viewport about 1600 px high, so that 1 degree
 * (about 62 screen px at 70 cm, more towards the corners) is 90-150 image px on a 2,500-3,000 px film
 * (data-formats.md 1.10). A zoom episode shrinks the shown rectangle; the angular resolution columns
 * are screen px per degree times image px per screen px at that spot. */
#include "data/synth_internal.h"

#include <math.h>
#include <string.h>

typedef struct view {
  double shown[4];  /* image rectangle shown */
  double screen[4]; /* where it is drawn */
} view;

static void to_screen(const view *v, double x, double y, double *sx, double *sy) {
  *sx = v->screen[0] + (x - v->shown[0]) * (v->screen[2] - v->screen[0]) / (v->shown[2] - v->shown[0]);
  *sy = v->screen[1] + (y - v->shown[1]) * (v->screen[3] - v->screen[1]) / (v->shown[3] - v->shown[1]);
}

static void sample_box(const synth_box *b, double spread, gz_rng *r, double *x, double *y) {
  double cx = 0.5 * (b->x0 + b->x1), cy = 0.5 * (b->y0 + b->y1), hw = 0.5 * (b->x1 - b->x0), hh = 0.5 * (b->y1 - b->y0);
  for (int t = 0; t < 8; t++) {
    double u = gz_rng_normal(r) * spread, v = gz_rng_normal(r) * spread;
    if (u * u + v * v <= 1 || t == 7) { *x = cx + u * hw; *y = cy + v * hh; return; }
  }
}

/* The systematic survey (Kundel & Wright 1969: heart, lungs, mediastinum, ribs...): region order. */
static const int survey_order[] = {SR_HEART,   SR_LUNG_R,  SR_APEX_R, SR_LUNG_R,      SR_BASE_R,  SR_LUNG_L,
                                   SR_APEX_L,  SR_LUNG_L,  SR_BASE_L, SR_HEART,       SR_MEDIASTINUM, SR_HILUM_R,
                                   SR_HILUM_L, SR_BASE_R,  SR_BASE_L, SR_RIBS_R,      SR_RIBS_L,  SR_SPINE};
enum { N_SURVEY = sizeof survey_order / sizeof survey_order[0] };

static int mirror_region(int reg) {
  switch (reg) {
  case SR_LUNG_R: return SR_LUNG_L; case SR_LUNG_L: return SR_LUNG_R;
  case SR_APEX_R: return SR_APEX_L; case SR_APEX_L: return SR_APEX_R;
  case SR_BASE_R: return SR_BASE_L; case SR_BASE_L: return SR_BASE_R;
  case SR_HILUM_R: return SR_HILUM_L; case SR_HILUM_L: return SR_HILUM_R;
  case SR_RIBS_R: return SR_RIBS_L; case SR_RIBS_L: return SR_RIBS_R;
  default: return reg;
  }
}

void synth_gaze_simulate(const gz_synth_opts *o, const synth_render *rd, synth_reading *R, gz_rng *r) {
  int W = rd->w, H = rd->h;
  double vh = gz_rng_range(r, 1520, 1700), vw = vh * W / H;
  if (vw > 3600) { vw = 3600; vh = vw * H / W; }
  view fit = {{0, 0, W, H}, {1920 - vw / 2, 1080 - vh / 2, 1920 + vw / 2, 1080 + vh / 2}};
  double ppd0 = gz_rng_range(r, 58, 66), dist_px = 3300;
  double cal_mag = 0.44 + 0.10 * gz_rng_normal(r), cal_ang = gz_rng_range(r, 0, 6.2832);
  if (cal_mag < 0.1) cal_mag = 0.1;
  double pupil_base = gz_rng_range(r, 0.85, 1.15), pupil = pupil_base;
  double ww = 1.0, wl = 0.5, t_window = gz_rng_uniform(r) < 0.3 ? gz_rng_range(r, 1, 20) : 1e9;
  double ww2 = gz_rng_range(r, 0.55, 0.95), wl2 = gz_rng_range(r, 0.42, 0.6);
  /* a zoom episode during one finding sentence, sometimes */
  int zoom_sent = -1;
  double zoom = 1;
  if (gz_rng_uniform(r) < 0.15f) {
    for (int s = 0; s < R->nsent; s++)
      if (R->sent[s].target >= 0) { zoom_sent = s; break; }
    zoom = gz_rng_range(r, 1.4, 2.2);
  }
  double t_end = R->word[R->nwords - 1].t1 + gz_rng_range(r, 0.3, 1.5);
  double t = -gz_rng_range(r, 0.05, 0.5);
  double px = 0.5 * W, py = 0.45 * H;
  int survey_i = 0, central = 2 + (int)gz_rng_below(r, 2), last_reg = SR_HEART, last_on = 0;
  R->nfix = 0;
  while (t < t_end && R->nfix < SYNTH_MAX_FIX) {
    double dur = 0.26 * exp(0.42 * gz_rng_normal(r));
    if (dur < 0.08) dur = 0.08;
    if (dur > 1.4) dur = 1.4;
    /* the sentence whose dwell window holds t: [start - lag, mention word + a little] */
    int act = -1;
    for (int s = 0; s < R->nsent; s++) {
      const synth_sentence *S = &R->sent[s];
      if (S->target < 0 && S->region < 0) continue;
      if (t >= S->t_start - S->lag && t <= S->t_mention + 0.35) { act = s; }
    }
    double x, y;
    int on = 0;
    const synth_box *target = NULL;
    if (act >= 0) {
      const synth_sentence *S = &R->sent[act];
      /* the gaze is on the referent most while the sentence is planned and leaves it around the naming
       * (Griffin & Bock; Meyer et al. 2012): denser before the sentence starts than after */
      double p_on = o->dwell_on_frac * (S->target >= 0 ? 1.0 : 0.7) * (t < S->t_start ? 1.4 : 0.75);
      if (p_on > 0.95) p_on = 0.95;
      if (gz_rng_uniform_d(r) < p_on) {
        if (S->target >= 0) {
          const synth_percept *P = &R->per[S->target];
          target = &P->part[P->nparts > 1 ? (int)gz_rng_below(r, (uint32_t)P->nparts) : 0];
        } else {
          int reg = S->region;
          if (gz_rng_uniform(r) < 0.4f) reg = mirror_region(reg); /* "no effusion": both angles */
          target = &rd->region[reg];
        }
        on = 1;
      }
    }
    if (target) {
      sample_box(target, 0.45, r, &x, &y);
      dur *= 1.25; /* deliberate fixations dwell longer (Vining, Ganapathi) */
    } else if (central > 0) {
      central--;
      x = 0.5 * W + gz_rng_normal(r) * 0.08 * W;
      y = 0.42 * H + gz_rng_normal(r) * 0.08 * H;
    } else {
      double u = gz_rng_uniform_d(r);
      int np = 0;
      for (int i = 0; i < R->npercept; i++) np += R->per[i].certainty >= 3;
      if (np && u < o->revisit_prob) { /* abnormal regions attract extra dwell during search */
        int k = (int)gz_rng_below(r, (uint32_t)R->npercept);
        const synth_percept *P = &R->per[k];
        sample_box(&P->part[0], 0.45, r, &x, &y);
        on = P->certainty >= 3;
      } else if (u < o->revisit_prob + 0.3) { /* refixation near the last point, about 1 degree away */
        double step = 0.035 * H;
        x = px + gz_rng_normal(r) * step;
        y = py + gz_rng_normal(r) * step;
      } else if (last_on && u < o->revisit_prob + 0.45) { /* comparison with the contralateral side */
        double mid = 0.5 * W + rd->chest.cx * H;
        x = 2 * mid - px + gz_rng_normal(r) * 0.02 * H;
        y = py + gz_rng_normal(r) * 0.02 * H;
      } else {
        int reg = survey_i < N_SURVEY ? survey_order[survey_i++] : (int)gz_rng_below(r, SR_N);
        last_reg = reg;
        sample_box(&rd->region[reg], 0.55, r, &x, &y);
      }
    }
    (void)last_reg;
    last_on = on;
    px = x;
    py = y;
    /* the view at fixation start */
    view v = fit;
    if (zoom_sent >= 0) {
      const synth_sentence *S = &R->sent[zoom_sent];
      if (t >= S->t_start - S->lag - 0.5 && t <= S->t_mention + 2.5) {
        const synth_box *b = &R->per[S->target].part[0];
        double cx = 0.5 * (b->x0 + b->x1), cy = 0.5 * (b->y0 + b->y1), hw = 0.5 * W / zoom, hh = 0.5 * H / zoom;
        if (cx - hw < 0) cx = hw;
        if (cx + hw > W) cx = W - hw;
        if (cy - hh < 0) cy = hh;
        if (cy + hh > H) cy = H - hh;
        v.shown[0] = cx - hw; v.shown[1] = cy - hh; v.shown[2] = cx + hw; v.shown[3] = cy + hh;
        if (x < v.shown[0] || x > v.shown[2] || y < v.shown[1] || y > v.shown[3]) { x = cx; y = cy; }
      }
    }
    /* angular resolution at this screen spot, then image px per degree */
    double sx, sy;
    to_screen(&v, x, y, &sx, &sy);
    double d2 = ((sx - 1920) * (sx - 1920) + (sy - 1080) * (sy - 1080)) / (dist_px * dist_px);
    double ppd = ppd0 * (1 + 0.5 * d2);
    double ipx = (v.shown[2] - v.shown[0]) / (v.screen[2] - v.screen[0]);
    double ipy = (v.shown[3] - v.shown[1]) / (v.screen[3] - v.screen[1]);
    double resx = ppd * ipx, resy = ppd * (1 + 0.01 * gz_rng_normal(r)) * ipy;
    /* calibration offset and fixational noise, in degrees */
    x += resx * (cal_mag * cos(cal_ang) + 0.18 * gz_rng_normal(r));
    y += resy * (cal_mag * sin(cal_ang) + 0.18 * gz_rng_normal(r));
    pupil += 0.15 * (pupil_base - pupil) + 0.025 * gz_rng_normal(r) + (on ? 0.01 : 0);
    if (pupil < 0.6) pupil = 0.6;
    if (pupil > 1.6) pupil = 1.6;
    if (t >= t_window) { ww = ww2; wl = wl2; }
    synth_fix *F = &R->fix[R->nfix++];
    F->t0 = round(t * 1000) / 1000;
    F->t1 = round((t + dur) * 1000) / 1000;
    if (F->t1 <= F->t0) F->t1 = F->t0 + 0.001;
    F->x = (int)lround(x);
    F->y = (int)lround(y);
    F->pupil = round(pupil * 1000) / 1000;
    F->resx = (int)lround(resx);
    F->resy = (int)lround(resy);
    if (F->resx < 1) F->resx = 1;
    if (F->resy < 1) F->resy = 1;
    F->ww = ww;
    F->wl = wl;
    for (int k = 0; k < 4; k++) {
      F->shown[k] = (int)lround(v.shown[k]);
      F->screen[k] = (int)lround(v.screen[k]);
    }
    t += dur + gz_rng_range(r, 0.02, 0.06); /* saccade */
  }
}
