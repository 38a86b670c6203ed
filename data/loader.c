/* Samples into batches: image, labels, maps -> augmentation -> normalization -> decoder and MIL targets
 * (method.md sections 1, 2 and 7), and a loader thread that builds the next batch during the step. */
#include "data/data.h"

#include <stdlib.h>
#include <string.h>

/* ImageNet statistics (torchvision.transforms.Normalize in the authors' datasets and model). */
static const float mean_rgb[3] = {0.485f, 0.456f, 0.406f}, std_rgb[3] = {0.229f, 0.224f, 0.225f};

int gz_batch_alloc(gz_batch *b, int n, int size, int with_masks, gz_err *e) {
  memset(b, 0, sizeof *b);
  b->n = n, b->size = size, b->grid = size / 16;
  size_t S = (size_t)size, H = S / 2, G = (size_t)b->grid;
  b->x = gz_calloc((size_t)n * 3 * S * S, sizeof *b->x, e);
  b->y = gz_calloc((size_t)n * GZ_NLABELS, sizeof *b->y, e);
  b->annotated = gz_calloc((size_t)n, 1, e);
  b->t = gz_calloc((size_t)n * GZ_NLABELS * H * H, sizeof *b->t, e);
  b->b = gz_calloc((size_t)n * GZ_NLABELS * G * G, sizeof *b->b, e);
  if (with_masks) {
    b->masks = gz_calloc((size_t)n * GZ_NLABELS * S * S, sizeof *b->masks, e);
    b->gt = gz_calloc((size_t)n * GZ_NLABELS, 1, e);
  }
  if (!b->x || !b->y || !b->annotated || !b->t || !b->b || (with_masks && (!b->masks || !b->gt))) {
    gz_batch_free(b);
    return -1;
  }
  return 0;
}

void gz_batch_free(gz_batch *b) {
  free(b->x), free(b->y), free(b->annotated), free(b->t), free(b->b), free(b->masks), free(b->gt);
  memset(b, 0, sizeof *b);
}

void gz_epoch_order(int n, uint64_t seed, uint64_t epoch, int *order) {
  for (int i = 0; i < n; i++) order[i] = i;
  gz_rng r;
  gz_rng_init(&r, seed, 0x5348554646000000ull ^ epoch); /* stream "SHUFF" + epoch */
  gz_rng_shuffle(&r, order, (size_t)n);
}

/* The label maps of an annotated sample at S x S: ET maps (max over the windows of each label, or the
 * whole-reading map for every positive label in the ablation) or ellipse masks. */
static int sample_maps(const gz_dataset *d, const gz_rx *x, const gz_geom *g, float *maps, float *tmp, gz_err *e) {
  size_t SS = (size_t)d->o.size * d->o.size;
  memset(maps, 0, sizeof *maps * GZ_NLABELS * SS);
  if (d->o.method == GZ_METHOD_ELLIPSE) {
    unsigned present;
    return gz_ellipse_masks(x->r.ell, x->r.nell, x->r.width, x->r.height, g, 3, maps, &present, e);
  }
  gz_heat_opts ho = GZ_HEAT_OPTS_DEFAULT;
  gz_heat *h = gz_heat_new(x->r.fix, x->r.nfix, x->r.width, x->r.height, g, &ho, e);
  if (!h) return -1;
  int rc = 0;
  int nwin = d->o.whole_report ? 1 : x->nwin;
  for (int w = 0; rc == 0 && w < nwin; w++) {
    double t0 = d->o.whole_report ? 0.0 : x->win[w].t0, t1 = d->o.whole_report ? x->t_end : x->win[w].t1;
    unsigned labels = d->o.whole_report ? x->et_labels : x->win[w].labels;
    int got = gz_heat_window(h, t0, t1, tmp, NULL, e);
    if (got < 0) rc = -1;
    if (got != 1) continue; /* an empty window gives no map (gaze counts it) */
    for (int k = 0; k < GZ_NLABELS; k++) {
      if (!((labels >> k) & 1u)) continue;
      float *m = maps + (size_t)k * SS;
      for (size_t i = 0; i < SS; i++) m[i] = tmp[i] > m[i] ? tmp[i] : m[i]; /* same label: max */
    }
  }
  gz_heat_free(h);
  return rc;
}

int gz_sample_fill(const gz_dataset *d, const gz_sample *s, int augment, uint64_t seed, uint64_t epoch,
                   uint64_t sample_id, gz_batch *b, int slot, gz_err *e) {
  int S = d->o.size, H = S / 2, G = b->grid;
  size_t SS = (size_t)S * S;
  const char *dicom = s->mimic >= 0 ? d->mimic.images[s->mimic].dicom_id : d->rx[s->reading].dicom_id;
  char path[4096];
  gz_cache_path(d, dicom, path, sizeof path);
  size_t len;
  unsigned char *u8 = (unsigned char *)gz_read_file(path, &len, e);
  if (!u8) return gz_err_prefix(e, "image cache (run the cache step first)");
  if (len != SS) {
    free(u8);
    return gz_fail(e, GZ_EFORMAT, "%s: %zu bytes, expected %zu (%dx%d)", path, len, SS, S, S);
  }
  float *x = b->x + (size_t)slot * 3 * SS;
  float *maps = NULL, *tmp = NULL, *aug = NULL;
  int *table = NULL, rc = 0;
  int annotated = s->annotated && s->reading >= 0;
  int need_masks = b->masks && s->reading >= 0;
  maps = gz_malloc(sizeof *maps * GZ_NLABELS * SS, e);
  tmp = gz_malloc(sizeof *tmp * (3 + GZ_NLABELS) * SS, e);
  if (!maps || !tmp) rc = -1;
  for (size_t i = 0; rc == 0 && i < SS; i++) x[i] = (float)u8[i] / 255.0f; /* uint8 then /255, as ToTensor */
  free(u8);
  gz_geom g;
  int have_geom = 0;
  if (rc == 0 && (annotated || need_masks)) {
    const gz_rx *r = &d->rx[s->reading];
    rc = gz_geom_init(&g, r->r.height, r->r.width, S, e);
    have_geom = rc == 0;
    if (rc == 0 && annotated) rc = sample_maps(d, r, &g, maps, tmp, e);
  }
  if (rc == 0 && augment) {
    table = gz_malloc(sizeof *table * SS, e);
    if (!table) rc = -1;
    if (rc == 0) {
      gz_rng r;
      gz_rng_init(&r, seed, (epoch << 32) ^ sample_id); /* keyed by (seed, epoch, sample) */
      gz_affine a = gz_affine_draw(&gz_affine_paper, S, S, &r);
      gz_affine_table(&a, S, S, table);
      aug = tmp; /* 3 + 10 planes of scratch */
      gz_affine_apply(table, x, aug, 1, S, S);          /* gray image, replicated below */
      memcpy(x, aug, sizeof *x * SS);
      if (annotated) {
        gz_affine_apply(table, maps, aug + SS, GZ_NLABELS, S, S); /* identical transform for the maps */
        memcpy(maps, aug + SS, sizeof *maps * GZ_NLABELS * SS);
      }
    }
  }
  if (rc == 0) {
    /* Replicate gray to 3 channels (GrayToThree) and normalize once or twice (gotcha 2). */
    for (int c = 2; c >= 0; c--) {
      float *xc = x + (size_t)c * SS;
      int passes = d->o.normalize_twice ? 2 : 1;
      for (size_t i = 0; i < SS; i++) {
        float v = x[i];
        for (int p = 0; p < passes; p++) v = (v - mean_rgb[c]) / std_rgb[c];
        xc[i] = v;
      }
    }
    unsigned char lab[GZ_NLABELS];
    gz_sample_labels(d, s, lab);
    for (int k = 0; k < GZ_NLABELS; k++) b->y[slot * GZ_NLABELS + k] = lab[k];
    b->annotated[slot] = (unsigned char)annotated;
    float *t = b->t + (size_t)slot * GZ_NLABELS * H * H, *bb = b->b + (size_t)slot * GZ_NLABELS * G * G;
    if (annotated) {
      for (int k = 0; k < GZ_NLABELS; k++) {
        gz_maxpool(maps + (size_t)k * SS, S, 2, t + (size_t)k * H * H);  /* 512 -> 256: decoder target */
        gz_maxpool(t + (size_t)k * H * H, H, 8, tmp);                     /* 256 -> 32 */
        gz_threshold(tmp, (size_t)G * G, d->o.threshold, bb + (size_t)k * G * G); /* > 0.15: MIL target */
      }
    } else {
      memset(t, 0, sizeof *t * GZ_NLABELS * H * H);
      memset(bb, 0, sizeof *bb * GZ_NLABELS * G * G);
    }
  }
  if (rc == 0 && b->masks) {
    float *m = b->masks + (size_t)slot * GZ_NLABELS * SS;
    unsigned present = 0;
    if (need_masks) {
      const gz_rx *r = &d->rx[s->reading];
      rc = gz_ellipse_masks(r->r.ell, r->r.nell, r->r.width, r->r.height, &g, 3, m, &present, e);
    } else {
      memset(m, 0, sizeof *m * GZ_NLABELS * SS);
    }
    for (int k = 0; k < GZ_NLABELS; k++) b->gt[slot * GZ_NLABELS + k] = (present >> k) & 1u;
  }
  if (have_geom) gz_geom_free(&g);
  free(maps), free(tmp), free(table);
  return rc;
}

/* ------------------------------------------------------------------ the loader thread */

static int fill_batch(gz_loader *l, int bi, gz_batch *b, gz_err *e) {
  int n = l->list->n, first = bi * l->batch, count = n - first < l->batch ? n - first : l->batch;
  int lo = (int)((long)count * l->part / l->nparts), hi = (int)((long)count * (l->part + 1) / l->nparts);
  first += lo, count = hi - lo; /* this process's share */
  int failed = 0;
  gz_err first_err = {0};
  b->n = count;
#pragma omp parallel for schedule(dynamic, 1) num_threads(l->threads)
  for (int i = 0; i < count; i++) {
    if (failed) continue;
    int idx = l->order[first + i];
    gz_err le = {0};
    if (gz_sample_fill(l->d, &l->list->s[idx], l->augment, l->seed, l->epoch, (uint64_t)idx, b, i, &le)) {
#pragma omp critical(gz_loader_err)
      if (!failed) failed = 1, first_err = le;
    }
  }
  if (failed && e) *e = first_err;
  return failed ? -1 : 0;
}

static void *loader_main(void *arg) {
  gz_loader *l = arg;
  for (int bi = 0; bi < l->nbatches; bi++) {
    int slot = bi % 2;
    pthread_mutex_lock(&l->mu);
    while (l->ready[slot] && !l->stop) pthread_cond_wait(&l->cv, &l->mu);
    int stop = l->stop;
    pthread_mutex_unlock(&l->mu);
    if (stop) break;
    gz_err e = {0};
    int rc = fill_batch(l, bi, &l->buf[slot], &e);
    pthread_mutex_lock(&l->mu);
    if (rc) l->failed = 1, l->err = e;
    l->ready[slot] = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (rc) break;
  }
  return NULL;
}

int gz_loader_start(gz_loader *l, const gz_dataset *d, const gz_sample_list *list, int batch, int shuffle, int augment,
                    int drop_last, uint64_t seed, uint64_t epoch, int threads, int with_masks, gz_err *e) {
  return gz_loader_start_part(l, d, list, batch, shuffle, augment, drop_last, seed, epoch, threads, with_masks, 0, 1, e);
}

int gz_loader_start_part(gz_loader *l, const gz_dataset *d, const gz_sample_list *list, int batch, int shuffle,
                         int augment, int drop_last, uint64_t seed, uint64_t epoch, int threads, int with_masks, int part,
                         int nparts, gz_err *e) {
  memset(l, 0, sizeof *l);
  if (batch < 1) return gz_fail(e, GZ_EINVAL, "batch size %d", batch);
  if (nparts < 1 || part < 0 || part >= nparts) return gz_fail(e, GZ_EINVAL, "loader part %d of %d", part, nparts);
  l->part = part, l->nparts = nparts;
  l->d = d, l->list = list, l->batch = batch, l->augment = augment, l->drop_last = drop_last;
  l->seed = seed, l->epoch = epoch, l->threads = threads < 1 ? 1 : threads;
  l->nbatches = drop_last ? list->n / batch : (list->n + batch - 1) / batch;
  l->order = gz_malloc(sizeof *l->order * (size_t)(list->n ? list->n : 1), e);
  if (!l->order) return -1;
  if (shuffle) gz_epoch_order(list->n, seed, epoch, l->order);
  else for (int i = 0; i < list->n; i++) l->order[i] = i;
  int share = (batch + nparts - 1) / nparts; /* the largest part of a batch */
  if (gz_batch_alloc(&l->buf[0], share, d->o.size, with_masks, e) ||
      gz_batch_alloc(&l->buf[1], share, d->o.size, with_masks, e)) {
    gz_batch_free(&l->buf[0]);
    free(l->order);
    return -1;
  }
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  if (pthread_create(&l->tid, NULL, loader_main, l)) {
    gz_loader_stop(l);
    return gz_fail(e, GZ_EIO, "cannot start the loader thread");
  }
  return 0;
}

const gz_batch *gz_loader_next(gz_loader *l, int *rc, gz_err *e) {
  *rc = 0;
  pthread_mutex_lock(&l->mu);
  if (l->next > 0) { /* the caller is done with the previous batch: hand its buffer back */
    l->ready[(l->next - 1) % 2] = 0;
    pthread_cond_broadcast(&l->cv);
  }
  if (l->next >= l->nbatches) { pthread_mutex_unlock(&l->mu); return NULL; }
  int slot = l->next % 2;
  while (!l->ready[slot] && !l->failed) pthread_cond_wait(&l->cv, &l->mu);
  if (l->failed) {
    if (e) *e = l->err;
    *rc = -1;
    pthread_mutex_unlock(&l->mu);
    return NULL;
  }
  l->next++;
  pthread_mutex_unlock(&l->mu);
  return &l->buf[slot];
}

void gz_loader_stop(gz_loader *l) {
  if (l->order) {
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->tid) pthread_join(l->tid, NULL);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
  }
  gz_batch_free(&l->buf[0]);
  gz_batch_free(&l->buf[1]);
  free(l->order);
  memset(l, 0, sizeof *l);
}
