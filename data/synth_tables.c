/* The tables: MIMIC-CXR-JPG (chexpert, split, metadata; LF endings as the PhysioNet csv files),
 * REFLACX metadata_phase_3.csv (CRLF, sorted by `image`, data-formats.md 1.2) and the truth sidecar. */
#include "data/synth_tables.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *split_name[3] = {"train", "validate", "test"};

typedef struct tw { FILE *f; char path[4400]; gz_csvw w; } tw;

static int tw_open(tw *t, const char *stage, const char *name, int crlf, gz_err *e) {
  snprintf(t->path, sizeof t->path, "%s/%s", stage, name);
  if (synth_mkdirs_for(t->path, e)) return -1;
  t->f = fopen(t->path, "wb");
  if (!t->f) return gz_fail_errno(e, "cannot create %s", t->path);
  gz_csvw_init(&t->w, t->f, crlf);
  return 0;
}
static void tw_header(tw *t, const char *const *h, int n) {
  for (int i = 0; i < n; i++) gz_csvw_field(&t->w, h[i]);
  gz_csvw_end(&t->w);
}
static int tw_close(tw *t, gz_err *e) {
  int bad = ferror(t->f);
  if (fclose(t->f) || bad) return gz_fail_errno(e, "cannot write %s", t->path);
  return 0;
}

/* ---------------------------------------------------------------- MIMIC */

enum { CX_ATEL, CX_CARDIO, CX_CONS, CX_EDEMA, CX_ECM, CX_FRACT, CX_LESION, CX_OPAC, CX_NOFIND, CX_EFF, CX_PLOTH,
       CX_PNEUMONIA, CX_PTX, CX_DEV, CX_N };
static const char *const chexpert_cols[CX_N] = {
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion",
    "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax", "Support Devices"};

/* Labels of the study's (unseen) original report: the true findings with the CheXpert labeler's noise:
 * some uncertain (-1), a few missed, common negatives stated explicitly (0). 2 = blank. */
static void chexpert_labels(const gz_synth_opts *o, int i, const synth_study *s, int *v) {
  gz_rng r;
  gz_rng_init(&r, o->seed, synth_stream(SS_LABELS, (uint64_t)i));
  for (int k = 0; k < CX_N; k++) v[k] = 2;
  static const int main_col[SK_N] = {CX_ATEL, CX_CONS, CX_CARDIO, CX_EDEMA, CX_EFF, CX_PTX, CX_LESION,
                                     CX_FRACT, CX_ECM, CX_OPAC, CX_OPAC, -1, -1, -1};
  int any = 0;
  for (int f = 0; f < s->nfind; f++) {
    int k = s->find[f].kind, c = main_col[k];
    if (c < 0) continue;
    any = 1;
    if (gz_rng_uniform(&r) < 0.05f) continue; /* missed by the report labeler */
    int val = gz_rng_uniform(&r) < 0.18f ? -1 : 1;
    if (v[c] != 1) v[c] = val;
    if ((k == SK_ATELECTASIS || k == SK_CONSOLIDATION || k == SK_EDEMA) && gz_rng_uniform(&r) < 0.4f) v[CX_OPAC] = 1;
    if (k == SK_CONSOLIDATION && gz_rng_uniform(&r) < 0.5f) v[CX_PNEUMONIA] = gz_rng_uniform(&r) < 0.5f ? 1 : -1;
    if (k == SK_CARDIOMEGALY && gz_rng_uniform(&r) < 0.2f && v[CX_ECM] == 2) v[CX_ECM] = -1;
  }
  static const int negatable[5] = {CX_PTX, CX_EFF, CX_CONS, CX_EDEMA, CX_CARDIO};
  for (int k = 0; k < 5; k++)
    if (v[negatable[k]] == 2 && gz_rng_uniform(&r) < 0.3f) v[negatable[k]] = 0;
  if (s->devices) v[CX_DEV] = 1;
  if (!any) v[CX_NOFIND] = 1;
}

static void field_label(gz_csvw *w, int v) { gz_csvw_field(w, v == 2 ? "" : v == 1 ? "1.0" : v == -1 ? "-1.0" : "0.0"); }

static int write_mimic(const gz_synth_opts *o, const synth_pop *P, const char *stage, gz_err *e) {
  tw c, sp, md;
  if (tw_open(&c, stage, "mimic/mimic-cxr-2.0.0-chexpert.csv", 0, e)) return -1;
  if (tw_open(&sp, stage, "mimic/mimic-cxr-2.0.0-split.csv", 0, e)) { fclose(c.f); return -1; }
  if (tw_open(&md, stage, "mimic/mimic-cxr-2.0.0-metadata.csv", 0, e)) { fclose(c.f); fclose(sp.f); return -1; }
  gz_csvw_field(&c.w, "subject_id");
  gz_csvw_field(&c.w, "study_id");
  tw_header(&c, chexpert_cols, CX_N);
  static const char *sph[4] = {"dicom_id", "study_id", "subject_id", "split"};
  tw_header(&sp, sph, 4);
  static const char *mdh[12] = {"dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition",
                                "Rows", "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning",
                                "ViewCodeSequence_CodeMeaning", "PatientOrientationCodeSequence_CodeMeaning"};
  tw_header(&md, mdh, 12);
  /* rows sorted by subject, then study (studies of a subject are consecutive and ordered by date) */
  int *ord = gz_malloc(sizeof(int) * (size_t)P->nstudies, e);
  if (!ord) { fclose(c.f); fclose(sp.f); fclose(md.f); return -1; }
  for (int i = 0; i < P->nstudies; i++) ord[i] = i;
  for (int i = 1; i < P->nstudies; i++) /* insertion sort by (subject_id, study_id); nearly sorted input */
    for (int j = i; j > 0; j--) {
      const synth_study *a = &P->studies[ord[j - 1]], *b = &P->studies[ord[j]];
      if (a->subject_id < b->subject_id || (a->subject_id == b->subject_id && a->study_id <= b->study_id)) break;
      int t = ord[j]; ord[j] = ord[j - 1]; ord[j - 1] = t;
    }
  static const char *vp[4] = {"PA", "AP", "LATERAL", "LL"};
  static const char *vc[4] = {"postero-anterior", "antero-posterior", "lateral", "left lateral"};
  for (int q = 0; q < P->nstudies; q++) {
    int i = ord[q];
    const synth_study *s = &P->studies[i];
    int v[CX_N];
    chexpert_labels(o, i, s, v);
    gz_csvw_fieldf(&c.w, "%u", s->subject_id);
    gz_csvw_fieldf(&c.w, "%u", s->study_id);
    for (int k = 0; k < CX_N; k++) field_label(&c.w, v[k]);
    gz_csvw_end(&c.w);
    const char *proc = s->ap ? "CHEST (PORTABLE AP)" : "CHEST (PA AND LAT)";
    for (int k = 0; k < s->nimages; k++) {
      const synth_image *im = &P->images[s->first_image + k];
      gz_csvw_field(&sp.w, im->dicom);
      gz_csvw_fieldf(&sp.w, "%u", s->study_id);
      gz_csvw_fieldf(&sp.w, "%u", s->subject_id);
      gz_csvw_field(&sp.w, split_name[s->split]);
      gz_csvw_end(&sp.w);
      gz_csvw_field(&md.w, im->dicom);
      gz_csvw_fieldf(&md.w, "%u", s->subject_id);
      gz_csvw_fieldf(&md.w, "%u", s->study_id);
      gz_csvw_field(&md.w, proc);
      gz_csvw_field(&md.w, vp[im->view]);
      gz_csvw_fieldf(&md.w, "%d", im->h);
      gz_csvw_fieldf(&md.w, "%d", im->w);
      gz_csvw_fieldf(&md.w, "%u", s->date);
      char tb[32];
      synth_fmt_float(tb, sizeof tb, s->time, 3);
      gz_csvw_field(&md.w, tb);
      gz_csvw_field(&md.w, proc);
      gz_csvw_field(&md.w, vc[im->view]);
      gz_csvw_field(&md.w, im->view == 1 && s->study_id % 3 == 0 ? "Recumbent" : "Erect");
      gz_csvw_end(&md.w);
    }
  }
  free(ord);
  int rc = tw_close(&c, e);
  rc |= tw_close(&sp, rc ? NULL : e);
  rc |= tw_close(&md, rc ? NULL : e);
  return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- REFLACX metadata */

static void image_path(const synth_pop *P, int img, char *buf, size_t n) {
  const synth_image *im = &P->images[img];
  const synth_study *s = &P->studies[im->study];
  snprintf(buf, n, "physionet.org/files/mimic-cxr/2.0.0/files/p%02u/p%08u/s%08u/%s.dcm", s->subject_id / 1000000,
           s->subject_id, s->study_id, im->dicom);
}

static const synth_pop *g_sort_pop; /* qsort has no context argument in C11 */
static int cmp_reading_image(const void *a, const void *b) {
  char pa[256], pb[256];
  image_path(g_sort_pop, g_sort_pop->reading_image[*(const int *)a], pa, sizeof pa);
  image_path(g_sort_pop, g_sort_pop->reading_image[*(const int *)b], pb, sizeof pb);
  return strcmp(pa, pb);
}

static int write_reflacx_meta(const synth_pop *P, const char *stage, int *ord, gz_err *e) {
  tw t;
  if (tw_open(&t, stage, "reflacx/main_data/metadata_phase_3.csv", 1, e)) return -1;
  static const char *h[8] = {"id", "split", "eye_tracking_data_discarded", "image", "dicom_id", "subject_id",
                             "image_size_x", "image_size_y"};
  for (int i = 0; i < 8; i++) gz_csvw_field(&t.w, h[i]);
  tw_header(&t, synth_reflacx_labels, RL_N);
  for (int q = 0; q < P->nreadings; q++) {
    const synth_reading *R = &P->readings[ord[q]];
    const synth_image *im = &P->images[R->image];
    const synth_study *s = &P->studies[im->study];
    char path[256];
    image_path(P, R->image, path, sizeof path);
    gz_csvw_field(&t.w, R->id);
    gz_csvw_field(&t.w, split_name[s->split]);
    gz_csvw_field(&t.w, "False");
    gz_csvw_field(&t.w, path);
    gz_csvw_field(&t.w, im->dicom);
    gz_csvw_fieldf(&t.w, "%u", s->subject_id);
    gz_csvw_fieldf(&t.w, "%d", im->w);
    gz_csvw_fieldf(&t.w, "%d", im->h);
    for (int k = 0; k < RL_N; k++) {
      if (k == RL_SUPPORT) gz_csvw_field(&t.w, R->cert[k] ? "True" : "False");
      else if (k == RL_OTHER) gz_csvw_field(&t.w, "");
      else gz_csvw_fieldf(&t.w, "%d", R->cert[k]);
    }
    gz_csvw_end(&t.w);
  }
  return tw_close(&t, e);
}

/* ---------------------------------------------------------------- truth sidecar */

static const char *region_name(int r) {
  static const char *n[SR_N] = {"lung_right", "lung_left", "apex_right", "apex_left", "base_right", "base_left",
                                "hilum_right", "hilum_left", "heart", "mediastinum", "spine", "ribs_right", "ribs_left"};
  return r >= 0 && r < SR_N ? n[r] : "";
}

static void paper_names(unsigned bits, char *buf, size_t n) {
  buf[0] = 0;
  for (int k = 0; k < 10; k++)
    if (bits >> k & 1) {
      size_t l = strlen(buf);
      snprintf(buf + l, n - l, "%s%s", l ? "|" : "", synth_paper_labels[k]);
    }
}

static int write_truth(const gz_synth_opts *o, const synth_pop *P, const char *stage, const int *ord, gz_err *e) {
  tw im, fi, rd, me, se;
  int rc = 0;
  if (tw_open(&im, stage, "truth/images.csv", 0, e)) return -1;
  static const char *imh[10] = {"dicom_id", "subject_id", "study_id", "split", "view", "width", "height",
                                "reflacx_id", "support_devices", "paper_labels"};
  tw_header(&im, imh, 10);
  if (tw_open(&fi, stage, "truth/findings.csv", 0, e)) { fclose(im.f); return -1; }
  static const char *fih[13] = {"dicom_id", "finding", "label", "paper_labels", "side", "severity", "part", "xmin",
                                "ymin", "xmax", "ymax", "mask_pixels_render", "mask"};
  tw_header(&fi, fih, 13);
  static const char *sides[3] = {"right", "left", "both"};
  for (int i = 0; i < P->nimages; i++) {
    const synth_image *I = &P->images[i];
    const synth_study *s = &P->studies[I->study];
    unsigned bits = 0;
    for (int k = 0; k < s->nfind; k++) bits |= synth_kind_paper[s->find[k].kind];
    char pn[256];
    paper_names(I->view < 2 ? bits : 0, pn, sizeof pn);
    gz_csvw_field(&im.w, I->dicom);
    gz_csvw_fieldf(&im.w, "%u", s->subject_id);
    gz_csvw_fieldf(&im.w, "%u", s->study_id);
    gz_csvw_field(&im.w, split_name[s->split]);
    gz_csvw_field(&im.w, (const char *[]){"PA", "AP", "LATERAL", "LL"}[I->view]);
    gz_csvw_fieldf(&im.w, "%d", I->w);
    gz_csvw_fieldf(&im.w, "%d", I->h);
    gz_csvw_field(&im.w, I->reading >= 0 ? P->reading_ids + 16 * I->reading : "");
    gz_csvw_field(&im.w, s->devices ? "True" : "False");
    gz_csvw_field(&im.w, pn);
    gz_csvw_end(&im.w);
    if (I->view >= 2) continue;
    const synth_img_info *info = &P->img_info[i];
    for (int k = 0; k < s->nfind; k++) {
      const synth_finding *f = &s->find[k];
      paper_names(synth_kind_paper[f->kind], pn, sizeof pn);
      for (int q = 0; q < (info->fnparts[k] ? info->fnparts[k] : 1); q++) {
        gz_csvw_field(&fi.w, I->dicom);
        gz_csvw_fieldf(&fi.w, "%d", k);
        gz_csvw_field(&fi.w, synth_reflacx_labels[synth_kind_column[f->kind]]);
        gz_csvw_field(&fi.w, pn);
        gz_csvw_field(&fi.w, sides[f->side]);
        gz_csvw_fieldf(&fi.w, "%d", f->severity);
        gz_csvw_fieldf(&fi.w, "%d", info->fnparts[k] ? q : -1);
        for (int c = 0; c < 4; c++) {
          const float *b = &info->fpart[k][q].x0;
          if (info->fnparts[k]) gz_csvw_fieldf(&fi.w, "%ld", lroundf(b[c]));
          else gz_csvw_field(&fi.w, "");
        }
        gz_csvw_fieldf(&fi.w, "%ld", info->farea[k]);
        if (o->write_masks) gz_csvw_fieldf(&fi.w, "masks/%s_%d.png", I->dicom, k);
        else gz_csvw_field(&fi.w, "");
        gz_csvw_end(&fi.w);
      }
    }
  }
  rc |= tw_close(&im, e);
  rc |= tw_close(&fi, rc ? NULL : e);
  if (rc) return -1;
  /* readings: true lag, intended labels (CheXpert values of the report's mentions), mentions, sentences */
  if (tw_open(&rd, stage, "truth/readings.csv", 0, e)) return -1;
  gz_csvw_field(&rd.w, "id");
  gz_csvw_field(&rd.w, "dicom_id");
  gz_csvw_field(&rd.w, "lag_mean_s");
  gz_csvw_field(&rd.w, "n_fixations");
  gz_csvw_field(&rd.w, "first_word_s");
  gz_csvw_field(&rd.w, "last_word_end_s");
  tw_header(&rd, synth_reflacx_labels, RL_N);
  if (tw_open(&me, stage, "truth/mentions.csv", 0, e)) { fclose(rd.f); return -1; }
  static const char *meh[7] = {"id", "label", "status", "start", "end", "sentence", "text"};
  tw_header(&me, meh, 7);
  if (tw_open(&se, stage, "truth/sentences.csv", 0, e)) { fclose(rd.f); fclose(me.f); return -1; }
  static const char *seh[9] = {"id", "sentence", "t_start", "t_last_mention_word", "lag_s", "target_label",
                               "target_finding", "region", "text"};
  tw_header(&se, seh, 9);
  char b[64];
  for (int q = 0; q < P->nreadings; q++) {
    const synth_reading *R = &P->readings[ord[q]];
    gz_csvw_field(&rd.w, R->id);
    gz_csvw_field(&rd.w, P->images[R->image].dicom);
    synth_fmt_float(b, sizeof b, R->lag_mean, 3);
    gz_csvw_field(&rd.w, b);
    gz_csvw_fieldf(&rd.w, "%d", R->nfix);
    synth_fmt_float(b, sizeof b, R->word[0].t0, 2);
    gz_csvw_field(&rd.w, b);
    synth_fmt_float(b, sizeof b, R->word[R->nwords - 1].t1, 2);
    gz_csvw_field(&rd.w, b);
    for (int k = 0; k < RL_N; k++) field_label(&rd.w, R->intended[k]);
    gz_csvw_end(&rd.w);
    for (int m = 0; m < R->nment; m++) {
      const synth_mention *M = &R->ment[m];
      gz_csvw_field(&me.w, R->id);
      gz_csvw_field(&me.w, synth_reflacx_labels[M->column]);
      gz_csvw_field(&me.w, M->status == MS_POSITIVE ? "positive" : M->status == MS_UNCERTAIN ? "uncertain" : "negative");
      gz_csvw_fieldf(&me.w, "%d", M->start);
      gz_csvw_fieldf(&me.w, "%d", M->end);
      gz_csvw_fieldf(&me.w, "%d", M->sentence);
      char txt[256];
      int n = M->end - M->start < 255 ? M->end - M->start : 255;
      memcpy(txt, R->text + M->start, (size_t)n);
      txt[n] = 0;
      gz_csvw_field(&me.w, txt);
      gz_csvw_end(&me.w);
    }
    for (int s = 0; s < R->nsent; s++) {
      const synth_sentence *S = &R->sent[s];
      gz_csvw_field(&se.w, R->id);
      gz_csvw_fieldf(&se.w, "%d", s);
      synth_fmt_float(b, sizeof b, S->t_start, 2);
      gz_csvw_field(&se.w, b);
      synth_fmt_float(b, sizeof b, S->t_mention, 2);
      gz_csvw_field(&se.w, b);
      synth_fmt_float(b, sizeof b, S->lag, 3);
      gz_csvw_field(&se.w, b);
      const synth_percept *p = S->target >= 0 ? &R->per[S->target] : NULL;
      gz_csvw_field(&se.w, p ? synth_reflacx_labels[synth_kind_column[p->kind]] : "");
      gz_csvw_fieldf(&se.w, "%d", p ? p->truth : -1);
      gz_csvw_field(&se.w, region_name(S->region));
      char txt[1024] = "";
      for (int w = S->first_word; w < S->first_word + S->nwords; w++) {
        size_t l = strlen(txt);
        int punct = !strcmp(R->word[w].text, ".") || !strcmp(R->word[w].text, ",");
        snprintf(txt + l, sizeof txt - l, "%s%s", (l && !punct) ? " " : "", R->word[w].text);
      }
      gz_csvw_field(&se.w, txt);
      gz_csvw_end(&se.w);
    }
  }
  rc |= tw_close(&rd, e);
  rc |= tw_close(&me, rc ? NULL : e);
  rc |= tw_close(&se, rc ? NULL : e);
  if (rc) return -1;
  /* the parameters, so that a dataset says how it was made */
  cJSON *j = cJSON_CreateObject();
  char seed[32];
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
  cJSON_AddStringToObject(j, "generator", "gazeloc-synth");
  cJSON_AddStringToObject(j, "seed", seed);
  cJSON_AddNumberToObject(j, "studies", o->n_studies);
  cJSON_AddNumberToObject(j, "images", P->nimages);
  cJSON_AddNumberToObject(j, "readings", o->n_readings);
  cJSON_AddNumberToObject(j, "size", o->size);
  cJSON_AddNumberToObject(j, "lag_mean_s", o->lag_mean);
  cJSON_AddNumberToObject(j, "lag_sd_log", o->lag_sd);
  cJSON_AddNumberToObject(j, "dwell_on_frac", o->dwell_on_frac);
  cJSON_AddNumberToObject(j, "revisit_prob", o->revisit_prob);
  cJSON_AddNumberToObject(j, "split_test", o->split_test);
  cJSON_AddNumberToObject(j, "split_validate", o->split_validate);
  cJSON_AddNumberToObject(j, "prevalence_scale", o->prevalence_scale);
  cJSON_AddNumberToObject(j, "normal_frac", o->normal_frac);
  char *txt = cJSON_Print(j);
  cJSON_Delete(j);
  if (!txt) return gz_fail(e, GZ_ENOMEM, "cannot format truth/generator.json");
  char path[4400];
  snprintf(path, sizeof path, "%s/truth/generator.json", stage);
  FILE *f = fopen(path, "wb");
  if (!f) { free(txt); return gz_fail_errno(e, "cannot create %s", path); }
  fputs(txt, f);
  fputc('\n', f);
  free(txt);
  if (fclose(f)) return gz_fail_errno(e, "cannot write %s", path);
  return 0;
}

int synth_write_tables(const gz_synth_opts *o, const synth_pop *P, const char *stage, gz_err *e) {
  if (write_mimic(o, P, stage, e)) return -1;
  int *ord = gz_malloc(sizeof(int) * (size_t)(P->nreadings + 1), e);
  if (!ord) return -1;
  for (int i = 0; i < P->nreadings; i++) ord[i] = i;
  g_sort_pop = P;
  qsort(ord, (size_t)P->nreadings, sizeof(int), cmp_reading_image); /* phase 3 is sorted by image */
  int rc = write_reflacx_meta(P, stage, ord, e);
  if (!rc) rc = write_truth(o, P, stage, ord, e);
  free(ord);
  return rc;
}

int synth_write_calibration(const char *stage, const gz_synth_calib *c, gz_err *e) {
  tw t;
  if (tw_open(&t, stage, "truth/calibration.csv", 0, e)) return -1;
  static const char *h[5] = {"figure", "synthetic", "real", "n", "note"};
  tw_header(&t, h, 5);
  char b[64], grid[128];
  snprintf(grid, sizeof grid, "duration-weighted 1-degree Gaussians on a %d px grid (long side)", c->grid);
  struct { const char *name; double v; const char *real; int n; } rows[] = {
      {"ncc_whole_reading_mean", c->ncc_mean, "0.380", c->n_ncc}, {"ncc_whole_reading_sd", c->ncc_sd, "0.134", c->n_ncc},
      {"ncc_average_map_mean", c->base_mean, "0.326", c->n_ncc},  {"ncc_average_map_sd", c->base_sd, "0.128", c->n_ncc},
      {"iou_sentence_window_mean", c->iou_mean, "0.233", c->n_iou}, {"iou_sentence_window_threshold", c->iou_thr, "", c->n_iou}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    gz_csvw_field(&t.w, rows[i].name);
    synth_fmt_float(b, sizeof b, rows[i].v, 4);
    gz_csvw_field(&t.w, b);
    gz_csvw_field(&t.w, rows[i].real);
    gz_csvw_fieldf(&t.w, "%d", rows[i].n);
    gz_csvw_field(&t.w, grid);
    gz_csvw_end(&t.w);
  }
  return tw_close(&t, e);
}
