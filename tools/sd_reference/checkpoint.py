"""Key-layout conversion between diffusers state dicts and the original single-file (LDM/CompVis) layout.

The mapping is built as data: for each model a table of (diffusers prefix, LDM prefix) pairs derived
from the model's config, plus small per-module tables for the names inside a block. Converting a key
means finding its block prefix in the table and renaming the part after it. The inverse direction
inverts the same tables, so diffusers -> LDM -> diffusers is lossless by construction.

Sources for the layout: diffusers scripts/convert_diffusers_to_original_stable_diffusion.py (the
diffusers -> LDM direction, written there for 4 levels x 2 layers) and loaders/single_file_utils.py
(`convert_ldm_unet_checkpoint`, `convert_ldm_vae_checkpoint`, `convert_open_clip_checkpoint`, the
LDM -> diffusers direction, which reads the layers per level from the config); the LDM numbering itself
comes from the original openaimodel.py UNet, which appends one `input_blocks` entry per resnet(+attention)
and one per downsampler, and one `output_blocks` entry per resnet(+attention) with the upsampler
appended to the last entry of each level. Here the tables are generated for any number of levels and
any layers_per_block.

UNet (prefix `model.diffusion_model.`):
    time_embedding.linear_1/2        time_embed.0/2
    conv_in                          input_blocks.0.0
    down_blocks.i.resnets.j          input_blocks.k.0     k counts 1, 2, ... over resnets and downsamplers
    down_blocks.i.attentions.j       input_blocks.k.1
    down_blocks.i.downsamplers.0.conv input_blocks.k.0.op
    mid_block.resnets.0 / attentions.0 / resnets.1   middle_block.0 / .1 / .2
    up_blocks.i.resnets.j            output_blocks.k.0    k counts 0, 1, ... over up-block resnets
    up_blocks.i.attentions.j         output_blocks.k.1
    up_blocks.i.upsamplers.0.conv    output_blocks.k.1.conv (no attention in that block) or .k.2.conv,
                                     k being the block's last resnet
    conv_norm_out / conv_out         out.0 / out.2
  inside resnets: norm1 in_layers.0, conv1 in_layers.2, time_emb_proj emb_layers.1, norm2 out_layers.0,
  conv2 out_layers.3, conv_shortcut skip_connection; inside Transformer2DModel the names are identical.

VAE (prefix `first_stage_model.`), n levels:
    {encoder,decoder}.conv_in/conv_out   same;   conv_norm_out  norm_out
    encoder.down_blocks.i.resnets.j      encoder.down.i.block.j
    encoder.down_blocks.i.downsamplers.0.conv  encoder.down.i.downsample.conv
    decoder.up_blocks.i.resnets.j        decoder.up.(n-1-i).block.j          (reversed level order)
    decoder.up_blocks.i.upsamplers.0.conv decoder.up.(n-1-i).upsample.conv
    *.mid_block.resnets.0/1              *.mid.block_1/2
    *.mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}   *.mid.attn_1.{norm,q,k,v,proj_out}
  inside resnets conv_shortcut is nin_shortcut; the attention q/k/v/proj_out weights are 1x1 convs
  [C, C, 1, 1] in LDM, Linear [C, C] in diffusers. quant_conv / post_quant_conv keep their names.

Text encoder:
  SD 1.x (OpenAI CLIP): `cond_stage_model.transformer.` + the transformers key, unchanged.
  SD 2.x (OpenCLIP), prefix `cond_stage_model.model.`:
    text_model.embeddings.token_embedding.weight      token_embedding.weight
    text_model.embeddings.position_embedding.weight   positional_embedding
    text_model.final_layer_norm.*                      ln_final.*
    text_model.encoder.layers.N.layer_norm1/2.*        transformer.resblocks.N.ln_1/ln_2.*
    text_model.encoder.layers.N.mlp.fc1/fc2.*          transformer.resblocks.N.mlp.c_fc/c_proj.*
    text_model.encoder.layers.N.self_attn.out_proj.*   transformer.resblocks.N.attn.out_proj.*
    self_attn.{q,k,v}_proj.weight [C, C] each         attn.in_proj_weight [3C, C]: rows 0..C-1 = q,
                                                       C..2C-1 = k, 2C..3C-1 = v (torch MultiheadAttention
                                                       order); in_proj_bias [3C] likewise.
  The split uses C = rows / 3 (the hidden size). diffusers' loader takes C from text_projection.shape[0]
  instead, which only works because SD 2.x's projection is square.
  SD 2.x single files hold the full 24-layer OpenCLIP model; diffusers folders hold the 23 layers SD 2.x
  actually uses (the last resblock is dropped on conversion, together with text_projection and
  logit_scale, which CLIPTextModel does not have). `drop_last_layer` below does the same.
"""

import re

import torch

from . import unet as unet_module
from . import vae as vae_module

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."
OPEN_CLIP_PREFIX = "cond_stage_model.model."

UNET_RESNET_PARTS = [
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("time_emb_proj", "emb_layers.1"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("conv_shortcut", "skip_connection"),
]
VAE_RESNET_PARTS = [
    ("norm1", "norm1"),
    ("conv1", "conv1"),
    ("norm2", "norm2"),
    ("conv2", "conv2"),
    ("conv_shortcut", "nin_shortcut"),
]
VAE_ATTENTION_PARTS = [
    ("group_norm", "norm"),
    ("to_q", "q"),
    ("to_k", "k"),
    ("to_v", "v"),
    ("to_out.0", "proj_out"),
]
OPEN_CLIP_TOP = [
    ("text_model.embeddings.token_embedding.weight", "token_embedding.weight"),
    ("text_model.embeddings.position_embedding.weight", "positional_embedding"),
    ("text_model.final_layer_norm.weight", "ln_final.weight"),
    ("text_model.final_layer_norm.bias", "ln_final.bias"),
]
OPEN_CLIP_LAYER_PARTS = [
    ("layer_norm1", "ln_1"),
    ("layer_norm2", "ln_2"),
    ("mlp.fc1", "mlp.c_fc"),
    ("mlp.fc2", "mlp.c_proj"),
    ("self_attn.out_proj", "attn.out_proj"),
]
QKV = ("q", "k", "v")


def _per_block(value, count):
    return list(value) if isinstance(value, (list, tuple)) else [value] * count


def unet_block_table(config):
    """[(diffusers block prefix, LDM block prefix, kind)], kind in resnet / attention / plain."""
    config = dict(unet_module.DEFAULTS, **config)
    down_types, up_types = list(config["down_block_types"]), list(config["up_block_types"])
    n = len(down_types)
    layers = _per_block(config["layers_per_block"], n)
    table = [
        ("time_embedding.linear_1.", "time_embed.0.", "plain"),
        ("time_embedding.linear_2.", "time_embed.2.", "plain"),
        ("conv_in.", "input_blocks.0.0.", "plain"),
        ("conv_norm_out.", "out.0.", "plain"),
        ("conv_out.", "out.2.", "plain"),
    ]
    k = 1
    for i, kind in enumerate(down_types):
        for j in range(layers[i]):
            table.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{k}.0.", "resnet"))
            if kind.startswith("CrossAttn"):
                table.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{k}.1.", "attention"))
            k += 1
        if i != n - 1:
            table.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{k}.0.op.", "plain"))
            k += 1
    table += [
        ("mid_block.resnets.0.", "middle_block.0.", "resnet"),
        ("mid_block.attentions.0.", "middle_block.1.", "attention"),
        ("mid_block.resnets.1.", "middle_block.2.", "resnet"),
    ]
    k = 0
    rev_layers = layers[::-1]
    for i, kind in enumerate(up_types):
        has_attention = kind.startswith("CrossAttn")
        count = rev_layers[i] + 1
        for j in range(count):
            table.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{k}.0.", "resnet"))
            if has_attention:
                table.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{k}.1.", "attention"))
            if j == count - 1 and i != n - 1:
                slot = 2 if has_attention else 1
                table.append((f"up_blocks.{i}.upsamplers.0.conv.", f"output_blocks.{k}.{slot}.conv.", "plain"))
            k += 1
    return table


def vae_block_table(config):
    """[(diffusers block prefix, LDM block prefix, kind)] for AutoencoderKL."""
    config = dict(vae_module.DEFAULTS, **config)
    n = len(config["block_out_channels"])
    layers = config["layers_per_block"]
    table = [
        ("quant_conv.", "quant_conv.", "plain"),
        ("post_quant_conv.", "post_quant_conv.", "plain"),
    ]
    for part in ("encoder", "decoder"):
        table += [
            (f"{part}.conv_in.", f"{part}.conv_in.", "plain"),
            (f"{part}.conv_out.", f"{part}.conv_out.", "plain"),
            (f"{part}.conv_norm_out.", f"{part}.norm_out.", "plain"),
            (f"{part}.mid_block.resnets.0.", f"{part}.mid.block_1.", "vae_resnet"),
            (f"{part}.mid_block.resnets.1.", f"{part}.mid.block_2.", "vae_resnet"),
            (f"{part}.mid_block.attentions.0.", f"{part}.mid.attn_1.", "vae_attention"),
        ]
    for i in range(n):
        for j in range(layers):
            table.append((f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}.", "vae_resnet"))
        if i != n - 1:
            table.append((f"encoder.down_blocks.{i}.downsamplers.0.conv.", f"encoder.down.{i}.downsample.conv.", "plain"))
    for i in range(n):
        level = n - 1 - i
        for j in range(layers + 1):
            table.append((f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{level}.block.{j}.", "vae_resnet"))
        if i != n - 1:
            table.append((f"decoder.up_blocks.{i}.upsamplers.0.conv.", f"decoder.up.{level}.upsample.conv.", "plain"))
    return table


PART_TABLES = {
    "plain": [],
    "attention": [],
    "resnet": UNET_RESNET_PARTS,
    "vae_resnet": VAE_RESNET_PARTS,
    "vae_attention": VAE_ATTENTION_PARTS,
}


def _rename(key, table, forward):
    """Rename one key with a block table; forward = diffusers -> LDM."""
    best = None
    for diffusers_prefix, ldm_prefix, kind in table:
        src, dst = (diffusers_prefix, ldm_prefix) if forward else (ldm_prefix, diffusers_prefix)
        if key.startswith(src) and (best is None or len(src) > len(best[0])):
            best = (src, dst, kind)
    if best is None:
        raise KeyError(f"no layout rule for {key!r}")
    src, dst, kind = best
    rest = key[len(src) :]
    for diffusers_part, ldm_part in PART_TABLES[kind]:
        a, b = (diffusers_part, ldm_part) if forward else (ldm_part, diffusers_part)
        if rest.startswith(a + "."):
            rest = b + rest[len(a) :]
            break
    else:
        if kind != "attention" and rest not in ("weight", "bias"):
            raise KeyError(f"no layout rule for {key!r}")
    return dst + rest


def unet_to_ldm(state_dict, config):
    table = unet_block_table(config)
    return {UNET_PREFIX + _rename(k, table, True): v for k, v in state_dict.items()}


def unet_from_ldm(checkpoint, config):
    table = unet_block_table(config)
    return {_rename(k[len(UNET_PREFIX) :], table, False): v for k, v in checkpoint.items() if k.startswith(UNET_PREFIX)}


def _is_vae_attention_matrix(ldm_key):
    return re.search(r"\.mid\.attn_1\.(q|k|v|proj_out)\.weight$", ldm_key) is not None


def vae_to_ldm(state_dict, config):
    table = vae_block_table(config)
    out = {}
    for key, value in state_dict.items():
        ldm_key = _rename(key, table, True)
        if _is_vae_attention_matrix(ldm_key):
            value = value.reshape(*value.shape, 1, 1)  # Linear [C, C] -> 1x1 conv [C, C, 1, 1]
        out[VAE_PREFIX + ldm_key] = value
    return out


def vae_from_ldm(checkpoint, config):
    table = vae_block_table(config)
    out = {}
    for key, value in checkpoint.items():
        if not key.startswith(VAE_PREFIX):
            continue
        ldm_key = key[len(VAE_PREFIX) :]
        if _is_vae_attention_matrix(ldm_key):
            value = value.reshape(value.shape[0], value.shape[1])
        out[_rename(ldm_key, table, False)] = value
    return out


def clip_to_ldm(state_dict):
    """SD 1.x: transformers names under cond_stage_model.transformer."""
    return {CLIP_PREFIX + k: v for k, v in state_dict.items()}


def clip_from_ldm(checkpoint):
    """SD 1.x: strip the prefix; drop the position_ids buffer some checkpoints carry."""
    return {
        k[len(CLIP_PREFIX) :]: v
        for k, v in checkpoint.items()
        if k.startswith(CLIP_PREFIX) and not k.endswith("position_ids")
    }


LAYER_KEY = re.compile(r"^text_model\.encoder\.layers\.(\d+)\.(.+)$")
RESBLOCK_KEY = re.compile(r"^transformer\.resblocks\.(\d+)\.(.+)$")


def open_clip_to_ldm(state_dict):
    """SD 2.x: transformers CLIPTextModel names -> OpenCLIP names with fused q/k/v."""
    top = dict(OPEN_CLIP_TOP)
    out = {}
    fused = {}
    for key, value in state_dict.items():
        if key in top:
            out[OPEN_CLIP_PREFIX + top[key]] = value
            continue
        match = LAYER_KEY.match(key)
        if match is None:
            raise KeyError(f"no OpenCLIP layout rule for {key!r}")
        layer, rest = int(match.group(1)), match.group(2)
        qkv = re.match(r"^self_attn\.(q|k|v)_proj\.(weight|bias)$", rest)
        if qkv:
            fused.setdefault((layer, qkv.group(2)), {})[qkv.group(1)] = value
            continue
        for diffusers_part, ldm_part in OPEN_CLIP_LAYER_PARTS:
            if rest.startswith(diffusers_part + "."):
                out[f"{OPEN_CLIP_PREFIX}transformer.resblocks.{layer}.{ldm_part}{rest[len(diffusers_part):]}"] = value
                break
        else:
            raise KeyError(f"no OpenCLIP layout rule for {key!r}")
    for (layer, kind), parts in sorted(fused.items()):
        if set(parts) != set(QKV):
            raise KeyError(f"layer {layer}: q/k/v {kind} incomplete")
        name = "in_proj_weight" if kind == "weight" else "in_proj_bias"
        out[f"{OPEN_CLIP_PREFIX}transformer.resblocks.{layer}.attn.{name}"] = torch.cat([parts[p] for p in QKV], dim=0)
    return out


def open_clip_from_ldm(checkpoint):
    """SD 2.x OpenCLIP -> transformers names (all resblocks; see drop_last_layer). Ignores
    text_projection, logit_scale and anything else CLIPTextModel has no parameter for."""
    top = {ldm: diffusers for diffusers, ldm in OPEN_CLIP_TOP}
    out = {}
    for key, value in checkpoint.items():
        if not key.startswith(OPEN_CLIP_PREFIX):
            continue
        rest = key[len(OPEN_CLIP_PREFIX) :]
        if rest in top:
            out[top[rest]] = value
            continue
        match = RESBLOCK_KEY.match(rest)
        if match is None:
            continue  # text_projection, logit_scale, attn_mask, ...
        layer, part = int(match.group(1)), match.group(2)
        prefix = f"text_model.encoder.layers.{layer}."
        if part in ("attn.in_proj_weight", "attn.in_proj_bias"):
            if value.shape[0] % 3 != 0:
                raise ValueError(f"{key}: {value.shape[0]} rows do not split into q, k, v")
            kind = "weight" if part.endswith("weight") else "bias"
            for name, chunk in zip(QKV, torch.chunk(value, 3, dim=0)):
                out[f"{prefix}self_attn.{name}_proj.{kind}"] = chunk.clone()
            continue
        for diffusers_part, ldm_part in OPEN_CLIP_LAYER_PARTS:
            if part.startswith(ldm_part + "."):
                out[prefix + diffusers_part + part[len(ldm_part) :]] = value
                break
        else:
            raise KeyError(f"no OpenCLIP layout rule for {key!r}")
    return out


def drop_last_layer(state_dict):
    """Remove the highest-numbered encoder layer (SD 2.x diffusers folders keep N-1 of N layers)."""
    layers = {int(m.group(1)) for m in map(LAYER_KEY.match, state_dict) if m}
    last = max(layers)
    return {k: v for k, v in state_dict.items() if not k.startswith(f"text_model.encoder.layers.{last}.")}
