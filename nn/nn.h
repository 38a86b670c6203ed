/* nn: layers, ResNet-50, the paper's encoder, decoder and losses, Adam (AMSGrad), checkpoints.
 *
 * Checkpoints are safetensors files: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the raw little-endian tensor bytes. gazeloc writes tensor
 * names as PyTorch does (torchvision ResNet-50 keys such as `layer1.0.conv1.weight`), puts step, RNG
 * state and configuration in the `__metadata__` map (string values, as the format requires), and adds
 * `gazeloc.checksum` = XXH3-64 of the tensor bytes, so a flipped byte is caught at load time. Files are
 * written atomically: a crash never leaves a half-written checkpoint where a good one was. */
#ifndef GAZELOC_NN_H
#define GAZELOC_NN_H

#include <stdint.h>

#include "base/base.h"

enum gz_dtype { GZ_F32 = 0, GZ_I64 = 1, GZ_F64 = 2 };

#define GZ_CKPT_MAX_DIMS 8

/* One tensor to write: name, dtype, shape and the data (host memory, little-endian). */
typedef struct gz_ckpt_entry {
  const char *name;
  int dtype;
  int ndim;
  int64_t shape[GZ_CKPT_MAX_DIMS];
  const void *data;
} gz_ckpt_entry;

/* metadata: n_meta key/value string pairs (keys[i], values[i]); may be 0. */
int gz_ckpt_save(const char *path, const gz_ckpt_entry *entries, int n_entries, const char *const *keys,
                 const char *const *values, int n_meta, gz_err *e);

typedef struct gz_ckpt gz_ckpt;

/* Opens and validates a checkpoint: header JSON, dtypes, shapes against byte ranges, ranges inside the file
 * and not overlapping, and the checksum when the file carries one (files converted from PyTorch by
 * tools/pth_to_safetensors.py carry one too). Every problem is reported with the path and the tensor name. */
gz_ckpt *gz_ckpt_open(const char *path, gz_err *e);
void gz_ckpt_close(gz_ckpt *c);
int gz_ckpt_count(const gz_ckpt *c);
/* Entry i (sorted by name); data points into the loaded file. */
const gz_ckpt_entry *gz_ckpt_entry_at(const gz_ckpt *c, int i);
const gz_ckpt_entry *gz_ckpt_find(const gz_ckpt *c, const char *name);
/* Copies tensor `name` into dst after checking that it exists with this dtype and shape. */
int gz_ckpt_read(const gz_ckpt *c, const char *name, int dtype, int ndim, const int64_t *shape, void *dst, gz_err *e);
/* Metadata value for key, or NULL. */
const char *gz_ckpt_meta(const gz_ckpt *c, const char *key);
const char *gz_dtype_name(int dtype);

#endif
