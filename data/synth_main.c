#define _XOPEN_SOURCE 700 /* nftw */
/* gz_synth_generate: the population (subjects, studies, images, splits, REFLACX selection), the
 * parallel per-image loop (render, JPEG, masks, reading), then the tables and the truth sidecar.
 *
 * Determinism: every draw comes from a Philox stream keyed by (seed, purpose, index) (synth_internal.h),
 * and the tables are written after the loop in a fixed order, so the bytes do not depend on threads.
 * Output goes to DIR/.synth-partial and is renamed into DIR/{reflacx,mimic,truth} at the end. */
#include "data/synth_internal.h"
#include "data/synth_tables.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

void gz_synth_defaults(gz_synth_opts *o, int preset) {
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->n_studies = 300;
  o->n_readings = 200;
  o->size = 384;
  o->size_jitter = 0.08;
  o->lateral_frac = 0.55;
  o->double_frontal_frac = 0.05;
  o->studies_per_subject = 1.5;
  o->split_test = 0.2;
  o->split_validate = 0.1;
  o->reflacx_test_frac = 0.2;
  o->ap_frac = 0.45;
  o->normal_frac = 0.35;
  o->prevalence_scale = 1.0;
  o->lag_mean = 1.0;
  o->lag_sd = 0.25;
  o->dwell_on_frac = 0.52;
  o->revisit_prob = 0.03;
  o->survey_min = 2;
  o->survey_max = 10;
  o->jpeg_quality = 92;
  o->write_masks = 1;
  o->calibrate = 1;
  o->progress = 1;
  o->examples = 4;
  if (preset == GZ_SYNTH_PAPER) { /* the paper's 2,507 phase-3 readings; MIMIC size and split shares */
    o->n_studies = 25000;
    o->n_readings = 2507;
    o->size = 2800;
    o->studies_per_subject = 3.5;
    o->split_test = 0.03;
    o->split_validate = 0.01;
    o->examples = 0;
  }
}

int gz_synth_check(const gz_synth_opts *o, gz_err *e) {
  if (!o->out || !*o->out) return gz_fail(e, GZ_EINVAL, "--out: an output folder is required");
  if (o->n_studies < 1 || o->n_studies > 400000) return gz_fail(e, GZ_ERANGE, "--images: %d is not in 1..400000", o->n_studies);
  if (o->n_readings < 0 || o->n_readings > 100000) return gz_fail(e, GZ_ERANGE, "--readings: %d is not in 0..100000", o->n_readings);
  if (o->size < 64 || o->size > 4096) return gz_fail(e, GZ_ERANGE, "--size: %d px is not in 64..4096", o->size);
  if (o->lag_mean < 0 || o->lag_mean > 5) return gz_fail(e, GZ_ERANGE, "--lag: %g s is not in 0..5", o->lag_mean);
  if (o->dwell_on_frac < 0 || o->dwell_on_frac > 1) return gz_fail(e, GZ_ERANGE, "--dwell: %g is not in 0..1", o->dwell_on_frac);
  if (o->revisit_prob < 0 || o->revisit_prob > 0.5) return gz_fail(e, GZ_ERANGE, "--revisit: %g is not in 0..0.5", o->revisit_prob);
  if (o->split_test < 0 || o->split_validate < 0 || o->split_test + o->split_validate > 0.9)
    return gz_fail(e, GZ_ERANGE, "--split-test/--split-validate: shares must be >= 0 and sum to <= 0.9");
  if (o->prevalence_scale <= 0 || o->prevalence_scale > 3) return gz_fail(e, GZ_ERANGE, "--prevalence-scale: %g is not in (0, 3]", o->prevalence_scale);
  if (o->jpeg_quality < 50 || o->jpeg_quality > 100) return gz_fail(e, GZ_ERANGE, "--jpeg-quality: %d is not in 50..100", o->jpeg_quality);
  if (o->survey_min < 0 || o->survey_max < o->survey_min || o->survey_max > 60) return gz_fail(e, GZ_ERANGE, "survey time range is not valid");
  return 0;
}

/* ---------------------------------------------------------------- folders */

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}
int synth_rmtree(const char *path) {
  if (!gz_is_dir(path) && !gz_is_file(path)) return 0;
  return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int dir_nonempty(const char *path) {
  DIR *d = opendir(path);
  if (!d) return 0;
  struct dirent *de;
  int n = 0;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) { n = 1; break; }
  closedir(d);
  return n;
}

/* ---------------------------------------------------------------- population */

static uint64_t affine_id(uint64_t i, uint64_t a, uint64_t b, uint64_t m) { return (a * i + b) % m; }
static uint64_t coprime_mult(gz_rng *r, uint64_t m) { /* odd, not a multiple of 5: coprime with 10^k */
  for (;;) {
    uint64_t a = (gz_rng_u64(r) % (m - 1)) | 1;
    if (a % 5) return a;
  }
}

static int build_population(const gz_synth_opts *o, synth_pop *P, gz_err *e) {
  gz_rng r;
  gz_rng_init(&r, o->seed, synth_stream(SS_IDS, 0));
  uint64_t sa = coprime_mult(&r, 10000000), sb = gz_rng_u64(&r) % 10000000;
  uint64_t ta = coprime_mult(&r, 10000000), tb = gz_rng_u64(&r) % 10000000;
  uint64_t ra = coprime_mult(&r, 1000000), rb = gz_rng_u64(&r) % 1000000;
  gz_rng_init(&r, o->seed, synth_stream(SS_POPULATION, 0));
  P->nstudies = o->n_studies;
  P->studies = gz_calloc((size_t)P->nstudies, sizeof(synth_study), e);
  P->images = gz_calloc((size_t)P->nstudies * 3, sizeof(synth_image), e);
  if (!P->studies || !P->images) return -1;
  int subj = -1, left = 0, nimg = 0, split = 0;
  uint32_t date = 0;
  for (int i = 0; i < P->nstudies; i++) {
    synth_study *s = &P->studies[i];
    if (left == 0) { /* a new patient: 1 + geometric number of further studies */
      subj++;
      left = 1;
      double q = 1 - 1 / o->studies_per_subject;
      while (gz_rng_uniform_d(&r) < q && left < 40) left++;
      double u = gz_rng_uniform_d(&r);
      split = u < o->split_test ? 2 : u < o->split_test + o->split_validate ? 1 : 0;
      date = 21100101 + 10000 * gz_rng_below(&r, 90) + 100 * gz_rng_below(&r, 12) + gz_rng_below(&r, 28);
    }
    left--;
    s->subject = subj;
    s->subject_id = (uint32_t)(10000000 + affine_id((uint64_t)subj, sa, sb, 10000000));
    s->study_id = (uint32_t)(50000000 + affine_id((uint64_t)i, ta, tb, 10000000));
    s->split = split;
    s->date = date;
    date += 100 * (1 + gz_rng_below(&r, 3)); /* a later visit; month overflow is harmless for a fake date */
    if (date % 10000 / 100 > 12) date += 10000 - 1200;
    s->time = (double)(gz_rng_below(&r, 24) * 10000 + gz_rng_below(&r, 60) * 100 + gz_rng_below(&r, 60)) +
              (double)gz_rng_below(&r, 1000) / 1000.0;
    s->ap = gz_rng_uniform_d(&r) < o->ap_frac;
    gz_rng sr;
    gz_rng_init(&sr, o->seed, synth_stream(SS_STUDY, (uint64_t)i));
    synth_draw_findings(o, s, &sr);
    s->first_image = nimg;
    int nfront = 1 + (gz_rng_uniform_d(&r) < o->double_frontal_frac);
    int lateral = gz_rng_uniform_d(&r) < o->lateral_frac;
    for (int k = 0; k < nfront + lateral; k++) {
      synth_image *im = &P->images[nimg];
      im->study = i;
      im->view = k < nfront ? s->ap : (gz_rng_uniform(&r) < 0.1f ? 3 : 2);
      im->frontal_rank = k < nfront ? k : 0;
      double h = o->size * (1 + o->size_jitter * (2 * gz_rng_uniform_d(&r) - 1));
      im->h = (int)lround(h);
      im->w = (int)lround(h * gz_rng_range(&r, im->view == 1 ? 0.86 : 0.82, im->view == 1 ? 1.05 : 0.98));
      im->reading = -1;
      uint32_t g[5];
      for (int q = 0; q < 5; q++) g[q] = gz_rng_u32(&r);
      snprintf(im->dicom, sizeof im->dicom, "%08x-%08x-%08x-%08x-%08x", g[0], g[1], g[2], g[3], g[4]);
      nimg++;
    }
    s->nimages = nimg - s->first_image;
  }
  P->nimages = nimg;
  P->nsubjects = subj + 1;
  /* REFLACX: studies with exactly one frontal image; about 80 % from train+validate, 20 % from test,
   * drawn per image (spec 1.1) */
  int *pool[2], npool[2] = {0, 0}, at[2] = {0, 0};
  pool[0] = gz_malloc(sizeof(int) * (size_t)nimg + 1, e);
  pool[1] = gz_malloc(sizeof(int) * (size_t)nimg + 1, e);
  if (!pool[0] || !pool[1]) { free(pool[0]); free(pool[1]); return -1; }
  for (int i = 0; i < P->nstudies; i++) {
    synth_study *s = &P->studies[i];
    int nf = 0, fi = -1;
    for (int k = 0; k < s->nimages; k++)
      if (P->images[s->first_image + k].view < 2) { nf++; fi = s->first_image + k; }
    if (nf == 1) { int t = s->split == 2; pool[t][npool[t]++] = fi; }
  }
  gz_rng_shuffle(&r, pool[0], (size_t)npool[0]);
  gz_rng_shuffle(&r, pool[1], (size_t)npool[1]);
  if (o->n_readings > npool[0] + npool[1]) {
    free(pool[0]); free(pool[1]);
    return gz_fail(e, GZ_ERANGE, "--readings: %d readings need as many studies with one frontal image, but only %d exist; raise --images",
                   o->n_readings, npool[0] + npool[1]);
  }
  P->nreadings = o->n_readings;
  P->reading_image = gz_malloc(sizeof(int) * (size_t)(P->nreadings + 1), e);
  if (!P->reading_image) { free(pool[0]); free(pool[1]); return -1; }
  for (int k = 0; k < P->nreadings; k++) {
    int t = gz_rng_uniform_d(&r) < o->reflacx_test_frac;
    if (at[t] >= npool[t]) t = !t;
    int img = pool[t][at[t]++];
    P->reading_image[k] = img;
    P->images[img].reading = k;
  }
  free(pool[0]);
  free(pool[1]);
  P->reading_ids = gz_malloc(16 * (size_t)(P->nreadings + 1), e);
  if (!P->reading_ids) return -1;
  for (int k = 0; k < P->nreadings; k++)
    snprintf(P->reading_ids + 16 * k, 16, "P300R%06u", (unsigned)affine_id((uint64_t)k, ra, rb, 1000000));
  return 0;
}

static void pop_free(synth_pop *P) {
  free(P->studies); free(P->images); free(P->reading_image); free(P->reading_ids);
  if (P->readings)
    for (int k = 0; k < P->nreadings; k++) free(P->readings[k].fix);
  free(P->readings); free(P->img_info);
  memset(P, 0, sizeof *P);
}

/* ---------------------------------------------------------------- the per-image work */

static int do_image(const gz_synth_opts *o, synth_pop *P, const char *stage, int i, gz_err *e) {
  synth_image *im = &P->images[i];
  synth_study *s = &P->studies[im->study];
  synth_render rd;
  if (synth_render_image(o, s, im, (uint64_t)i, &rd, e)) return -1;
  char path[4200];
  snprintf(path, sizeof path, "%s/mimic/files/p%02u/p%08u/s%08u/%s.jpg", stage, s->subject_id / 1000000, s->subject_id,
           s->study_id, im->dicom);
  int rc = synth_write_jpeg(path, rd.pixels, rd.w, rd.h, o->jpeg_quality, e);
  synth_img_info *info = &P->img_info[i];
  if (im->view < 2) {
    for (int k = 0; k < s->nfind; k++) {
      info->fnparts[k] = rd.fnparts[k];
      info->farea[k] = rd.farea[k];
      for (int q = 0; q < 2; q++) info->fpart[k][q] = rd.fpart[k][q];
      if (!rc && o->write_masks) {
        snprintf(path, sizeof path, "%s/truth/masks/%s_%d.png", stage, im->dicom, k);
        rc = synth_write_mask_png(path, rd.mask[k], rd.rw, rd.rh, rd.w, rd.h, e);
      }
    }
  }
  if (!rc && im->reading >= 0) {
    synth_reading *R = &P->readings[im->reading];
    snprintf(R->id, sizeof R->id, "%s", P->reading_ids + 16 * im->reading);
    R->image = i;
    gz_rng rr;
    gz_rng_init(&rr, o->seed, synth_stream(SS_READING, (uint64_t)im->reading));
    R->lag_mean = o->lag_mean * gz_rng_range(&rr, 0.8, 1.2); /* readers differ (Ganapathi et al.) */
    R->lag_sd = o->lag_sd;
    synth_reader_perceive(s, &rd, im, R, &rr);
    synth_report_build(s, R, &rd, gz_rng_range(&rr, o->survey_min, o->survey_max), &rr);
    R->fix = gz_malloc(sizeof(synth_fix) * SYNTH_MAX_FIX, e);
    if (!R->fix) rc = -1;
    if (!rc) {
      synth_gaze_simulate(o, &rd, R, &rr);
      snprintf(path, sizeof path, "%s/reflacx/main_data/%s", stage, R->id);
      rc = synth_write_reading(path, R, e);
    }
    if (!rc && im->reading < o->examples) {
      snprintf(path, sizeof path, "%s/truth/examples/%s", stage, R->id);
      rc = synth_write_examples(path, &rd, R, e);
    }
    free(R->fix);
    R->fix = NULL;
  }
  synth_render_free(&rd);
  return rc;
}

int gz_synth_generate(const gz_synth_opts *o, gz_synth_summary *sum, gz_err *e) {
  if (gz_synth_check(o, e)) return -1;
  memset(sum, 0, sizeof *sum);
  double t0 = gz_now();
  if (gz_mkdir_p(o->out, e)) return -1;
  char stage[4200], path[4400];
  snprintf(stage, sizeof stage, "%s/.synth-partial", o->out);
  synth_rmtree(stage); /* a crashed earlier run */
  if (dir_nonempty(o->out) && !o->force)
    return gz_fail(e, GZ_EINVAL, "%s is not empty; use --force to replace its reflacx/, mimic/ and truth/", o->out);
  if (gz_mkdir_p(stage, e)) return -1;
  synth_pop P;
  memset(&P, 0, sizeof P);
  int rc = build_population(o, &P, e);
  if (!rc) {
    P.readings = gz_calloc((size_t)P.nreadings + 1, sizeof(synth_reading), e);
    P.img_info = gz_calloc((size_t)P.nimages, sizeof(synth_img_info), e);
    if (!P.readings || !P.img_info) rc = -1;
  }
  if (!rc) {
    snprintf(path, sizeof path, "%s/reflacx/main_data", stage);
    rc = gz_mkdir_p(path, e);
  }
  if (!rc) {
    gz_progress pg;
    gz_progress_start(&pg, "gazeloc-synth: images", P.nimages);
    if (!o->progress) pg.enabled = 0;
    int failed = 0, done = 0;
    gz_err first = {0};
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < P.nimages; i++) {
      int skip;
#pragma omp atomic read
      skip = failed;
      if (skip) continue;
      gz_err le = {0};
      if (do_image(o, &P, stage, i, &le)) {
#pragma omp critical(synth_err)
        if (!failed) { failed = 1; first = le; }
      }
#pragma omp atomic
      done++;
      if (omp_get_thread_num() == 0) {
        int d;
#pragma omp atomic read
        d = done;
        gz_progress_update(&pg, d, NULL);
      }
    }
    if (failed) {
      if (e) *e = first;
      rc = -1;
    } else {
      gz_progress_finish(&pg, NULL);
    }
  }
  if (!rc) rc = synth_write_tables(o, &P, stage, e);
  if (!rc) {
    sum->n_images = P.nimages;
    sum->n_studies = P.nstudies;
    sum->n_subjects = P.nsubjects;
    sum->n_readings = P.nreadings;
    for (int i = 0; i < P.nimages; i++) {
      if (P.images[i].view < 2) sum->n_frontal++;
      else sum->n_lateral++;
    }
    for (int k = 0; k < P.nreadings; k++) { sum->n_fixations += P.readings[k].nfix; sum->n_words += P.readings[k].nwords; }
  }
  if (!rc && o->calibrate && P.nreadings > 0) {
    rc = gz_synth_calibrate(stage, 96, &sum->calib, e);
    if (!rc) rc = synth_write_calibration(stage, &sum->calib, e);
  }
  pop_free(&P);
  /* move into place */
  static const char *parts[3] = {"reflacx", "mimic", "truth"};
  for (int k = 0; k < 3 && !rc; k++) {
    char src[4400], dst[4400];
    snprintf(src, sizeof src, "%s/%s", stage, parts[k]);
    snprintf(dst, sizeof dst, "%s/%s", o->out, parts[k]);
    if (synth_rmtree(dst)) rc = gz_fail_errno(e, "cannot remove the old %s", dst);
    else if (gz_is_dir(src) && rename(src, dst)) rc = gz_fail_errno(e, "cannot move %s to %s", src, dst);
  }
  synth_rmtree(stage);
  sum->seconds = gz_now() - t0;
  return rc;
}
