/* The paper's metrics (spec method.md section 6), each checked against sklearn / numpy in tests/eval. */
#include "eval/eval.h"

#include <math.h>
#include <stdlib.h>

const float gz_thresholds[GZ_N_THRESHOLDS] = {0.0f,  0.001f, 0.01f, 0.025f, 0.05f, 0.1f,  0.15f, 0.2f,  0.25f,
                                              0.3f,  0.35f,  0.4f,  0.45f,  0.5f,  0.55f, 0.6f,  0.65f, 0.7f,
                                              0.75f, 0.8f,   0.85f, 0.9f,   0.95f, 0.975f, 0.99f, 0.999f};

/* work holds (score, label) pairs sorted by score; ties share their average rank. */
static int cmp_pair(const void *a, const void *b) {
  double x = ((const double *)a)[0], y = ((const double *)b)[0];
  return (x > y) - (x < y);
}

/* AUC as the Mann-Whitney statistic: (sum of positive ranks - P(P+1)/2) / (P N), with average ranks for ties,
 * which equals the trapezoidal area under the ROC curve that sklearn computes. */
int gz_auc(const float *score, const unsigned char *label, size_t n, double *work, double *auc, gz_err *e) {
  size_t pos = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(score[i])) return gz_fail(e, GZ_EINVAL, "AUC: score %zu is not a finite number", i);
    work[2 * i] = score[i];
    work[2 * i + 1] = label[i] ? 1.0 : 0.0;
    pos += label[i] != 0;
  }
  size_t neg = n - pos;
  if (pos == 0 || neg == 0)
    return gz_fail(e, GZ_EINVAL, "AUC is undefined: %zu positive and %zu negative cases", pos, neg);
  qsort(work, n, 2 * sizeof(double), cmp_pair);
  double rank_sum = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    double npos = 0;
    while (j < n && work[2 * j] == work[2 * i]) npos += work[2 * j + 1], j++;
    double avg_rank = 0.5 * (double)(i + 1 + j); /* ranks i+1 .. j */
    rank_sum += npos * avg_rank;
    i = j;
  }
  *auc = (rank_sum - 0.5 * (double)pos * (double)(pos + 1)) / ((double)pos * (double)neg);
  return 0;
}

/* First index of the maximum of the seed-averaged IoU (numpy.argmax: ties go to the lowest threshold).
 * v[s * stride + t]. */
static int best_strided(const double *v, int n_seeds, size_t stride, int n_thr) {
  int best = 0;
  double best_v = -INFINITY;
  for (int t = 0; t < n_thr; t++) {
    double m = 0;
    for (int s = 0; s < n_seeds; s++) m += v[(size_t)s * stride + (size_t)t];
    m /= n_seeds;
    if (m > best_v) best_v = m, best = t;
  }
  return best;
}

int gz_best_threshold(const double *val_iou, int n_seeds, int n_thr) {
  return best_strided(val_iou, n_seeds, (size_t)n_thr, n_thr);
}

void gz_select_thresholds(const double *val, const double *test, int n_seeds, int best[GZ_NLABELS], double *at_best) {
  const size_t seed_stride = (size_t)GZ_NLABELS * GZ_N_THRESHOLDS;
  for (int k = 0; k < GZ_NLABELS; k++) {
    const double *vk = val + (size_t)k * GZ_N_THRESHOLDS;
    int defined = 1;
    for (int s = 0; s < n_seeds; s++)
      for (int t = 0; t < GZ_N_THRESHOLDS; t++) defined &= !isnan(vk[(size_t)s * seed_stride + (size_t)t]);
    best[k] = defined ? best_strided(vk, n_seeds, seed_stride, GZ_N_THRESHOLDS) : -1;
    for (int s = 0; s < n_seeds; s++)
      at_best[s * GZ_NLABELS + k] =
          best[k] < 0 ? NAN : test[(size_t)s * seed_stride + (size_t)k * GZ_N_THRESHOLDS + (size_t)best[k]];
  }
}

void gz_mean_ci95(const double *x, int n, double *mean, double *half_width) {
  double m = 0, v = 0;
  for (int i = 0; i < n; i++) m += x[i];
  m /= n;
  for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  *mean = m;
  *half_width = 1.96 * sqrt(v / n) / sqrt((double)n);
}

double gz_mean_over_labels(const double *per_label, int n_labels) {
  double s = 0;
  int k = 0;
  for (int i = 0; i < n_labels; i++)
    if (!isnan(per_label[i])) s += per_label[i], k++;
  return k ? s / k : NAN;
}
