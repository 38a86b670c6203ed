/* Internal types of the synthetic generator (data/synth_*.c). Not part of the public header. */
#ifndef GAZELOC_SYNTH_INTERNAL_H
#define GAZELOC_SYNTH_INTERNAL_H

#include "data/data.h"

#include <stdint.h>

/* Philox stream purposes: stream = purpose << 40 | index, so every image, reading and table has
 * its own stream and no draw depends on the order in which threads run. */
enum synth_stream {
  SS_POPULATION = 1, /* subjects, studies, splits, reading selection (index 0) */
  SS_STUDY,          /* findings of study i */
  SS_IMAGE,          /* geometry, rendering and noise of image i */
  SS_READING,        /* reader perception, report, timing, gaze of reading i */
  SS_LABELS,         /* MIMIC CheXpert label noise of study i */
  SS_IDS,            /* identifiers */
};
static inline uint64_t synth_stream(int purpose, uint64_t index) { return ((uint64_t)purpose << 40) | index; }

/* Finding kinds = the REFLACX phase-2/3 labels that have an appearance (spec/synthetic.md 3). */
enum synth_kind {
  SK_ATELECTASIS, SK_CONSOLIDATION, SK_CARDIOMEGALY, SK_EDEMA, SK_EFFUSION, SK_PNEUMOTHORAX,
  SK_LESION, SK_FRACTURE, SK_MEDIASTINUM, SK_GROUNDGLASS, SK_ILD, SK_HILUM, SK_HYPERINFLATION,
  SK_HERNIA, SK_N
};

/* The 16 phase-2/3 REFLACX label columns, alphabetical (data-formats.md 1.2). */
enum { RL_N = 16, RL_OTHER = 11, RL_SUPPORT = 15 };
extern const char *const synth_reflacx_labels[RL_N];
/* REFLACX column of each kind; paper-label bit mask (method.md 5 order) of each kind. */
extern const int synth_kind_column[SK_N];
extern const unsigned synth_kind_paper[SK_N];
extern const char *const synth_paper_labels[10];
extern const double synth_kind_prevalence[SK_N];

/* Anatomical regions a sentence can talk about (normal findings) or a survey visits. */
enum synth_region {
  SR_LUNG_R, SR_LUNG_L, SR_APEX_R, SR_APEX_L, SR_BASE_R, SR_BASE_L, SR_HILUM_R, SR_HILUM_L,
  SR_HEART, SR_MEDIASTINUM, SR_SPINE, SR_RIBS_R, SR_RIBS_L, SR_N
};

typedef struct synth_box { float x0, y0, x1, y1; } synth_box; /* full-resolution image px */

/* Patient geometry in "height units": x = (px - W/2)/H, y = py/H (spec/synthetic.md 3 anatomy). */
typedef struct synth_chest {
  int view;            /* 0 PA, 1 AP, 2 lateral */
  float cx;            /* midline */
  float tw;            /* thorax half width at the bases */
  float apex;          /* lung apex y */
  float dome[2];       /* hemidiaphragm dome y: [0] patient right (image left), [1] patient left */
  float cp[2];         /* costophrenic angle y */
  float heart_cx, heart_cy, heart_a, heart_b; /* heart ellipse */
  float med_w;         /* upper mediastinum half width */
  float med_extra[2];  /* widening on each side (abnormal mediastinal contour) */
  float hilum_y;
  float rot;           /* small patient rotation (shifts the midline with height) */
  float rib_dy;
  float gain, gamma, noise, bias; /* exposure */
} synth_chest;

#define SYNTH_MAX_FINDINGS 8
typedef struct synth_finding {
  int kind;
  int side;            /* 0 patient right (image left), 1 patient left, 2 both/central */
  int severity;        /* 0 small/mild, 1 moderate, 2 large */
  int zone;            /* kind-specific location choice (lobe, rib number, ...) */
  float p[8];          /* kind-specific shape parameters in height units */
} synth_finding;

typedef struct synth_study {
  int subject, index_in_subject;
  uint32_t subject_id, study_id;
  int split;           /* 0 train, 1 validate, 2 test */
  int nfind;
  synth_finding find[SYNTH_MAX_FINDINGS];
  int devices;         /* support devices present (0 none, 1 catheter, 2 ET tube + catheter) */
  int first_image, nimages;
  int ap;
  uint32_t date;       /* StudyDate yyyymmdd (shifted to 21xx as in MIMIC) */
  double time;         /* StudyTime hhmmss.fff */
} synth_study;

typedef struct synth_image {
  int study;
  int view;            /* 0 PA, 1 AP, 2 LATERAL, 3 LL */
  int w, h;
  char dicom[48];
  int reading;         /* index of its REFLACX reading, -1 if none */
  int frontal_rank;    /* 0 first frontal of the study, 1 second */
} synth_image;

/* A rendered image and the true lesion masks at render resolution. */
typedef struct synth_render {
  int w, h;            /* final */
  int rw, rh;          /* render resolution */
  uint8_t *pixels;     /* w*h */
  uint8_t *mask[SYNTH_MAX_FINDINGS]; /* rw*rh, 1 inside the lesion */
  synth_chest chest;
  synth_box region[SR_N];
  synth_box chestbox;  /* true lungs + heart box */
  int fnparts[SYNTH_MAX_FINDINGS];            /* 0 when the lesion did not show (empty mask) */
  synth_box fpart[SYNTH_MAX_FINDINGS][2];     /* true extent per side, full-resolution px */
  long farea[SYNTH_MAX_FINDINGS];             /* mask pixels at render resolution */
} synth_render;

/* ---------------------------------------------------------------- reports and readings */

enum { MS_POSITIVE = 1, MS_UNCERTAIN = -1, MS_NEGATIVE = 0 };
#define SYNTH_MAX_WORDS 256
#define SYNTH_MAX_SENT 24
#define SYNTH_MAX_MENTIONS 48
#define SYNTH_MAX_ELL 16
#define SYNTH_MAX_FIX 1200

typedef struct synth_mention {
  int column;          /* REFLACX label column */
  int status;          /* MS_* */
  int start, end;      /* char span in transcription.txt */
  int sentence;
} synth_mention;

typedef struct synth_sentence {
  int first_word, nwords;
  int target;          /* finding index (reader list) it describes, or -1 */
  int region;          /* anatomical region it talks about when no finding, or -1 */
  double t_start, t_mention, lag; /* first word start, start of the word of the last mention, true lag */
} synth_sentence;

typedef struct synth_word { char text[32]; double t0, t1; } synth_word;

typedef struct synth_ellipse {
  synth_box box;
  int certainty;
  unsigned columns;    /* bit per REFLACX column */
} synth_ellipse;

/* What the reader perceived: findings (true or false positive) with certainty and a gaze target. */
typedef struct synth_percept {
  int kind, column2;   /* column2: a second REFLACX column for ambiguous opacities, else -1 */
  int certainty;
  int side, severity, zone;
  int truth;           /* index into the study's findings, -1 for a false positive */
  int nparts;
  synth_box part[2];   /* where the reader looks (true extent or, for false positives, imagined) */
} synth_percept;

typedef struct synth_fix {
  double t0, t1;
  int x, y;
  double pupil;
  int resx, resy;
  double ww, wl;
  int shown[4], screen[4];
} synth_fix;

typedef struct synth_reading {
  char id[16];
  int image;
  int npercept;
  synth_percept per[SYNTH_MAX_FINDINGS + 2];
  int nell;
  synth_ellipse ell[SYNTH_MAX_ELL];
  synth_box chestbox;
  int devices;
  int cert[RL_N];      /* metadata label columns (max certainty; devices 0/1) */
  char text[2048];
  int nwords, nsent, nment;
  synth_word word[SYNTH_MAX_WORDS];
  synth_sentence sent[SYNTH_MAX_SENT];
  synth_mention ment[SYNTH_MAX_MENTIONS];
  int intended[RL_N];  /* 1 / -1 / 0 / 2 = not mentioned (CheXpert aggregation of the mentions) */
  double lag_mean;     /* this reader's mean lag */
  double lag_sd;       /* sd of log lag between sentences */
  int nfix;
  synth_fix *fix;      /* SYNTH_MAX_FIX */
} synth_reading;

/* synth_anatomy.c */
void synth_chest_draw(synth_chest *c, int view, int ap, gz_rng *r);
void synth_chest_apply_findings(synth_chest *c, const synth_study *s);
/* Renders study s as image `img` (geometry from the image stream); fills masks and boxes. */
int synth_render_image(const gz_synth_opts *o, const synth_study *s, const synth_image *img,
                       uint64_t image_index, synth_render *out, gz_err *e);
void synth_render_free(synth_render *r);

/* synth_lesions.c */
void synth_draw_findings(const gz_synth_opts *o, synth_study *s, gz_rng *r);
/* Adds the density of finding f to the attenuation map A (rw x rh) and writes its mask. */
void synth_lesion_render(const synth_chest *c, const synth_finding *f, int fi, float *A, float *vessel,
                         uint8_t *mask, int rw, int rh, uint64_t seed, uint64_t stream);
int synth_lung_inside(const synth_chest *c, int side, float x, float y, float *d_lat, float *d_top);
/* Point at parameter t in [0, 1] (spine to lateral arc) of posterior rib `rib` (0 = first). */
void synth_rib_point(const synth_chest *c, int side, int rib, float t, float *x, float *y);
/* True extent (per side for bilateral kinds) of each finding's mask: fills rd->fnparts/fpart/farea. */
void synth_finding_boxes(const synth_study *s, synth_render *rd);

/* synth_report.c */
void synth_reader_perceive(const synth_study *s, const synth_render *rd, const synth_image *img, synth_reading *R,
                           gz_rng *r);
void synth_report_build(const synth_study *s, synth_reading *R, const synth_render *rd, double survey_s, gz_rng *r);

/* synth_gaze.c */
void synth_gaze_simulate(const gz_synth_opts *o, const synth_render *rd, synth_reading *R, gz_rng *r);

/* synth_write.c */
void synth_fmt_float(char *buf, size_t n, double v, int dp); /* pandas-like: round, shortest form, >= 1 decimal */
int synth_write_reading(const char *dir, const synth_reading *R, gz_err *e);
int synth_write_jpeg(const char *path, const uint8_t *px, int w, int h, int quality, gz_err *e);
/* synth_jpeg.c: baseline single-component JPEG into a malloc'd buffer; 0 or -1 (out of memory). */
int synth_jpeg_gray(const uint8_t *px, int w, int h, int quality, uint8_t **out, size_t *out_len);
int synth_write_mask_png(const char *path, const uint8_t *mask, int rw, int rh, int w, int h, gz_err *e);
int synth_mkdirs_for(const char *path, gz_err *e);

/* synth_calib.c: duration-weighted Gaussian heatmap on a reduced grid (see gz_synth_calibrate). */
typedef struct synth_fixrow { double t0, t1, x, y, sx, sy; int shown[4]; } synth_fixrow;
void synth_heatmap(const synth_fixrow *f, int n, double ta, double tb, double scale, int gw, int gh, float *out);

#endif
