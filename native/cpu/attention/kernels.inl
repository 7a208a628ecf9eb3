// The CPU attention kernels, written once against a vector type V (native/cpu/simd/vec.h) and
// included by one translation unit per SIMD level, each inside its own namespace (kernels_*.cpp).
// Everything here must stay in that namespace or be `inline`-free of shared names (see vec.h).
//
// The tile loop (after FlashAttention, Dao et al. 2022/2023): form the query tile on load (with
// the AFM reweighting folded in), then for each block of kKeys keys compute S = Q'K^T with a
// register-blocked micro-kernel, update the online softmax, and accumulate O += P V with a second
// micro-kernel; write O / l once. The N x T matrix never exists in memory.
//
// Requires: KERNEL_V (the vector type) defined by the including file.

namespace {

using V = KERNEL_V;
constexpr int W = V::W;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Micro-kernel shapes: R query rows x KV key vectors of accumulators for Q'K^T, and R rows x CV
// value vectors for P V, sized to the register file (32 zmm, 16 ymm).
constexpr int kMaxKV = W == 16 ? 4 : W == 8 ? 2 : 4;
constexpr int kMaxCV = W == 16 ? 4 : W == 8 ? 3 : 4;

// C[r][t*W + i] (= or +=) sum_k A[r][k] * B[k][t*W + i] for r < R, t < KV: R broadcasts of A and
// KV vector loads of B feed R*KV independent FMAs per k. Q'K^T is this with A = Q' and B = K^T;
// the band split's DFT stages are this with A = a DFT table.
template <int R, int KV, bool ACC>
inline void gemm_micro(const float* a, int lda, const float* b, int ldb, int K, float* c, int ldc) {
  V acc[R][KV];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KV; ++t) acc[r][t] = ACC ? V::load(c + r * ldc + t * W) : V::zero();
  for (int k = 0; k < K; ++k) {
    V bv[KV];
    for (int t = 0; t < KV; ++t) bv[t] = V::load(b + k * ldb + t * W);
    for (int r = 0; r < R; ++r) {
      const V ab = V::set1(a[r * lda + k]);
      for (int t = 0; t < KV; ++t) acc[r][t] = V::fmadd(ab, bv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < KV; ++t) acc[r][t].store(c + r * ldc + t * W);
}

template <int R, bool ACC>
inline void gemm_rows(const float* a, int lda, const float* b, int ldb, int K, int nvec, float* c, int ldc) {
  int t = 0;
  for (; t + kMaxKV <= nvec; t += kMaxKV) gemm_micro<R, kMaxKV, ACC>(a, lda, b + t * W, ldb, K, c + t * W, ldc);
  switch (nvec - t) {
    case 1: gemm_micro<R, 1, ACC>(a, lda, b + t * W, ldb, K, c + t * W, ldc); break;
    case 2: if constexpr (kMaxKV > 2) gemm_micro<R, 2, ACC>(a, lda, b + t * W, ldb, K, c + t * W, ldc); break;
    case 3: if constexpr (kMaxKV > 3) gemm_micro<R, 3, ACC>(a, lda, b + t * W, ldb, K, c + t * W, ldc); break;
    default: break;
  }
}

// C[M][nvec*W] (= or +=) A[M][K] . B[K][nvec*W], row-major with leading dimensions lda, ldb, ldc.
template <bool ACC>
void gemm(int M, int nvec, int K, const float* a, int lda, const float* b, int ldb, float* c, int ldc) {
  int r = 0;
  for (; r + 4 <= M; r += 4) gemm_rows<4, ACC>(a + r * lda, lda, b, ldb, K, nvec, c + r * ldc, ldc);
  switch (M - r) {
    case 1: gemm_rows<1, ACC>(a + r * lda, lda, b, ldb, K, nvec, c + r * ldc, ldc); break;
    case 2: gemm_rows<2, ACC>(a + r * lda, lda, b, ldb, K, nvec, c + r * ldc, ldc); break;
    case 3: gemm_rows<3, ACC>(a + r * lda, lda, b, ldb, K, nvec, c + r * ldc, ldc); break;
    default: break;
  }
}

// S[rows][sstride] = Q'[rows][d] . K_block^T for the first nvec vectors of keys of the block.
inline void qk_block(const float* q, int rows, int d, const float* kt, int nvec, float* s, int sstride) {
  gemm<false>(rows, nvec, d, q, d, kt, kKeys, s, sstride);
}

// O[r][t*W..] += sum_{j < nk} P[r][j] * v[j][t*W..] for r < R, t < CV.
template <int R, int CV>
inline void pv_micro(const float* p, int pstride, const float* v, int dpad, int nk, float* o) {
  V acc[R][CV];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < CV; ++t) acc[r][t] = V::load(o + r * dpad + t * W);
  for (int j = 0; j < nk; ++j) {
    V vv[CV];
    for (int t = 0; t < CV; ++t) vv[t] = V::load(v + j * dpad + t * W);
    for (int r = 0; r < R; ++r) {
      const V pb = V::set1(p[r * pstride + j]);
      for (int t = 0; t < CV; ++t) acc[r][t] = V::fmadd(pb, vv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < CV; ++t) acc[r][t].store(o + r * dpad + t * W);
}

template <int R>
inline void pv_rows(const float* p, int pstride, const float* v, int dpad, int nk, float* o) {
  const int nvec = dpad / W;
  int t = 0;
  for (; t + kMaxCV <= nvec; t += kMaxCV) pv_micro<R, kMaxCV>(p, pstride, v + t * W, dpad, nk, o + t * W);
  switch (nvec - t) {
    case 1: pv_micro<R, 1>(p, pstride, v + t * W, dpad, nk, o + t * W); break;
    case 2: pv_micro<R, 2>(p, pstride, v + t * W, dpad, nk, o + t * W); break;
    case 3: if constexpr (kMaxCV > 3) pv_micro<R, 3>(p, pstride, v + t * W, dpad, nk, o + t * W); break;
    default: break;
  }
}

// O[rows][dpad] += P[rows][pstride] . V[nk][dpad].
void pv_block(const float* p, int pstride, int rows, const float* v, int dpad, int nk, float* o) {
  int r = 0;
  for (; r + 4 <= rows; r += 4) pv_rows<4>(p + r * pstride, pstride, v, dpad, nk, o + r * dpad);
  switch (rows - r) {
    case 1: pv_rows<1>(p + r * pstride, pstride, v, dpad, nk, o + r * dpad); break;
    case 2: pv_rows<2>(p + r * pstride, pstride, v, dpad, nk, o + r * dpad); break;
    case 3: pv_rows<3>(p + r * pstride, pstride, v, dpad, nk, o + r * dpad); break;
    default: break;
  }
}

// Q'[rows][d] = cq*Q + clow*L + cdc*D for rows [x0, x0 + rows).
float* form_q(const Head& h, const Dims& dm, QForm f, int x0, int rows, Scratch& sc) {
  float* q = grow(sc.q, static_cast<size_t>(rows) * dm.d);
  const int d = dm.d;
  for (int r = 0; r < rows; ++r) {
    const float* src = h.q + static_cast<size_t>(x0 + r) * d;
    float* dst = q + r * d;
    if (h.low == nullptr) {
      for (int c = 0; c < d; ++c) dst[c] = f.cq * src[c];
    } else {
      const float* low = h.low + static_cast<size_t>(x0 + r) * dm.dpad;
      for (int c = 0; c < d; ++c) dst[c] = f.cq * src[c] + f.clow * low[c] + f.cdc * h.dc[c];
    }
  }
  return q;
}

// Number of valid keys in block b, and -inf into the masked and padding lanes of S (and, when
// causal, into the keys after each row's own position x0 + r).
int mask_block(const Head& h, const Dims& dm, int b, int x0, float* s, int sstride, int rows) {
  const int j0 = b * kKeys;
  const int nk = dm.T - j0 < kKeys ? dm.T - j0 : kKeys;
  const int padded = (nk + W - 1) / W * W;
  for (int j = 0; j < padded; ++j) {
    if (j < nk && (h.mask == nullptr || h.mask[j0 + j])) continue;
    for (int r = 0; r < rows; ++r) s[r * sstride + j] = kNegInf;
  }
  if (dm.causal) {
    for (int r = 0; r < rows; ++r)
      for (int j = x0 + r - j0 + 1; j < padded; ++j)
        if (j >= 0) s[r * sstride + j] = kNegInf;
  }
  return nk;
}

// With a causal mask, blocks that start after the tile's last row hold only future keys.
inline int live_blocks(const Dims& dm, int x0, int rows) {
  if (!dm.causal) return dm.blocks;
  const int last = (x0 + rows - 1) / kKeys + 1;
  return last < dm.blocks ? last : dm.blocks;
}

// One online-softmax step on a row of S (n = padded key count): returns the rescale factor of the
// previous accumulators, overwrites S with exp(S - m_new), updates m and l.
inline float softmax_step(float* srow, int n, float& m, float& l) {
  V mx = V::set1(kNegInf);
  for (int j = 0; j < n; j += W) mx = V::max(mx, V::load(srow + j));
  const float block_max = mx.reduce_max();
  const float m_new = block_max > m ? block_max : m;
  if (m_new == kNegInf) {
    // Every key so far is masked: nothing accumulates (and exp(-inf - -inf) is never taken).
    for (int j = 0; j < n; ++j) srow[j] = 0.f;
    return 1.f;
  }
  const float alpha = V::exp(V::set1(m - m_new)).reduce_max();
  const V mv = V::set1(m_new);
  V sum = V::zero();
  for (int j = 0; j < n; j += W) {
    const V p = V::exp(V::sub(V::load(srow + j), mv));
    p.store(srow + j);
    sum = V::add(sum, p);
  }
  l = l * alpha + sum.reduce_add();
  m = m_new;
  return alpha;
}

void flash(const Head& h, const Dims& dm, QForm f, int x0, int rows, float* out, size_t ostride, Scratch& sc) {
  const float* q = form_q(h, dm, f, x0, rows, sc);
  float* s = grow(sc.s, static_cast<size_t>(kRows) * kKeys);
  float* o = grow(sc.o, static_cast<size_t>(kRows) * dm.dpad);
  for (int i = 0; i < rows * dm.dpad; ++i) o[i] = 0.f;
  float m[kRows], l[kRows];
  for (int r = 0; r < rows; ++r) m[r] = kNegInf, l[r] = 0.f;
  for (int b = 0; b < live_blocks(dm, x0, rows); ++b) {
    const int nk0 = dm.T - b * kKeys < kKeys ? dm.T - b * kKeys : kKeys;
    const int nvec = (nk0 + W - 1) / W;
    qk_block(q, rows, dm.d, h.kt + static_cast<size_t>(b) * dm.d * kKeys, nvec, s, kKeys);
    const int nk = mask_block(h, dm, b, x0, s, kKeys, rows);
    for (int r = 0; r < rows; ++r) {
      const float alpha = softmax_step(s + r * kKeys, nvec * W, m[r], l[r]);
      if (alpha != 1.f) {
        const V a = V::set1(alpha);
        for (int c = 0; c < dm.dpad; c += W) V::mul(V::load(o + r * dm.dpad + c), a).store(o + r * dm.dpad + c);
      }
    }
    pv_block(s, kKeys, rows, h.v + static_cast<size_t>(b) * kKeys * dm.dpad, dm.dpad, nk, o);
  }
  for (int r = 0; r < rows; ++r) {
    const float inv = 1.f / l[r];
    for (int c = 0; c < dm.d; ++c) out[r * ostride + c] = o[r * dm.dpad + c] * inv;
  }
}

// Entropy of each row's softmax, in the frame of the running max: l = sum e^(s-m),
// t = sum e^(s-m) (s-m), H = log l - t / l (natural log).
double entropy(const Head& h, const Dims& dm, QForm f, int x0, int rows, float inv_log_n, Scratch& sc) {
  const float* q = form_q(h, dm, f, x0, rows, sc);
  float* s = grow(sc.s, static_cast<size_t>(kRows) * kKeys);
  float m[kRows], l[kRows], t[kRows];
  for (int r = 0; r < rows; ++r) m[r] = kNegInf, l[r] = 0.f, t[r] = 0.f;
  for (int b = 0; b < live_blocks(dm, x0, rows); ++b) {
    const int nk0 = dm.T - b * kKeys < kKeys ? dm.T - b * kKeys : kKeys;
    const int nvec = (nk0 + W - 1) / W;
    qk_block(q, rows, dm.d, h.kt + static_cast<size_t>(b) * dm.d * kKeys, nvec, s, kKeys);
    mask_block(h, dm, b, x0, s, kKeys, rows);
    for (int r = 0; r < rows; ++r) {
      float* srow = s + r * kKeys;
      V mx = V::set1(kNegInf);
      for (int j = 0; j < nvec * W; j += W) mx = V::max(mx, V::load(srow + j));
      const float bm = mx.reduce_max();
      const float m_new = bm > m[r] ? bm : m[r];
      if (m_new == kNegInf) continue;
      if (m[r] != kNegInf && m_new != m[r]) {
        const float alpha = V::exp(V::set1(m[r] - m_new)).reduce_max();
        t[r] = alpha * (t[r] - (m_new - m[r]) * l[r]);
        l[r] *= alpha;
      }
      m[r] = m_new;
      const V mv = V::set1(m_new), lo = V::set1(-88.f);  // below kExpLo: exp gives exactly 0
      V sl = V::zero(), st = V::zero();
      for (int j = 0; j < nvec * W; j += W) {
        // Clamp so masked keys give 0 * finite, not 0 * -inf.
        const V u = V::max(V::sub(V::load(srow + j), mv), lo);
        const V p = V::exp(u);
        sl = V::add(sl, p);
        st = V::fmadd(p, u, st);
      }
      l[r] += sl.reduce_add();
      t[r] += st.reduce_add();
    }
  }
  double sum = 0;
  for (int r = 0; r < rows; ++r) sum += (std::log(static_cast<double>(l[r])) - t[r] / static_cast<double>(l[r])) * inv_log_n;
  return sum;
}

void logits(const Head& h, const Dims& dm, QForm f, int x0, int rows, float* dst, size_t lstride, Scratch& sc) {
  const float* q = form_q(h, dm, f, x0, rows, sc);
  float* s = grow(sc.s, static_cast<size_t>(kRows) * kKeys);
  for (int b = 0; b < dm.blocks; ++b) {
    const int nk0 = dm.T - b * kKeys < kKeys ? dm.T - b * kKeys : kKeys;
    const int nvec = (nk0 + W - 1) / W;
    qk_block(q, rows, dm.d, h.kt + static_cast<size_t>(b) * dm.d * kKeys, nvec, s, kKeys);
    const int nk = mask_block(h, dm, b, x0, s, kKeys, rows);
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < nk; ++j) dst[r * lstride + b * kKeys + j] = s[r * kKeys + j];
  }
}

// Mean of the k largest of p[0..n) (n a multiple of W; lanes past the row hold 0, as masked keys
// do). Each round takes the largest value below the previous round's and how many lanes hold it,
// so ties count once each: two branch-free vector passes per distinct value, at most k rounds.
float topk_mean(const float* p, int n, int k) {
  const V zero = V::zero(), one = V::set1(1.f), ninf = V::set1(kNegInf);
  float prev = std::numeric_limits<float>::infinity(), sum = 0.f;
  int taken = 0;
  while (taken < k) {
    const V pv = V::set1(prev);
    V mx = ninf;
    for (int j = 0; j < n; j += W) {
      const V x = V::load(p + j);
      mx = V::max(mx, V::select_gt(pv, x, x, ninf));
    }
    const float m = mx.reduce_max();
    if (m == kNegInf) break;  // fewer than k values in the row
    const V mv = V::set1(m);
    V cnt = zero;
    for (int j = 0; j < n; j += W) {
      const V x = V::load(p + j);
      cnt = V::add(cnt, V::select_gt(pv, x, V::select_gt(mv, x, zero, one), zero));  // prev > x >= m
    }
    const int c = static_cast<int>(cnt.reduce_add());
    const int take = c < k - taken ? c : k - taken;
    sum += static_cast<float>(take) * m;
    taken += take;
    prev = m;
  }
  return sum / static_cast<float>(k);
}

// alpha-entmax of one logit row, exact (reference/guidance.md §1). In the frame z' = z (alpha 2)
// or z' = (z - max)/2 (alpha 1.5), p = [z' - tau]_+^(1/(alpha-1)) with tau the root of
// f(tau) = sum_j [z'_j - tau]_+^(1/(alpha-1)) - 1. Newton steps from tau = max z' - 1 (where f >= 0)
// climb monotonically towards the root (f is convex and decreasing); after each step the closed
// form over the current support S = {z' > tau} is accepted as soon as it satisfies the KKT
// conditions min_S z' > tau_S >= max_notS z', which makes it the exact threshold. For alpha 2 the
// Newton step is the closed form itself (Michelot's algorithm). Each step is one vector pass; the
// sort-based routine (row_ops.cpp) remains as the fallback should the loop not settle.
void entmax_row(const float* z, int T, int tp, float alpha, float* p) {
  const bool sparsemax = alpha == 2.f;
  for (int j = 0; j < T; ++j) p[j] = z[j];
  for (int j = T; j < tp; ++j) p[j] = kNegInf;
  V mx = V::set1(kNegInf);
  for (int j = 0; j < tp; j += W) mx = V::max(mx, V::load(p + j));
  const float zmax = mx.reduce_max();
  if (!sparsemax) {
    const V m = V::set1(zmax), half = V::set1(0.5f);
    for (int j = 0; j < tp; j += W) V::mul(V::sub(V::load(p + j), m), half).store(p + j);
  }
  double tau = (sparsemax ? zmax : 0.0) - 1.0;
  const V inf = V::set1(std::numeric_limits<float>::infinity()), ninf = V::set1(kNegInf), zero = V::zero(), one = V::set1(1.f);
  bool solved = false;
  for (int it = 0; it < 64 && !solved; ++it) {
    const V t = V::set1(static_cast<float>(tau));
    V cnt = zero, sum = zero, sq = zero, in_min = inf, out_max = ninf;
    for (int j = 0; j < tp; j += W) {
      const V x = V::load(p + j);
      const V in = V::select_gt(x, t, one, zero);
      const V xs = V::select_gt(x, t, x, zero);  // select, not x * in: -inf * 0 is NaN
      cnt = V::add(cnt, in);
      sum = V::add(sum, xs);
      sq = V::fmadd(xs, xs, sq);
      in_min = V::min(in_min, V::select_gt(x, t, x, inf));
      out_max = V::max(out_max, V::select_gt(x, t, ninf, x));
    }
    const double k = cnt.reduce_add(), s1 = sum.reduce_add(), s2 = sq.reduce_add();
    if (k < 1) break;  // cannot happen from a tau left of the root; fall back
    double tau_s;
    if (sparsemax) {
      tau_s = (s1 - 1) / k;
    } else {
      const double mu = s1 / k, var = s2 / k - mu * mu;
      tau_s = mu - std::sqrt(std::max(1 / k - var, 0.0));
    }
    if (in_min.reduce_min() > tau_s && tau_s >= out_max.reduce_max()) {
      tau = tau_s;
      solved = true;
    } else if (sparsemax) {
      tau = tau_s;
    } else {
      const double f = s2 - 2 * tau * s1 + k * tau * tau - 1, df = -2 * (s1 - k * tau);
      const double next = tau - f / df;
      if (!(next > tau)) break;  // no progress left in float: fall back
      tau = next;
    }
  }
  if (!solved) {
    entmax(z, T, alpha, p);
    return;
  }
  const V t = V::set1(static_cast<float>(tau));
  for (int j = 0; j < tp; j += W) {
    const V u = V::max(V::sub(V::load(p + j), t), zero);
    (sparsemax ? u : V::mul(u, u)).store(p + j);
  }
}

// GAG (reference/guidance.md §2) on one query and head: r = S - D, r_par = <r,S>/|S|^2 S,
// g = r_par + zeta (r - r_par), g *= min(1, eta/|g|), out = S + scale g. S and D have dpad lanes
// (zero padded); out gets the first d.
void gag_combine(const float* S, const float* D, int d, int dpad, const RowOptions& opt, float* out, float* tmp) {
  V rs = V::zero(), ss = V::zero();
  for (int c = 0; c < dpad; c += W) {
    const V sv = V::load(S + c), r = V::sub(sv, V::load(D + c));
    rs = V::fmadd(r, sv, rs);
    ss = V::fmadd(sv, sv, ss);
  }
  const float sn = ss.reduce_add();
  const V k = V::set1(rs.reduce_add() / (sn > 1e-12f ? sn : 1e-12f)), zeta = V::set1(opt.zeta);
  V gg = V::zero();
  for (int c = 0; c < dpad; c += W) {
    const V sv = V::load(S + c), r = V::sub(sv, V::load(D + c)), par = V::mul(k, sv);
    const V g = V::fmadd(zeta, V::sub(r, par), par);
    g.store(tmp + c);
    gg = V::fmadd(g, g, gg);
  }
  const float n = std::sqrt(gg.reduce_add());
  const V f = V::set1(opt.scale * (n > opt.eta ? opt.eta / n : 1.f));
  for (int c = 0; c < dpad; c += W) V::fmadd(f, V::load(tmp + c), V::load(S + c)).store(tmp + c);
  for (int c = 0; c < d; ++c) out[c] = tmp[c];
}

void rows(const Head& h, const Dims& dm, const float* lg, size_t lstride, int nrows, const RowOptions& opt,
          float* out, size_t ostride, float* topk, Scratch& sc) {
  const int T = dm.T, tp = (T + W - 1) / W * W, dpad = dm.dpad, parts = opt.gag ? 2 : 1;
  float* p = grow(sc.p, static_cast<size_t>(nrows) * tp * parts);
  float* o = grow(sc.o, static_cast<size_t>(nrows) * dpad * parts + dpad);
  float* ps = p + static_cast<size_t>(nrows) * tp;  // entmax probabilities (GAG)
  float inv_l[kRows];
  for (int i = 0; i < nrows * dpad * parts; ++i) o[i] = 0.f;
  for (int r = 0; r < nrows; ++r) {
    // Softmax numerators of the full row (masked keys are -inf and get exactly 0); the 1/l
    // normalisation is applied to the output rows instead of every probability.
    float* pr = p + r * tp;
    for (int j = 0; j < T; ++j) pr[j] = lg[r * lstride + j];
    for (int j = T; j < tp; ++j) pr[j] = kNegInf;
    float m = kNegInf, l = 0.f;
    softmax_step(pr, tp, m, l);
    inv_l[r] = 1.f / l;
    if (opt.top_k > 0) topk[r] = topk_mean(pr, tp, opt.top_k < T ? opt.top_k : T) * inv_l[r];
    if (opt.gag) entmax_row(lg + r * lstride, T, tp, opt.alpha, ps + r * tp);
  }
  pv_block(p, tp, nrows, h.v, dpad, T, o);
  for (int r = 0; r < nrows; ++r) {
    const V inv = V::set1(inv_l[r]);
    for (int c = 0; c < dpad; c += W) V::mul(V::load(o + r * dpad + c), inv).store(o + r * dpad + c);
  }
  if (!opt.gag) {
    for (int r = 0; r < nrows; ++r)
      for (int c = 0; c < dm.d; ++c) out[r * ostride + c] = o[r * dpad + c];
    return;
  }
  float* os = o + static_cast<size_t>(nrows) * dpad;
  float* tmp = os + static_cast<size_t>(nrows) * dpad;
  pv_block(ps, tp, nrows, h.v, dpad, T, os);
  for (int r = 0; r < nrows; ++r) gag_combine(os + r * dpad, o + r * dpad, dm.d, dpad, opt, out + r * ostride, tmp);
}

// ---- AFM band split (pruned, Hermitian-halved 2-D DFT as four GEMM stages; see dft_plan.h) ----
// Channels are padded to dpad (a multiple of W) so every stage is whole vectors.
void band_split(const float* q, int d, int dpad, const BandPlan& pl, float* low, float* dc, Scratch& sc) {
  const int H = pl.h, Wd = pl.w, KX = pl.kx_count, KY = static_cast<int>(pl.ky.size());
  const int P = dpad, row = KX * P;  // a row of S2/S3 holds every kx for every channel
  const size_t n13 = static_cast<size_t>(H) * 2 * row, n2 = static_cast<size_t>(KY) * 2 * row;
  float* s13 = grow(sc.p, n13 + n2);  // S1, later reused for S3
  float* s2 = s13 + n13;
  const float* x = q;
  if (d != P) {
    float* xp = grow(sc.q, static_cast<size_t>(H) * Wd * P);
    for (int i = 0; i < H * Wd; ++i) {
      for (int c = 0; c < d; ++c) xp[static_cast<size_t>(i) * P + c] = q[static_cast<size_t>(i) * d + c];
      for (int c = d; c < P; ++c) xp[static_cast<size_t>(i) * P + c] = 0.f;
    }
    x = xp;
  }
  const int pv = P / W, rv = row / W;
  for (int m = 0; m < H; ++m) {
    gemm<false>(2 * KX, pv, Wd, pl.fw.data(), Wd, x + static_cast<size_t>(m) * Wd * P, P, s13 + static_cast<size_t>(m) * 2 * row, P);
  }
  // The spatial mean D: S1's real kx = 0 row of each m holds that image row's channel sums.
  for (int c = 0; c < d; ++c) {
    double total = 0;
    for (int m = 0; m < H; ++m) total += s13[static_cast<size_t>(m) * 2 * row + c];
    dc[c] = static_cast<float>(total / (static_cast<double>(H) * Wd));
  }
  gemm<false>(KY, rv, 2 * H, pl.fh_re.data(), 2 * H, s13, row, s2, 2 * row);
  gemm<false>(KY, rv, 2 * H, pl.fh_im.data(), 2 * H, s13, row, s2 + row, 2 * row);
  for (int i = 0; i < 2 * KY; ++i)
    for (int kx = 0; kx < KX; ++kx) {
      const V g = V::set1(pl.gain[(i / 2) * KX + kx]);
      float* z = s2 + static_cast<size_t>(i) * row + kx * P;
      for (int c = 0; c < P; c += W) V::mul(V::load(z + c), g).store(z + c);
    }
  gemm<false>(H, rv, 2 * KY, pl.gh_re.data(), 2 * KY, s2, row, s13, 2 * row);
  gemm<false>(H, rv, 2 * KY, pl.gh_im.data(), 2 * KY, s2, row, s13 + row, 2 * row);
  for (int m = 0; m < H; ++m) {
    gemm<false>(Wd, pv, 2 * KX, pl.gw.data(), 2 * KX, s13 + static_cast<size_t>(m) * 2 * row, P, low + static_cast<size_t>(m) * Wd * P, P);
  }
}

// ---- Full 2-D DFT filter for the unfused reference path ----
void dft_filter(float* x, int ch, const FilterPlan& pl, Scratch& sc) {
  const int H = pl.h, Wd = pl.w;
  const size_t n = static_cast<size_t>(H) * Wd * ch;
  float* buf = grow(sc.p, 4 * n);
  float* ar = buf;          // along W: A[m][k][c]
  float* ai = ar + n;
  float* zr = ai + n;       // along H: Z[k][kx][c]
  float* zi = zr + n;
  for (size_t i = 0; i < 4 * n; ++i) buf[i] = 0.f;
  for (int m = 0; m < H; ++m)
    for (int k = 0; k < Wd; ++k) {
      float* __restrict__ re = ar + (static_cast<size_t>(m) * Wd + k) * ch;
      float* __restrict__ im = ai + (static_cast<size_t>(m) * Wd + k) * ch;
      for (int j = 0; j < Wd; ++j) {
        const float cs = pl.cos_w[k * Wd + j], sn = pl.sin_w[k * Wd + j];
        const float* __restrict__ s = x + (static_cast<size_t>(m) * Wd + j) * ch;
        for (int c = 0; c < ch; ++c) re[c] += cs * s[c], im[c] -= sn * s[c];
      }
    }
  for (int k = 0; k < H; ++k)
    for (int m = 0; m < H; ++m) {
      const float cs = pl.cos_h[k * H + m], sn = pl.sin_h[k * H + m];
      for (int kx = 0; kx < Wd; ++kx) {
        const float* __restrict__ xr = ar + (static_cast<size_t>(m) * Wd + kx) * ch;
        const float* __restrict__ xi = ai + (static_cast<size_t>(m) * Wd + kx) * ch;
        float* __restrict__ re = zr + (static_cast<size_t>(k) * Wd + kx) * ch;
        float* __restrict__ im = zi + (static_cast<size_t>(k) * Wd + kx) * ch;
        for (int c = 0; c < ch; ++c) re[c] += cs * xr[c] + sn * xi[c], im[c] += cs * xi[c] - sn * xr[c];
      }
    }
  for (int k = 0; k < H; ++k)
    for (int kx = 0; kx < Wd; ++kx) {
      const float g = pl.gain[k * Wd + kx];
      float* re = zr + (static_cast<size_t>(k) * Wd + kx) * ch;
      float* im = zi + (static_cast<size_t>(k) * Wd + kx) * ch;
      for (int c = 0; c < ch; ++c) re[c] *= g, im[c] *= g;
    }
  for (size_t i = 0; i < 2 * n; ++i) buf[i] = 0.f;
  for (int m = 0; m < H; ++m)
    for (int k = 0; k < H; ++k) {
      const float cs = pl.cos_h[k * H + m], sn = pl.sin_h[k * H + m];
      for (int kx = 0; kx < Wd; ++kx) {
        const float* __restrict__ xr = zr + (static_cast<size_t>(k) * Wd + kx) * ch;
        const float* __restrict__ xi = zi + (static_cast<size_t>(k) * Wd + kx) * ch;
        float* __restrict__ re = ar + (static_cast<size_t>(m) * Wd + kx) * ch;
        float* __restrict__ im = ai + (static_cast<size_t>(m) * Wd + kx) * ch;
        for (int c = 0; c < ch; ++c) re[c] += cs * xr[c] - sn * xi[c], im[c] += cs * xi[c] + sn * xr[c];
      }
    }
  for (int m = 0; m < H; ++m)
    for (int j = 0; j < Wd; ++j) {
      float* __restrict__ y = x + (static_cast<size_t>(m) * Wd + j) * ch;
      for (int c = 0; c < ch; ++c) y[c] = 0.f;
      for (int k = 0; k < Wd; ++k) {
        const float cs = pl.cos_w[k * Wd + j], sn = pl.sin_w[k * Wd + j];
        const float* __restrict__ br = ar + (static_cast<size_t>(m) * Wd + k) * ch;
        const float* __restrict__ bi = ai + (static_cast<size_t>(m) * Wd + k) * ch;
        for (int c = 0; c < ch; ++c) y[c] += cs * br[c] - sn * bi[c];
      }
    }
}

}  // namespace

extern const Kernels kKernels;
const Kernels kKernels = {flash, entropy, logits, rows, band_split, dft_filter};
