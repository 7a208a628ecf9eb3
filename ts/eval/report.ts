/**
 * Writes an evaluation to its folder: `results.json` (every number and every picture's verdict),
 * `report.md` (the tables), `grids/<setting>.png` (pictures per setting, prompts by seeds, framed
 * green when fully correct and red otherwise), `hf-ratio.png` (AFM's HF-ratio curves) and
 * `fingerprint-<setting>.png` (the attention time-frequency fingerprints, ts/pipeline/fingerprint.ts).
 */
import fs from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';

import { machineSummary } from '../machine.js';
import { fingerprintPng } from '../pipeline/fingerprint.js';
import type { EvalResults, SettingResult } from './results.js';
import { mergeCaptures, PROMPTS_PER_CALL, type EvalRun, type SettingRun } from './runner.js';
import type { Rate, Summary } from './scoring.js';

/** Prompts shown per grid (the first of the run order, so every setting's grid shows the same ones). */
const GRID_PROMPTS = 32;
const LABEL_WIDTH = 360;

function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** `97.9% [95.1, 99.1]`: the rate and its Wilson 95% interval, in percent. */
export function formatRate(r: Rate | undefined): string {
  if (!r || !r.n) return 'n/a';
  return `${(100 * r.rate).toFixed(1)}% [${(100 * r.lo).toFixed(1)}, ${(100 * r.hi).toFixed(1)}]`;
}

function signed(x: number, digits = 1): string {
  return Number.isNaN(x) ? 'n/a' : `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}

function alignmentTable(summary: Summary): string[] {
  const lines = [
    '| prompts | pictures | fully correct | colour | shape | position / relation | count | size (not required) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [subset, r] of Object.entries(summary)) {
    lines.push(`| ${subset} | ${r.correct.n} | ${formatRate(r.correct)} | ${formatRate(r.colour)} | ${formatRate(r.shape)} | ${formatRate(r.place)} | ${formatRate(r.count)} | ${formatRate(r.size)} |`);
  }
  return lines;
}

function methodRow(s: SettingResult): string {
  const v = s.vsPlain!;
  const c = v.change;
  const delta = (a: keyof typeof c) => `${signed(c[a].points)} (${c[a].onlyPlain}/${c[a].onlySetting})`;
  return `| ${s.label} | ${s.images} | ${formatRate(s.alignment.all?.correct)} | ${delta('correct')} | ${delta('colour')} | ${delta('shape')} | ${delta('place')} | ${delta('count')} | ${(s.ms.perImage).toFixed(0)} | ${v.speedup.toFixed(2)}x |`;
}

function methodTable(settings: SettingResult[]): string[] {
  return [
    '| setting | pictures | fully correct | Δ fully correct | Δ colour | Δ shape | Δ position / relation | Δ count | ms / picture | speed-up |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...settings.map(methodRow),
  ];
}

/** The Markdown report of a run's results. */
export function markdownReport(r: EvalResults, command?: string): string {
  const m = r.machine;
  const d = r.defaults as { guidanceScale?: number; guidanceRescale?: number; scheduler?: string; width?: number; height?: number };
  const out: string[] = [
    `# Evaluation: ${path.basename(r.model)}${r.quick ? ' (quick)' : ''}`,
    '',
    `${machineSummary(m)}.`,
    ...(command ? ['', `Command: \`${command}\``] : []),
    '',
    `Model \`${r.model}\`; ${r.steps} steps, guidance scale ${d.guidanceScale ?? '?'}${d.guidanceRescale ? ` rescaled by phi ${d.guidanceRescale}` : ''}, scheduler ${d.scheduler ?? '?'}, ${d.width ?? '?'}x${d.height ?? '?'} pixels. ` +
      `${r.scopes.all} prompts for the plain run and ${r.scopes.methods} for each method (the first of the same balanced order: ` +
      `one object seen / held-out, two objects seen / held-out in turn), ${r.size.seeds} seeds each (picture j of prompt q has seed ${r.seed} + q x ${r.size.seeds} + j). ` +
      `Wall time ${(r.wallSeconds / 60).toFixed(1)} min.`,
    '',
    'Rates are followed by their Wilson 95% interval. "Fully correct": as many objects as captioned, every captioned colour found with its shape, and the position ' +
      '(one object) or relation (two objects) right; size words are reported, not required. Δ: percentage points against the plain run on the same pictures ' +
      '(same prompts and seeds), with the discordant pairs (right in plain only / in the setting only) in brackets.',
    '',
  ];
  if (r.detector) {
    const g = r.detector;
    out.push('## Detector on ground truth', '',
      `${g.images} pictures rendered by the data set (test/fixtures/shapes-gt): the detector's own accuracy, the ceiling of every rate below.`, '',
      '| colour | shape | count | position / relation | size | largest centre error |', '| ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${formatRate(g.colour)} | ${formatRate(g.shape)} | ${formatRate(g.count)} | ${formatRate(g.place)} | ${formatRate(g.size)} | ${g.maxCentreError.toFixed(2)} px |`, '');
  }
  out.push('## Targets', '', '| target | goal | value | met |', '| --- | --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.name} | ${t.goal} | ${t.value} | ${t.met === null ? 'n/a' : t.met ? 'yes' : '**no**'} |`), '');
  const plain = r.settings.find((s) => s.family === 'plain');
  if (plain) {
    out.push('## Prompt alignment, plain classifier-free guidance', '', ...alignmentTable(plain.alignment), '',
      `${(plain.ms.perImage).toFixed(0)} ms per picture end to end (generate() total over ${plain.images} pictures, batched ${r.size.seeds * PROMPTS_PER_CALL} per call).`, '');
  }
  const methods = r.settings.filter((s) => s.vsPlain);
  const family = (f: SettingResult['family']) => methods.filter((s) => s.family === f);
  if (r.afm) {
    const a = r.afm;
    out.push('## AFM', '', ...methodTable(family('afm')), '');
    if (a.hfRatio) {
      const h = a.hfRatio;
      const calls = [...new Set([0, 0.25, 0.5, 0.75, 1].map((f) => Math.round(f * (h.steps - 1))))];
      out.push(`HF ratio of the encoder cross-attention concentration maps (afm.md §2-3: top-8 concentration map, radial power spectrum, share at or above r = ${a.cutoff}), ` +
        `mean over the down-block layers, ${h.images} pictures (the first ${r.scopes.spectral} prompts):`, '',
        `| setting | ${calls.map((c) => `call ${c}`).join(' | ')} | mean of the late half | ${Object.keys(Object.values(h.curves)[0]?.byGrid ?? {}).map((g) => `late half, ${g}`).join(' | ')} |`,
        `| --- | ${calls.map(() => '---:').join(' | ')} | ---: | ${Object.keys(Object.values(h.curves)[0]?.byGrid ?? {}).map(() => '---:').join(' | ')} |`);
      for (const [id, c] of Object.entries(h.curves)) {
        const lateOf = (v: number[]) => {
          const late = v.slice(Math.floor(v.length / 2)).filter((x) => !Number.isNaN(x));
          return (late.reduce((s, x) => s + x, 0) / late.length).toFixed(3);
        };
        out.push(`| ${id} | ${calls.map((k) => c.all[k]!.toFixed(3)).join(' | ')} | ${c.lateMean.toFixed(3)} | ${Object.values(c.byGrid).map(lateOf).join(' | ')} |`);
      }
      out.push('', 'Curves: `hf-ratio.png`; fingerprints: `fingerprint-<setting>.png`.', '');
    }
    out.push(`Image-level edit split (afm.md §11, with DFT energy in place of LPIPS): the difference picture (AFM minus plain, same prompt and seed), its energy below and at or above the cutoff radius ${a.cutoff}. ` +
      `Of this picture size's frequencies ${(100 * a.flatHighShare).toFixed(1)}% lie at or above the cutoff, so a spectrally flat change would put that share of its energy there; the per-frequency column compares mean energies per frequency instead.`, '',
      '| setting | pairs | unchanged | high exceeds low | mean high share | high exceeds low, per frequency |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [id, e] of Object.entries(a.edit)) {
      out.push(`| ${id} | ${e.pairs} | ${e.unchanged} | ${formatRate(e.highExceedsLow)} | ${(100 * e.meanHighShare).toFixed(1)}% | ${formatRate(e.highExceedsLowPerFrequency)} |`);
    }
    out.push('', `The paper reports high exceeding low in 78.0% (AFM-curve) and 72.5% (entropy-gated) of its pictures (LPIPS, SD 1.5, 512x512). ` +
      `Capture left the pictures unchanged: ${a.captureUnchanged === null ? 'not checked' : a.captureUnchanged ? 'yes' : '**no**'}.`, '');
  }
  if (family('tgate').length) {
    out.push('## T-GATE', '', `Against the plain run on the same calls; time is generate()'s end-to-end total (encode, ${r.steps} calls, decode), the settings interleaved call by call.`, '',
      ...methodTable(family('tgate')), '');
  }
  if (family('guidance').length) {
    out.push('## Attention-space guidance (with classifier-free guidance)', '', ...methodTable(family('guidance')), '');
  }
  out.push('## Per-setting alignment', '');
  for (const s of methods) out.push(`### ${s.label}`, '', ...alignmentTable(s.alignment), '');
  out.push('Grids: `grids/<setting>.png` (prompts by seeds; green frame: fully correct).', '');
  return out.join('\n');
}

/** A grid of a setting's pictures: the first prompts by their seeds, framed by correctness, captions on the left. */
async function gridPng(run: SettingRun, seeds: number): Promise<Buffer> {
  const byPrompt = new Map<number, SettingRun['records']>();
  for (const r of run.records) {
    if (r.promptIndex >= GRID_PROMPTS) continue;
    const list = byPrompt.get(r.promptIndex) ?? [];
    list.push(r);
    byPrompt.set(r.promptIndex, list);
  }
  const rows = [...byPrompt.entries()].sort((a, b) => a[0] - b[0]);
  const first = run.records[0]!.image;
  const zoom = Math.max(1, Math.round(96 / first.width));
  const cellW = first.width * zoom + 8;
  const cellH = first.height * zoom + 8;
  const width = LABEL_WIDTH + seeds * cellW;
  const height = 30 + rows.length * cellH;
  const composites: sharp.OverlayOptions[] = [];
  const labels: string[] = [`<text x="8" y="20" font-size="14" font-weight="bold">${escape(run.setting.label)}</text>`];
  for (const [row, [, records]] of rows.entries()) {
    const y = 30 + row * cellH;
    labels.push(`<text x="8" y="${y + cellH / 2 + 5}" font-size="13">${escape(records[0]!.prompt.text)}</text>`);
    for (const [col, r] of records.entries()) {
      const x = LABEL_WIDTH + col * cellW;
      const frame = r.verdict.correct ? '#1a9850' : '#d73027';
      labels.push(`<rect x="${x + 1}" y="${y + 1}" width="${cellW - 2}" height="${cellH - 2}" fill="${frame}"/>`);
      const { data, width: w, height: h } = r.image;
      const input = await sharp(Buffer.from(data), { raw: { width: w, height: h, channels: 3 } }).resize(w * zoom, h * zoom, { kernel: 'nearest' }).png().toBuffer();
      composites.push({ input, left: x + 4, top: y + 4 });
    }
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${labels.join('')}</svg>`;
  return sharp(Buffer.from(svg)).composite(composites).png().toBuffer();
}

/** A line chart of the HF-ratio curves (one line per capturing setting), as PNG. */
async function hfChartPng(results: EvalResults): Promise<Buffer | undefined> {
  const h = results.afm?.hfRatio;
  if (!h) return undefined;
  const colours = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a'];
  const [W, H, left, top, right, bottom] = [640, 360, 60, 40, 170, 40];
  const pw = W - left - right;
  const ph = H - top - bottom;
  const all = Object.values(h.curves).flatMap((c) => c.all.filter((v) => !Number.isNaN(v)));
  const lo = Math.max(0, Math.floor(Math.min(...all) * 10) / 10);
  const hi = Math.min(1, Math.ceil(Math.max(...all) * 10) / 10);
  const x = (s: number) => left + (h.steps > 1 ? (s / (h.steps - 1)) * pw : 0);
  const y = (v: number) => top + ph - ((v - lo) / (hi - lo || 1)) * ph;
  const parts = [`<text x="${left}" y="22" font-size="14">HF ratio of the encoder concentration maps (r &gt;= ${results.afm!.cutoff})</text>`,
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`];
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  parts.push(`<text x="${left}" y="${H - 12}" font-size="11">model call 0</text>`, `<text x="${left + pw}" y="${H - 12}" font-size="11" text-anchor="end">${h.steps - 1}</text>`);
  Object.entries(h.curves).forEach(([id, c], i) => {
    const colour = colours[i % colours.length]!;
    const points = c.all.map((v, s) => (Number.isNaN(v) ? null : `${x(s).toFixed(1)},${y(v).toFixed(1)}`)).filter(Boolean).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"/>`,
      `<rect x="${left + pw + 14}" y="${top + 10 + i * 20}" width="14" height="4" fill="${colour}"/>`,
      `<text x="${left + pw + 34}" y="${top + 15 + i * 20}" font-size="12">${escape(id)}</text>`);
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Writes results.json, report.md, the grids, the HF-ratio chart and the fingerprints to `out`; returns the files written. */
export async function writeReport(run: EvalRun, results: EvalResults, out: string, command?: string): Promise<string[]> {
  fs.mkdirSync(path.join(out, 'grids'), { recursive: true });
  const files: string[] = [];
  const write = (name: string, data: string | Buffer) => {
    const file = path.join(out, name);
    fs.writeFileSync(file, data);
    files.push(file);
  };
  write('results.json', `${JSON.stringify({ command, ...results }, null, 1)}\n`);
  write('report.md', markdownReport(results, command));
  for (const r of run.runs) {
    if (r.records.length && !(r.setting.family === 'plain' && r.setting.capture)) write(path.join('grids', `${r.setting.id}.png`), await gridPng(r, run.size.seeds));
  }
  const chart = await hfChartPng(results);
  if (chart) write('hf-ratio.png', chart);
  const spectralCalls = Math.ceil(run.scopes.spectral / PROMPTS_PER_CALL);
  for (const r of run.runs) {
    const merged = mergeCaptures(r.captures.filter((c) => c.call < spectralCalls).map((c) => c.capture));
    if (merged?.layers.length) write(`fingerprint-${r.setting.id}.png`, await fingerprintPng(merged, `${r.setting.label}: encoder cross-attention, ${results.afm?.hfRatio?.images ?? '?'} pictures`));
  }
  return files;
}
