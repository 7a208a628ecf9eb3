/**
 * The evaluation prompts and the grammar they come from: `models/shapes-32-eval/prompts.json`,
 * exported from the embedded model's data set by `tools/embedded_model/export_ground_truth.py`
 * (captions and specs by the data set's own `caption` and `parse_caption`, so they cannot drift from
 * the language the model was trained on). It lives under `models/` because the package ships that
 * folder: the harness reads it at run time, without Python.
 */
import fs from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { DiffusionAttentionError } from '../errors.js';

/** The default prompt file, next to the embedded model (the same root as `DEFAULT_MODEL`). */
export const DEFAULT_PROMPTS = path.join(__dirname, '..', '..', 'models', 'shapes-32-eval', 'prompts.json');

/** The four prompt groups: one or two objects, colour-shape pairs seen in training or held out. */
export const GROUPS = ['one-seen', 'one-held-out', 'two-seen', 'two-held-out'] as const;
export type Group = (typeof GROUPS)[number];

const point = z.tuple([z.number(), z.number()]);

const grammarSchema = z.object({
  size: z.number().int().positive(),
  colours: z.record(z.string(), z.tuple([z.number(), z.number(), z.number()])),
  shapes: z.array(z.enum(['circle', 'square', 'triangle'])).min(1),
  sizeWords: z.array(z.string()),
  sizeRanges: z.object({ small: point, medium: point, large: point }),
  positions: z.record(z.string(), z.object({ phrase: z.string(), anchor: point })),
  relations: z.record(z.string(), z.object({ phrase: z.string(), first: point, second: point })),
  heldOut: z.array(z.tuple([z.string(), z.string()])),
  backgroundRange: point,
  vocabulary: z.array(z.string()),
});

const objectSchema = z.object({ colour: z.string(), shape: z.enum(['circle', 'square', 'triangle']), size: z.enum(['small', 'large']).nullable() });

const specSchema = z.object({
  objects: z.array(objectSchema).min(1).max(2),
  position: z.string().nullable().optional(),
  relation: z.string().optional(),
});

const promptList = z.array(z.object({ text: z.string(), spec: specSchema })).min(1);
const promptFileSchema = z.object({
  grammar: grammarSchema,
  sets: z.object({ 'one-seen': promptList, 'one-held-out': promptList, 'two-seen': promptList, 'two-held-out': promptList }),
});

/**
 * The data set's constants (tools/embedded_model/dataset.py): palette (RGB in [0, 1]), shapes,
 * size ranges in pixels (circle diameter, square side, triangle base = height), one-object
 * position anchors and two-object relation anchors (pixel coordinates on the `size` grid), the
 * held-out colour-shape pairs and the background grey range.
 */
export type Grammar = z.output<typeof grammarSchema>;
export type ShapeName = Grammar['shapes'][number];
/** What a caption asks for: one object with an optional position, or two objects and a relation. */
export type Spec = z.output<typeof specSchema>;

/** One evaluation prompt: its text, parsed spec and group. */
export interface Prompt {
  text: string;
  spec: Spec;
  group: Group;
}

export interface PromptFile {
  grammar: Grammar;
  sets: Record<Group, Prompt[]>;
}

/**
 * Reads and validates a prompt file (default: the one shipped with the embedded model).
 * @throws DiffusionAttentionError `E_IO` when unreadable, `E_MODEL_FORMAT` when malformed
 */
export function loadPrompts(file: string = DEFAULT_PROMPTS): PromptFile {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DiffusionAttentionError('E_IO', `cannot read the evaluation prompts ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = promptFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DiffusionAttentionError('E_MODEL_FORMAT', `${file}: ${issue.path.join('.')}: ${issue.message}`);
  }
  const { grammar, sets } = parsed.data;
  const out = {} as Record<Group, Prompt[]>;
  for (const group of GROUPS) {
    out[group] = sets[group].map((p) => {
      checkSpec(grammar, p.spec, group, `${file}: ${JSON.stringify(p.text)}`);
      return { text: p.text, spec: p.spec, group };
    });
  }
  return { grammar, sets: out };
}

/** Every word of a spec is in the grammar and the spec fits its group; `E_MODEL_FORMAT` naming `where` otherwise. */
function checkSpec(grammar: Grammar, spec: Spec, group: Group, where: string): void {
  const bad = (what: string) => new DiffusionAttentionError('E_MODEL_FORMAT', `${where}: ${what}`);
  for (const o of spec.objects) {
    if (!(o.colour in grammar.colours)) throw bad(`unknown colour ${o.colour}`);
    if (!grammar.shapes.includes(o.shape)) throw bad(`unknown shape ${o.shape}`);
  }
  if (spec.objects.length === 1 && spec.position != null && !(spec.position in grammar.positions)) throw bad(`unknown position ${spec.position}`);
  if (spec.objects.length === 2 && !(spec.relation && spec.relation in grammar.relations)) throw bad(`two objects need a known relation, got ${spec.relation}`);
  const heldOut = spec.objects.some((o) => grammar.heldOut.some(([c, s]) => c === o.colour && s === o.shape));
  if (spec.objects.length !== (group.startsWith('one') ? 1 : 2) || heldOut !== group.endsWith('held-out')) throw bad(`does not belong in group ${group}`);
}

/**
 * The first `perGroup` prompts of each group, groups in {@link GROUPS} order. The exported sets
 * are ordered so that every prefix is balanced over pairs, positions and relations.
 */
export function selectPrompts(file: PromptFile, perGroup: number): Prompt[] {
  return GROUPS.flatMap((g) => file.sets[g].slice(0, perGroup));
}
