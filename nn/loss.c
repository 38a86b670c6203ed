/* The MIL loss (method.md section 1, Eqs. 1-5) and the decoder loss (section 2, Eq. 6), in log space.
 *
 * For one image and class, with s_j = sigmoid(gamma_j):
 *   S0   = sum_j log(lb + (1-lb)(1-s_j))       log of the soft-OR complement; lb = 0.98 (Eq. 1)
 *   C_k  = 1 - exp(S0) = -expm1(S0)            (Eq. 1)
 *   L_U+ = -log(C_k + 1e-20)                   (Eq. 3)
 *   L_U- = -log(exp(S0) + 1e-20)               (Eq. 4)
 *   logP = sum_{b=1} log(lb+ + (1-lb+) s_j) + sum_{b=0} log(lb- + (1-lb-)(1-s_j)),
 *          lb+- = 0.0056738^(1/n+-), n+ = #cells with b=1, n- = G^2 - n+      (Eq. 2)
 *   L_A  = -log(exp(logP) + 1e-20)
 *   L_I  = sum_batch sum_k [lambda_A A L_A + (1-A)(y L_U+ + (1-y) L_U-)]      (Eq. 5)
 * The 1e-20 terms are the authors'; everything else is their products rewritten as sums of logs. */
#include "nn/loss.h"

#include <math.h>

#define EPS_LOG 1e-20

static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

/* log(lb + (1-lb) p) and its derivative with respect to gamma, for p = s (sign +1) or p = 1-s (sign -1).
 * Written as log1p(-(1-lb) (1-p)) with 1-p = sigmoid(-sign gamma): for |gamma| of 40 or more, 1-p is below
 * double precision next to 1, and the plain form would round every factor to exactly 1 (or lb). */
static double log_factor(double lb, double gamma, int sign, double *dlog_dgamma) {
  double p = sigmoid(sign * gamma), q = sigmoid(-sign * gamma); /* q = 1 - p, both accurate */
  double lf = log1p(-(1.0 - lb) * q);
  *dlog_dgamma = sign * (1.0 - lb) * p * q / exp(lf);
  return lf;
}

static double ck_lower_bound(int ck_range, int ncell) {
  return ck_range == GZ_CK_BALANCED ? pow(GZ_MIL_LB_BASE, 1.0 / ncell) : GZ_MIL_LB_FIXED;
}

/* One (image, class): the loss term and, if d is non-NULL, its gradient with respect to gamma (written,
 * times `scale`). Generated for double and float inputs from one body, so there is one copy of the math;
 * all arithmetic is in double either way. No allocation: the gradient is formed in two passes. */
#define MIL_TERM(NAME, T)                                                                                          \
  static double NAME(const T *g, const T *b, double y, int annotated, int ncell, const gz_mil_opts *o, T *d,     \
                     double scale, int accumulate) {                                                             \
    double dl;                                                                                                   \
    if (annotated) {                                                                                             \
      int npos = 0;                                                                                              \
      for (int j = 0; j < ncell; j++) npos += b[j] > 0.5;                                                        \
      int nneg = ncell - npos;                                                                                   \
      double lbp = o->balanced ? (npos ? pow(GZ_MIL_LB_BASE, 1.0 / npos) : 0.0) : GZ_MIL_LB_FIXED;               \
      double lbn = o->balanced ? (nneg ? pow(GZ_MIL_LB_BASE, 1.0 / nneg) : 0.0) : GZ_MIL_LB_FIXED;               \
      double logp = 0;                                                                                           \
      for (int j = 0; j < ncell; j++)                                                                            \
        logp += b[j] > 0.5 ? log_factor(lbp, g[j], +1, &dl) : log_factor(lbn, g[j], -1, &dl);  \
      double p = exp(logp);                                                                                      \
      double loss = -log(p + EPS_LOG); /* Eq. 2: L_A */                                                          \
      double k = scale * o->lambda_a * (-p / (p + EPS_LOG));                                                     \
      for (int j = 0; d && j < ncell; j++) {                                                                     \
        if (b[j] > 0.5) log_factor(lbp, g[j], +1, &dl);                                                 \
        else log_factor(lbn, g[j], -1, &dl);                                                            \
        d[j] = (T)((accumulate ? (double)d[j] : 0.0) + k * dl);                                                  \
      }                                                                                                          \
      return o->lambda_a * loss;                                                                                 \
    }                                                                                                            \
    double lb = ck_lower_bound(o->ck_range, ncell), s0 = 0;                                                      \
    for (int j = 0; j < ncell; j++) s0 += log_factor(lb, g[j], -1, &dl);                                \
    double q = exp(s0), c = -expm1(s0); /* q = 1 - C_k; C_k without cancellation */                              \
    double loss, dloss_ds0;                                                                                      \
    if (y > 0.5) {                                                                                               \
      loss = -log(c + EPS_LOG); /* Eq. 3: L_U+ */                                                                \
      dloss_ds0 = q / (c + EPS_LOG);                                                                             \
    } else {                                                                                                     \
      loss = -log(q + EPS_LOG); /* Eq. 4: L_U- */                                                                \
      dloss_ds0 = -q / (q + EPS_LOG);                                                                            \
    }                                                                                                            \
    for (int j = 0; d && j < ncell; j++) {                                                                       \
      log_factor(lb, g[j], -1, &dl);                                                                               \
      d[j] = (T)((accumulate ? (double)d[j] : 0.0) + scale * dloss_ds0 * dl);                                    \
    }                                                                                                            \
    return loss;                                                                                                 \
  }

MIL_TERM(mil_term_d, double)
MIL_TERM(mil_term_f, float)

/* Eq. 5: a sum over the batch and classes, no mean. */
double gz_mil_loss_d(const double *gamma, const double *b, const double *y, const unsigned char *annotated, int nb,
                     int nk, int ncell, const gz_mil_opts *o, double *dgamma) {
  double total = 0;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < nk; k++) {
      size_t off = ((size_t)i * (size_t)nk + (size_t)k) * (size_t)ncell;
      total += mil_term_d(gamma + off, b + off, y[i * nk + k], annotated[i], ncell, o, dgamma ? dgamma + off : NULL,
                          1.0, 0);
    }
  return total;
}

double gz_mil_loss(const float *gamma, const float *b, const float *y, const unsigned char *annotated, int nb, int nk,
                   int ncell, const gz_mil_opts *o, float *dgamma, float scale, int accumulate) {
  double total = 0;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < nk; k++) {
      size_t off = ((size_t)i * (size_t)nk + (size_t)k) * (size_t)ncell;
      total += mil_term_f(gamma + off, b + off, y[i * nk + k], annotated[i], ncell, o, dgamma ? dgamma + off : NULL,
                          scale, accumulate);
    }
  return total;
}

void gz_mil_ck(const float *gamma, int nb, int nk, int ncell, int ck_range, float *ck) {
  double lb = ck_lower_bound(ck_range, ncell);
  for (int i = 0; i < nb * nk; i++) {
    double s0 = 0;
    for (int j = 0; j < ncell; j++) {
      double dl;
      s0 += log_factor(lb, gamma[(size_t)i * (size_t)ncell + j], -1, &dl);
    }
    ck[i] = (float)-expm1(s0);
  }
}

/* BCE with logits, stable: max(z,0) - z t + log(1 + exp(-|z|)); derivative sigmoid(z) - t. */
static double bce(double z, double t) { return fmax(z, 0) - z * t + log1p(exp(-fabs(z))); }

double gz_decoder_loss_d(const double *z, const double *t, const double *y, const unsigned char *annotated, int nb,
                         int nk, int npix, double *dz) {
  double n = (double)nb * nk * npix, sum = 0;
  int any = 0;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < nk; k++) any |= annotated[i] && y[i * nk + k] > 0.5;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < nk; k++) {
      int m = annotated[i] && y[i * nk + k] > 0.5; /* m_bk = 1_A(b) y_bk */
      size_t off = ((size_t)i * (size_t)nk + (size_t)k) * (size_t)npix;
      for (int p = 0; p < npix; p++) {
        double zz = m ? z[off + p] : 0.0; /* the code feeds z * m: masked logits are 0 */
        sum += bce(zz, t[off + p]);
        if (dz) dz[off + p] = any && m ? (sigmoid(zz) - t[off + p]) / n : 0.0;
      }
    }
  return any ? sum / n : 0.0; /* Eq. 6; seg = 0 when no (annotated, positive) pair */
}

double gz_decoder_loss(const float *z, const float *t, const float *y, const unsigned char *annotated, int nb, int nk,
                       int npix, float *dz, float scale, int accumulate) {
  double n = (double)nb * nk * npix, sum = 0;
  int any = 0;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < nk; k++) any |= annotated[i] && y[i * nk + k] > 0.5f;
  for (int i = 0; i < nb; i++)
    for (int k = 0; k < nk; k++) {
      int m = annotated[i] && y[i * nk + k] > 0.5f;
      size_t off = ((size_t)i * (size_t)nk + (size_t)k) * (size_t)npix;
      double part = 0;
      for (int p = 0; p < npix; p++) {
        double zz = m ? z[off + p] : 0.0;
        part += bce(zz, t[off + p]);
        if (dz) {
          double g = any && m ? scale * (sigmoid(zz) - t[off + p]) / n : 0.0;
          dz[off + p] = (float)((accumulate ? dz[off + p] : 0.0f) + g);
        }
      }
      sum += part;
    }
  return any ? sum / n : 0.0;
}
