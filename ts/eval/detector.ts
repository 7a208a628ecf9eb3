/**
 * Reads the objects back from a picture of the embedded model's language (coloured circles,
 * squares and triangles on a plain grey background): colour, shape, size, centroid, position word
 * and, for two objects, their relation. A rule-based reader, not a learned classifier, so it cannot
 * share the generator's mistakes. Validated on ground-truth renders (test/eval.detector.test.ts).
 *
 * How, and why each step holds up against the background brightness and anti-aliasing:
 * 1. Background: the per-channel median of the one-pixel border ring. The grammar keeps objects
 *    inside the picture, so the median of the ring is the background whatever its grey level.
 * 2. Core pixels: every pixel p is written as `bg + a (c - bg) + residual` for each palette colour
 *    c. An anti-aliased pixel is exactly such a mixture, so the projection `a` is its coverage and
 *    the residual is near 0 for the right colour only. A pixel is a core pixel of colour c when its
 *    coverage is at least {@link CORE_COVERAGE} and c has the smallest residual, below
 *    {@link MAX_RESIDUAL}. Measuring against `bg` rather than black makes the test independent of
 *    the background's grey level (white on light grey included).
 * 3. Objects: core pixels of one colour that are connected, with gaps of one pixel bridged (a thin
 *    triangle tip, or a generated object with a blemish, stays one object). Two blobs of one colour
 *    are two objects, so the count sees duplicates.
 * 4. Coverage map: the object's own colour (the mean of its best-covered half of core pixels, so a
 *    generated object in a slightly muted shade still reads as fully covered) against the
 *    background, projected over the core pixels grown by the anti-aliasing rim. Its sum is the area,
 *    its first moments the centroid.
 * 5. Shape: the coverage map is compared (L1) with an anti-aliased circle, square and apex-up
 *    triangle of the same area and centroid, rendered here with the data set's geometry and
 *    4x4 supersampling; the closest wins. Size: the shape's side from its area, then the nearest of
 *    the grammar's size ranges.
 * 6. Position: the nearest one-object anchor to the bounding-box centre (the data set places
 *    objects by it; a triangle's centroid lies side/6 below it). Relation: the grammar relation
 *    whose anchor displacement points most nearly along the displacement between the two centres.
 *
 * Geometry is reported in the input image's pixels (pixel centres at k + 0.5); pictures of another
 * size than the grammar's are read with the anchors and size ranges scaled to them.
 */
import type { Grammar, ShapeName } from './prompts.js';

/** 8-bit RGB pixels, row-major, top row first: what `GeneratedImage.raw()` returns. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type SizeWord = 'small' | 'medium' | 'large';

export interface DetectedObject {
  colour: string;
  shape: ShapeName;
  /** Circle diameter, square side or triangle base (= height), in grammar pixels. */
  size: number;
  /** The grammar's size range nearest to `size` (`medium` is a caption without a size word). */
  sizeWord: SizeWord;
  /** Coverage-weighted centroid, in image pixels. */
  centroid: { x: number; y: number };
  /** Bounding-box centre of the fitted shape, in image pixels (the centroid but for triangles). */
  centre: { x: number; y: number };
  /** Summed coverage, in image pixels. */
  area: number;
  /** The one-object position whose anchor is nearest to `centre`. */
  position: string;
  /** L1 distance between the coverage map and the fitted shape, divided by the area (0 = exact). */
  shapeError: number;
}

export interface Detection {
  /** The estimated background colour, RGB in [0, 1]. */
  background: [number, number, number];
  /** Largest first. */
  objects: DetectedObject[];
  /** With exactly two objects: the relation of `objects[0]` to `objects[1]`. */
  relation?: string;
}

/** Minimum coverage of a core pixel: half covered or more. */
export const CORE_COVERAGE = 0.5;
/**
 * Largest distance (RGB in [0, 1]) of a core pixel from the mixture line of its colour. Palette
 * colours are at least ~0.7 apart from each other's lines at full coverage, so 0.3 separates them
 * while allowing generated shades.
 */
export const MAX_RESIDUAL = 0.3;
/** Minimum core pixels of an object, in grammar pixels (the smallest object has ~10). */
const MIN_CORE_PIXELS = 3;
const SUPERSAMPLE = 4;

/** Circle diameter, square side or triangle base (= height) of a shape with this area. */
export function sizeFromArea(shape: ShapeName, area: number): number {
  switch (shape) {
    case 'circle':
      return Math.sqrt((4 * area) / Math.PI);
    case 'square':
      return Math.sqrt(area);
    case 'triangle':
      return Math.sqrt(2 * area);
  }
}

/** The size word whose range (grammar pixels) is nearest to `size`; ties between ranges split at the midpoints. */
export function sizeWordOf(grammar: Grammar, size: number): SizeWord {
  const r = grammar.sizeRanges;
  if (size < (r.small[1] + r.medium[0]) / 2) return 'small';
  if (size > (r.medium[1] + r.large[0]) / 2) return 'large';
  return 'medium';
}

/**
 * Anti-aliased coverage in [0, 1] of one shape on a `width x height` grid (4x4 samples per
 * pixel), for the pixels of the window `[x0, x1) x [y0, y1)`, row-major. The geometry is the data
 * set's: circle of diameter `size`; axis-aligned square of side `size`; triangle with its apex up,
 * base and height `size`; the bounding box centred on (cx, cy).
 */
export function renderCoverage(shape: ShapeName, cx: number, cy: number, size: number, window: { x0: number; y0: number; x1: number; y1: number }): Float32Array {
  const { x0, y0, x1, y1 } = window;
  const w = x1 - x0;
  const out = new Float32Array(w * (y1 - y0));
  const half = size / 2;
  const inside = (x: number, y: number): boolean => {
    switch (shape) {
      case 'circle':
        return x * x + y * y <= half * half;
      case 'square':
        return Math.abs(x) <= half && Math.abs(y) <= half;
      case 'triangle':
        // Apex at y = -half, base at y = +half; the half-width grows from 0 to half.
        return Math.abs(y) <= half && Math.abs(x) <= (y + half) / 2;
    }
  };
  for (let py = y0; py < y1; py++) {
    for (let px = x0; px < x1; px++) {
      let hits = 0;
      for (let j = 0; j < SUPERSAMPLE; j++) {
        for (let i = 0; i < SUPERSAMPLE; i++) {
          if (inside(px + (i + 0.5) / SUPERSAMPLE - cx, py + (j + 0.5) / SUPERSAMPLE - cy)) hits++;
        }
      }
      out[(py - y0) * w + (px - x0)] = hits / (SUPERSAMPLE * SUPERSAMPLE);
    }
  }
  return out;
}

/** Per-channel median of the one-pixel border ring, RGB in [0, 1]. */
function borderMedian(rgb: Float32Array, width: number, height: number): [number, number, number] {
  const ring: number[] = [];
  for (let x = 0; x < width; x++) ring.push(x, (height - 1) * width + x);
  for (let y = 1; y < height - 1; y++) ring.push(y * width, y * width + width - 1);
  const median = (c: number): number => {
    const v = ring.map((p) => rgb[p * 3 + c]!).sort((a, b) => a - b);
    const m = v.length >> 1;
    return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
  };
  return [median(0), median(1), median(2)];
}

/** Coverage of pixel p along `bg -> bg + v` (unclamped projection). */
/** Calls `visit` for every pixel within `reach` of pixel `p` (a square, `p` included) inside a W x H picture. */
function forEachNeighbour(p: number, reach: number, W: number, H: number, visit: (q: number, x: number, y: number) => void): void {
  const px = p % W;
  const py = (p - px) / W;
  for (let y = Math.max(0, py - reach); y <= Math.min(H - 1, py + reach); y++) {
    for (let x = Math.max(0, px - reach); x <= Math.min(W - 1, px + reach); x++) visit(y * W + x, x, y);
  }
}

function projection(rgb: Float32Array, p: number, bg: readonly number[], v: readonly number[], vv: number): number {
  return ((rgb[p * 3]! - bg[0]!) * v[0]! + (rgb[p * 3 + 1]! - bg[1]!) * v[1]! + (rgb[p * 3 + 2]! - bg[2]!) * v[2]!) / vv;
}

/** The key of `options` whose vector points most nearly along (dx, dy) (largest cosine). */
function closestDirection(options: Array<[string, number, number]>, dx: number, dy: number): string {
  let best = options[0]![0];
  let bestCos = -Infinity;
  for (const [key, ox, oy] of options) {
    const cos = (ox * dx + oy * dy) / (Math.hypot(ox, oy) * Math.hypot(dx, dy) || 1);
    if (cos > bestCos) {
      bestCos = cos;
      best = key;
    }
  }
  return best;
}

/**
 * The grammar relation that holds from object `a` to object `b` ("a <relation> b"): the relation
 * whose anchor displacement (first object -> second object) points most nearly along the
 * displacement from a's centre to b's, measured on the grammar grid.
 */
export function relationBetween(grammar: Grammar, image: { width: number; height: number }, a: DetectedObject, b: DetectedObject): string {
  const sx = image.width / grammar.size;
  const sy = image.height / grammar.size;
  const options = Object.entries(grammar.relations).map(([k, r]): [string, number, number] => [k, r.second[0] - r.first[0], r.second[1] - r.first[1]]);
  return closestDirection(options, (b.centre.x - a.centre.x) / sx, (b.centre.y - a.centre.y) / sy);
}

/**
 * Finds the objects in an RGB picture of the grammar's kind; see the module comment for the method.
 */
export function detect(image: RgbImage, grammar: Grammar): Detection {
  const { width: W, height: H, data } = image;
  const N = W * H;
  const sx = W / grammar.size;
  const sy = H / grammar.size;
  const scale = Math.sqrt(sx * sy);
  const rgb = Float32Array.from(data, (v) => v / 255);
  const bg = borderMedian(rgb, W, H);
  const names = Object.keys(grammar.colours);
  const vectors = names.map((n) => grammar.colours[n]!.map((c, k) => c - bg[k]!));
  const norms = vectors.map((v) => v[0]! * v[0]! + v[1]! * v[1]! + v[2]! * v[2]!);

  // Step 2: each pixel's colour (index into names) when it is a core pixel, else -1.
  const label = new Int8Array(N).fill(-1);
  const coverage = new Float32Array(N);
  for (let p = 0; p < N; p++) {
    let best = -1;
    let bestResidual = MAX_RESIDUAL;
    for (let c = 0; c < names.length; c++) {
      const vv = norms[c]!;
      if (vv < 1e-6) continue; // a palette colour equal to the background cannot be seen
      const a = projection(rgb, p, bg, vectors[c]!, vv);
      if (a < CORE_COVERAGE) continue;
      let r2 = 0;
      for (let k = 0; k < 3; k++) {
        const e = rgb[p * 3 + k]! - bg[k]! - a * vectors[c]![k]!;
        r2 += e * e;
      }
      const r = Math.sqrt(r2);
      if (r < bestResidual) {
        bestResidual = r;
        best = c;
        coverage[p] = a;
      }
    }
    label[p] = best;
  }

  // Step 3: components of one colour, neighbours within two pixels (one-pixel gaps bridged).
  const component = new Int32Array(N).fill(-1);
  const members: number[][] = [];
  const reach = 2;
  for (let start = 0; start < N; start++) {
    if (label[start] === -1 || component[start] !== -1) continue;
    const id = members.length;
    const list = [start];
    component[start] = id;
    for (let i = 0; i < list.length; i++) {
      forEachNeighbour(list[i]!, reach, W, H, (q) => {
        if (component[q] === -1 && label[q] === label[start]) {
          component[q] = id;
          list.push(q);
        }
      });
    }
    members.push(list);
  }

  // Steps 4-6 per object.
  // Blobs under half the smallest object the grammar draws are noise, not objects.
  const minArea = (smallestArea(grammar) / 2) * sx * sy;
  const rim = Math.max(1, Math.ceil(scale));
  const objects: DetectedObject[] = [];
  for (const [id, core] of members.entries()) {
    if (core.length < MIN_CORE_PIXELS * sx * sy) continue;
    const colour = names[label[core[0]!]!]!;
    // The object's own colour: mean of its better-covered half of core pixels.
    const ranked = [...core].sort((a, b) => coverage[b]! - coverage[a]!).slice(0, Math.max(1, core.length >> 1));
    const own = [0, 1, 2].map((k) => ranked.reduce((s, p) => s + rgb[p * 3 + k]!, 0) / ranked.length);
    const v = own.map((c, k) => c - bg[k]!);
    const vv = v[0]! * v[0]! + v[1]! * v[1]! + v[2]! * v[2]!;
    // Region: core pixels grown by the anti-aliasing rim, minus other objects' core pixels.
    let x0 = W;
    let y0 = H;
    let x1 = 0;
    let y1 = 0;
    const region = new Set<number>();
    for (const p of core) {
      forEachNeighbour(p, rim, W, H, (q, x, y) => {
        if (label[q] !== -1 && component[q] !== id) return;
        region.add(q);
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
      });
    }
    const alpha = new Map<number, number>();
    let area = 0;
    let mx = 0;
    let my = 0;
    for (const q of region) {
      const a = Math.min(1, Math.max(0, projection(rgb, q, bg, v, vv)));
      if (a <= 0) continue;
      alpha.set(q, a);
      const qx = q % W;
      area += a;
      mx += a * (qx + 0.5);
      my += a * ((q - qx) / W + 0.5);
    }
    if (area < minArea) continue;
    const cx = mx / area;
    const cy = my / area;

    // Step 5: the closest template of the same area and centroid.
    let best: { shape: ShapeName; error: number; side: number; boxY: number } | undefined;
    for (const shape of grammar.shapes) {
      const side = sizeFromArea(shape, area);
      const boxY = shape === 'triangle' ? cy - side / 6 : cy;
      const win = {
        x0: Math.max(0, Math.min(x0, Math.floor(cx - side / 2) - 1)),
        y0: Math.max(0, Math.min(y0, Math.floor(boxY - side / 2) - 1)),
        x1: Math.min(W, Math.max(x1, Math.ceil(cx + side / 2) + 1)),
        y1: Math.min(H, Math.max(y1, Math.ceil(boxY + side / 2) + 1)),
      };
      const template = renderCoverage(shape, cx, boxY, side, win);
      const w = win.x1 - win.x0;
      let error = 0;
      for (let y = win.y0; y < win.y1; y++) {
        for (let x = win.x0; x < win.x1; x++) error += Math.abs((alpha.get(y * W + x) ?? 0) - template[(y - win.y0) * w + (x - win.x0)]!);
      }
      if (!best || error < best.error) best = { shape, error, side, boxY };
    }
    const size = best!.side / scale;
    const centre = { x: cx, y: best!.boxY };
    const anchors = Object.entries(grammar.positions).map(([k, p]): [string, number] => [k, Math.hypot(p.anchor[0] * sx - centre.x, p.anchor[1] * sy - centre.y)]);
    const position = anchors.reduce((a, b) => (b[1] < a[1] ? b : a))[0];
    objects.push({
      colour, shape: best!.shape, size, sizeWord: sizeWordOf(grammar, size), centroid: { x: cx, y: cy }, centre, area, position,
      shapeError: best!.error / area,
    });
  }
  objects.sort((a, b) => b.area - a.area);
  const detection: Detection = { background: bg, objects };
  if (objects.length === 2) detection.relation = relationBetween(grammar, image, objects[0]!, objects[1]!);
  return detection;
}

/** The smallest object area the grammar draws, in grammar pixels: the smallest size of the shape with the least area for its size. */
function smallestArea(grammar: Grammar): number {
  const s = grammar.sizeRanges.small[0];
  return Math.min(...grammar.shapes.map((shape) => ({ circle: (Math.PI * s * s) / 4, square: s * s, triangle: (s * s) / 2 })[shape]));
}
