"""The training script's own quick check of an exported model: sample, read back, count.

Prompts: `per_kind` one-object captions (every one with a position) and `per_kind` two-object
captions, a quarter of each using a HELD_OUT colour-shape pair (two objects: at least one of them),
drawn from a fixed seed. Each is sampled with DDIM (25 steps, the folder's scheduler config and
guidance scale: generation_config.json's when the folder has one, else 7.5) from the model as exported, and read back by detect.py. The same captions rendered by the
dataset (with training jitter) are run through the detector too: that row is the detector's own
accuracy, the ceiling for the model's.

This is a quick, self-made measure; the package's TypeScript evaluation harness is the reference.

    /usr/bin/python3 -m tools.embedded_model.quick_eval models/shapes-32 [--per-kind 100] [--grid out.png]
"""

import argparse
import json
import os
import time

import numpy as np
import torch

from . import dataset, detect
from .diffusion import NoiseSchedule, sample
from .export import load_folder

CRITERIA = ("correct", "colour", "shape", "place", "size")


def prompt_set(per_kind=100, held_out_share=0.25, seed=7):
    """[(spec, held_out)]: per_kind one-object then per_kind two-object specs."""
    rng = np.random.default_rng(seed)
    held = round(per_kind * held_out_share)
    specs = []
    for two in (False, True):
        for i in range(per_kind):
            if i >= held:
                spec = dataset.random_spec(rng, dataset.TRAIN_PAIRS, two_objects=two)
                while spec.position is None and not two:
                    spec = dataset.random_spec(rng, dataset.TRAIN_PAIRS, two_objects=two)
            else:
                # Put a held-out pair in a random slot, the other object from any pair.
                while True:
                    spec = dataset.random_spec(rng, dataset.ALL_PAIRS, two_objects=two)
                    if spec.held_out() and (two or spec.position is not None):
                        break
            specs.append((spec, i < held))
    return specs


GROUPS = (
    "one object, seen pairs", "one object, held-out pairs", "one object, all",
    "two objects, seen pairs", "two objects, held-out pairs", "two objects, all",
    "all prompts",
)


def summarize(specs, verdicts):
    """{group: {criterion: rate, "n": count}} for one/two objects x seen/held-out/all, and all."""
    groups = {name: [] for name in GROUPS}
    for (spec, held), verdict in zip(specs, verdicts):
        kind = "one object" if len(spec.objects) == 1 else "two objects"
        for name in (f"{kind}, {'held-out' if held else 'seen'} pairs", f"{kind}, all", "all prompts"):
            groups[name].append(verdict)
    return {
        name: dict({c: sum(v[c] for v in items) / len(items) for c in CRITERIA}, n=len(items))
        for name, items in groups.items()
        if items
    }


def evaluate(model, scheduler_config, per_kind=100, steps=25, guidance=7.5, seed=0, batch=50, grid=None):
    """Rates for the model's samples and for the detector on ground truth; see the module docstring."""
    start = time.time()
    specs = prompt_set(per_kind)
    captions = [dataset.caption(spec) for spec, _ in specs]
    schedule = NoiseSchedule(scheduler_config)
    images = torch.cat(
        [
            sample(model, captions[i : i + batch], steps, guidance, seed + i, schedule)
            for i in range(0, len(captions), batch)
        ]
    )
    rng = np.random.default_rng(seed)
    truth = [dataset.render(spec, rng) for spec, _ in specs]
    if grid:
        save_grid(images[: min(64, len(images))], grid)
    verdicts = [detect.judge(spec, image) for (spec, _), image in zip(specs, images)]
    return {
        "model": summarize(specs, verdicts),
        "ground truth": summarize(specs, [detect.judge(spec, image) for (spec, _), image in zip(specs, truth)]),
        "failures": [c for c, verdict in zip(captions, verdicts) if not verdict["correct"]],
        "steps": steps,
        "guidance": guidance,
        "seconds": time.time() - start,
    }


def default_guidance(folder):
    """generation_config.json's guidance_scale when `folder` has one (generate()'s default for the
    model), else SD's 7.5."""
    path = os.path.join(folder, "generation_config.json")
    if not os.path.exists(path):
        return 7.5
    with open(path, encoding="utf-8") as handle:
        return float(json.load(handle)["guidance_scale"])


def save_grid(images, path, columns=8):
    """A PNG of images [N, 3, 32, 32] in [-1, 1], 4x nearest-neighbour, for a human look."""
    from PIL import Image

    pixels = ((images + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    rows = [np.concatenate(list(pixels[r : r + columns]), axis=1) for r in range(0, len(pixels), columns)]
    rows[-1] = np.pad(rows[-1], ((0, 0), (0, rows[0].shape[1] - rows[-1].shape[1]), (0, 0)))
    Image.fromarray(np.concatenate(rows, axis=0)).resize((columns * 128, len(rows) * 128), Image.NEAREST).save(path)


def table(summary):
    """A markdown table of one summarize() result."""
    lines = ["| prompts | n | fully correct | colour | shape | position / relation | size |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in summary.items():
        rates = " | ".join(f"{100 * row[c]:.0f}%" for c in CRITERIA)
        lines.append(f"| {name} | {row['n']} | {rates} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--per-kind", type=int, default=100)
    parser.add_argument("--grid", help="write a PNG of some samples here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model, scheduler_config = load_folder(args.folder)
    guidance = default_guidance(args.folder)
    results = evaluate(model, scheduler_config, args.per_kind, guidance=guidance, grid=args.grid)
    print(f"model samples (DDIM 25 steps, guidance {guidance:g}):")
    print(table(results["model"]))
    print("detector on ground-truth renders:")
    print(table(results["ground truth"]))
    print(f"{results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
