"""Write a training checkpoint's EMA weights as a diffusers model folder, and load such a folder back.

Folder layout (what the engine's ts/models/layout.ts reads; pixel space, so no vae/):

    model_index.json                      StableDiffusionPipeline, vae [null, null]
    unet/config.json                      + diffusion_pytorch_model.safetensors
    text_encoder/config.json              + model.safetensors
    tokenizer/tokenizer.json, tokenizer_config.json, special_tokens_map.json
    scheduler/scheduler_config.json       DDIMScheduler, SD betas, epsilon, trailing spacing

Weights are written with tools/sd_reference/safetensors_io (same serializer as the fixtures, metadata
{"format": "pt"}). `load_folder` rebuilds a model.TextToImage from a folder with the reference
modules, in float32 whatever the stored dtype, so the quick check runs on exactly what ships.
Run an export with `python -m tools.embedded_model.train --export-from CHECKPOINT` (see train.py).
"""

import json
import os

import torch

from tools.sd_reference import configs as reference
from tools.sd_reference.safetensors_io import load_file, save_file

from . import tokenizer
from .model import SCHEDULER_CONFIG, TextToImage, scheduler_config

FORMAT_PT = {"format": "pt"}
DTYPES = {"float16": torch.float16, "float32": torch.float32}


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")


def component_state(state, prefix, dtype):
    """The entries of a TextToImage state dict under `prefix` ("unet." / "text_encoder."), renamed."""
    return {k[len(prefix) :]: v.detach().to(dtype).contiguous() for k, v in state.items() if k.startswith(prefix)}


def export(checkpoint, out_dir, dtype="float16"):
    """Write the folder from a checkpoint dict (see train.py) using its EMA weights; returns the
    folder's size in bytes."""
    unet_config, text_config = checkpoint["unet_config"], checkpoint["text_config"]
    state = checkpoint["ema"]
    write_json(os.path.join(out_dir, "model_index.json"), reference.model_index(SCHEDULER_CONFIG["_class_name"], vae=False))
    write_json(os.path.join(out_dir, "unet", "config.json"), unet_config)
    save_file(component_state(state, "unet.", DTYPES[dtype]), os.path.join(out_dir, "unet", "diffusion_pytorch_model.safetensors"), FORMAT_PT)
    write_json(os.path.join(out_dir, "text_encoder", "config.json"), dict(text_config, torch_dtype=dtype))
    save_file(component_state(state, "text_encoder.", DTYPES[dtype]), os.path.join(out_dir, "text_encoder", "model.safetensors"), FORMAT_PT)
    for name, document in tokenizer.files(text_config["max_position_embeddings"]).items():
        write_json(os.path.join(out_dir, "tokenizer", name), document)
    write_json(os.path.join(out_dir, "scheduler", "scheduler_config.json"), scheduler_config(checkpoint["phases"][-1]["zero_terminal_snr"]))
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(out_dir) for f in files)


def load_folder(folder):
    """A float32 TextToImage (eval mode) and the scheduler config, from an exported folder."""

    def read_json(*parts):
        with open(os.path.join(folder, *parts), encoding="utf-8") as handle:
            return json.load(handle)

    model = TextToImage(read_json("unet", "config.json"), read_json("text_encoder", "config.json"))
    unet_state, _ = load_file(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"))
    text_state, _ = load_file(os.path.join(folder, "text_encoder", "model.safetensors"))
    model.unet.load_state_dict({k: v.float() for k, v in unet_state.items()}, strict=True)
    model.text_encoder.load_state_dict({k: v.float() for k, v in text_state.items()}, strict=True)
    return model.eval(), read_json("scheduler", "scheduler_config.json")

