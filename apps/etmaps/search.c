/* --search: the paper's section 2.8 window-strategy search (src/test_generated_heatmaps.py). Each strategy's
 * label maps are compared with the ellipse masks (certainty >= 3) at 512x512: per label and threshold, the mean
 * IoU over the readings whose ellipses hold that label (a label without a map counts as an empty prediction);
 * the best threshold is chosen per label (get_best_threshold_per_label.py) and the score is the mean over
 * labels with at least one positive. Stage 1: every start rule x end rule, delays 2.5/5/7.5 s for the delayed
 * start rules; stage 2: delays 0.5..5 s (step 0.5; 2.5 and 5 s are not rerun) for the best delayed stage-1 rule
 * pair. Only the windows of sentences that mention an ellipse label of the reading are drawn. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "apps/etmaps/etmaps.h"
#include "eval/eval.h"

#define NTHR GZ_N_THRESHOLDS
#define THRESHOLDS gz_thresholds /* the authors' 26 candidates (eval/) */

/* IoU of (map > t) against the mask for all 26 thresholds in one pass: each pixel falls into the bucket of
 * how many thresholds it exceeds. */
static void iou_all(const float *map, const float *mask, size_t n, float *out) {
  size_t in[NTHR + 1] = {0}, all[NTHR + 1] = {0}, gt = 0;
  for (size_t i = 0; i < n; i++) {
    int g = mask[i] > 0.5f;
    gt += (size_t)g;
    float v = map[i];
    if (!(v > 0.0f)) continue; /* exceeds no threshold (the lowest is 0) */
    int c = 1;
    while (c < NTHR && v > THRESHOLDS[c]) c++;
    all[c]++;
    in[c] += (size_t)g;
  }
  size_t inter = 0, pred = 0;
  for (int t = NTHR - 1; t >= 0; t--) {
    inter += in[t + 1];
    pred += all[t + 1];
    size_t uni = pred + gt - inter;
    out[t] = uni ? (float)((double)inter / (double)uni) : 0.0f;
  }
}

typedef struct result {
  gz_strategy st;
  int stage, order;
  double score;
  double label_iou[GZ_NLABELS];
  int label_thr[GZ_NLABELS];
  int positives[GZ_NLABELS];
} result;

/* Per reading: its positive labels and, per strategy, their IoU at each threshold. */
typedef struct per_reading {
  unsigned positive;
  int ok;
  float *iou; /* nstrat x popcount(positive) x NTHR */
} per_reading;

static int evaluate(const et_opts *o, const et_set *s, const gz_labels_file *lf, const gz_strategy *st, int nst,
                    per_reading *pr, int *skipped) {
  int sk = 0, done = 0;
  gz_progress prog;
  gz_progress_start(&prog, "search", s->n);
  prog.enabled = prog.enabled && !o->quiet;
#pragma omp parallel reduction(+ : sk)
  {
    size_t n = (size_t)o->size * o->size;
    float *masks = malloc(sizeof *masks * n * GZ_NLABELS);
    gz_label_maps lm = {0};
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < s->n; i++) {
      gz_err e = {0};
      gz_reading rd;
      gz_prepared p = {0};
      per_reading *r = &pr[i];
      r->ok = 0;
      int rc = gz_reading_load(o->dir, s->rows[i], &rd, &e);
      if (rc) {
        if (rc < 0) gz_warn("skipping %s: %s", s->rows[i]->id, e.msg);
        sk++;
        continue;
      }
      const gz_mention *m;
      int nm;
      if ((rc = et_mentions(lf, &rd, &m, &nm, &e))) {
        if (rc < 0) gz_warn("skipping %s: %s", rd.id, e.msg);
        else gz_warn("skipping %s: no row in %s", rd.id, o->labels);
        sk++;
        gz_reading_free(&rd);
        continue;
      }
      if (!masks || gz_prepare(&rd, o->size, &o->heat, &p, &e) ||
          gz_ellipse_masks(rd.ell, rd.nell, rd.width, rd.height, &p.g, 3, masks, &r->positive, &e))
        goto fail;
      int npos = __builtin_popcount(r->positive);
      free(r->iou);
      r->iou = calloc((size_t)nst * (size_t)(npos ? npos : 1) * NTHR, sizeof *r->iou);
      if (!r->iou) {
        gz_fail(&e, GZ_ENOMEM, "out of memory");
        goto fail;
      }
      for (int k = 0; k < nst; k++) {
        if (!r->positive) break; /* no ellipse label: nothing to score */
        if (gz_label_maps_compute_some(&p, m, nm, &st[k], r->positive, &lm, &e)) goto fail;
        int j = 0;
        for (int l = 0; l < GZ_NLABELS; l++) {
          if (!(r->positive >> l & 1)) continue;
          iou_all(lm.maps + n * l, masks + n * l, n, r->iou + ((size_t)k * npos + j) * NTHR);
          j++;
        }
      }
      r->ok = 1;
      goto next;
    fail:
      gz_warn("skipping %s: %s", rd.id, e.msg);
      sk++;
    next:
      gz_prepared_free(&p);
      gz_reading_free(&rd);
#pragma omp critical(search_progress)
      gz_progress_update(&prog, ++done, NULL);
    }
    gz_label_maps_free(&lm);
    free(masks);
  }
  gz_progress_finish(&prog, NULL);
  *skipped = sk;
  return 0;
}

/* Sums in reading order (deterministic whatever the thread count), best threshold per label. */
static void score(const et_set *s, const per_reading *pr, int nst, int k, result *res) {
  double sum[GZ_NLABELS][NTHR] = {{0}};
  memset(res->positives, 0, sizeof res->positives);
  for (int i = 0; i < s->n; i++) {
    if (!pr[i].ok) continue;
    int npos = __builtin_popcount(pr[i].positive), j = 0;
    (void)nst;
    for (int l = 0; l < GZ_NLABELS; l++) {
      if (!(pr[i].positive >> l & 1)) continue;
      const float *v = pr[i].iou + ((size_t)k * npos + j) * NTHR;
      for (int t = 0; t < NTHR; t++) sum[l][t] += v[t];
      res->positives[l]++;
      j++;
    }
  }
  double total = 0;
  int labels = 0;
  for (int l = 0; l < GZ_NLABELS; l++) {
    res->label_iou[l] = 0;
    res->label_thr[l] = -1;
    if (!res->positives[l]) continue;
    int best = 0;
    for (int t = 1; t < NTHR; t++)
      if (sum[l][t] > sum[l][best]) best = t;
    res->label_iou[l] = sum[l][best] / res->positives[l];
    res->label_thr[l] = best;
    total += res->label_iou[l];
    labels++;
  }
  res->score = labels ? total / labels : 0;
}

static int run_stage(const et_opts *o, const et_set *s, const gz_labels_file *lf, const gz_strategy *st, int nst,
                     int stage, result *out, gz_err *e) {
  per_reading *pr = calloc((size_t)(s->n ? s->n : 1), sizeof *pr);
  if (!pr) return gz_fail(e, GZ_ENOMEM, "out of memory");
  int skipped;
  evaluate(o, s, lf, st, nst, pr, &skipped);
  int used = 0;
  for (int i = 0; i < s->n; i++) used += pr[i].ok;
  gz_info("stage %d: %d strategies on %d readings (%d skipped)", stage, nst, used, skipped);
  for (int k = 0; k < nst; k++) {
    out[k].st = st[k];
    out[k].stage = stage;
    out[k].order = (stage - 1) * 1000 + k;
    score(s, pr, nst, k, &out[k]);
  }
  for (int i = 0; i < s->n; i++) free(pr[i].iou);
  free(pr);
  if (!used) return gz_fail(e, GZ_EINVAL, "no reading could be evaluated (see the warnings above)");
  return 0;
}

static int by_score(const void *a, const void *b) {
  const result *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return x->order - y->order; /* ties: the order of the lists (stage 1 first) */
}

int et_search(const et_opts *o, const et_set *s, const gz_labels_file *lf, gz_err *e) {
  gz_strategy st1[GZ_NSTART_RULES * GZ_NEND_RULES * 3];
  int n1 = 0;
  const double delays1[3] = {2.5, 5.0, 7.5};
  for (int a = 0; a < GZ_NSTART_RULES; a++)
    for (int b = 0; b < GZ_NEND_RULES; b++) {
      if (a <= GZ_START_MENTION)
        for (int d = 0; d < 3; d++) st1[n1++] = (gz_strategy){a, b, delays1[d]};
      else
        st1[n1++] = (gz_strategy){a, b, 0};
    }
  result *res = calloc((size_t)n1 + 10, sizeof *res);
  if (!res) return gz_fail(e, GZ_ENOMEM, "out of memory");
  int rc = -1;
  if (run_stage(o, s, lf, st1, n1, 1, res, e)) goto out;
  int best = -1;
  for (int k = 0; k < n1; k++) {
    if (res[k].st.start_rule > GZ_START_MENTION) continue;
    if (o->refine_start >= 0 && (res[k].st.start_rule != o->refine_start || res[k].st.end_rule != o->refine_end))
      continue;
    if (best < 0 || res[k].score > res[best].score) best = k;
  }
  gz_strategy st2[10];
  int n2 = 0;
  for (int d = 1; d <= 10; d++) /* 0.5 .. 5 s; 2.5 and 5 s were stage 1 */
    if (d != 5 && d != 10) st2[n2++] = (gz_strategy){res[best].st.start_rule, res[best].st.end_rule, 0.5 * d};
  if (run_stage(o, s, lf, st2, n2, 2, res + n1, e)) goto out;
  int nr = n1 + n2;
  qsort(res, (size_t)nr, sizeof *res, by_score);
  char path[4200];
  if (o->search_csv) snprintf(path, sizeof path, "%s", o->search_csv);
  else snprintf(path, sizeof path, "%s/search.csv", o->out);
  gz_afile af;
  if (gz_afile_open(&af, path, e)) goto out;
  gz_csvw w;
  gz_csvw_init(&w, af.f, 0);
  gz_csvw_field(&w, "rank");
  gz_csvw_field(&w, "strategy");
  gz_csvw_field(&w, "stage");
  gz_csvw_field(&w, "mean_iou");
  for (int l = 0; l < GZ_NLABELS; l++) {
    char slug[64];
    et_label_slug(l, slug, sizeof slug);
    gz_csvw_fieldf(&w, "iou_%s", slug);
    gz_csvw_fieldf(&w, "threshold_%s", slug);
    gz_csvw_fieldf(&w, "positives_%s", slug);
  }
  gz_csvw_end(&w);
  printf("%-5s %-42s %-5s %s\n", "rank", "strategy", "stage", "mean IoU (best threshold per label)");
  for (int k = 0; k < nr; k++) {
    char name[128];
    gz_strategy_format(&res[k].st, name, sizeof name);
    printf("%-5d %-42s %-5d %.4f\n", k + 1, name, res[k].stage, res[k].score);
    gz_csvw_fieldf(&w, "%d", k + 1);
    gz_csvw_field(&w, name);
    gz_csvw_fieldf(&w, "%d", res[k].stage);
    gz_csvw_fieldf(&w, "%.6f", res[k].score);
    for (int l = 0; l < GZ_NLABELS; l++) {
      if (res[k].positives[l]) {
        gz_csvw_fieldf(&w, "%.6f", res[k].label_iou[l]);
        gz_csvw_fieldf(&w, "%g", (double)THRESHOLDS[res[k].label_thr[l]]);
      } else {
        gz_csvw_field(&w, "");
        gz_csvw_field(&w, "");
      }
      gz_csvw_fieldf(&w, "%d", res[k].positives[l]);
    }
    gz_csvw_end(&w);
  }
  if (gz_afile_commit(&af, e)) goto out;
  printf("gazeloc-etmaps: search table written to %s\n", path);
  rc = 0;
out:
  free(res);
  return rc;
}
