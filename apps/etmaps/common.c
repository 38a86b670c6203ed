/* gazeloc-etmaps: reading sets, mentions, label names, image overlays. */
#include <ctype.h>
#include <math.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <stdlib.h>
#include <string.h>

#include "apps/etmaps/etmaps.h"

void et_set_free(et_set *s) {
  for (int i = 0; i < 3; i++) gz_meta_free(&s->meta[i]);
  free(s->rows);
  memset(s, 0, sizeof *s);
}

int et_set_load(const et_opts *o, et_set *s, gz_err *e) {
  memset(s, 0, sizeof *s);
  int total = 0;
  for (int i = 0; i < o->nphases; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metadata_phase_%d.csv", o->dir, o->phases[i]);
    if (gz_meta_read(path, o->phases[i], &s->meta[i], e)) {
      et_set_free(s);
      return -1;
    }
    total += s->meta[i].n;
  }
  s->rows = gz_malloc(sizeof *s->rows * (size_t)(total ? total : 1), e);
  if (!s->rows) {
    et_set_free(s);
    return -1;
  }
  for (int i = 0; i < o->nphases; i++)
    for (int j = 0; j < s->meta[i].n; j++) {
      const gz_meta_row *r = &s->meta[i].rows[j];
      if (o->split && strcmp(o->split, "all") && strcmp(r->split, o->split)) continue;
      if (r->discarded) {
        s->discarded++;
        continue;
      }
      if (o->limit > 0 && s->n >= o->limit) continue;
      s->rows[s->n++] = r;
    }
  return 0;
}

int et_mentions(const gz_labels_file *lf, const gz_reading *r, const gz_mention **m, int *nm, gz_err *e) {
  const gz_report_labels *row = gz_labels_find(lf, r->id);
  *m = NULL;
  *nm = 0;
  if (!row) return 1;
  /* the labeler lower-cases; offsets stay valid while the lengths agree (data-formats.md section 6) */
  if (strlen(row->report) != r->transcription_len)
    return gz_fail(e, GZ_EFORMAT, "%s: the labels file's report has %zu characters, transcription.txt %zu: mention "
                   "offsets would not match", r->id, strlen(row->report), r->transcription_len);
  *m = row->m;
  *nm = row->nm;
  return 0;
}

void et_label_slug(int label, char *buf, size_t n) {
  const char *s = label < 0 ? "whole report" : gz_label_names[label];
  size_t i = 0;
  for (; s[i] && i + 1 < n; i++) buf[i] = s[i] == ' ' ? '_' : (char)tolower((unsigned char)s[i]);
  buf[i] = '\0';
}

/* pre_process_path: jpg_path + '/files/' + image.split('files')[-1], '.dcm' -> '.jpg' */
int et_image_path(const char *mimic, const char *image, char *buf, size_t n) {
  const char *tail = image, *p;
  while ((p = strstr(tail, "files"))) tail = p + 5;
  while (*tail == '/') tail++;
  size_t len = strlen(tail);
  if (len < 4 || strcmp(tail + len - 4, ".dcm")) return -1;
  int k = snprintf(buf, n, "%s/files/%.*s.jpg", mimic, (int)(len - 4), tail);
  return k < 0 || (size_t)k >= n ? -1 : 0;
}

static void jet(float v, float rgb[3]) {
  float r = 1.5f - fabsf(4 * v - 3), g = 1.5f - fabsf(4 * v - 2), b = 1.5f - fabsf(4 * v - 1);
  rgb[0] = r < 0 ? 0 : r > 1 ? 1 : r;
  rgb[1] = g < 0 ? 0 : g > 1 ? 1 : g;
  rgb[2] = b < 0 ? 0 : b > 1 ? 1 : b;
}

typedef struct membuf {
  unsigned char *p;
  size_t n, cap;
  int failed;
} membuf;

static void to_mem(void *ctx, void *data, int size) {
  membuf *m = ctx;
  if (m->failed || size <= 0) return;
  if (m->n + (size_t)size > m->cap) {
    size_t nc = (m->n + (size_t)size) * 2;
    unsigned char *q = realloc(m->p, nc);
    if (!q) {
      m->failed = 1;
      return;
    }
    m->p = q;
    m->cap = nc;
  }
  memcpy(m->p + m->n, data, (size_t)size);
  m->n += (size_t)size;
}

int et_overlay(const et_opts *o, const gz_meta_row *row, const float *map, const char *png, float **gray, gz_err *e) {
  int S = o->size;
  if (!*gray) {
    char path[4200];
    if (et_image_path(o->mimic, row->image, path, sizeof path)) return 0;
    int w, h, c;
    unsigned char *img = stbi_load(path, &w, &h, &c, 1);
    if (!img) return 0;
    if (w != row->size_x || h != row->size_y) {
      stbi_image_free(img);
      return gz_fail(e, GZ_EFORMAT, "%s is %dx%d but the metadata says %dx%d", path, w, h, row->size_x, row->size_y);
    }
    float *f = gz_malloc(sizeof *f * (size_t)w * h, e);
    *gray = gz_malloc(sizeof **gray * (size_t)S * S, e);
    if (!f || !*gray) {
      free(f);
      stbi_image_free(img);
      return -1;
    }
    for (size_t i = 0; i < (size_t)w * h; i++) f[i] = img[i] / 255.0f;
    stbi_image_free(img);
    int rc = gz_resize_pad(f, h, w, *gray, S, e); /* the same geometry as the maps */
    free(f);
    if (rc) return -1;
  }
  unsigned char *rgb = gz_malloc((size_t)S * S * 3, e);
  if (!rgb) return -1;
  for (size_t i = 0; i < (size_t)S * S; i++) {
    float v = map[i] < 0 ? 0 : map[i] > 1 ? 1 : map[i], a = 0.5f * v, c[3], g = (*gray)[i];
    jet(v, c);
    for (int k = 0; k < 3; k++) {
      float x = (1 - a) * g + a * c[k];
      rgb[i * 3 + (size_t)k] = (unsigned char)(x <= 0 ? 0 : x >= 1 ? 255 : x * 255 + 0.5f);
    }
  }
  membuf m = {0};
  int ok = stbi_write_png_to_func(to_mem, &m, S, S, 3, rgb, S * 3) && !m.failed;
  free(rgb);
  int rc = ok ? gz_write_file_atomic(png, m.p, m.n, e) : gz_fail(e, GZ_EIO, "%s: PNG encoding failed", png);
  free(m.p);
  return rc ? -1 : 1;
}
