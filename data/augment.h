/* Training augmentation of the authors (spec method.md section 7): torchvision's
 * RandomAffine(degrees=45, translate=(0.15, 0.15), scale=(0.85, 1.15), fill=0) with NEAREST interpolation,
 * about the image centre, applied with identical parameters to the image, the eye-tracking maps and the
 * ellipse masks. The sampling rule reproduces torchvision.transforms.functional.affine on tensors
 * (inverse affine matrix, affine_grid, grid_sample nearest with align_corners=False, zero fill). */
#ifndef GAZELOC_DATA_AUGMENT_H
#define GAZELOC_DATA_AUGMENT_H

#include "base/base.h"

typedef struct gz_affine {
  float angle_deg;  /* rotation, counter-clockwise as torchvision */
  int tx, ty;       /* translation in pixels */
  float scale;
} gz_affine;

typedef struct gz_affine_range {
  float max_deg;       /* 45 */
  float max_translate; /* 0.15 of the size */
  float scale_lo, scale_hi; /* 0.85, 1.15 */
} gz_affine_range;

extern const gz_affine_range gz_affine_paper;

/* Draws the parameters as torchvision's RandomAffine.get_params does (angle and scale uniform, translation
 * round(uniform(-max, max)) pixels), from the counter-based generator, so a sample's augmentation depends
 * only on (seed, epoch, sample), never on threads. */
gz_affine gz_affine_draw(const gz_affine_range *range, int width, int height, gz_rng *r);

/* Source-pixel table of the transform: src[y*w + x] = index of the input pixel that output pixel (x, y)
 * takes, or -1 where it falls outside (filled with 0). Computing it once lets the image and all its maps
 * share exactly the same mapping. */
void gz_affine_table(const gz_affine *a, int width, int height, int *src);

/* Applies a table to `planes` planes of w*h floats (in and out must not overlap). */
void gz_affine_apply(const int *src, const float *in, float *out, int planes, int width, int height);

#endif
