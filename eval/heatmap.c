/* Heatmaps scored for IoU (spec method.md section 6): nearest upscaling, GradCAM from activations and their
 * gradients, and per-label IoU at all 26 candidate thresholds in one pass over the pixels. */
#include "eval/eval.h"

#include <math.h>
#include <string.h>

/* PyTorch's legacy 'nearest': src = floor(dst * in / out), computed in integers (exact for any sizes). */
void gz_upscale_nearest(const float *in, int ih, int iw, int oh, int ow, float *out) {
  for (int y = 0; y < oh; y++) {
    const float *row = in + (size_t)((int64_t)y * ih / oh) * iw;
    float *o = out + (size_t)y * ow;
    for (int x = 0; x < ow; x++) o[x] = row[(int64_t)x * iw / ow];
  }
}

void gz_sigmoid_map(const float *z, size_t n, float *out) {
  for (size_t i = 0; i < n; i++) out[i] = (float)(1.0 / (1.0 + exp(-(double)z[i])));
}

/* gradcam.get_cam: alpha_c = sum over (u,v) of dC_k/dA_c (a sum, not the usual mean), cam = ReLU(sum_c
 * alpha_c A_c), divided by its max + 1e-20 (so an all-zero map stays zero). */
void gz_gradcam(const float *act, const float *grad, int channels, int hw, float *cam) {
  memset(cam, 0, (size_t)hw * sizeof *cam);
  for (int c = 0; c < channels; c++) {
    const float *a = act + (size_t)c * hw, *g = grad + (size_t)c * hw;
    double alpha = 0;
    for (int i = 0; i < hw; i++) alpha += g[i];
    for (int i = 0; i < hw; i++) cam[i] += (float)alpha * a[i];
  }
  float mx = 0;
  for (int i = 0; i < hw; i++) {
    if (cam[i] < 0) cam[i] = 0;
    if (cam[i] > mx) mx = cam[i];
  }
  for (int i = 0; i < hw; i++) cam[i] = cam[i] / (mx + 1e-20f);
}

/* Number of candidate thresholds strictly below v: pixel v is predicted at threshold t iff t < that count. */
static int thr_bucket(float v) {
  int lo = 0, hi = GZ_N_THRESHOLDS; /* first index with thr >= v */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (gz_thresholds[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

void gz_iou_all_thresholds(const float *map, const float *mask, size_t n, double iou[GZ_N_THRESHOLDS]) {
  long pred_hist[GZ_N_THRESHOLDS + 1] = {0}, inter_hist[GZ_N_THRESHOLDS + 1] = {0};
  long nmask = 0;
  for (size_t i = 0; i < n; i++) {
    int b = thr_bucket(map[i]);
    int m = mask[i] > 0.5f;
    pred_hist[b]++, inter_hist[b] += m, nmask += m;
  }
  /* predicted at t: buckets b > t; accumulate from the top */
  long pred = 0, inter = 0;
  for (int t = GZ_N_THRESHOLDS - 1; t >= 0; t--) {
    pred += pred_hist[t + 1], inter += inter_hist[t + 1];
    long uni = pred + nmask - inter;
    iou[t] = uni > 0 ? (double)inter / (double)uni : 0.0;
  }
}

void gz_iou_acc_reset(gz_iou_acc *a) { memset(a, 0, sizeof *a); }

void gz_iou_acc_add(gz_iou_acc *a, int label, const float *map, const float *mask, size_t n) {
  double iou[GZ_N_THRESHOLDS];
  gz_iou_all_thresholds(map, mask, n, iou);
  for (int t = 0; t < GZ_N_THRESHOLDS; t++) a->sum[label][t] += iou[t];
  a->count[label]++;
}

void gz_iou_acc_result(const gz_iou_acc *a, double out[GZ_NLABELS][GZ_N_THRESHOLDS]) {
  for (int k = 0; k < GZ_NLABELS; k++)
    for (int t = 0; t < GZ_N_THRESHOLDS; t++) out[k][t] = a->count[k] ? a->sum[k][t] / a->count[k] : NAN;
}
