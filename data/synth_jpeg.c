/* A baseline JPEG encoder for 8-bit single-component (greyscale) images, as MIMIC-CXR-JPG files are.
 * stb_image_write always stores three components (YCbCr), so the generator has this small encoder of its
 * own: ITU T.81 baseline sequential DCT, the standard luminance quantization table scaled by quality with
 * the IJG formula, the standard luminance Huffman tables of Annex K (codes generated as in Annex C).
 * Deterministic (the DCT is plain float arithmetic in a fixed order). Decoded by stb_image in the tests. */
#include "data/synth_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* zigzag position -> natural (row-major) index */
static const uint8_t natural[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                                    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                                    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                                    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};
static const int lum_q[64] = {16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                              14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                              18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                              49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
static const uint8_t dc_bits[16] = {0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t dc_vals[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t ac_bits[16] = {0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d};
static const uint8_t ac_vals[162] = {
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14,
    0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09,
    0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a,
    0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65,
    0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
    0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
    0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
    0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea,
    0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa};

typedef struct jw {
  uint8_t *p;
  size_t n, cap;
  uint32_t acc;
  int nacc;
  int oom;
} jw;

static void put_byte(jw *w, uint8_t b) {
  if (w->oom) return;
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 65536;
    uint8_t *q = realloc(w->p, cap);
    if (!q) { w->oom = 1; return; }
    w->p = q;
    w->cap = cap;
  }
  w->p[w->n++] = b;
}
static void put_bytes(jw *w, const uint8_t *b, size_t n) { for (size_t i = 0; i < n; i++) put_byte(w, b[i]); }
static void put_u16(jw *w, unsigned v) { put_byte(w, (uint8_t)(v >> 8)); put_byte(w, (uint8_t)v); }

/* entropy-coded bits, MSB first, with 0xFF byte stuffing */
static void put_bits(jw *w, uint32_t code, int len) {
  w->acc = (w->acc << len) | (code & ((1u << len) - 1));
  w->nacc += len;
  while (w->nacc >= 8) {
    uint8_t b = (uint8_t)(w->acc >> (w->nacc - 8));
    put_byte(w, b);
    if (b == 0xFF) put_byte(w, 0);
    w->nacc -= 8;
  }
}

/* Annex C: code lengths and codes from BITS/HUFFVAL */
static void make_codes(const uint8_t *bits, const uint8_t *vals, uint16_t *code, uint8_t *size) {
  unsigned c = 0;
  int k = 0;
  for (int len = 1; len <= 16; len++) {
    for (int i = 0; i < bits[len - 1]; i++, k++) {
      code[vals[k]] = (uint16_t)c++;
      size[vals[k]] = (uint8_t)len;
    }
    c <<= 1;
  }
}

static int nbits(int v) {
  int n = 0;
  for (v = v < 0 ? -v : v; v; v >>= 1) n++;
  return n;
}

int synth_jpeg_gray(const uint8_t *px, int w, int h, int quality, uint8_t **out, size_t *out_len) {
  uint16_t dc_code[256] = {0}, ac_code[256] = {0};
  uint8_t dc_size[256] = {0}, ac_size[256] = {0};
  make_codes(dc_bits, dc_vals, dc_code, dc_size);
  make_codes(ac_bits, ac_vals, ac_code, ac_size);
  int scale = quality < 50 ? 5000 / quality : 200 - 2 * quality; /* IJG */
  int q[64];
  for (int i = 0; i < 64; i++) {
    int v = (lum_q[i] * scale + 50) / 100;
    q[i] = v < 1 ? 1 : v > 255 ? 255 : v;
  }
  double cosv[8][8]; /* cos((2x+1) u pi / 16) * C(u) / 2 */
  for (int u = 0; u < 8; u++)
    for (int x = 0; x < 8; x++) cosv[u][x] = cos((2 * x + 1) * u * M_PI / 16) * (u ? 0.5 : 0.5 / sqrt(2.0));
  jw W = {0};
  static const uint8_t app0[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
  put_bytes(&W, app0, sizeof app0);
  put_u16(&W, 0xFFDB); put_u16(&W, 67); put_byte(&W, 0); /* DQT, 8-bit, table 0, zigzag order */
  for (int k = 0; k < 64; k++) put_byte(&W, (uint8_t)q[natural[k]]);
  put_u16(&W, 0xFFC0); put_u16(&W, 11); put_byte(&W, 8); /* SOF0: one component, 1x1 sampling, table 0 */
  put_u16(&W, (unsigned)h); put_u16(&W, (unsigned)w); put_byte(&W, 1);
  put_byte(&W, 1); put_byte(&W, 0x11); put_byte(&W, 0);
  put_u16(&W, 0xFFC4); put_u16(&W, 2 + 1 + 16 + 12 + 1 + 16 + 162); /* DHT: DC 0 and AC 0 */
  put_byte(&W, 0x00); put_bytes(&W, dc_bits, 16); put_bytes(&W, dc_vals, 12);
  put_byte(&W, 0x10); put_bytes(&W, ac_bits, 16); put_bytes(&W, ac_vals, 162);
  put_u16(&W, 0xFFDA); put_u16(&W, 8); put_byte(&W, 1); put_byte(&W, 1); put_byte(&W, 0x00); /* SOS */
  put_byte(&W, 0); put_byte(&W, 63); put_byte(&W, 0);
  int prev_dc = 0;
  for (int by = 0; by < h; by += 8)
    for (int bx = 0; bx < w; bx += 8) {
      double blk[8][8], tmp[8][8];
      for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) { /* edge blocks repeat the last row and column */
          int sy = by + y < h ? by + y : h - 1, sx = bx + x < w ? bx + x : w - 1;
          blk[y][x] = (double)px[(size_t)sy * w + sx] - 128;
        }
      for (int y = 0; y < 8; y++)
        for (int u = 0; u < 8; u++) {
          double s = 0;
          for (int x = 0; x < 8; x++) s += cosv[u][x] * blk[y][x];
          tmp[y][u] = s;
        }
      int coef[64];
      for (int v = 0; v < 8; v++)
        for (int u = 0; u < 8; u++) {
          double s = 0;
          for (int y = 0; y < 8; y++) s += cosv[v][y] * tmp[y][u];
          long c = lround(s / q[v * 8 + u]);
          coef[v * 8 + u] = (int)(c > 1023 ? 1023 : c < -1023 ? -1023 : c); /* AC categories stop at 10 bits */
        }
      int diff = coef[0] - prev_dc, s = nbits(diff);
      prev_dc = coef[0];
      put_bits(&W, dc_code[s], dc_size[s]);
      if (s) put_bits(&W, (uint32_t)(diff < 0 ? diff - 1 : diff), s);
      int run = 0;
      for (int k = 1; k < 64; k++) {
        int v = coef[natural[k]];
        if (!v) { run++; continue; }
        while (run > 15) { put_bits(&W, ac_code[0xF0], ac_size[0xF0]); run -= 16; }
        int n = nbits(v), sym = (run << 4) | n;
        put_bits(&W, ac_code[sym], ac_size[sym]);
        put_bits(&W, (uint32_t)(v < 0 ? v - 1 : v), n);
        run = 0;
      }
      if (run) put_bits(&W, ac_code[0x00], ac_size[0x00]); /* EOB */
    }
  if (W.nacc) put_bits(&W, 0x7F, 8 - W.nacc); /* pad with ones */
  put_u16(&W, 0xFFD9);
  if (W.oom) { free(W.p); return -1; }
  *out = W.p;
  *out_len = W.n;
  return 0;
}
