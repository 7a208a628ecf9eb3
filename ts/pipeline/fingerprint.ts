/**
 * The attention time-frequency fingerprint (reference/afm.md §2-3): for each captured resolution,
 * a heat map of the concentration map's radially binned power spectrum, radial frequency bin
 * (rows, low at the bottom) by model call (columns), averaged over the layers of that resolution.
 * Drawn as SVG and rasterised by sharp.
 */
import sharp from 'sharp';

import type { GenerateResult } from './generate.js';

// Viridis at nine stops (matplotlib's colormap data, sampled evenly).
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];

function hex(c: string): [number, number, number] {
  return [1, 3, 5].map((i) => Number.parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
}

/** The colour of t in [0, 1] on the viridis scale. */
export function colour(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const a = hex(VIRIDIS[i]!);
  const b = hex(VIRIDIS[i + 1]!);
  const f = x - i;
  return `rgb(${a.map((v, k) => Math.round(v + (b[k]! - v) * f)).join(',')})`;
}

/** Per grid, the mean spectrum over its layers: `[steps, bins]`, NaN where no layer ran. */
export function panels(capture: NonNullable<GenerateResult['capture']>): Array<{ grid: [number, number]; bins: number; layers: number; values: Float64Array }> {
  const byGrid = new Map<string, { grid: [number, number]; bins: number; layers: number; sum: Float64Array; count: Float64Array }>();
  for (const l of capture.layers) {
    const key = `${l.grid[0]}x${l.grid[1]}`;
    let p = byGrid.get(key);
    if (!p) {
      p = { grid: l.grid, bins: l.bins, layers: 0, sum: new Float64Array(capture.steps * l.bins), count: new Float64Array(capture.steps * l.bins) };
      byGrid.set(key, p);
    }
    p.layers++;
    l.spectra.forEach((v, i) => {
      if (!Number.isNaN(v)) {
        p.sum[i] += v;
        p.count[i]++;
      }
    });
  }
  return [...byGrid.values()]
    .sort((a, b) => b.grid[0] * b.grid[1] - a.grid[0] * a.grid[1])
    .map((p) => ({ grid: p.grid, bins: p.bins, layers: p.layers, values: p.sum.map((s, i) => (p.count[i] ? s / p.count[i]! : NaN)) }));
}

/** The fingerprint as an SVG document. Colours: log10 of the power share, per panel from its min to its max. */
export function fingerprintSvg(capture: NonNullable<GenerateResult['capture']>, title: string): string {
  const ps = panels(capture);
  const cell = Math.max(4, Math.min(16, Math.floor(400 / Math.max(1, capture.steps))));
  const left = 56;
  const top = 62;
  const gap = 30;
  const parts: string[] = [];
  let y = top;
  let width = 0;
  for (const p of ps) {
    const w = capture.steps * cell;
    const h = p.bins * cell;
    const logs = Array.from(p.values, (v) => (Number.isNaN(v) ? NaN : Math.log10(Math.max(v, 1e-6))));
    // Bins no frequency falls in (a small grid has fewer distinct radii than bins) hold exact zeros;
    // they would stretch the scale, so the range comes from the nonzero shares.
    const finite = logs.filter((v, i) => Number.isFinite(v) && p.values[i]! > 0);
    const lo = finite.length ? Math.min(...finite) : 0;
    const hi = finite.length ? Math.max(...finite) : 1;
    parts.push(`<text x="${left}" y="${y - 6}" font-size="12">${p.grid[0]}x${p.grid[1]} grid (${p.layers} layer${p.layers > 1 ? 's' : ''})</text>`);
    for (let s = 0; s < capture.steps; s++) {
      for (let k = 0; k < p.bins; k++) {
        const v = logs[s * p.bins + k]!;
        const fill = Number.isNaN(v) ? '#dddddd' : colour(hi > lo ? (v - lo) / (hi - lo) : 0.5);
        parts.push(`<rect x="${left + s * cell}" y="${y + h - (k + 1) * cell}" width="${cell}" height="${cell}" fill="${fill}"/>`);
      }
    }
    parts.push(`<text x="${left - 6}" y="${y + h}" font-size="10" text-anchor="end">low</text>`);
    parts.push(`<text x="${left - 6}" y="${y + 10}" font-size="10" text-anchor="end">high</text>`);
    // Colour bar: log10 power share from lo to hi.
    const bx = left + w + 12;
    for (let i = 0; i < 32; i++) parts.push(`<rect x="${bx}" y="${y + h - ((i + 1) * h) / 32}" width="10" height="${h / 32 + 0.5}" fill="${colour(i / 31)}"/>`);
    parts.push(`<text x="${bx + 14}" y="${y + h}" font-size="10">${lo.toFixed(1)}</text>`);
    parts.push(`<text x="${bx + 14}" y="${y + 10}" font-size="10">${hi.toFixed(1)}</text>`);
    width = Math.max(width, bx + 60);
    y += h + gap;
  }
  const height = y + 10;
  const header = `<text x="${left}" y="18" font-size="13">${escape(title)}</text>` +
    `<text x="${left}" y="36" font-size="11">radial frequency bin by model call; colour: log10 power share; grey: not computed</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${Math.max(width, 520)}" height="${height}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${header}${parts.join('')}` +
    `<text x="${left}" y="${height - 2}" font-size="10">model call 0 to ${capture.steps - 1} (left to right)</text></svg>`;
}

function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** The fingerprint as a PNG (SVG rasterised by sharp). */
export async function fingerprintPng(capture: NonNullable<GenerateResult['capture']>, title: string): Promise<Buffer> {
  return sharp(Buffer.from(fingerprintSvg(capture, title))).png().toBuffer();
}
