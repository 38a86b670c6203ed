/* Image files through stb_image / stb_image_write, written atomically like every result. */
#include "base.h"

#include <stb_image.h>
#include <stb_image_write.h>
#include <stdlib.h>

typedef struct {
  FILE *f;
  int failed;
} sink;

static void to_file(void *ctx, void *data, int size) {
  sink *s = ctx;
  if (size > 0 && fwrite(data, 1, (size_t)size, s->f) != (size_t)size) s->failed = 1;
}

static int write_image(const char *path, int w, int h, int comp, const unsigned char *px, int quality, gz_err *e) {
  if (w <= 0 || h <= 0 || comp < 1 || comp > 4)
    return gz_fail(e, GZ_EINVAL, "%s: cannot write a %dx%d image with %d components", path, w, h, comp);
  gz_afile a;
  if (gz_afile_open(&a, path, e)) return -1;
  sink s = {a.f, 0};
  int ok = quality ? stbi_write_jpg_to_func(to_file, &s, w, h, comp, px, quality)
                   : stbi_write_png_to_func(to_file, &s, w, h, comp, px, w * comp);
  if (!ok || s.failed) {
    gz_afile_abort(&a);
    return gz_fail(e, GZ_EIO, "%s: encoding or writing the image failed", path);
  }
  return gz_afile_commit(&a, e);
}

int gz_write_png(const char *path, int w, int h, int comp, const unsigned char *pixels, gz_err *e) {
  return write_image(path, w, h, comp, pixels, 0, e);
}

int gz_write_jpg(const char *path, int w, int h, int comp, const unsigned char *pixels, int quality, gz_err *e) {
  return write_image(path, w, h, comp, pixels, quality < 1 ? 1 : quality > 100 ? 100 : quality, e);
}

unsigned char *gz_read_image(const char *path, int comp, int *w, int *h, gz_err *e) {
  int n;
  unsigned char *px = stbi_load(path, w, h, &n, comp);
  if (!px) gz_fail(e, GZ_EFORMAT, "%s: cannot decode image: %s", path, stbi_failure_reason());
  return px;
}
