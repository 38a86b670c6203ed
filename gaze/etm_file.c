/* .etm map files: a size x size map stored as its non-zero bounding box, as float32 (lossless) or as 16-bit
 * fixed point. Truncated Gaussians leave exact zeros away from the fixations. Layout in gaze.h. */
#include "gaze/gaze.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = {'G', 'Z', 'E', 'T', 'M', 'A', 'P', '1'};
static const char MAGIC_Q[8] = {'G', 'Z', 'E', 'T', 'M', 'A', 'P', 'Q'};

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int gz_etm_write(const char *path, const float *map, int size, int label, int quantize16, gz_err *e) {
  if (size < 1 || size > 1 << 15) return gz_fail(e, GZ_EINVAL, "%s: bad map size %d", path, size);
  int y0 = size, y1 = 0, x0 = size, x1 = 0;
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      if (map[(size_t)y * size + x] != 0.0f) {
        if (y < y0) y0 = y;
        if (y >= y1) y1 = y + 1;
        if (x < x0) x0 = x;
        if (x >= x1) x1 = x + 1;
      }
  if (y1 <= y0) y0 = y1 = x0 = x1 = 0;
  size_t n = (size_t)(y1 - y0) * (size_t)(x1 - x0), len = 32 + (quantize16 ? 2 : 4) * n;
  unsigned char *buf = gz_malloc(len, e);
  if (!buf) return -1;
  memcpy(buf, quantize16 ? MAGIC_Q : MAGIC, 8);
  put32(buf + 8, (uint32_t)size);
  put32(buf + 12, (uint32_t)label);
  put32(buf + 16, (uint32_t)y0);
  put32(buf + 20, (uint32_t)y1);
  put32(buf + 24, (uint32_t)x0);
  put32(buf + 28, (uint32_t)x1);
  unsigned char *p = buf + 32;
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++) {
      float v = map[(size_t)y * size + x];
      if (quantize16) {
        v = v > 0 ? (v < 1 ? v : 1) : 0;
        unsigned q = (unsigned)lrintf(v * 65535.0f);
        p[0] = (unsigned char)q;
        p[1] = (unsigned char)(q >> 8);
        p += 2;
      } else {
        uint32_t bits;
        memcpy(&bits, &v, 4);
        put32(p, bits);
        p += 4;
      }
    }
  int rc = gz_write_file_atomic(path, buf, len, e);
  free(buf);
  return rc;
}

int gz_etm_read(const char *path, float **map, int *size, int *label, gz_err *e) {
  size_t len;
  *map = NULL;
  unsigned char *buf = (unsigned char *)gz_read_file(path, &len, e);
  if (!buf) return -1;
  int rc = -1;
  int q = len >= 8 && !memcmp(buf, MAGIC_Q, 8);
  if (len < 32 || (!q && memcmp(buf, MAGIC, 8))) {
    gz_fail(e, GZ_EFORMAT, "%s: not a gazeloc map file (no GZETMAP1 header)", path);
    goto out;
  }
  uint32_t s = get32(buf + 8), y0 = get32(buf + 16), y1 = get32(buf + 20), x0 = get32(buf + 24), x1 = get32(buf + 28);
  if (s < 1 || s > 1u << 15 || y0 > y1 || x0 > x1 || y1 > s || x1 > s ||
      len != 32 + (q ? 2 : 4) * (size_t)(y1 - y0) * (x1 - x0)) {
    gz_fail(e, GZ_EFORMAT, "%s: inconsistent header (size %u, box [%u,%u)x[%u,%u), %zu bytes)", path, s, y0, y1, x0,
            x1, len);
    goto out;
  }
  float *m = gz_calloc((size_t)s * s, sizeof *m, e);
  if (!m) goto out;
  const unsigned char *p = buf + 32;
  for (uint32_t y = y0; y < y1; y++)
    for (uint32_t x = x0; x < x1; x++) {
      if (q) {
        m[(size_t)y * s + x] = (float)(p[0] | p[1] << 8) / 65535.0f;
        p += 2;
      } else {
        uint32_t bits = get32(p);
        memcpy(&m[(size_t)y * s + x], &bits, 4);
        p += 4;
      }
    }
  *map = m;
  *size = (int)s;
  *label = (int)get32(buf + 12);
  rc = 0;
out:
  free(buf);
  return rc;
}
