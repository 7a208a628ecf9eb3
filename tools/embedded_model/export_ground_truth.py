"""Export what the TypeScript evaluation harness (ts/eval) needs from the data set, so that the
harness runs without Python:

1. `test/fixtures/shapes-gt/`: ground-truth pictures rendered by dataset.py's renderer with the
   training jitter (sizes, positions, backgrounds), as 8-bit RGB PNGs, and one `labels.json` with
   each picture's caption, parsed spec and placed layout (centre and size of every object). The
   detector test (test/eval.detector.test.ts) reads them back and counts its own errors.
2. `models/shapes-32-eval/prompts.json`: the grammar (palette, shapes, size ranges, position and
   relation anchors, held-out pairs) and the evaluation prompt sets (one and two objects, seen and
   held-out colour-shape pairs), each prompt with its parsed spec. It sits under models/ because the
   package ships models/ and the harness reads it at run time from an installed package.

Why a fixed prompt list and not a grammar re-implemented in TypeScript: the captions and specs come
from dataset.py's own `caption` and `parse_caption`, so the harness can never drift from the language
the model was trained on. Every prompt set is ordered so that any prefix is balanced (pairs,
positions, relations and slots cycle), which lets `--quick` take the first few of each.

Deterministic by seed; PNGs are written by a minimal zlib writer (no PIL), so two runs give
byte-identical files whatever the installed libraries.

    /usr/bin/python3 -m tools.embedded_model.export_ground_truth [--count 480] [--per-group 48]
"""

import argparse
import json
import os
import struct
import zlib

import numpy as np
import torch

from . import dataset

GT_DIR = os.path.join("test", "fixtures", "shapes-gt")
PROMPTS_FILE = os.path.join("models", "shapes-32-eval", "prompts.json")
GT_SEED = 2024
PROMPT_SEED = 31


# ---------------------------------------------------------------------------------------------- PNG


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_bytes(rgb):
    """A PNG file (8-bit RGB, no interlace, filter 0 on every row) of a uint8 array [H, W, 3]."""
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b"")


def to_uint8(image):
    """[3, H, W] in [-1, 1] to [H, W, 3] uint8, rounded as the engine's toRgb does ((x / 2 + 0.5) * 255)."""
    pixels = ((image.clamp(-1, 1) / 2 + 0.5) * 255).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).contiguous().numpy()


# ---------------------------------------------------------------------------------------------- specs as JSON


def spec_json(spec):
    """A spec as the harness reads it: objects (colour, shape, size word or null) and the position
    (one object) or relation (two objects), null when the caption has none."""
    out = {"objects": [{"colour": o.colour, "shape": o.shape, "size": o.size} for o in spec.objects]}
    if len(spec.objects) == 1:
        out["position"] = spec.position
    else:
        out["relation"] = spec.relation
    return out


def checked_caption(spec):
    """The caption of a spec, checked to parse back to the same spec."""
    text = dataset.caption(spec)
    assert dataset.parse_caption(text) == spec, text
    return text


# ---------------------------------------------------------------------------------------------- ground truth


def ground_truth(count, seed=GT_SEED):
    """[(spec, placed layout, background, image [3, 32, 32])]: half one-object (15% without a
    position word, as in training), half two-object specs over all 21 colour-shape pairs, with training jitter."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(count):
        spec = dataset.random_spec(rng, dataset.ALL_PAIRS, two_objects=i % 2 == 1)
        placed = dataset.layout(spec, rng)
        background = float(rng.uniform(*dataset.BACKGROUND_RANGE))
        image = dataset.render_layouts([placed], [background])[0]
        items.append((spec, placed, background, image))
    return items


def write_ground_truth(count, out_dir=GT_DIR):
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(out_dir):
        if name.endswith(".png"):
            os.remove(os.path.join(out_dir, name))
    labels = []
    for index, (spec, placed, background, image) in enumerate(ground_truth(count)):
        name = f"{index:04d}.png"
        with open(os.path.join(out_dir, name), "wb") as handle:
            handle.write(png_bytes(to_uint8(image)))
        labels.append({
            "file": name,
            "caption": checked_caption(spec),
            "spec": spec_json(spec),
            "background": round(background, 6),
            "placed": [
                {"colour": c, "shape": s, "x": round(x, 4), "y": round(y, 4), "size": round(size, 4)}
                for c, s, x, y, size in placed
            ],
        })
    document = {
        "generator": "python -m tools.embedded_model.export_ground_truth (dataset.py renderer, training jitter)",
        "seed": GT_SEED,
        "width": dataset.SIZE,
        "height": dataset.SIZE,
        "note": "x, y: the object's bounding-box centre in pixels (pixel centres at k + 0.5); size: circle "
                "diameter, square side, triangle base = height, apex up",
        "images": labels,
    }
    with open(os.path.join(out_dir, "labels.json"), "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")
    total = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    return len(labels), total


# ---------------------------------------------------------------------------------------------- prompt sets


def _size_word(rng):
    return dataset.SIZE_WORDS[rng.integers(2)] if rng.random() < dataset.P_SIZE_WORD else None


def one_object_set(pairs, per_group, rng):
    """One-object specs, every one with a position: pairs cycle in a shuffled order and positions
    cycle independently (5 positions against 17 or 4 pairs: coprime, so every pair meets every
    position within one common cycle), so any prefix covers pairs and positions evenly."""
    order = [pairs[i] for i in rng.permutation(len(pairs))]
    positions = list(dataset.POSITIONS)
    specs, seen = [], set()
    i = 0
    while len(specs) < per_group:
        colour, shape = order[i % len(order)]
        position = positions[i % len(positions)]
        spec = dataset.Spec((dataset.Obj(colour, shape, _size_word(rng)),), position=position)
        i += 1
        if spec not in seen:
            seen.add(spec)
            specs.append(spec)
        assert i < 100 * per_group, "cannot find enough distinct one-object prompts"
    return specs


def two_object_set(per_group, rng, held_out):
    """Two-object specs with different colours; relations cycle. Seen: both pairs from training.
    Held-out: exactly one held-out pair (cycling through HELD_OUT, alternating first / second slot),
    the other a training pair."""
    relations = list(dataset.RELATIONS)
    train = list(dataset.TRAIN_PAIRS)
    specs, seen = [], set()
    i = 0
    while len(specs) < per_group:
        relation = relations[i % len(relations)]
        if held_out:
            pair = dataset.HELD_OUT[i % len(dataset.HELD_OUT)]
            others = [p for p in train if p[0] != pair[0]]
            other = others[rng.integers(len(others))]
            first, second = (pair, other) if (i // len(dataset.HELD_OUT)) % 2 == 0 else (other, pair)
        else:
            first = train[rng.integers(len(train))]
            others = [p for p in train if p[0] != first[0]]
            second = others[rng.integers(len(others))]
        spec = dataset.Spec(
            (dataset.Obj(*first, _size_word(rng)), dataset.Obj(*second, _size_word(rng))), relation=relation
        )
        i += 1
        if spec not in seen:
            seen.add(spec)
            specs.append(spec)
    return specs


def prompt_sets(per_group, seed=PROMPT_SEED):
    """{group: [specs]} for the four groups, seeded."""
    rng = np.random.default_rng(seed)
    return {
        "one-seen": one_object_set(dataset.TRAIN_PAIRS, per_group, rng),
        "one-held-out": one_object_set(dataset.HELD_OUT, per_group, rng),
        "two-seen": two_object_set(per_group, rng, held_out=False),
        "two-held-out": two_object_set(per_group, rng, held_out=True),
    }


def grammar_json():
    """The constants of dataset.py the detector and the scorer need."""
    return {
        "size": dataset.SIZE,
        "colours": {name: list(rgb) for name, rgb in dataset.COLOURS.items()},
        "shapes": list(dataset.SHAPES),
        "sizeWords": list(dataset.SIZE_WORDS),
        "sizeRanges": {("medium" if k is None else k): list(v) for k, v in dataset.SIZE_RANGES.items()},
        "positions": {k: {"phrase": phrase, "anchor": list(anchor)} for k, (phrase, anchor) in dataset.POSITIONS.items()},
        "relations": {k: {"phrase": phrase, "first": list(a), "second": list(b)} for k, (phrase, a, b) in dataset.RELATIONS.items()},
        "heldOut": [list(pair) for pair in dataset.HELD_OUT],
        "backgroundRange": list(dataset.BACKGROUND_RANGE),
        "vocabulary": list(dataset.VOCABULARY),
    }


def write_prompts(per_group, path=PROMPTS_FILE):
    sets = prompt_sets(per_group)
    for group, specs in sets.items():
        for spec in specs:
            assert spec.held_out() == group.endswith("held-out"), (group, spec)
    document = {
        "generator": "python -m tools.embedded_model.export_ground_truth (dataset.py grammar)",
        "seed": PROMPT_SEED,
        "grammar": grammar_json(),
        "sets": {
            group: [{"text": checked_caption(spec), "spec": spec_json(spec)} for spec in specs]
            for group, specs in sets.items()
        },
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")
    return sum(len(s) for s in sets.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=480, help="ground-truth pictures")
    parser.add_argument("--per-group", type=int, default=48, help="prompts per group (4 groups)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    count, size = write_ground_truth(args.count)
    print(f"wrote {count} ground-truth pictures and labels.json to {GT_DIR} ({size:,} bytes)")
    prompts = write_prompts(args.per_group)
    print(f"wrote {prompts} prompts in 4 groups to {PROMPTS_FILE}")


if __name__ == "__main__":
    main()
