/* The sigmoid family with vector exp and log1p (AVX2, AVX-512), included by ops_fast_body.h after its
 * vector macros. Without SIMD (the baseline table) these are the parallel libm versions.
 *
 * exp and log are Cephes' single-precision polynomials (S. Moshier; expf: range reduction by n*ln2
 * split in two constants, degree-6 polynomial, relative error ~2e-7; logf: mantissa in
 * [sqrt(1/2), sqrt(2)), degree-8 polynomial). log1p(u) for u in [0, 1] is log(w) u / (w - 1) with
 * w = 1 + u (Goldberg's correction for the rounding of w; exact for w == 1). The forms are the stable
 * ones of tensor.h, so nothing overflows; exp(-|x|) below 2^-126 (|x| > 87.3) is flushed to 0, an
 * absolute error under 1.2e-38. Against the double reference: a few ulp (tests: rtol 1e-6). */
#if VW > 1

static inline vf vexp_neg(vf x) { /* exp(x) for x <= 0 */
  const vf lo = VSET1(-87.33654f);
  vf xc = VMAX(x, lo);
  vi n = VROUND_I(VMUL(xc, VSET1(1.44269504088896341f)));
  vf fn = VI_TO_F(n);
  vf r = VFMA(fn, VSET1(-0.693359375f), xc);
  r = VFMA(fn, VSET1(2.12194440e-4f), r);
  vf p = VSET1(1.9875691500e-4f);
  p = VFMA(p, r, VSET1(1.3981999507e-3f));
  p = VFMA(p, r, VSET1(8.3334519073e-3f));
  p = VFMA(p, r, VSET1(4.1665795894e-2f));
  p = VFMA(p, r, VSET1(1.6666665459e-1f));
  p = VFMA(p, r, VSET1(5.0000001201e-1f));
  vf y = VADD(VFMA(p, VMUL(r, r), r), VSET1(1.0f));
  vf scale = VI_AS_F(VI_SLLI(VI_ADD(n, VI_SET1(127)), 23)); /* 2^n, n >= -126 */
  return VSEL_LT(x, lo, VZERO(), VMUL(y, scale));
}

static inline vf vlog1p_01(vf u) { /* log(1 + u) for u in [0, 1] */
  const vf one = VSET1(1.0f);
  vf w = VADD(one, u);
  vi bits = VF_AS_I(w);
  vf e = VI_TO_F(VI_SUB(VI_SRLI(bits, 23), VI_SET1(126)));
  vf m = VI_AS_F(VI_OR(VI_AND(bits, VI_SET1(0x007fffff)), VI_SET1(0x3f000000))); /* [0.5, 1) */
  const vf sqrthf = VSET1(0.707106781186547524f);
  e = VSEL_LT(m, sqrthf, VSUB(e, one), e);
  vf f = VSEL_LT(m, sqrthf, VSUB(VADD(m, m), one), VSUB(m, one));
  vf z = VMUL(f, f);
  vf p = VSET1(7.0376836292e-2f);
  p = VFMA(p, f, VSET1(-1.1514610310e-1f));
  p = VFMA(p, f, VSET1(1.1676998740e-1f));
  p = VFMA(p, f, VSET1(-1.2420140846e-1f));
  p = VFMA(p, f, VSET1(1.4249322787e-1f));
  p = VFMA(p, f, VSET1(-1.6668057665e-1f));
  p = VFMA(p, f, VSET1(2.0000714765e-1f));
  p = VFMA(p, f, VSET1(-2.4999993993e-1f));
  p = VFMA(p, f, VSET1(3.3333331174e-1f));
  vf y = VMUL(VMUL(p, f), z);
  y = VFMA(e, VSET1(-2.12194440e-4f), y);
  y = VFMA(z, VSET1(-0.5f), y);
  vf lg = VFMA(e, VSET1(0.693359375f), VADD(f, y));
  vf wm1 = VSUB(w, one);
  return VSEL_EQ(wm1, VZERO(), u, VMUL(lg, VDIV(u, VSEL_EQ(wm1, VZERO(), one, wm1))));
}

static inline vf vsigmoid(vf x) {
  const vf one = VSET1(1.0f);
  vf z = vexp_neg(VSUB(VZERO(), VABS(x)));
  vf d = VADD(one, z);
  return VSEL_LT(x, VZERO(), VDIV(z, d), VDIV(one, d));
}

/* One elementwise SIMD loop over (row, block) tasks; the scalar tail runs through a one-lane load of
 * a zero-padded copy, so tails get the same polynomial as the body. */
#define VMATH_ELT(ts, k, body)                                                          \
  do {                                                                                  \
    int64_t rows_, len_;                                                                \
    gz_elt_rows(ts, k, &rows_, &len_);                                                  \
    GZ_PAR_BLOCKS(rows_, len_, r_, b0_, b1_, {                                          \
      for (int64_t i_ = b0_; i_ < b1_; i_ += VW) {                                      \
        const int full_ = i_ + VW <= b1_;                                               \
        const int64_t nl_ = full_ ? VW : b1_ - i_;                                      \
        body                                                                            \
      }                                                                                 \
    });                                                                                 \
  } while (0)
/* load/store of VW lanes or the nl_ lanes left (padding with `pad`) */
static inline vf vload_part(const float *p, int64_t n, float pad) {
  float b[VW];
  for (int j = 0; j < VW; j++) b[j] = j < n ? p[j] : pad;
  return VLOAD(b);
}
static inline void vstore_part(float *p, vf v, int64_t n) {
  float b[VW];
  VSTORE(b, v);
  for (int64_t j = 0; j < n; j++) p[j] = b[j];
}
#define LD(t, pad) (full_ ? VLOAD(gz_row(t, r_) + i_) : vload_part(gz_row(t, r_) + i_, nl_, pad))
#define ST(t, v) (full_ ? VSTORE(gz_row(t, r_) + i_, v) : vstore_part(gz_row(t, r_) + i_, v, nl_))
#define ACC(t, v) (accumulate ? VADD(LD(t, 0.0f), v) : (v))

static void SFX(sigmoid_fwd)(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  VMATH_ELT(ts, 2, { ST(y, vsigmoid(LD(x, 0.0f))); });
}
/* dy * (1 - y) * y: the reference's float operations in the same order, so bitwise its result */
static void SFX(sigmoid_bwd)(const gz_tensor *y, const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  const gz_tensor *ts[] = {y, dy, dx};
  VMATH_ELT(ts, 3, {
    vf yy = LD(y, 0.0f);
    ST(dx, ACC(dx, VMUL(VMUL(LD(dy, 0.0f), VSUB(VSET1(1.0f), yy)), yy)));
  });
}
static void SFX(logsigmoid_fwd)(const gz_tensor *x, gz_tensor *y) {
  const gz_tensor *ts[] = {x, y};
  VMATH_ELT(ts, 2, {
    vf xx = LD(x, 0.0f);
    ST(y, VSUB(VMIN(xx, VZERO()), vlog1p_01(vexp_neg(VSUB(VZERO(), VABS(xx))))));
  });
}
static void SFX(logsigmoid_bwd)(const gz_tensor *x, const gz_tensor *dy, gz_tensor *dx, int accumulate) {
  const gz_tensor *ts[] = {x, dy, dx};
  VMATH_ELT(ts, 3, { ST(dx, ACC(dx, VMUL(LD(dy, 0.0f), vsigmoid(VSUB(VZERO(), LD(x, 0.0f)))))); });
}
static void SFX(bce_logits_fwd)(const gz_tensor *x, const gz_tensor *t, gz_tensor *l) {
  const gz_tensor *ts[] = {x, t, l};
  VMATH_ELT(ts, 3, {
    vf xx = LD(x, 0.0f);
    vf a = VSUB(VMAX(xx, VZERO()), VMUL(xx, LD(t, 0.0f)));
    ST(l, VADD(a, vlog1p_01(vexp_neg(VSUB(VZERO(), VABS(xx))))));
  });
}
static void SFX(bce_logits_bwd)(const gz_tensor *x, const gz_tensor *t, const gz_tensor *dl, float scale, gz_tensor *dx,
                                int accumulate) {
  const gz_tensor *ts[] = {x, t, dx};
  VMATH_ELT(ts, 3, {
    vf g = VSUB(vsigmoid(LD(x, 0.0f)), LD(t, 0.0f));
    if (dl) g = VMUL(g, LD(dl, 0.0f));
    ST(dx, ACC(dx, VMUL(g, VSET1(scale))));
  });
}
#undef LD
#undef ST
#undef ACC

#define SIG_SIGMOID_FWD SFX(sigmoid_fwd)
#define SIG_SIGMOID_BWD SFX(sigmoid_bwd)
#define SIG_LOGSIGMOID_FWD SFX(logsigmoid_fwd)
#define SIG_LOGSIGMOID_BWD SFX(logsigmoid_bwd)
#define SIG_BCE_LOGITS_FWD SFX(bce_logits_fwd)
#define SIG_BCE_LOGITS_BWD SFX(bce_logits_bwd)
#else
#define SIG_SIGMOID_FWD gz_par_sigmoid_fwd
#define SIG_SIGMOID_BWD gz_par_sigmoid_bwd
#define SIG_LOGSIGMOID_FWD gz_par_logsigmoid_fwd
#define SIG_LOGSIGMOID_BWD gz_par_logsigmoid_bwd
#define SIG_BCE_LOGITS_FWD gz_par_bce_logits_fwd
#define SIG_BCE_LOGITS_BWD gz_par_bce_logits_bwd
#endif
