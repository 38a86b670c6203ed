/* gaze: REFLACX eye tracking + timed dictation -> label-specific heatmaps (method.md section 4).
 *
 *   labels      the paper's 10 labels, the labeler's 21 categories, REFLACX label columns -> paper labels
 *   readers     metadata_phase_<p>.csv, fixations.csv, timestamps_transcription.csv, transcription.txt,
 *               anomaly_location_ellipses.csv, chest_bounding_box.csv, the labeler's labeled_reports CSV
 *   transcript  text rebuilt from the timed words, sentences, mentions -> sentence and word
 *   windows     the accumulation window of each sentence with a mention, every start/end rule of the
 *               paper's section 2.8 ("1.5s_startofsentence_lastmention" is the default)
 *   heatmaps    duration-weighted 2-D normal pdfs, drawn inside the shown rectangle, max-normalized,
 *               produced directly at 512x512 in the image geometry (resize long side to 512 + pad)
 *   geometry    the image pipeline's resize/pad (XRayResizerPadRound32(512) + Resize(512, antialias)),
 *               max-pool, threshold
 *   ellipses    masks from anomaly ellipses (certainty >= 3) per paper label; IoU
 *
 * Stands on base/ alone. Library functions return 0 (or a count) on success and -1 with a gz_err that
 * names file, line and column on bad input; they never exit. See docs/gaze.md. */
#ifndef GAZELOC_GAZE_H
#define GAZELOC_GAZE_H

#include <stddef.h>

#include "base/base.h"

/* ------------------------------------------------------------------ labels (method.md section 5) */

#define GZ_NLABELS 10      /* paper labels, in the order of src/list_labels.py */
#define GZ_NCATEGORIES 21  /* the modified CheXpert labeler's categories (data-formats.md 3.2) */

extern const char *const gz_label_names[GZ_NLABELS];
/* Lower-case category names exactly as the labeled_reports CSV header spells them. */
extern const char *const gz_category_names[GZ_NCATEGORIES];

/* Bit k set = paper label k. The mask of a REFLACX label column ("Pulmonary edema", "Acute fracture")
 * or a labeler category ("acute fracture & fracture"), compared case-insensitively as the authors'
 * translate_et_to_label does (it lower-cases the key for the labeler table). 0 = not used by the paper. */
unsigned gz_label_mask_for_name(const char *name);
unsigned gz_category_mask(int category);
/* Index of a labeler category name (case-insensitive), or -1. */
int gz_category_index(const char *name);

/* ------------------------------------------------------------------ REFLACX readers (data-formats.md 1) */

typedef struct gz_meta_row {
  char *id;
  char *split;     /* train / validate / test */
  int discarded;   /* eye_tracking_data_discarded */
  char *image;     /* relative DICOM path */
  char *dicom_id;
  long subject_id;
  int size_x, size_y;
  int phase;
} gz_meta_row;

typedef struct gz_meta {
  gz_meta_row *rows;
  int n;
} gz_meta;

/* Reads metadata_phase_<phase>.csv (columns by name; the label columns are not needed here). */
int gz_meta_read(const char *path, int phase, gz_meta *m, gz_err *e);
void gz_meta_free(gz_meta *m);

typedef struct gz_fixation {
  double t0, t1;          /* timestamp_start_fixation, timestamp_end_fixation (s from audio start) */
  double x, y;            /* x_position, y_position (image px) */
  double sx, sy;          /* angular_resolution_{x,y}_pixels_per_degree: sigma of 1 degree */
  int rx0, ry0, rx1, ry1; /* shown rectangle, round()ed as Python does (half to even) */
} gz_fixation;

typedef struct gz_word {
  char *text;
  double t0, t1;
} gz_word;

typedef struct gz_ellipse {
  double xmin, ymin, xmax, ymax;
  int certainty;
  unsigned labels; /* paper-label mask over the True label columns */
} gz_ellipse;

/* One reading folder main_data/<id>/. */
typedef struct gz_reading {
  char *id;
  char *dir;
  int width, height; /* from the metadata */
  gz_fixation *fix;
  int nfix;
  gz_word *words;
  int nwords;
  char *transcription; /* transcription.txt as is */
  size_t transcription_len;
  gz_ellipse *ell;
  int nell;
  int has_chest_box;
  int chest_box[4]; /* xmin, ymin, xmax, ymax */
} gz_reading;

int gz_read_fixations(const char *path, gz_fixation **out, int *n, gz_err *e);
int gz_read_words(const char *path, gz_word **out, int *n, gz_err *e);
int gz_read_ellipses(const char *path, gz_ellipse **out, int *n, gz_err *e);
int gz_read_chest_box(const char *path, int box[4], gz_err *e);

/* Loads every file of main_data/<row->id>/. Returns 0 when loaded, 1 when the reading is discarded
 * (flag set, or no fixations.csv / timestamps_transcription.csv: the layout of discarded readings),
 * -1 on a malformed or missing file (e names it). */
int gz_reading_load(const char *main_data, const gz_meta_row *row, gz_reading *r, gz_err *e);
void gz_reading_free(gz_reading *r);

/* ------------------------------------------------------------------ labeler output (data-formats.md 1.9) */

typedef struct gz_mention {
  int category; /* index into gz_category_names */
  int start, end; /* character offsets [start, end) into transcription.txt */
} gz_mention;

typedef struct gz_report_labels {
  char *id;      /* leading `id` column written by gazeloc-label */
  char *report;  /* `Reports` */
  gz_mention *m; /* positive or uncertain mentions, in column order then list order */
  int nm;
} gz_report_labels;

typedef struct gz_labels_file {
  gz_report_labels *rows;
  int n;
} gz_labels_file;

/* Reads the labeled_reports CSV (id, Reports, 21 categories, 21 `<category>_location` columns holding
 * "[[105, 116], [124, 137]]" or "[]"). Columns by header name; a category column that is absent is
 * treated as having no mention. */
int gz_labels_read(const char *path, gz_labels_file *lf, gz_err *e);
void gz_labels_free(gz_labels_file *lf);
/* The row of reading `id`, or NULL. */
const gz_report_labels *gz_labels_find(const gz_labels_file *lf, const char *id);
/* Parses one location cell; `*m` grows by the ranges found (category set on each). */
int gz_parse_locations(const char *cell, int category, gz_mention **m, int *nm, int *cap, gz_err *e);

/* ------------------------------------------------------------------ transcript and windows */

typedef struct gz_sentence {
  int first_word, last_word; /* the '.' word is last_word */
  int char_start, char_dot;  /* char offset of the first word, and of the '.' */
  double t_start, t_end;     /* start of the first word, end of the '.' */
} gz_sentence;

typedef struct gz_transcript {
  char *text;       /* rebuilt text, equal to transcription.txt */
  int *word_start;  /* char offset of each word */
  const gz_word *words; /* borrowed: the words it was built from (must outlive it) */
  int nwords;
  gz_sentence *s;
  int ns;
} gz_transcript;

/* Rebuilds the text (a space before every word except '.', ',', ':' and the first), splits sentences
 * at '.', and checks the text against `expected` (transcription.txt) when non-NULL; `name` (the
 * reading's folder) appears in errors. A trailing part without '.' is not a sentence (as in the code). */
int gz_transcript_build(const gz_word *w, int nw, const char *expected, size_t expected_len, const char *name,
                        gz_transcript *t, gz_err *e);
void gz_transcript_free(gz_transcript *t);
/* Sentence holding char offset `pos` (first sentence whose '.' index is greater), or -1. */
int gz_sentence_of_char(const gz_transcript *t, int pos);
/* The word holding char offset `pos` by the authors' rule (last word w, in order, with
 * start(w) <= pos <= end(w)), or -1. */
int gz_word_of_char(const gz_transcript *t, int pos);

enum gz_start_rule {
  GZ_START_STARTOFSENTENCE, /* max(sentence start - delay, previous sentence start) (default) */
  GZ_START_ENDOFSENTENCE,   /* max(sentence end - delay, previous sentence start) */
  GZ_START_MENTION,         /* max(first-mention word start - delay, previous sentence start) */
  GZ_START_SINGLE,          /* the sentence start */
  GZ_START_DOUBLE,          /* the previous sentence start (0 for the first) */
  GZ_START_ALL,             /* 0 */
  GZ_START_ALLSENTENCES,    /* start of the first sentence */
  GZ_START_ANDPAUSE,        /* end of the previous sentence (0 for the first) */
  GZ_NSTART_RULES
};
enum gz_end_rule {
  GZ_END_ENDOFSENTENCE,   /* end of the '.' */
  GZ_END_FIRSTMENTION,    /* start of the word holding the first mention */
  GZ_END_LASTMENTION,     /* start of the word holding the last mention (default, gotcha 5) */
  GZ_END_STARTOFSENTENCE, /* the sentence start */
  GZ_NEND_RULES
};
extern const char *const gz_start_rule_names[GZ_NSTART_RULES];
extern const char *const gz_end_rule_names[GZ_NEND_RULES];

typedef struct gz_strategy {
  int start_rule, end_rule;
  double delay; /* seconds; used by the first three start rules */
} gz_strategy;

#define GZ_STRATEGY_DEFAULT ((gz_strategy){GZ_START_STARTOFSENTENCE, GZ_END_LASTMENTION, 1.5})
/* The authors' method strings: "1.5s_startofsentence_lastmention", "single_lastmention", ... */
int gz_strategy_parse(const char *s, gz_strategy *st, gz_err *e);
void gz_strategy_format(const gz_strategy *st, char *buf, size_t n);

typedef struct gz_window {
  int sentence;
  double t0, t1;
  unsigned labels; /* paper labels mentioned in the sentence */
} gz_window;

/* One window per sentence holding at least one mention of a category that maps to a paper label.
 * Mentions past the last '.' belong to no sentence; they are skipped and counted in *orphans. */
int gz_windows(const gz_transcript *t, const gz_mention *m, int nm, const gz_strategy *st, gz_window **out, int *n,
               int *orphans, gz_err *e);

/* ------------------------------------------------------------------ geometry (method.md section 7) */

/* Antialiased bilinear resize of a float plane exactly as torch's interpolate(mode='bilinear',
 * align_corners=False, antialias=True) (= PIL's BILINEAR): horizontal pass, then vertical pass. */
int gz_resize_aa(const float *in, int h, int w, float *out, int oh, int ow, gz_err *e);
/* The image pipeline's geometry: L = round(size/min(h,w)*max(h,w)/16)*16; resize to
 * (round(h*L/max), round(w*L/max)) antialiased; zero-pad to LxL (floor before, ceil after);
 * resize LxL -> size x size antialiased. `out` holds size*size floats. */
int gz_resize_pad(const float *in, int h, int w, float *out, int size, gz_err *e);

/* The same geometry as one sparse linear map per axis (output index -> weights over input indices),
 * composed in double precision. Used to draw maps straight at the output size. */
typedef struct gz_axis {
  int n_in, n_out;
  int *lo, *len; /* input span of each output index */
  size_t *off;   /* into w */
  double *w;
} gz_axis;

typedef struct gz_geom {
  int h, w, size;
  int mid_h, mid_w, side; /* stage-1 size and the padded square side */
  gz_axis ay, ax;
} gz_geom;

int gz_geom_init(gz_geom *g, int h, int w, int size, gz_err *e);
void gz_geom_free(gz_geom *g);
/* out (size x size) = geometry applied to a full-resolution plane that is zero outside the crop
 * [y0, y0+ch) x [x0, x0+cw) (crop rows of cw floats). out is overwritten. */
int gz_geom_apply_crop(const gz_geom *g, const float *crop, int y0, int x0, int ch, int cw, float *out, gz_err *e);

/* k x k max-pool with stride k of an n x n plane (n divisible by k): AdaptiveMaxPool2d(n/k). */
void gz_maxpool(const float *in, int n, int k, float *out);
/* out[i] = in[i] > thr ? 1 : 0 (strict, as `> 0.15`). */
void gz_threshold(const float *in, size_t n, float thr, float *out);
/* The training targets of a 512x512 map (method.md section 1, "How b is built", and gotcha 4): t256 = the
 * 2x2 max-pool (decoder target, continuous), b32 = t256 8x8 max-pooled and thresholded > thr (MIL, 0.15).
 * Either output may be NULL. */
int gz_map_targets(const float *map512, float thr, float *t256, float *b32, gz_err *e);

/* ------------------------------------------------------------------ heatmaps (method.md section 4) */

typedef struct gz_heat_opts {
  double k_sigma; /* truncation radius in sigmas (default 6); see gz_heat_window's bound */
  int block;      /* full-resolution block side used to find the exact maximum (default 16) */
} gz_heat_opts;

#define GZ_HEAT_OPTS_DEFAULT ((gz_heat_opts){6.0, 16})

typedef struct gz_heat gz_heat;

/* Per-reading precomputation: each fixation's Gaussian profiles along x and y (clipped to the shown
 * rectangle, the image and +-k_sigma), at full resolution and through the geometry `g` (NULL = only
 * full-resolution maps). `f` and `g` are borrowed and must outlive the object. One object per thread. */
gz_heat *gz_heat_new(const gz_fixation *f, int nfix, int width, int height, const gz_geom *g, const gz_heat_opts *o,
                     gz_err *e);
void gz_heat_free(gz_heat *h);

/* The map of window [t0, t1] at the geometry's size x size: fixations with t1_f > t0 and t0_f <= t1,
 * weighted by min(t1_f, t1) - max(t0_f, t0), each a 2-D normal pdf (1/(2 pi sx sy) factor included)
 * at integer pixels inside the shown rectangle, normalized by the maximum over the full-resolution
 * pixel grid, then mapped through the geometry. Returns 1 with a map, 0 when the window holds no
 * positive weight (no map, out untouched), -1 on error.
 * `bound` (may be NULL) receives the stated truncation bound on the normalized map:
 *   |ours - untruncated| <= exp(-k^2/2) * sum_f w_f/(2 pi sx sy) / M
 * (M = the truncated map's maximum), valid at full resolution and after the geometry (a convex
 * combination). */
int gz_heat_window(gz_heat *h, double t0, double t1, float *out, double *bound, gz_err *e);
/* The same map at full resolution (height x width), for tests and references. */
int gz_heat_window_full(gz_heat *h, double t0, double t1, float *out, double *bound, gz_err *e);

/* ------------------------------------------------------------------ ellipses and IoU */

/* Rasterizes the axis-aligned ellipse inscribed in the box as skimage.draw.ellipse does (pixel (x,y)
 * inside iff ((x-cx)/rx)^2 + ((y-cy)/ry)^2 < 1, rx = |xmax-xmin|/2 ...), clipped to the image. Fills a
 * crop buffer covering its bounding rows/cols; returns the crop via the out parameters (crop is NULL
 * and *ch = 0 when empty). */
int gz_ellipse_raster(const gz_ellipse *el, int width, int height, float **crop, int *y0, int *x0, int *ch, int *cw,
                      gz_err *e);
/* Masks at size x size per paper label (labels x size x size, zeroed here): every ellipse with
 * certainty >= min_certainty (the paper: 3) rasterized at full resolution, put through the geometry,
 * thresholded > 0.5, max-combined into each paper label it maps to. *present gets the label mask. */
int gz_ellipse_masks(const gz_ellipse *el, int nel, int width, int height, const gz_geom *g, int min_certainty,
                     float *masks, unsigned *present, gz_err *e);
/* IoU of (map > thr) against a binary mask; an empty union gives 0 (method.md section 6). */
double gz_iou(const float *map, const float *mask, size_t n, float thr);

/* ------------------------------------------------------------------ map files */

/* A compact map file (.etm): 8 magic bytes, then little-endian uint32 size, int32 label (0..9, or -1 for the
 * whole-report map), uint32 y0, y1, x0, x1 (the bounding box of the non-zero values, [y0,y1) x [x0,x1), all
 * zero when the map is zero), then the values of that box row by row; everything outside is 0.
 *   "GZETMAP1": float32 values (lossless);
 *   "GZETMAPQ": uint16 values round(v * 65535) of v clamped to [0, 1] (absolute error <= 7.7e-6, below the
 *               2e-5 by which torch's own float32 geometry strays; half the size).
 * Written atomically. */
int gz_etm_write(const char *path, const float *map, int size, int label, int quantize16, gz_err *e);
/* Reads either kind into a malloc'd size x size float map. */
int gz_etm_read(const char *path, float **map, int *size, int *label, gz_err *e);

/* ------------------------------------------------------------------ one reading, end to end */

/* What one reading needs for any number of strategies: its transcript (checked against
 * transcription.txt), its geometry and its fixation profiles. `r` is borrowed (must outlive it). */
typedef struct gz_prepared {
  const gz_reading *r;
  gz_transcript t;
  gz_geom g;
  gz_heat *h;
  int size;
} gz_prepared;

int gz_prepare(const gz_reading *r, int size, const gz_heat_opts *o, gz_prepared *p, gz_err *e);
void gz_prepared_free(gz_prepared *p);

typedef struct gz_label_maps {
  float *maps;        /* GZ_NLABELS x size x size, owned; zero where a label has no map */
  unsigned mentioned; /* paper labels with a positive/uncertain mention in a sentence (ET image label) */
  unsigned present;   /* labels that received a map */
  int nwindows;       /* sentence windows */
  int nempty;         /* windows with no fixation weight: no map (the authors' code would give NaN) */
  int orphans;        /* mentions past the last '.' */
} gz_label_maps;

/* Per-label maps of one strategy: each sentence window's map, max-combined into every paper label the
 * sentence mentions (ETDataset.__getitem__). `maps` is allocated on first use and reused. */
int gz_label_maps_compute(gz_prepared *p, const gz_mention *m, int nm, const gz_strategy *st, gz_label_maps *out,
                          gz_err *e);
/* The same, drawing only the windows that mention a label of `want` (a paper-label mask); maps of other
 * labels stay zero (`mentioned` and `nwindows` still count every window). */
int gz_label_maps_compute_some(gz_prepared *p, const gz_mention *m, int nm, const gz_strategy *st, unsigned want,
                               gz_label_maps *out, gz_err *e);
void gz_label_maps_free(gz_label_maps *lm);
/* The whole-report map (window 0 -> end of the last word; the "no label-specific maps" ablation).
 * Returns 1 with a map, 0 when empty. */
int gz_whole_report_map(gz_prepared *p, float *out, gz_err *e);

#endif
