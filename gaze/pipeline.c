/* One reading end to end: transcript -> windows -> per-label maps at the image geometry (method.md
 * section 4, "Per-label maps"). */
#include "gaze/gaze.h"

#include <stdlib.h>
#include <string.h>

int gz_prepare(const gz_reading *r, int size, const gz_heat_opts *o, gz_prepared *p, gz_err *e) {
  memset(p, 0, sizeof *p);
  p->r = r;
  p->size = size;
  if (gz_transcript_build(r->words, r->nwords, r->transcription, r->transcription_len, r->dir ? r->dir : r->id, &p->t,
                          e))
    return -1;
  if (gz_geom_init(&p->g, r->height, r->width, size, e)) goto fail;
  if (!(p->h = gz_heat_new(r->fix, r->nfix, r->width, r->height, &p->g, o, e))) goto fail;
  return 0;
fail:
  gz_prepared_free(p);
  return -1;
}

void gz_prepared_free(gz_prepared *p) {
  if (!p) return;
  gz_transcript_free(&p->t);
  gz_geom_free(&p->g);
  gz_heat_free(p->h);
  memset(p, 0, sizeof *p);
}

void gz_label_maps_free(gz_label_maps *lm) {
  if (!lm) return;
  free(lm->maps);
  memset(lm, 0, sizeof *lm);
}

int gz_label_maps_compute(gz_prepared *p, const gz_mention *m, int nm, const gz_strategy *st, gz_label_maps *out,
                          gz_err *e) {
  return gz_label_maps_compute_some(p, m, nm, st, ~0u, out, e);
}

int gz_label_maps_compute_some(gz_prepared *p, const gz_mention *m, int nm, const gz_strategy *st, unsigned want,
                               gz_label_maps *out, gz_err *e) {
  size_t n = (size_t)p->size * p->size;
  float *maps = out->maps;
  memset(out, 0, sizeof *out);
  if (!maps && !(maps = gz_malloc(sizeof *maps * n * GZ_NLABELS, e))) return -1;
  out->maps = maps;
  memset(maps, 0, sizeof *maps * n * GZ_NLABELS);
  gz_window *w;
  int nw;
  if (gz_windows(&p->t, m, nm, st, &w, &nw, &out->orphans, e)) {
    return gz_err_prefix(e, "%s", p->r->dir ? p->r->dir : p->r->id);
  }
  float *map = gz_malloc(sizeof *map * n, e);
  if (!map) {
    free(w);
    return -1;
  }
  out->nwindows = nw;
  for (int i = 0; i < nw; i++) {
    out->mentioned |= w[i].labels;
    if (!(w[i].labels & want)) continue;
    int rc = gz_heat_window(p->h, w[i].t0, w[i].t1, map, NULL, e);
    if (rc < 0) goto fail;
    if (rc == 0) {
      out->nempty++;
      continue;
    }
    for (int k = 0; k < GZ_NLABELS; k++) {
      if (!((w[i].labels & want) >> k & 1)) continue;
      float *dst = maps + n * k;
      for (size_t j = 0; j < n; j++)
        if (map[j] > dst[j]) dst[j] = map[j];
      out->present |= 1u << k;
    }
  }
  free(map);
  free(w);
  return 0;
fail:
  free(map);
  free(w);
  return -1;
}

int gz_whole_report_map(gz_prepared *p, float *out, gz_err *e) {
  if (!p->r->nwords) return 0;
  return gz_heat_window(p->h, 0.0, p->r->words[p->r->nwords - 1].t1, out, NULL, e);
}
