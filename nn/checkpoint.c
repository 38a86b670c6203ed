/* safetensors checkpoints: writer and validating reader (see nn.h). */
#include "nn/nn.h"

#include <cJSON.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define CHECKSUM_KEY "gazeloc.checksum"
#define MAX_HEADER ((uint64_t)100 << 20) /* the format's own limit is 100 MB */

struct gz_ckpt {
  char *path;
  char *file; /* whole file */
  size_t size;
  gz_ckpt_entry *entries;
  char **names;
  int n;
  char **meta_keys, **meta_values;
  int n_meta;
};

static const size_t dtype_size[] = {4, 8, 8};
static const char *dtype_names[] = {"F32", "I64", "F64"};

const char *gz_dtype_name(int dtype) { return dtype >= 0 && dtype < 3 ? dtype_names[dtype] : "?"; }

static int dtype_from_name(const char *s) {
  for (int i = 0; i < 3; i++)
    if (!strcmp(s, dtype_names[i])) return i;
  return -1;
}

static uint64_t nbytes(const gz_ckpt_entry *t) {
  uint64_t n = dtype_size[t->dtype];
  for (int d = 0; d < t->ndim; d++) n *= (uint64_t)t->shape[d];
  return n;
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const gz_ckpt_entry *)a)->name, ((const gz_ckpt_entry *)b)->name);
}

int gz_ckpt_save(const char *path, const gz_ckpt_entry *entries, int n, const char *const *keys,
                 const char *const *values, int n_meta, gz_err *e) {
  /* Tensors are laid out in name order, so the same state always gives the same bytes. */
  gz_ckpt_entry *sorted = gz_malloc(sizeof *sorted * (size_t)(n ? n : 1), e);
  if (!sorted) return -1;
  memcpy(sorted, entries, sizeof *sorted * (size_t)n);
  qsort(sorted, (size_t)n, sizeof *sorted, cmp_entry);
  XXH3_state_t *h = XXH3_createState();
  XXH3_64bits_reset(h);
  cJSON *root = cJSON_CreateObject();
  uint64_t off = 0;
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    const gz_ckpt_entry *t = &sorted[i];
    if (t->dtype < 0 || t->dtype > 2 || t->ndim < 0 || t->ndim > GZ_CKPT_MAX_DIMS) {
      rc = gz_fail(e, GZ_EINVAL, "%s: tensor '%s' has a bad dtype or rank", path, t->name);
      break;
    }
    if (i && !strcmp(t->name, sorted[i - 1].name)) {
      rc = gz_fail(e, GZ_EINVAL, "%s: tensor name '%s' given twice", path, t->name);
      break;
    }
    cJSON *o = cJSON_AddObjectToObject(root, t->name);
    cJSON_AddStringToObject(o, "dtype", dtype_names[t->dtype]);
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    uint64_t sz = nbytes(t);
    cJSON *range = cJSON_AddArrayToObject(o, "data_offsets");
    cJSON_AddItemToArray(range, cJSON_CreateNumber((double)off));
    cJSON_AddItemToArray(range, cJSON_CreateNumber((double)(off + sz)));
    XXH3_64bits_update(h, t->data, (size_t)sz);
    off += sz;
  }
  char *header = NULL;
  if (rc == 0) {
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    for (int i = 0; i < n_meta; i++) cJSON_AddStringToObject(meta, keys[i], values[i]);
    char sum[32];
    snprintf(sum, sizeof sum, "%016" PRIx64, (uint64_t)XXH3_64bits_digest(h));
    cJSON_AddStringToObject(meta, CHECKSUM_KEY, sum);
    header = cJSON_PrintUnformatted(root);
    if (!header) rc = gz_fail(e, GZ_ENOMEM, "%s: cannot format the header", path);
  }
  gz_afile a;
  if (rc == 0 && gz_afile_open(&a, path, e) == 0) {
    size_t hl = strlen(header), padded = (hl + 7) & ~(size_t)7; /* keep the tensor data 8-byte aligned */
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));
    fwrite(len8, 1, 8, a.f);
    fwrite(header, 1, hl, a.f);
    for (size_t p = hl; p < padded; p++) fputc(' ', a.f);
    for (int i = 0; i < n; i++) fwrite(sorted[i].data, 1, (size_t)nbytes(&sorted[i]), a.f);
    rc = gz_afile_commit(&a, e);
  } else if (rc == 0) {
    rc = -1;
  }
  free(header);
  cJSON_Delete(root);
  XXH3_freeState(h);
  free(sorted);
  return rc;
}

void gz_ckpt_close(gz_ckpt *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++) free(c->names[i]);
  for (int i = 0; i < c->n_meta; i++) free(c->meta_keys[i]), free(c->meta_values[i]);
  free(c->names);
  free(c->meta_keys);
  free(c->meta_values);
  free(c->entries);
  free(c->file);
  free(c->path);
  free(c);
}

static int parse_meta(gz_ckpt *c, const cJSON *meta, gz_err *e) {
  int n = cJSON_GetArraySize(meta);
  c->meta_keys = gz_calloc((size_t)n, sizeof(char *), e);
  c->meta_values = gz_calloc((size_t)n, sizeof(char *), e);
  if (!c->meta_keys || !c->meta_values) return -1;
  for (const cJSON *m = meta->child; m; m = m->next) {
    if (!cJSON_IsString(m))
      return gz_fail(e, GZ_EFORMAT, "%s: metadata '%s' is not a string", c->path, m->string);
    c->meta_keys[c->n_meta] = gz_strdup(m->string, e);
    c->meta_values[c->n_meta] = gz_strdup(m->valuestring, e);
    if (!c->meta_keys[c->n_meta++] || !c->meta_values[c->n_meta - 1]) return -1;
  }
  return 0;
}

static int parse_entry(gz_ckpt *c, const cJSON *o, size_t data_size, gz_err *e) {
  const char *name = o->string;
  gz_ckpt_entry *t = &c->entries[c->n];
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(o, "dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(o, "shape");
  const cJSON *range = cJSON_GetObjectItemCaseSensitive(o, "data_offsets");
  if (!cJSON_IsObject(o) || !cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(range) ||
      cJSON_GetArraySize(range) != 2)
    return gz_fail(e, GZ_EFORMAT, "%s: tensor '%s': header entry needs dtype, shape and data_offsets", c->path, name);
  t->dtype = dtype_from_name(dt->valuestring);
  if (t->dtype < 0)
    return gz_fail(e, GZ_EUNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (F32, I64, F64)", c->path, name,
                   dt->valuestring);
  t->ndim = cJSON_GetArraySize(shape);
  if (t->ndim > GZ_CKPT_MAX_DIMS) return gz_fail(e, GZ_EFORMAT, "%s: tensor '%s': rank %d", c->path, name, t->ndim);
  int d = 0;
  for (const cJSON *s = shape->child; s; s = s->next, d++) {
    if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble != (double)(int64_t)s->valuedouble)
      return gz_fail(e, GZ_EFORMAT, "%s: tensor '%s': shape entry %d is not a size", c->path, name, d);
    t->shape[d] = (int64_t)s->valuedouble;
  }
  double b = cJSON_GetArrayItem(range, 0)->valuedouble, en = cJSON_GetArrayItem(range, 1)->valuedouble;
  if (!(b >= 0 && en >= b) || (uint64_t)(en - b) != nbytes(t))
    return gz_fail(e, GZ_EFORMAT, "%s: tensor '%s': data_offsets [%.0f, %.0f] do not match shape and dtype (%" PRIu64
                   " bytes)", c->path, name, b, en, nbytes(t));
  if ((uint64_t)en > data_size)
    return gz_fail(e, GZ_EFORMAT, "%s: truncated: tensor '%s' ends at byte %.0f of the data, which has %zu bytes",
                   c->path, name, en, data_size);
  t->data = (const void *)(uintptr_t)b; /* an offset for now; made a pointer after sorting */
  if (!(c->names[c->n] = gz_strdup(name, e))) return -1;
  t->name = c->names[c->n++];
  return 0;
}

gz_ckpt *gz_ckpt_open(const char *path, gz_err *e) {
  gz_ckpt *c = gz_calloc(1, sizeof *c, e);
  if (!c || !(c->path = gz_strdup(path, e)) || !(c->file = gz_read_file(path, &c->size, e))) {
    gz_ckpt_close(c);
    return NULL;
  }
  uint64_t hl = 0;
  for (int b = 0; b < 8 && (size_t)b < c->size; b++) hl |= (uint64_t)(unsigned char)c->file[b] << (8 * b);
  if (c->size < 8 || hl > MAX_HEADER || 8 + hl > c->size) {
    gz_fail(e, GZ_EFORMAT, "%s: not a safetensors file, or truncated inside the header (%zu bytes)", path, c->size);
    gz_ckpt_close(c);
    return NULL;
  }
  const char *data = c->file + 8 + hl;
  size_t data_size = c->size - 8 - (size_t)hl;
  cJSON *root = cJSON_ParseWithLength(c->file + 8, (size_t)hl);
  int rc = 0;
  if (!cJSON_IsObject(root)) {
    rc = gz_fail(e, GZ_EFORMAT, "%s: the header is not a JSON object", path);
  } else {
    int n = cJSON_GetArraySize(root);
    c->entries = gz_calloc((size_t)n, sizeof *c->entries, e);
    c->names = gz_calloc((size_t)n, sizeof *c->names, e);
    if (!c->entries || !c->names) rc = -1;
    for (const cJSON *o = root->child; o && rc == 0; o = o->next)
      rc = !strcmp(o->string, "__metadata__") ? parse_meta(c, o, e) : parse_entry(c, o, data_size, e);
  }
  cJSON_Delete(root);
  if (rc == 0) {
    qsort(c->entries, (size_t)c->n, sizeof *c->entries, cmp_entry);
    for (int i = 0; i < c->n; i++) {
      uintptr_t off = (uintptr_t)c->entries[i].data;
      if (i && !strcmp(c->entries[i].name, c->entries[i - 1].name))
        rc = gz_fail(e, GZ_EFORMAT, "%s: tensor '%s' appears twice", path, c->entries[i].name);
      c->entries[i].data = data + off;
    }
  }
  const char *want = rc == 0 ? gz_ckpt_meta(c, CHECKSUM_KEY) : NULL;
  if (want) {
    char got[32];
    snprintf(got, sizeof got, "%016" PRIx64, (uint64_t)XXH3_64bits(data, data_size));
    if (strcmp(got, want))
      rc = gz_fail(e, GZ_EFORMAT, "%s: checksum mismatch (header says %s, data hashes to %s): the file is corrupted",
                   path, want, got);
  }
  if (rc) {
    gz_ckpt_close(c);
    return NULL;
  }
  return c;
}

int gz_ckpt_count(const gz_ckpt *c) { return c->n; }
const gz_ckpt_entry *gz_ckpt_entry_at(const gz_ckpt *c, int i) { return i >= 0 && i < c->n ? &c->entries[i] : NULL; }

const gz_ckpt_entry *gz_ckpt_find(const gz_ckpt *c, const char *name) {
  gz_ckpt_entry key = {.name = name};
  return bsearch(&key, c->entries, (size_t)c->n, sizeof key, cmp_entry);
}

const char *gz_ckpt_meta(const gz_ckpt *c, const char *key) {
  for (int i = 0; i < c->n_meta; i++)
    if (!strcmp(c->meta_keys[i], key)) return c->meta_values[i];
  return NULL;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t at = 0;
  at += (size_t)snprintf(buf, n, "[");
  for (int d = 0; d < ndim && at < n; d++) at += (size_t)snprintf(buf + at, n - at, d ? ", %" PRId64 : "%" PRId64, shape[d]);
  if (at < n) snprintf(buf + at, n - at, "]");
}

int gz_ckpt_read(const gz_ckpt *c, const char *name, int dtype, int ndim, const int64_t *shape, void *dst, gz_err *e) {
  const gz_ckpt_entry *t = gz_ckpt_find(c, name);
  if (!t) return gz_fail(e, GZ_EFORMAT, "%s: no tensor named '%s'", c->path, name);
  if (t->dtype != dtype)
    return gz_fail(e, GZ_EFORMAT, "%s: tensor '%s' is %s, expected %s", c->path, name, gz_dtype_name(t->dtype),
                   gz_dtype_name(dtype));
  int same = t->ndim == ndim;
  for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
  if (!same) {
    char have[128], want[128];
    shape_str(t->ndim, t->shape, have, sizeof have);
    shape_str(ndim, shape, want, sizeof want);
    return gz_fail(e, GZ_EFORMAT, "%s: tensor '%s' has shape %s, expected %s", c->path, name, have, want);
  }
  memcpy(dst, t->data, (size_t)nbytes(t));
  return 0;
}
