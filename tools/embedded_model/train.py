"""Train the embedded model, checkpoint it, and finish with export, quick check and model card.

    cd /work/main && /usr/bin/python3 -m tools.embedded_model.train --steps 3300 --minutes 75 --out models/shapes-32

What a step does: a batch of `--batch` procedural pictures and captions (dataset.Sampler, seeded by
(seed, step)), 10% of captions replaced by the empty prompt so classifier-free guidance works, uniform
integer timesteps in [0, 1000), SD's noise schedule, MSE between the UNet's output and v (v-prediction;
model.py says why not epsilon). Text encoder and UNet are trained jointly by one AdamW.

Schedule: linear warm-up over `--warmup` steps, then cosine decay to 0 over the run's progress, where
progress = max(step / --steps, training seconds / --minutes). The time term makes a run on a busy
machine (this one shares two cores with compilers) end on time with a fully decayed learning rate
instead of being cut off mid-schedule; with `--minutes 0` the run depends on the step count only.
`--resume --new-phase` starts a fine-tuning phase: warm-up and cosine decay again, from the checkpoint's
progress to 1 (e.g. `--zero-terminal-snr` on a model trained under SD's betas).
An EMA of the weights (decay `--ema`, ramped up as min(ema, (1 + step) / (10 + step)) at the start) is
what gets exported.

Checkpoints go to `--work` (default /tmp/embedded-train, outside the repository) every
`--checkpoint-minutes` and at the end; the last three are kept. Each holds model, EMA, optimizer,
step, training seconds, loss history and the command lines, and batches and noise are functions of
(seed, step), so `--resume` continues exactly where the checkpoint left off.

At the end (or with `--export-from CHECKPOINT` at any time) the EMA weights are exported to `--out`
(export.py), loaded back from there, scored on fixed validation batches and by the quick check
(quick_eval.py), and the model card `--out`/README.md is written (card.py). The log goes to stdout
and to `--work`/train.log.
"""

import argparse
import contextlib
import copy
import glob
import math
import os
import shlex
import sys
import time

import numpy as np
import torch

from . import card, dataset, quick_eval
from .diffusion import NoiseSchedule
from .export import export, load_folder
from .model import TEXT_CONFIG, UNET_CONFIG, TextToImage, parameter_count, scheduler_config
from .tokenizer import encode

KEEP_CHECKPOINTS = 3


# Options a resumed run may change; everything else comes from the checkpoint. PHASE_OPTIONS only
# with --new-phase, which records them in the checkpoint's list of phases (the model card reports each).
PHASE_OPTIONS = ("lr", "zero_terminal_snr")
RESUMABLE_OVERRIDES = PHASE_OPTIONS + ("steps", "minutes", "work", "out", "dtype", "checkpoint_minutes", "log_every", "eval_per_kind", "threads")


def build_parser(defaults=True):
    """The command-line parser; with defaults=False, options not given are absent from the result
    (to tell which options a resume command sets explicitly)."""

    def default(value):
        return value if defaults else argparse.SUPPRESS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--steps", type=int, default=default(None), help="planned optimizer steps (the schedule's length)")
    add("--minutes", type=float, default=default(0.0), help="training-time budget; 0 = none")
    add("--batch", type=int, default=default(32))
    add("--lr", type=float, default=default(1e-3))
    add("--warmup", type=int, default=default(200))
    add("--weight-decay", type=float, default=default(0.01))
    add("--ema", type=float, default=default(0.998))
    add("--caption-dropout", type=float, default=default(0.1))
    add("--two-object-share", type=float, default=default(dataset.P_TWO_OBJECTS), help="share of training captions "
        "with two objects")
    add("--unnamed-colour", type=float, default=default(dataset.P_UNNAMED_COLOUR), help="share of objects whose colour "
        "word a training caption leaves out (dataset.P_UNNAMED_COLOUR says why)")
    add("--zero-terminal-snr", action="store_true", default=default(False), help="rescale the betas so t = 999 is pure noise "
        "(model.scheduler_config)")
    add("--precision", choices=("float32", "bfloat16"), default=default("float32"), help="bfloat16: the forward pass "
        "under CPU autocast (mixed_precision says what stays float32)")
    add("--seed", type=int, default=default(0))
    add("--threads", type=int, default=default(2))
    add("--work", default=default("/tmp/embedded-train"), help="checkpoints and log (not part of the repository)")
    add("--out", default=default("models/shapes-32"), help="exported diffusers folder")
    add("--dtype", choices=("float16", "float32"), default=default("float16"), help="exported weight dtype")
    add("--checkpoint-minutes", type=float, default=default(10.0))
    add("--log-every", type=int, default=default(25))
    add("--eval-per-kind", type=int, default=default(100), help="quick-check prompts per kind (one / two objects)")
    add("--resume", nargs="?", const="latest", default=default(None), help="checkpoint to resume (default: latest in --work); "
        f"only {', '.join('--' + k.replace('_', '-') for k in RESUMABLE_OVERRIDES)} may be changed")
    add("--new-phase", action="store_true", default=default(False), help="with --resume: restart warm-up and cosine "
        "decay at the checkpoint, over what remains of --steps / --minutes (a fine-tuning phase, e.g. with a new --lr "
        "or --zero-terminal-snr)")
    add("--export-from", metavar="CHECKPOINT", default=default(None), help="skip training: export, check and document a checkpoint")
    return parser


class Log:
    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = path

    def __call__(self, message):
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}"
        print(line, flush=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


# ---------------------------------------------------------------------------------------------- checkpoints


def checkpoint_paths(work):
    return sorted(glob.glob(os.path.join(work, "ckpt-*.pt")))


def save_checkpoint(state, work, log):
    path = os.path.join(work, f"ckpt-{state['step']:06d}.pt")
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)
    for old in checkpoint_paths(work)[:-KEEP_CHECKPOINTS]:
        os.remove(old)
    log(f"checkpoint {path}")
    return path


def new_phase(step, start_progress, args):
    """A training phase: where it starts and the phase options it runs with."""
    return dict({"step": step, "progress": start_progress}, **{k: args[k] for k in PHASE_OPTIONS})


def new_state(args):
    torch.manual_seed(args["seed"])
    model = TextToImage(UNET_CONFIG, TEXT_CONFIG)
    return {
        "step": 0,
        "train_seconds": 0.0,
        "model": model.state_dict(),
        "ema": copy.deepcopy(model.state_dict()),
        "optimizer": None,
        "history": [],
        "phases": [new_phase(0, 0.0, args)],
        "args": dict(args),
        "commands": [],
        "unet_config": UNET_CONFIG,
        "text_config": TEXT_CONFIG,
    }


# ---------------------------------------------------------------------------------------------- training


def progress(step, seconds, args):
    by_steps = step / args["steps"]
    by_time = seconds / (60 * args["minutes"]) if args["minutes"] > 0 else 0.0
    return max(by_steps, by_time)


def learning_rate(step, p, args, phase):
    """Warm-up and cosine decay over the current phase: from `phase` (its first step and progress; a
    new run's phase starts at 0, `--new-phase` starts one at the resumed checkpoint) to progress 1."""
    since = step - phase["step"]
    warmup = min(1.0, (since + 1) / args["warmup"]) if args["warmup"] > 0 else 1.0
    within = (p - phase["progress"]) / (1.0 - phase["progress"])
    return phase["lr"] * warmup * 0.5 * (1 + math.cos(math.pi * min(within, 1.0)))


def training_sampler(args):
    """The run's data; a checkpoint written before the data options existed used their defaults."""
    share = args.get("two_object_share", dataset.P_TWO_OBJECTS)
    return dataset.Sampler(args["seed"], two_object_share=share, unnamed_colour=args.get("unnamed_colour", 0.0))


def make_batch(sampler, schedule, step, args):
    """(noisy images, timesteps, token ids, target) for one step, a function of (seed, step); the target
    is the model's prediction type's (model.scheduler_config)."""
    images, captions = sampler.batch(step, args["batch"])
    generator = torch.Generator().manual_seed(args["seed"] * 1_000_003 + step)
    drop = torch.rand(len(captions), generator=generator) < args["caption_dropout"]
    captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
    ids = torch.tensor([encode(c, TEXT_CONFIG["max_position_embeddings"]) for c in captions])
    timesteps = torch.randint(0, schedule.train_steps, (len(captions),), generator=generator)
    noise = torch.randn(images.shape, generator=generator)
    return schedule.add_noise(images, noise, timesteps), timesteps.float(), ids, schedule.target(images, noise, timesteps)


def mixed_precision(model, precision):
    """The autocast context of a training step's forward pass, for `--precision`.

    bfloat16: convolutions and matrix products run in bfloat16 under torch's CPU autocast (oneDNN uses
    AVX512_BF16 where the CPU has it: measured on this 2-core machine, 0.34 s per step at batch 32
    against 1.40 s in float32, with the same loss over the first 100 steps to three decimals). Weights,
    optimizer, EMA and loss stay float32, and so do the group and layer norms (SD's practice for norm
    statistics): torch 1.13's CPU autocast leaves them out, so their bfloat16 inputs would meet float32
    weights; a pre-hook casts the input up instead.
    """
    if precision == "float32":
        return contextlib.nullcontext()
    for module in model.modules():
        if isinstance(module, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
            module.register_forward_pre_hook(lambda _, inputs: tuple(x.float() for x in inputs))
    return torch.autocast("cpu", dtype=torch.bfloat16)


def train(state, args, log):
    """Run steps until progress reaches 1; returns the final state (checkpointed)."""
    torch.set_num_threads(args["threads"])
    model = TextToImage(state["unet_config"], state["text_config"])
    model.load_state_dict(state["model"])
    ema = TextToImage(state["unet_config"], state["text_config"])
    ema.load_state_dict(state["ema"])
    ema.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args["lr"], weight_decay=args["weight_decay"])
    if state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    autocast = mixed_precision(model, args.get("precision", "float32"))
    sampler = training_sampler(args)
    schedule = NoiseSchedule(scheduler_config(state["phases"][-1]["zero_terminal_snr"]))
    params, ema_params = list(model.parameters()), list(ema.parameters())

    def snapshot():
        state.update(model=model.state_dict(), ema=ema.state_dict(), optimizer=optimizer.state_dict())
        return save_checkpoint(state, args["work"], log)

    step, seconds = state["step"], state["train_seconds"]
    log(
        f"start at step {step}: unet {parameter_count(model.unet):,} + text encoder "
        f"{parameter_count(model.text_encoder):,} parameters, batch {args['batch']}, planned {args['steps']} steps "
        f"or {args['minutes']:g} min"
    )
    losses, window_start, last_checkpoint = [], time.time(), time.time()
    while progress(step, seconds, args) < 1:
        started = time.time()
        p = progress(step, seconds, args)
        lr = learning_rate(step, p, args, state["phases"][-1])
        for group in optimizer.param_groups:
            group["lr"] = lr
        noisy, timesteps, ids, target = make_batch(sampler, schedule, step, args)
        with autocast:
            output = model(noisy, timesteps, ids)
        loss = torch.nn.functional.mse_loss(output.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay = min(args["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for e, q in zip(ema_params, params):
                e.lerp_(q, 1 - decay)
        step += 1
        seconds += time.time() - started
        losses.append(loss.item())
        state.update(step=step, train_seconds=seconds)
        if step % args["log_every"] == 0:
            rate = len(losses) / (time.time() - window_start)
            remaining = (args["steps"] - step) / rate
            if args["minutes"] > 0:
                remaining = min(remaining, 60 * args["minutes"] - seconds)
            entry = {"step": step, "loss": float(np.mean(losses)), "lr": lr, "steps_per_s": rate, "train_seconds": seconds}
            state["history"].append(entry)
            log(
                f"step {step} progress {progress(step, seconds, args):.3f} loss {entry['loss']:.4f} lr {lr:.2e} "
                f"{rate:.3f} steps/s, {seconds / 60:.1f} min trained, ~{max(remaining, 0) / 60:.1f} min left"
            )
            losses, window_start = [], time.time()
        if time.time() - last_checkpoint > 60 * args["checkpoint_minutes"]:
            snapshot()
            last_checkpoint = time.time()
    log(f"training done: {step} steps in {seconds / 60:.1f} min")
    return snapshot()


# ---------------------------------------------------------------------------------------------- finish


@torch.no_grad()
def validation_loss(model, schedule, pairs, seed, count=256, batch=64):
    """Mean MSE against the training target of `model` on fixed pictures over `pairs`, fixed noise and timesteps, no
    caption dropout: comparable between checkpoints."""
    sampler = dataset.Sampler(seed, pairs)
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for index in range(count // batch):
        images, captions = sampler.batch(index, batch)
        ids = torch.tensor([encode(c, model.text_encoder.config["max_position_embeddings"]) for c in captions])
        timesteps = torch.randint(0, schedule.train_steps, (batch,), generator=generator)
        noise = torch.randn(images.shape, generator=generator)
        prediction = model(schedule.add_noise(images, noise, timesteps), timesteps.float(), ids)
        total += torch.nn.functional.mse_loss(prediction, schedule.target(images, noise, timesteps)).item()
    return total / (count // batch)


def finish(checkpoint_path, args, log):
    """Export a checkpoint's EMA weights, reload them from the folder, measure, write the card."""
    torch.set_num_threads(args["threads"])
    state = torch.load(checkpoint_path)
    size = export(state, args["out"], args["dtype"])
    log(f"exported {checkpoint_path} (step {state['step']}) to {args['out']}: {size:,} bytes")
    model, folder_config = load_folder(args["out"])
    losses = {
        "seen pairs": validation_loss(model, NoiseSchedule(folder_config), dataset.TRAIN_PAIRS, seed=10_001),
        "held-out pairs": validation_loss(model, NoiseSchedule(folder_config), dataset.HELD_OUT, seed=10_002),
    }
    log("validation loss (EMA, exported weights): " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items()))
    grid = os.path.join(args["work"], f"samples-{state['step']:06d}.png")
    guidance = quick_eval.default_guidance(args["out"])
    results = quick_eval.evaluate(model, folder_config, args["eval_per_kind"], guidance=guidance, grid=grid)
    log("quick check, model samples:\n" + quick_eval.table(results["model"]))
    log("quick check, detector on ground truth:\n" + quick_eval.table(results["ground truth"]))
    log(f"quick check took {results['seconds']:.0f} s; sample grid {grid}")
    card.write(args["out"], state, model, size, losses, results, args["dtype"])
    log(f"wrote {os.path.join(args['out'], 'README.md')}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    log = Log(os.path.join(args["work"], "train.log"))
    command = "/usr/bin/python3 -m tools.embedded_model.train " + " ".join(shlex.quote(a) for a in argv)
    log(f"command: {command}")
    if args["export_from"]:
        finish(args["export_from"], args, log)
        return
    if args["resume"]:
        path = checkpoint_paths(args["work"])[-1] if args["resume"] == "latest" else args["resume"]
        state = torch.load(path)
        explicit = vars(build_parser(defaults=False).parse_args(argv))
        changed = [k for k in PHASE_OPTIONS if k in explicit and explicit[k] != state["args"][k]]
        if changed and not args["new_phase"]:
            parser.error(f"changing {', '.join('--' + k.replace('_', '-') for k in changed)} starts a phase: add --new-phase")
        state["args"].update({k: v for k, v in explicit.items() if k in RESUMABLE_OVERRIDES})
        log(f"resuming from {path} at step {state['step']}")
        if args["new_phase"]:
            start = progress(state["step"], state["train_seconds"], state["args"])
            state["phases"].append(new_phase(state["step"], start, state["args"]))
            log(f"new phase from progress {start:.3f}: {state['phases'][-1]}")
    elif args["steps"] is None:
        parser.error("--steps is required for a new run")
    else:
        state = new_state(args)
    state["commands"].append(command)
    final = train(state, state["args"], log)
    finish(final, state["args"], log)

if __name__ == "__main__":
    main()
