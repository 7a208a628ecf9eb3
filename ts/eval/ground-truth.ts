/**
 * The detector's own accuracy, on ground-truth pictures rendered by the data set
 * (`test/fixtures/shapes-gt/`, written by tools/embedded_model/export_ground_truth.py): the ceiling
 * of every rate the harness reports. Used by the detector test and, in a clone of the repository,
 * recorded with every evaluation.
 */
import fs from 'node:fs';
import path from 'node:path';

import sharp from 'sharp';

import { DiffusionAttentionError } from '../errors.js';
import { detect, relationBetween, type RgbImage } from './detector.js';
import type { Grammar, Spec } from './prompts.js';
import { judge, wilson, type Rate } from './scoring.js';

/** The fixture folder in a clone (absent from an installed package). */
export const GROUND_TRUTH_DIR = path.join(__dirname, '..', '..', 'test', 'fixtures', 'shapes-gt');

interface Label {
  file: string;
  caption: string;
  spec: Spec;
  placed: Array<{ colour: string; shape: string; x: number; y: number; size: number }>;
}

/** Detector accuracy per attribute on the ground truth, and the worst centre error. */
export interface DetectorCheck {
  images: number;
  /** Right colours (every captioned colour found, no other). */
  colour: Rate;
  /** Every object's shape right. */
  shape: Rate;
  /** As many objects as rendered. */
  count: Rate;
  /** Position word (one object with a position) or relation (two objects) right. */
  place: Rate;
  /** Every object's size word right. */
  size: Rate;
  /** Largest distance between a detected centre and the rendered one, in pixels of the ground truth. */
  maxCentreError: number;
  /** Captions of the pictures with any attribute wrong. */
  failures: string[];
}

/**
 * Reads every ground-truth picture of `dir`, optionally perturbs it (to test robustness: noise,
 * muted colours, rescaling), detects its objects and compares them with the labels; label
 * coordinates are scaled to a perturbed picture's size. @throws DiffusionAttentionError `E_IO` when the folder or a picture is unreadable
 */
export async function checkDetector(grammar: Grammar, dir: string = GROUND_TRUTH_DIR, perturb?: (image: RgbImage, index: number) => RgbImage): Promise<DetectorCheck> {
  let labels: Label[];
  try {
    labels = (JSON.parse(fs.readFileSync(path.join(dir, 'labels.json'), 'utf8')) as { images: Label[] }).images;
  } catch (err) {
    throw new DiffusionAttentionError('E_IO', `cannot read the ground truth in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const tally = { colour: 0, shape: 0, count: 0, place: 0, placeN: 0, size: 0 };
  let maxCentreError = 0;
  const failures: string[] = [];
  for (const [index, label] of labels.entries()) {
    const { data, info } = await sharp(path.join(dir, label.file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const decoded = { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
    const image = perturb ? perturb(decoded, index) : decoded;
    const d = detect(image, grammar);
    const v = judge(label.spec, d, (a, b) => relationBetween(grammar, image, a, b));
    // Colour here is stricter than the verdict's: exactly the rendered colours, nothing else.
    const colour = v.colour && d.objects.length === label.spec.objects.length;
    tally.colour += +colour;
    tally.shape += +v.shape;
    tally.count += +v.count;
    tally.size += +v.size;
    if (v.place !== null) {
      tally.placeN++;
      tally.place += +v.place;
    }
    for (const p of label.placed) {
      const o = d.objects.find((x) => x.colour === p.colour);
      const sx = image.width / decoded.width;
      const sy = image.height / decoded.height;
      if (o) maxCentreError = Math.max(maxCentreError, Math.hypot(o.centre.x / sx - p.x, o.centre.y / sy - p.y));
    }
    if (!(colour && v.shape && v.count && v.size && v.place !== false)) failures.push(label.caption);
  }
  const n = labels.length;
  return {
    images: n,
    colour: wilson(tally.colour, n),
    shape: wilson(tally.shape, n),
    count: wilson(tally.count, n),
    place: wilson(tally.place, tally.placeN),
    size: wilson(tally.size, n),
    maxCentreError,
    failures,
  };
}
