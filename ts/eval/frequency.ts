/**
 * AFM's frequency measures (reference/afm.md): the high-frequency (HF) ratio of the concentration
 * maps' radial spectra over denoising (§3), and the image-level edit split (§11): how much of the
 * change AFM makes to a picture lies above and below the cutoff radius.
 *
 * Both use afm.md's corner-normalised radius r = sqrt(fx² + fy²) / sqrt(0.5), fx and fy in cycles
 * per sample as numpy's fftfreq gives them, and one convention at the cutoff r_c: a frequency with
 * r >= r_c is high. That is where the capture's radial bins put it (bin = floor(r * bins)), so the
 * two measures split the spectrum the same way; on the 8x8 and 16x16 grids the diagonal frequency
 * (1/8, 1/8) lies exactly on r_c = 0.25 and so counts as high.
 */
import type { LayerCapture } from '../pipeline/generate.js';

/** numpy.fft.fftfreq(n)[k]: cycles per sample in [-0.5, 0.5). */
function fftfreq(n: number, k: number): number {
  return (k < Math.ceil(n / 2) ? k : k - n) / n;
}

/** The corner-normalised radius of DFT bin (ky, kx) on an h x w grid. */
export function radius(h: number, w: number, ky: number, kx: number): number {
  return Math.hypot(fftfreq(h, ky), fftfreq(w, kx)) / Math.SQRT1_2;
}

/**
 * The HF ratio of one radially binned power spectrum (shares per bin, bins of equal width on
 * [0, 1]): the share in the bins at or above `cutoff`. `cutoff * bins` must be a whole number, so
 * that no bin straddles the cutoff.
 */
export function hfRatio(spectrum: ArrayLike<number>, cutoff: number): number {
  const bins = spectrum.length;
  const first = Math.round(cutoff * bins);
  if (Math.abs(first - cutoff * bins) > 1e-9) throw new RangeError(`hfRatio: cutoff ${cutoff} falls inside a bin of ${bins}`);
  let high = 0;
  let total = 0;
  for (let b = 0; b < bins; b++) {
    total += spectrum[b]!;
    if (b >= first) high += spectrum[b]!;
  }
  return total > 0 ? high / total : NaN;
}

/**
 * Per model call, the HF ratio of each layer's spectrum (afm.md §3 step 5), averaged over the
 * layers that ran at that call (T-GATE's replayed calls are NaN and skipped): `[steps]`, NaN where
 * no layer ran.
 */
export function hfCurve(layers: readonly LayerCapture[], steps: number, cutoff: number): Float64Array {
  const out = new Float64Array(steps);
  for (let s = 0; s < steps; s++) {
    let sum = 0;
    let n = 0;
    for (const l of layers) {
      const row = l.spectra.subarray(s * l.bins, (s + 1) * l.bins);
      if (Number.isNaN(row[0]!)) continue;
      const r = hfRatio(row, cutoff);
      if (Number.isNaN(r)) continue;
      sum += r;
      n++;
    }
    out[s] = n ? sum / n : NaN;
  }
  return out;
}

/**
 * The energy of a picture (or a difference of pictures) below and above the cutoff radius: for
 * each channel the 2-D DFT, then the sum of |X(k)|² over r(k) < cutoff (DC included) and over
 * r(k) >= cutoff. `pixels` is `[h, w, channels]` row-major (interleaved, as RGB buffers are).
 */
export function bandEnergy(pixels: ArrayLike<number>, width: number, height: number, channels: number, cutoff: number): { low: number; high: number } {
  // Separable DFT with tabulated twiddles: along x for every row, then along y for every column.
  const cos = (n: number) => Float64Array.from({ length: n * n }, (_, i) => Math.cos((2 * Math.PI * ((Math.floor(i / n) * (i % n)) % n)) / n));
  const sin = (n: number) => Float64Array.from({ length: n * n }, (_, i) => Math.sin((2 * Math.PI * ((Math.floor(i / n) * (i % n)) % n)) / n));
  const cw = cos(width);
  const sw = sin(width);
  const ch = cos(height);
  const sh = sin(height);
  const high = new Uint8Array(width * height);
  for (let ky = 0; ky < height; ky++) for (let kx = 0; kx < width; kx++) high[ky * width + kx] = +(radius(height, width, ky, kx) >= cutoff);
  let low = 0;
  let hi = 0;
  const re = new Float64Array(width * height);
  const im = new Float64Array(width * height);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let kx = 0; kx < width; kx++) {
        let r = 0;
        let i = 0;
        for (let x = 0; x < width; x++) {
          const v = pixels[(y * width + x) * channels + c]!;
          r += v * cw[kx * width + x]!;
          i -= v * sw[kx * width + x]!;
        }
        re[y * width + kx] = r;
        im[y * width + kx] = i;
      }
    }
    for (let kx = 0; kx < width; kx++) {
      for (let ky = 0; ky < height; ky++) {
        let r = 0;
        let i = 0;
        for (let y = 0; y < height; y++) {
          const cc = ch[ky * height + y]!;
          const ss = sh[ky * height + y]!;
          const a = re[y * width + kx]!;
          const b = im[y * width + kx]!;
          // (a + ib)(cc - i ss)
          r += a * cc + b * ss;
          i += b * cc - a * ss;
        }
        const e = r * r + i * i;
        if (high[ky * width + kx]) hi += e;
        else low += e;
      }
    }
  }
  return { low, high: hi };
}

/** The share of a `width x height` grid's frequencies at or above the cutoff: what a spectrally flat change puts above it. */
export function highBandShare(width: number, height: number, cutoff: number): number {
  let n = 0;
  for (let ky = 0; ky < height; ky++) for (let kx = 0; kx < width; kx++) n += +(radius(height, width, ky, kx) >= cutoff);
  return n / (width * height);
}
