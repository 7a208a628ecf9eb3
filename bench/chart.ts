/**
 * A horizontal bar chart of a run's rows as a PNG (an SVG rasterised by sharp): our median time
 * as a ratio of the baseline's when the rows have one (a line marks parity), our median time in ms
 * otherwise.
 */
import sharp from 'sharp';

import type { Row } from './types.js';

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function chartSvg(rows: Row[], title: string): string {
  const ratios = rows.some((r) => r.baseline);
  const shown = ratios ? rows.filter((r) => r.baseline) : rows;
  const value = (r: Row) => (ratios ? r.baseline!.ratio : r.ours.median);
  const max = Math.max(ratios ? 1.2 : 0, ...shown.map(value)) * 1.05;
  const label = 430, width = 1000, bar = 16, gap = 4, top = 46;
  const plot = width - label - 80;
  const height = top + shown.length * (bar + gap) + 40;
  const x = (v: number) => label + (v / max) * plot;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
    `<text x="10" y="36" fill="#555">${ratios ? 'our median time / baseline median time (left of the line: faster than the baseline)' : 'median time, ms'}</text>`,
  ];
  shown.forEach((r, i) => {
    const y = top + i * (bar + gap);
    const v = value(r);
    const faster = ratios && v < 1;
    parts.push(
      `<text x="${label - 6}" y="${y + bar - 4}" text-anchor="end">${escape(`${r.name} ${r.shape}`)}</text>`,
      `<rect x="${label}" y="${y}" width="${Math.max(1, x(v) - label).toFixed(1)}" height="${bar}" fill="${ratios ? (faster ? '#2a9d8f' : '#e76f51') : '#457b9d'}"/>`,
      `<text x="${(x(v) + 4).toFixed(1)}" y="${y + bar - 4}">${v < 10 ? v.toFixed(2) : v.toFixed(0)}</text>`,
    );
  });
  if (ratios) {
    parts.push(`<line x1="${x(1)}" y1="${top - 4}" x2="${x(1)}" y2="${height - 30}" stroke="#222" stroke-dasharray="4 3"/>`,
      `<text x="${x(1)}" y="${height - 16}" text-anchor="middle">1.0</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

export async function chartPng(rows: Row[], title: string): Promise<Buffer> {
  return sharp(Buffer.from(chartSvg(rows, title))).png().toBuffer();
}
