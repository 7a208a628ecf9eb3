/**
 * Scoring: what a detection says about a caption (per-attribute verdicts), and rates over many
 * images with Wilson score 95% intervals (Wilson 1927; better than the normal interval near 0 and
 * 1 and at the small counts of a quick run).
 */
import type { Detection, DetectedObject } from './detector.js';
import { GROUPS, type Group, type Spec } from './prompts.js';

/** Per-attribute verdicts for one image against its caption. */
export interface Verdict {
  /** As many objects found as the caption names. */
  count: boolean;
  /** Every colour the caption names is found. */
  colour: boolean;
  /** Every captioned object's colour is found with the captioned shape. */
  shape: boolean;
  /** The position (one object) or relation (two objects) holds; null when the caption has no position. */
  place: boolean | null;
  /** Every captioned object's size word matches (no word = medium). Reported, not required. */
  size: boolean;
  /** count, colour, shape and place all hold. */
  correct: boolean;
}

export const ATTRIBUTES = ['correct', 'colour', 'shape', 'place', 'count', 'size'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

/** The largest detected object of a colour (the one a caption's object is matched with). */
function byColour(d: Detection, colour: string): DetectedObject | undefined {
  return d.objects.find((o) => o.colour === colour); // objects are largest first
}

/**
 * Judges a detection against a caption spec. `relation(a, b)` tells the relation from a to b
 * (the detector's `relationBetween` bound to the image), so this stays free of geometry.
 */
export function judge(spec: Spec, d: Detection, relation: (a: DetectedObject, b: DetectedObject) => string): Verdict {
  const matched = spec.objects.map((o) => byColour(d, o.colour));
  const count = d.objects.length === spec.objects.length;
  const colour = matched.every((m) => m !== undefined);
  const shape = spec.objects.every((o, i) => matched[i]?.shape === o.shape);
  const size = spec.objects.every((o, i) => matched[i]?.sizeWord === (o.size ?? 'medium'));
  let place: boolean | null;
  if (spec.objects.length === 1) place = spec.position == null ? null : matched[0]?.position === spec.position;
  else place = colour && relation(matched[0]!, matched[1]!) === spec.relation;
  return { count, colour, shape, place, size, correct: count && colour && shape && place !== false };
}

/** A rate with its Wilson score interval. */
export interface Rate {
  k: number;
  n: number;
  /** k / n (NaN when n = 0). */
  rate: number;
  lo: number;
  hi: number;
}

/**
 * The Wilson score interval of k successes in n trials at normal quantile z (1.96: 95%):
 * `(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`. n = 0 gives [0, 1].
 */
export function wilson(k: number, n: number, z = 1.959963984540054): Rate {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || n < 0 || k > n) throw new RangeError(`wilson: need integers 0 <= k <= n, got k ${k}, n ${n}`);
  if (n === 0) return { k, n, rate: NaN, lo: 0, hi: 1 };
  const p = k / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denominator;
  // k = 0 and k = n give exactly 0 and 1 in exact arithmetic; round-off must not move them.
  return { k, n, rate: p, lo: k === 0 ? 0 : centre - half, hi: k === n ? 1 : centre + half };
}

/** One scored image. */
export interface Scored {
  group: Group;
  verdict: Verdict;
}

/** Subsets reported for every setting: each group, one and two objects, seen and held-out, all. */
export const SUBSETS: Record<string, readonly Group[]> = {
  'one object, seen': ['one-seen'],
  'one object, held-out': ['one-held-out'],
  'one object': ['one-seen', 'one-held-out'],
  'two objects, seen': ['two-seen'],
  'two objects, held-out': ['two-held-out'],
  'two objects': ['two-seen', 'two-held-out'],
  all: GROUPS,
};

/** Per subset (see {@link SUBSETS}) and attribute, the rate; `place` counts only captions with a position. */
export type Summary = Record<string, Record<Attribute, Rate>>;

/** Rates per subset and attribute over scored images; subsets without images are left out. */
export function summarize(items: readonly Scored[]): Summary {
  const out: Summary = {};
  for (const [name, groups] of Object.entries(SUBSETS)) {
    const mine = items.filter((i) => groups.includes(i.group));
    if (!mine.length) continue;
    const rates = {} as Record<Attribute, Rate>;
    for (const a of ATTRIBUTES) {
      const applicable = mine.filter((i) => i.verdict[a] !== null);
      rates[a] = wilson(applicable.filter((i) => i.verdict[a] === true).length, applicable.length);
    }
    out[name] = rates;
  }
  return out;
}

/**
 * The paired comparison of one attribute between two runs over the same images (same prompts and
 * seeds, in the same order): the change in points and the discordant pairs (McNemar's b and c:
 * right only in `a`, right only in `b`), which say whether a small change is more than noise.
 */
export function pairedChange(a: readonly Verdict[], b: readonly Verdict[], attribute: Attribute): { points: number; onlyA: number; onlyB: number; n: number } {
  if (a.length !== b.length) throw new RangeError(`pairedChange: ${a.length} against ${b.length} images`);
  let onlyA = 0;
  let onlyB = 0;
  let n = 0;
  let ka = 0;
  let kb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]![attribute];
    const y = b[i]![attribute];
    if (x === null || y === null) continue;
    n++;
    ka += +x;
    kb += +y;
    if (x && !y) onlyA++;
    if (y && !x) onlyB++;
  }
  return { points: n ? (100 * (kb - ka)) / n : NaN, onlyA, onlyB, n };
}
