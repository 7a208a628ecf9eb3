/**
 * Float64 references of the model ops (native/ops/ops.h), written plainly from the PyTorch and
 * diffusers definitions, for test/ops.cpu.test.ts. Inputs are flat row-major arrays with explicit
 * shapes; outputs are Float64Array.
 */

export type Act = 'none' | 'silu' | 'gelu' | 'quick_gelu';

/**
 * erf by its everywhere-convergent series erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (2n+1)!!,
 * whose terms are all positive (no cancellation); |x| >= 6 is +-1 to double precision.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

/**
 * erfc(z) for z >= 0: 1 - erf(z) while that loses under three digits (z < 2), else the continued
 * fraction erfc(z) = e^(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))), evaluated
 * from its 100th term back (converged to double precision from z = 2 on).
 */
export function erfc(z: number): number {
  if (z < 2) return 1 - erf(z);
  let f = z;
  for (let n = 100; n >= 1; n--) f = z + n / 2 / f;
  return Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
}

export function activate(x: number, act: Act): number {
  switch (act) {
    case 'silu': return x / (1 + Math.exp(-x));
    // 0.5 x (1 + erf(x / sqrt 2)) = 0.5 x erfc(-x / sqrt 2): no cancellation in the negative tail.
    case 'gelu': return x >= 0 ? 0.5 * x * (1 + erf(x / Math.SQRT2)) : 0.5 * x * erfc(-x / Math.SQRT2);
    case 'quick_gelu': return x / (1 + Math.exp(-1.702 * x));
    case 'none': return x;
  }
}

export interface EpilogueRef {
  bias?: ArrayLike<number>;
  act?: Act;
  residual?: ArrayLike<number>;
}

/** torch.nn.functional.linear: y[r][o] = act(sum_k x[r][k] w[o][k] + b[o]) + residual[r][o]. */
export function linearRef(x: ArrayLike<number>, rows: number, inF: number, w: ArrayLike<number>, outF: number, e: EpilogueRef = {}): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = e.bias ? e.bias[o]! : 0;
      for (let k = 0; k < inF; k++) s += x[r * inF + k]! * w[o * inF + k]!;
      y[r * outF + o] = activate(s, e.act ?? 'none') + (e.residual ? e.residual[r * outF + o]! : 0);
    }
  }
  return y;
}

export interface ConvShape {
  N: number; C: number; H: number; W: number;
  O: number; kh: number; kw: number;
  stride: number;
  /** [top, bottom, left, right] */
  pad: [number, number, number, number];
}

export function convOutSize(s: ConvShape): [number, number] {
  return [Math.floor((s.H + s.pad[0] + s.pad[1] - s.kh) / s.stride) + 1, Math.floor((s.W + s.pad[2] + s.pad[3] - s.kw) / s.stride) + 1];
}

/** torch.nn.functional.conv2d (groups 1, dilation 1, zero padding) with the epilogue; y [N, O, Ho, Wo]. */
export function conv2dRef(x: ArrayLike<number>, w: ArrayLike<number>, s: ConvShape, e: EpilogueRef = {}): Float64Array {
  const [Ho, Wo] = convOutSize(s);
  const y = new Float64Array(s.N * s.O * Ho * Wo);
  for (let n = 0; n < s.N; n++) {
    for (let o = 0; o < s.O; o++) {
      for (let oy = 0; oy < Ho; oy++) {
        for (let ox = 0; ox < Wo; ox++) {
          let sum = e.bias ? e.bias[o]! : 0;
          for (let c = 0; c < s.C; c++) {
            for (let ky = 0; ky < s.kh; ky++) {
              const iy = oy * s.stride - s.pad[0] + ky;
              if (iy < 0 || iy >= s.H) continue;
              for (let kx = 0; kx < s.kw; kx++) {
                const ix = ox * s.stride - s.pad[2] + kx;
                if (ix < 0 || ix >= s.W) continue;
                sum += x[((n * s.C + c) * s.H + iy) * s.W + ix]! * w[((o * s.C + c) * s.kh + ky) * s.kw + kx]!;
              }
            }
          }
          const i = ((n * s.O + o) * Ho + oy) * Wo + ox;
          y[i] = activate(sum, e.act ?? 'none') + (e.residual ? e.residual[i]! : 0);
        }
      }
    }
  }
  return y;
}

/** Mean and biased variance of values[from, from + n) (two passes, double). */
function moments(v: ArrayLike<number>, from: number, n: number): [number, number] {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += v[from + i]!;
  mean /= n;
  let varSum = 0;
  for (let i = 0; i < n; i++) varSum += (v[from + i]! - mean) ** 2;
  return [mean, varSum / n];
}

/** torch.nn.GroupNorm over x [N, C, ...spatial] (S positions per channel), then SiLU when `silu`. */
export function groupNormRef(x: ArrayLike<number>, N: number, C: number, S: number, groups: number, eps: number,
  w?: ArrayLike<number>, b?: ArrayLike<number>, silu = false): Float64Array {
  const y = new Float64Array(N * C * S);
  const cg = C / groups;
  for (let n = 0; n < N; n++) {
    for (let g = 0; g < groups; g++) {
      const from = (n * C + g * cg) * S;
      const [mean, variance] = moments(x, from, cg * S);
      const rstd = 1 / Math.sqrt(variance + eps);
      for (let c = g * cg; c < (g + 1) * cg; c++) {
        for (let i = 0; i < S; i++) {
          const at = (n * C + c) * S + i;
          let v = (x[at]! - mean) * rstd;
          if (w && b) v = v * w[c]! + b[c]!;
          y[at] = silu ? activate(v, 'silu') : v;
        }
      }
    }
  }
  return y;
}

/** torch.nn.LayerNorm over the last dim D. */
export function layerNormRef(x: ArrayLike<number>, D: number, eps: number, w?: ArrayLike<number>, b?: ArrayLike<number>): Float64Array {
  const rows = x.length / D;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const [mean, variance] = moments(x, r * D, D);
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let j = 0; j < D; j++) {
      const v = (x[r * D + j]! - mean) * rstd;
      y[r * D + j] = w && b ? v * w[j]! + b[j]! : v;
    }
  }
  return y;
}

export function activationRef(x: ArrayLike<number>, act: Act): Float64Array {
  return Float64Array.from(x, (v) => activate(v, act));
}

/** diffusers GEGLU after its projection: x [rows, 2h] -> x[:, :h] * gelu(x[:, h:]). */
export function gegluRef(x: ArrayLike<number>, rows: number, h: number): Float64Array {
  const y = new Float64Array(rows * h);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < h; j++) y[r * h + j] = x[r * 2 * h + j]! * activate(x[r * 2 * h + h + j]!, 'gelu');
  }
  return y;
}

/** a + b, b of a's length or one value per leading (n, c) plane of `plane` elements. */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>, plane = 1): Float64Array {
  return Float64Array.from(a, (v, i) => v + (b.length === a.length ? b[i]! : b[Math.floor(i / plane)]!));
}

/** F.interpolate(scale_factor=2, mode="nearest") of x [planes, H, W]. */
export function upsampleRef(x: ArrayLike<number>, planes: number, H: number, W: number): Float64Array {
  const y = new Float64Array(planes * 4 * H * W);
  for (let p = 0; p < planes; p++) {
    for (let i = 0; i < 2 * H; i++) {
      for (let j = 0; j < 2 * W; j++) y[(p * 2 * H + i) * 2 * W + j] = x[(p * H + (i >> 1)) * W + (j >> 1)]!;
    }
  }
  return y;
}

export interface TimestepRef {
  dim: number;
  flipSinToCos: boolean;
  downscaleFreqShift: number;
  scale: number;
  maxPeriod: number;
}

/**
 * diffusers get_timestep_embedding. Its float32 steps (exponent, frequency, argument) are rounded
 * with Math.fround as PyTorch rounds them, since sin of an argument near 1000 magnifies a one-ulp
 * difference in the argument; sin and cos themselves are taken in double.
 */
export function timestepRef(t: ArrayLike<number>, p: TimestepRef): Float64Array {
  const f = Math.fround;
  const half = Math.floor(p.dim / 2);
  const y = new Float64Array(t.length * p.dim);
  const negLog = f(-Math.log(p.maxPeriod));
  const divisor = f(half - p.downscaleFreqShift);
  for (let r = 0; r < t.length; r++) {
    for (let i = 0; i < half; i++) {
      const freq = f(Math.exp(f(f(negLog * i) / divisor)));
      const arg = f(f(p.scale) * f(f(t[r]!) * freq));
      const s = Math.sin(arg);
      const c = Math.cos(arg);
      y[r * p.dim + i] = p.flipSinToCos ? c : s;
      y[r * p.dim + half + i] = p.flipSinToCos ? s : c;
    }
  }
  return y;
}

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let d = shape.length - 1, acc = 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/** x.permute(perm).contiguous(). */
export function permuteRef(x: ArrayLike<number>, shape: number[], perm: number[]): Float64Array {
  const inStride = strides(shape);
  const outShape = perm.map((p) => shape[p]!);
  const y = new Float64Array(x.length);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < y.length; i++) {
    let off = 0;
    for (let d = 0; d < perm.length; d++) off += idx[d]! * inStride[perm[d]!]!;
    y[i] = x[off]!;
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return y;
}

/** torch.cat along dim of row-major arrays with the given shapes. */
export function concatRef(parts: Array<{ data: ArrayLike<number>; shape: number[] }>, dim: number): Float64Array {
  const outer = parts[0]!.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const rows = parts.map((p) => p.shape.slice(dim).reduce((a, b) => a * b, 1));
  const y = new Float64Array(outer * rows.reduce((a, b) => a + b, 0));
  let at = 0;
  for (let o = 0; o < outer; o++) {
    parts.forEach((p, k) => {
      for (let i = 0; i < rows[k]!; i++) y[at++] = p.data[o * rows[k]! + i]!;
    });
  }
  return y;
}

/** torch.narrow(x, dim, begin, end - begin). */
export function sliceRef(x: ArrayLike<number>, shape: number[], dim: number, begin: number, end: number): Float64Array {
  const outer = shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const y = new Float64Array(outer * (end - begin) * inner);
  let at = 0;
  for (let o = 0; o < outer; o++) {
    for (let i = begin * inner; i < end * inner; i++) y[at++] = x[o * shape[dim]! * inner + i]!;
  }
  return y;
}

/** torch.nn.Embedding: rows of table [V, D] by id. */
export function embeddingRef(table: ArrayLike<number>, D: number, ids: number[]): Float64Array {
  const y = new Float64Array(ids.length * D);
  ids.forEach((id, r) => {
    for (let j = 0; j < D; j++) y[r * D + j] = table[id * D + j]!;
  });
  return y;
}
