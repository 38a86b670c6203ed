/* Scoring one trained run: its best checkpoint, MIMIC test AUC, REFLACX validation and test IoU of each heatmap
 * kind at the 26 thresholds, and overlay pictures of a few test images. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evalapp.h"

static const float mean_rgb0 = 0.485f, std_rgb0 = 0.229f; /* channel 0: the loader's ImageNet statistics */

static int open_dataset(eval_ctx *c, int size, gz_err *e) {
  if (c->ds_size == size) return 0;
  if (c->ds_size) gz_dataset_close(&c->ds), c->ds_size = 0;
  gz_data_opts o;
  gz_data_opts_default(&o);
  /* the ellipse method's lists: REFLACX readings with their ellipse masks and labels (the IoU ground truth);
   * the MIMIC lists do not depend on the method */
  o.mimic_root = c->mimic, o.reflacx_main = c->reflacx, o.cache_dir = c->cache, o.size = size;
  o.method = GZ_METHOD_ELLIPSE, o.val_subjects = c->val_subjects, o.n_val_subjects = c->n_val_subjects;
  if (gz_dataset_open(&c->ds, &o, e) || gz_dataset_cache(&c->ds, e)) return -1;
  c->ds_size = size;
  return 0;
}

/* Overlays of the reported heatmap kind and the ellipses for up to c->overlays random test images. */
static int draw_overlays(eval_ctx *c, gz_paper *net, gz_tape *t, const run_result *r, unsigned kind, gz_err *e) {
  const gz_sample_list *test = &c->ds.test_reflacx;
  int n = c->overlays < test->n ? c->overlays : test->n;
  if (n <= 0) return 0;
  gz_sample pick[64];
  if (n > 64) n = 64;
  gz_rng rng;
  gz_rng_init(&rng, 1, 0); /* the same images for every method */
  int *idx = malloc((size_t)test->n * sizeof *idx);
  if (!idx) return gz_fail(e, GZ_ENOMEM, "overlays: out of memory");
  for (int i = 0; i < test->n; i++) idx[i] = i;
  gz_rng_shuffle(&rng, idx, (size_t)test->n);
  for (int i = 0; i < n; i++) pick[i] = test->s[idx[i]];
  free(idx);
  gz_sample_list list = {pick, n};
  const int S = c->ds.o.size;
  const size_t plane = (size_t)S * S;
  float *maps[GZ_N_HEAT] = {0}, *gray = malloc(plane * sizeof *gray);
  maps[kind] = malloc((size_t)n * GZ_NLABELS * plane * sizeof(float));
  int rc = -1, lrc = 0;
  if (!maps[kind] || !gray) {
    gz_fail(e, GZ_ENOMEM, "overlays: out of memory");
    goto out;
  }
  char dir[1200];
  snprintf(dir, sizeof dir, "%s/overlays", c->out);
  if (gz_mkdir_p(dir, e)) goto out;
  gz_loader ld;
  if (gz_loader_start(&ld, &c->ds, &list, n, 0, 0, 0, 0, 0, 1, 1, e)) goto out;
  const gz_batch *b = gz_loader_next(&ld, &lrc, e);
  if (!b || gz_score_heatmaps(net, t, b, b->gt, 1u << kind, maps, e)) {
    gz_loader_stop(&ld);
    if (!b && !lrc) gz_fail(e, GZ_EINVAL, "overlays: no batch");
    goto out;
  }
  int passes = c->ds.o.normalize_twice ? 2 : 1;
  for (int i = 0; i < b->n; i++) {
    for (size_t p = 0; p < plane; p++) {
      float v = b->x[(size_t)i * 3 * plane + p];
      for (int q = 0; q < passes; q++) v = v * std_rgb0 + mean_rgb0;
      gray[p] = v;
    }
    const gz_rx *rx = &c->ds.rx[pick[i].reading];
    for (int k = 0; k < GZ_NLABELS; k++) {
      if (!b->gt[i * GZ_NLABELS + k]) continue;
      char path[1600], lab[64];
      snprintf(lab, sizeof lab, "%s", gz_label_names[k]);
      for (char *s = lab; *s; s++)
        if (*s == ' ') *s = '_';
      snprintf(path, sizeof path, "%s/%s_%s_%s_%s.png", dir, gz_run_method_name(r->cfg.method), rx->dicom_id, lab,
               gz_heat_names[kind]);
      if (gz_overlay_png(path, gray, maps[kind] + ((size_t)i * GZ_NLABELS + k) * plane,
                         b->masks + ((size_t)i * GZ_NLABELS + k) * plane, S, e)) {
        gz_loader_stop(&ld);
        goto out;
      }
    }
  }
  gz_loader_stop(&ld);
  rc = lrc ? -1 : 0;
out:
  free(maps[kind]), free(gray);
  return rc;
}

int eval_run(eval_ctx *c, const char *dir, run_result *r, gz_err *e) {
  char path[1100];
  snprintf(path, sizeof path, "%s/best.safetensors", dir);
  snprintf(r->dir, sizeof r->dir, "%s", dir);
  gz_ckpt *ck = gz_ckpt_open(path, e);
  if (!ck) return -1;
  gz_run_state st;
  int rc = gz_run_config_parse(gz_ckpt_meta(ck, "config"), path, &r->cfg, &st, e);
  gz_ckpt_close(ck);
  if (rc) return -1;
  r->best_epoch = st.best_epoch;
  if (open_dataset(c, r->cfg.size, e)) return -1;
  gz_paper net;
  gz_paper_config pc = {.multires = r->cfg.multires, .decoder = r->cfg.decoder, .normalize_twice = 0};
  if (gz_paper_init(&net, &pc, r->cfg.seed, e)) return -1;
  gz_arena act;
  gz_tape t;
  size_t bytes = (size_t)c->batch * r->cfg.size * r->cfg.size * 4096u + (64u << 20);
  rc = -1;
  int arena_ok = 0, tape_ok = 0;
  if (gz_model_load(&net.m, NULL, NULL, path, e)) goto out;
  if (gz_arena_init(&act, "activations", bytes, e)) goto out;
  arena_ok = 1;
  if (gz_tape_init(&t, &act, 4096, e)) goto out;
  tape_ok = 1;
  double mean;
  double t0 = gz_now();
  if (gz_score_auc(&net, &t, &c->ds, &c->ds.test_mimic, c->batch, c->threads, r->auc, &mean, e)) goto out;
  r->kinds = (1u << GZ_HEAT_ACT) | (r->cfg.decoder ? 1u << GZ_HEAT_UNET : 0) | (c->gradcam ? 1u << GZ_HEAT_CAM : 0);
  gz_iou_acc acc[GZ_N_HEAT];
  if (gz_score_iou(&net, &t, &c->ds, &c->ds.val_reflacx, c->batch, c->threads, r->kinds, acc, e)) goto out;
  for (int h = 0; h < GZ_N_HEAT; h++) gz_iou_acc_result(&acc[h], r->val_iou[h]);
  if (gz_score_iou(&net, &t, &c->ds, &c->ds.test_reflacx, c->batch, c->threads, r->kinds, acc, e)) goto out;
  for (int h = 0; h < GZ_N_HEAT; h++) gz_iou_acc_result(&acc[h], r->test_iou[h]);
  unsigned reported = r->cfg.decoder ? GZ_HEAT_UNET : GZ_HEAT_ACT;
  if (c->overlays && r == &c->res[r->cfg.method][0] && /* the method's first seed */
      draw_overlays(c, &net, &t, r, reported, e))
    goto out;
  fprintf(stderr, "%s: best epoch %d, MIMIC test AUC %.4f (%d images), REFLACX val/test %d/%d readings (%.1fs)\n", dir,
          r->best_epoch, mean, c->ds.test_mimic.n, c->ds.val_reflacx.n, c->ds.test_reflacx.n, gz_now() - t0);
  rc = 0;
out:
  if (tape_ok) gz_tape_free(&t);
  if (arena_ok) gz_arena_free(&act);
  gz_paper_free(&net);
  return rc;
}
