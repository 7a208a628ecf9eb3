/**
 * Mutations of a JSON file (config.json, model_index.json, scheduler_config.json, the tokenizer's
 * files, a shard index): a field set to a wrong type or a huge number, removed, or added; an array
 * grown or shrunk; duplicate keys; and text that is not JSON (truncated, a BOM, Python's NaN, not
 * UTF-8, not an object). Values are changed anywhere in the tree, tokenizer vocabularies included.
 */
import type { Random } from './random.js';

/** Values of the wrong type, or numbers no config means. */
const ODD_VALUES: unknown[] = [
  'x', '', true, false, null, [], {}, [1], { a: 1 }, -1, 0, 1.5, -0.5, 1e308, -1e308, 1e-308, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e21,
  'x'.repeat(100_000), Array.from({ length: 1000 }, (_, i) => i + 1),
];

type Json = unknown;

/** A path to a random node of `value`: object keys and array indices, possibly empty (the root). */
function randomPath(r: Random, value: Json): Array<string | number> {
  const path: Array<string | number> = [];
  let node = value;
  while (node !== null && typeof node === 'object' && r.chance(path.length === 0 ? 0.95 : 0.6)) {
    const keys: Array<string | number> = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    const key = r.pick(keys);
    path.push(key);
    node = (node as Record<string | number, Json>)[key];
  }
  return path;
}

function parentOf(root: Json, path: Array<string | number>): Record<string | number, Json> {
  let node = root as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  return node;
}

function show(path: Array<string | number>): string {
  return path.length ? path.join('.') : '(root)';
}

/** Paths to every number in `value`. */
function numberPaths(value: Json, path: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  if (typeof value === 'number') out.push(path);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) numberPaths(v, [...path, Array.isArray(value) ? Number(k) : k], out);
  }
  return out;
}

/** A number of the value set to a huge or negative one: sizes and counts a loader must bound. */
function hugeNumber(r: Random, original: Json): { value: Json; what: string } | undefined {
  const value = structuredClone(original);
  const paths = numberPaths(value);
  if (paths.length === 0) return undefined;
  const path = r.pick(paths);
  const x = r.pick([2 ** 31, 2 ** 32 + 1, 1e9, 1e15, 2 ** 53, 1e308, -1, -(2 ** 31)]);
  parentOf(value, path)[path[path.length - 1]!] = x;
  return { value, what: `${show(path)} = ${x}` };
}

/** A structural edit of the parsed value: set, delete, add, resize. */
function editValue(r: Random, original: Json): { value: Json; what: string } {
  const value = structuredClone(original);
  const path = randomPath(r, value);
  const replacement = r.chance(0.15) && path.length > 0 ? r.pick([-1, 0, 1, 2, 4, 7, 1e9]) : r.pick(ODD_VALUES);
  if (path.length === 0) return { value: r.pick<Json>([[], 1, 'x', null, true]), what: 'root replaced' };
  const parent = parentOf(value, path);
  const key = path[path.length - 1]!;
  const action = r.weighted<string>([['set', 6], ['delete', 2], ['add', 1], ['resize', Array.isArray(parent[key]) ? 2 : 0]]);
  if (action === 'set') {
    parent[key] = replacement;
    return { value, what: `${show(path)} = ${JSON.stringify(replacement)?.slice(0, 40)}` };
  }
  if (action === 'delete') {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    return { value, what: `${show(path)} removed` };
  }
  if (action === 'add') {
    const target = parent[key] !== null && typeof parent[key] === 'object' && !Array.isArray(parent[key]) ? parent[key] as Record<string, Json> : parent;
    target[r.pick(['unknown_field', 'use_safetensors', '_fuzz', 'torch_dtype'])] = replacement;
    return { value, what: `field added under ${show(path)}` };
  }
  const array = parent[key] as Json[];
  if (r.chance(0.5) && array.length > 0) array.pop();
  else array.push(array.length > 0 ? structuredClone(array[array.length - 1]) : 1);
  return { value, what: `${show(path)} resized to ${array.length}` };
}

/** Text that is not plain JSON, or JSON with duplicate keys. */
function editText(r: Random, text: string): { bytes: Buffer; what: string } {
  switch (r.int(0, 6)) {
    case 0: {
      const at = r.int(0, text.length - 1);
      return { bytes: Buffer.from(text.slice(0, at)), what: `truncated at ${at}` };
    }
    case 1: return { bytes: Buffer.from(`\ufeff${text}`), what: 'UTF-8 BOM' };
    case 2: {
      const token = r.pick(['NaN', 'Infinity', '-Infinity']);
      const replaced = text.replace(/(:\s*)-?\d+(\.\d+)?(e-?\d+)?/, `$1${token}`);
      return { bytes: Buffer.from(replaced), what: `a number replaced by ${token}` };
    }
    case 3: {
      const bytes = Buffer.from(text);
      const at = r.int(0, bytes.length - 1);
      bytes[at] = r.pick([0xff, 0xc0, 0x80]);
      return { bytes, what: `byte 0x${bytes[at]!.toString(16)} at ${at}` };
    }
    case 4: {
      // The first key again with another value: JSON.parse keeps the last one.
      const m = /^\s*\{\s*("(?:[^"\\]|\\.)*")\s*:/.exec(text);
      if (!m) return { bytes: Buffer.from(`${text},`), what: 'trailing comma' };
      return { bytes: Buffer.from(text.replace('{', `{${m[1]}: ${JSON.stringify(r.pick(ODD_VALUES))?.slice(0, 100_001) ?? 'null'},`)), what: `duplicate key ${m[1]}` };
    }
    case 5: return { bytes: Buffer.from(r.pick(['', ' ', 'null', '[]', '"x"', '{}', '{"a": 1} {"b": 2}'])), what: 'replaced by a non-config' };
    default: return { bytes: Buffer.from(text.replace(/\n}\s*$/, ',\n}\n')), what: 'trailing comma before the closing brace' };
  }
}

/** One random mutation of the JSON text `text`. */
export function mutateJson(r: Random, text: string): { bytes: Buffer; what: string } {
  let parsed: Json;
  try {
    parsed = JSON.parse(text);
  } catch {
    return editText(r, text); // already broken by an earlier mutation
  }
  if (r.chance(0.25)) return editText(r, text);
  const { value, what } = (r.chance(0.25) && hugeNumber(r, parsed)) || editValue(r, parsed);
  return { bytes: Buffer.from(JSON.stringify(value, null, 2)), what };
}
