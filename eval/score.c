/* Scoring a trained model (method.md section 6): AUC from C_k on a MIMIC list, and the three heatmap kinds
 * on a REFLACX list (sigmoid(gamma), sigmoid(decoder logits), GradCAM), nearest-upscaled to S x S and scored
 * against the ellipse masks at the 26 thresholds. Batch norm runs in eval mode throughout. */
#include "eval/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const gz_heat_names[GZ_N_HEAT] = {"activations", "decoder", "gradcam"};

static gz_value *wrap_input(gz_tape *t, const gz_batch *b, gz_err *e) {
  gz_tensor x;
  if (gz_tensor_wrap4(&x, b->x, b->n, 3, b->size, b->size, e)) return NULL;
  return gz_tape_wrap(t, &x, 0, e);
}

int gz_score_auc(gz_paper *net, gz_tape *t, const gz_dataset *d, const gz_sample_list *list, int batch, int threads,
                 double per_label[GZ_NLABELS], double *mean, gz_err *e) {
  int n = list->n;
  float *score = malloc((size_t)n * GZ_NLABELS * sizeof *score), *sk = malloc((size_t)n * sizeof *sk);
  unsigned char *lab = malloc((size_t)n * GZ_NLABELS), *lk = malloc((size_t)n);
  double *work = malloc(2 * (size_t)n * sizeof *work);
  int rc = -1, got = 0, lrc = 0, prev = gz_tape_set_grad(t, 0);
  if (!score || !lab || !sk || !lk || !work) {
    gz_fail(e, GZ_ENOMEM, "AUC: out of memory for %d samples", n);
    goto out;
  }
  gz_loader ld;
  if (gz_loader_start(&ld, d, list, batch, 0, 0, 0, 0, 0, threads, 0, e)) goto out;
  const gz_batch *b;
  while ((b = gz_loader_next(&ld, &lrc, e))) {
    gz_tape_reset(t);
    gz_value *x = wrap_input(t, b, e);
    gz_paper_out o;
    if (!x || gz_paper_forward(net, t, x, 0, &o, e)) {
      gz_loader_stop(&ld);
      goto out;
    }
    int g2 = (int)(o.gamma->data.shape[2] * o.gamma->data.shape[3]);
    gz_mil_ck(o.gamma->data.data, b->n, GZ_NLABELS, g2, GZ_CK_FIXED, score + (size_t)got * GZ_NLABELS);
    for (int i = 0; i < b->n * GZ_NLABELS; i++) lab[(size_t)got * GZ_NLABELS + i] = b->y[i] > 0.5f;
    got += b->n;
  }
  gz_loader_stop(&ld);
  if (lrc) goto out;
  for (int k = 0; k < GZ_NLABELS; k++) {
    for (int i = 0; i < got; i++) sk[i] = score[(size_t)i * GZ_NLABELS + k], lk[i] = lab[(size_t)i * GZ_NLABELS + k];
    gz_err undefined = {0};
    if (gz_auc(sk, lk, (size_t)got, work, &per_label[k], &undefined)) per_label[k] = NAN; /* one class absent */
  }
  *mean = gz_mean_over_labels(per_label, GZ_NLABELS);
  rc = 0;
out:
  gz_tape_reset(t);
  gz_tape_set_grad(t, prev);
  free(score), free(lab), free(sk), free(lk), free(work);
  return rc;
}

int gz_score_heatmaps(gz_paper *net, gz_tape *t, const gz_batch *b, const unsigned char *need, unsigned kinds,
                      float *maps[GZ_N_HEAT], gz_err *e) {
  const int S = b->size, nb = b->n;
  const size_t plane = (size_t)S * S;
  int prev = gz_tape_set_grad(t, (kinds & GZ_HEAT_CAM_BACKPROP) != 0), rc = -1;
  float *seed = NULL, *cam = NULL, *small = NULL;
  gz_tape_reset(t);
  gz_value *x = wrap_input(t, b, e);
  gz_paper_out o;
  if (!x || gz_paper_forward(net, t, x, 0, &o, e)) goto out;
  const int G = (int)o.gamma->data.shape[2], G2 = G * G;
  small = malloc(((size_t)8 * G) * (8 * G) * sizeof *small);
  if (!small) { gz_fail(e, GZ_ENOMEM, "heatmaps: out of memory"); goto out; }
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < GZ_NLABELS; k++) {
      if (need && !need[i * GZ_NLABELS + k]) continue;
      size_t ik = (size_t)i * GZ_NLABELS + k;
      if (kinds & (1u << GZ_HEAT_ACT)) { /* (a) sigmoid(gamma), G -> S */
        gz_sigmoid_map(o.gamma->data.data + ik * G2, (size_t)G2, small);
        gz_upscale_nearest(small, G, G, S, S, maps[GZ_HEAT_ACT] + ik * plane);
      }
      if ((kinds & (1u << GZ_HEAT_UNET)) && o.dec) { /* (b) sigmoid(decoder logits), S/2 -> S */
        int D = (int)o.dec->data.shape[2];
        gz_sigmoid_map(o.dec->data.data + ik * (size_t)D * D, (size_t)D * D, small);
        gz_upscale_nearest(small, D, D, S, S, maps[GZ_HEAT_UNET] + ik * plane);
      }
    }
  if ((kinds & (1u << GZ_HEAT_CAM)) && !(kinds & GZ_HEAT_CAM_BACKPROP)) {
    /* (c) GradCAM through the head alone. gamma = W A + b is Block 5's 1x1 classifier and C_k of image i
     * depends only on gamma_k of image i (BN in eval mode), so dC_k/dA_c(u,v) = W[k,c] dC_k/dgamma_k(u,v):
     * one backward of sum(C) through the C_k op gives every dC_k/dgamma_k, and the chain rule through the
     * 1x1 convolution is applied here. The same gradient as backpropagating through the network
     * (GZ_HEAT_CAM_BACKPROP, the reference the tests compare with), at a fraction of the cost. */
    const int C = (int)o.act->data.shape[1];
    const float *w = net->b5_cls.w.data.data; /* [10, C, 1, 1] */
    gz_tape_set_grad(t, 1);
    gz_value *gl = gz_tape_wrap(t, &o.gamma->data, 1, e);
    gz_value *ck = gl ? gz_ag_ck(t, gl, GZ_CK_FIXED, e) : NULL;
    seed = malloc((size_t)nb * GZ_NLABELS * sizeof *seed);
    cam = malloc((size_t)G2 * sizeof *cam);
    float *grad = malloc((size_t)C * G2 * sizeof *grad);
    if (!ck || !seed || !cam || !grad) {
      free(grad);
      if (ck) gz_fail(e, GZ_ENOMEM, "GradCAM: out of memory");
      goto out;
    }
    for (int i = 0; i < nb * GZ_NLABELS; i++) seed[i] = 1;
    if (gz_tape_backward(t, ck, seed, e) || !gl->grad.data) {
      if (!gl->grad.data) gz_fail(e, GZ_EINVAL, "GradCAM: no gradient reached gamma");
      free(grad);
      goto out;
    }
    for (int i = 0; i < nb; i++)
      for (int k = 0; k < GZ_NLABELS; k++) {
        if (need && !need[i * GZ_NLABELS + k]) continue;
        const float *g = gl->grad.data + ((size_t)i * GZ_NLABELS + k) * G2;
        for (int c = 0; c < C; c++)
          for (int j = 0; j < G2; j++) grad[(size_t)c * G2 + j] = w[(size_t)k * C + c] * g[j];
        gz_gradcam(o.act->data.data + (size_t)i * C * G2, grad, C, G2, cam);
        gz_upscale_nearest(cam, G, G, S, S, maps[GZ_HEAT_CAM] + ((size_t)i * GZ_NLABELS + k) * plane);
      }
    free(grad);
  }
  if ((kinds & (1u << GZ_HEAT_CAM)) && (kinds & GZ_HEAT_CAM_BACKPROP)) {
    /* GradCAM by backpropagating sum_batch C_k through the whole network, once per label (gradcam.py) */
    const int C = (int)o.act->data.shape[1];
    o.act->retain_grad = 1;
    gz_value *ck = gz_ag_ck(t, o.gamma, GZ_CK_FIXED, e);
    seed = calloc((size_t)nb * GZ_NLABELS, sizeof *seed);
    cam = malloc((size_t)G2 * sizeof *cam);
    if (!ck || !seed || !cam) {
      if (ck) gz_fail(e, GZ_ENOMEM, "GradCAM: out of memory");
      goto out;
    }
    for (int k = 0; k < GZ_NLABELS; k++) {
      int any = 0;
      for (int i = 0; i < nb; i++) any |= !need || need[i * GZ_NLABELS + k];
      if (!any) continue;
      for (int i = 0; i < nb; i++) seed[i * GZ_NLABELS + k] = 1;
      gz_tape_zero_grads(t);
      int brc = gz_tape_backward(t, ck, seed, e);
      for (int i = 0; i < nb; i++) seed[i * GZ_NLABELS + k] = 0;
      if (brc) goto out;
      if (!o.act->grad.data) { gz_fail(e, GZ_EINVAL, "GradCAM: no gradient reached the Block-5 activations"); goto out; }
      for (int i = 0; i < nb; i++) {
        if (need && !need[i * GZ_NLABELS + k]) continue;
        gz_gradcam(o.act->data.data + (size_t)i * C * G2, o.act->grad.data + (size_t)i * C * G2, C, G2, cam);
        gz_upscale_nearest(cam, G, G, S, S, maps[GZ_HEAT_CAM] + ((size_t)i * GZ_NLABELS + k) * plane);
      }
    }
  }
  rc = 0;
out:
  free(seed), free(cam), free(small);
  gz_tape_reset(t);
  gz_tape_set_grad(t, prev);
  return rc;
}

int gz_score_iou(gz_paper *net, gz_tape *t, const gz_dataset *d, const gz_sample_list *list, int batch, int threads,
                 unsigned kinds, gz_iou_acc acc[GZ_N_HEAT], gz_err *e) {
  const int S = d->o.size;
  const size_t plane = (size_t)S * S;
  for (int h = 0; h < GZ_N_HEAT; h++) gz_iou_acc_reset(&acc[h]);
  float *maps[GZ_N_HEAT] = {0};
  for (int h = 0; h < GZ_N_HEAT; h++)
    if ((kinds >> h) & 1u && !(maps[h] = malloc((size_t)batch * GZ_NLABELS * plane * sizeof(float)))) {
      for (int j = 0; j < h; j++) free(maps[j]);
      return gz_fail(e, GZ_ENOMEM, "IoU: out of memory for the heatmaps of a batch of %d at %d px", batch, S);
    }
  gz_loader ld;
  int rc = -1, lrc = 0;
  if (gz_loader_start(&ld, d, list, batch, 0, 0, 0, 0, 0, threads, 1, e)) goto out;
  const gz_batch *b;
  while ((b = gz_loader_next(&ld, &lrc, e))) {
    if (gz_score_heatmaps(net, t, b, b->gt, kinds, maps, e)) {
      gz_loader_stop(&ld);
      goto out;
    }
    for (int i = 0; i < b->n; i++)
      for (int k = 0; k < GZ_NLABELS; k++) {
        size_t ik = (size_t)i * GZ_NLABELS + k;
        if (!b->gt[ik]) continue; /* per-label IoU over images whose ellipse label is positive */
        for (int h = 0; h < GZ_N_HEAT; h++)
          if ((kinds >> h) & 1u) gz_iou_acc_add(&acc[h], k, maps[h] + ik * plane, b->masks + ik * plane, plane);
      }
  }
  gz_loader_stop(&ld);
  rc = lrc ? -1 : 0;
out:
  for (int h = 0; h < GZ_N_HEAT; h++) free(maps[h]);
  return rc;
}
