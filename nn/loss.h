/* The paper's losses (spec method.md sections 1-2), as fused kernels on raw buffers: forward value and
 * the gradient with respect to the logits in one pass. The autograd op table wraps each as one node.
 *
 * Symbols as in method.md: gamma [B,K,G,G] grid logits, s = sigmoid(gamma), b [B,K,G,G] binary annotation
 * on the grid, y [B,K] image labels, A [B] annotated flags, lambda_A (3), lambda_T (300).
 * Computed in log space in double precision (sums of log factors, expm1): the same mathematics as the
 * authors' products, but it stays finite and accurate where a float32 product rounds to 0 or 1. */
#ifndef GAZELOC_NN_LOSS_H
#define GAZELOC_NN_LOSS_H

#include "base/base.h"

#define GZ_MIL_LB_FIXED 0.98      /* Li et al.'s range [0.98, 1] */
#define GZ_MIL_LB_BASE 0.0056738  /* 0.98^256: lb = 0.0056738^(1/n_t) */

enum gz_ck_range {
  GZ_CK_FIXED = 0,    /* C_k with the fixed [0.98, 1] range over all cells: the authors' code (default) */
  GZ_CK_BALANCED = 1, /* C_k with [0.0056738^(1/G^2), 1]: the paper text's reading */
};

typedef struct gz_mil_opts {
  double lambda_a;  /* weight of the annotated term (3) */
  int balanced;     /* L_A with the balanced ranges (1, default) or the fixed 0.98 (ablation rows 1-2) */
  int ck_range;     /* gz_ck_range */
} gz_mil_opts;

#define GZ_MIL_OPTS_DEFAULT ((gz_mil_opts){3.0, 1, GZ_CK_FIXED})

/* Eq. 1: C_k for every (image, class), from gamma [nb*nk*ncell]. ck[nb*nk]. */
void gz_mil_ck(const float *gamma, int nb, int nk, int ncell, int ck_range, float *ck);

/* Eq. 2-5: L_I summed over the batch and classes. b: annotation grid (values > 0.5 count as 1; only read
 * for annotated images), y: labels (0/1), annotated: A flags. dgamma (may be NULL) receives
 * dL_I/dgamma scaled by `scale` (the upstream gradient), added to what it holds when accumulate. */
double gz_mil_loss(const float *gamma, const float *b, const float *y, const unsigned char *annotated, int nb, int nk,
                   int ncell, const gz_mil_opts *o, float *dgamma, float scale, int accumulate);

/* The same in double everywhere, for gradient checks and references. */
double gz_mil_loss_d(const double *gamma, const double *b, const double *y, const unsigned char *annotated, int nb,
                     int nk, int ncell, const gz_mil_opts *o, double *dgamma);

/* Eq. 6 as the authors' code computes it: BCEWithLogits(z * m, t) averaged over all nb*nk*npix elements,
 * with m[b,k] = A_b * y_bk; masked elements count log 2 each and get no gradient; 0 when no (annotated,
 * positive) pair is in the batch. dz (may be NULL) gets dL_T/dz * scale (added when accumulate). */
double gz_decoder_loss(const float *z, const float *t, const float *y, const unsigned char *annotated, int nb, int nk,
                       int npix, float *dz, float scale, int accumulate);
double gz_decoder_loss_d(const double *z, const double *t, const double *y, const unsigned char *annotated, int nb,
                         int nk, int npix, double *dz);

#endif
