"""UNet2DConditionModel (Stable Diffusion 1.x / 2.x), configured by a diffusers-style config dict.

Written from diffusers' semantics, parameter names identical to diffusers' state-dict keys:
- models/unets/unet_2d_condition.py: `UNet2DConditionModel.__init__` / `forward` (time projection,
  block construction, the skip-connection stack, conv_norm_out / conv_out).
- models/unets/unet_2d_blocks.py: `CrossAttnDownBlock2D`, `DownBlock2D`, `UNetMidBlock2DCrossAttn`,
  `CrossAttnUpBlock2D`, `UpBlock2D`.
- models/transformers/transformer_2d.py: `Transformer2DModel` on continuous input (GroupNorm eps 1e-6,
  proj_in/proj_out as 1x1 conv or Linear per `use_linear_projection`).
- models/attention.py: `BasicTransformerBlock` (norm1/attn1 self, norm2/attn2 cross, norm3/ff) and
  `FeedForward`; models/activations.py: `GEGLU` (Linear d -> 2*4d, value * gelu(gate), exact gelu).
- models/embeddings.py: `get_timestep_embedding` / `Timesteps` / `TimestepEmbedding`.

`attention_head_dim` is read exactly as diffusers reads it: it is the NUMBER OF HEADS (an old naming
mistake kept for compatibility), an int or one value per down block; a non-null `num_attention_heads`
takes precedence (`num_attention_heads or attention_head_dim`; UNet2DConditionModel itself currently
raises when it is set, other diffusers UNets accept it). Down block i and the mid block (last
entry) use those head counts directly; up block i uses the reversed list. Head width is channels / heads.

Only the SD 1.x/2.x subset is supported; any other feature in the config raises.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import Attention, Downsample2D, ResnetBlock2D, Upsample2D, activation

# Config defaults, as UNet2DConditionModel.__init__ declares them.
DEFAULTS = {
    "sample_size": None,
    "in_channels": 4,
    "out_channels": 4,
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "only_cross_attention": False,
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 1280,
    "transformer_layers_per_block": 1,
    "attention_head_dim": 8,
    "num_attention_heads": None,
    "dual_cross_attention": False,
    "use_linear_projection": False,
    "upcast_attention": False,
    "resnet_time_scale_shift": "default",
    "time_embedding_type": "positional",
    "time_embedding_dim": None,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
}

# Features of the full diffusers class this reference does not implement; each must keep its default.
UNSUPPORTED_IF_SET = {
    "class_embed_type": None,
    "addition_embed_type": None,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "num_class_embeds": None,
    "time_cond_proj_dim": None,
    "time_embedding_act_fn": None,
    "timestep_post_act": None,
    "reverse_transformer_layers_per_block": None,
    "class_embeddings_concat": False,
    "resnet_skip_time_act": False,
    "resnet_out_scale_factor": 1.0,
    "cross_attention_norm": None,
    "attention_type": "default",
    "dropout": 0.0,
}


def resolve_config(config):
    """Config with defaults filled in; raises on features outside SD 1.x/2.x."""
    cfg = dict(DEFAULTS)
    cfg.update({k: v for k, v in config.items() if not k.startswith("_")})
    for key, default in UNSUPPORTED_IF_SET.items():
        if cfg.get(key, default) != default:
            raise ValueError(f"UNet config: {key}={cfg[key]!r} is not supported by this reference")
    checks = {
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "time_embedding_type": "positional",
        "resnet_time_scale_shift": "default",
        "dual_cross_attention": False,
        "only_cross_attention": False,
        "center_input_sample": False,
    }
    for key, wanted in checks.items():
        if cfg[key] != wanted:
            raise ValueError(f"UNet config: {key}={cfg[key]!r} is not supported by this reference")
    return cfg


def per_block(value, count, name):
    """An int (or str) broadcast to `count` blocks, or a list checked for length."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"UNet config: {name} has {len(value)} entries for {count} blocks")
        return list(value)
    return [value] * count


def head_counts(cfg):
    """Heads per down block, as diffusers derives them (see the module docstring)."""
    heads = cfg["num_attention_heads"] or cfg["attention_head_dim"]
    return per_block(heads, len(cfg["down_block_types"]), "attention_head_dim")


def timestep_embedding(timesteps, dim, flip_sin_to_cos, downscale_freq_shift, max_period=10000):
    """Sinusoidal embedding [N, dim] of 1-D timesteps, computed in the dtype of `timesteps` if floating.

    exponent_i = -ln(max_period) * i / (half - freq_shift); emb = [sin(t e^exponent), cos(...)],
    halves swapped when flip_sin_to_cos (cos first). diffusers computes this in float32.
    """
    dtype = timesteps.dtype if timesteps.is_floating_point() else torch.float32
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=dtype) / (half - downscale_freq_shift)
    args = timesteps.to(dtype)[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(nn.Module):
    """linear_1 -> act -> linear_2."""

    def __init__(self, in_channels, time_embed_dim, act_fn="silu"):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = activation(act_fn)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class GEGLU(nn.Module):
    """proj: Linear(dim, 2*inner); first half is the value, second half the gate: value * gelu(gate)."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """net.0 = GEGLU(dim -> 4*dim), net.1 = dropout, net.2 = Linear(4*dim -> dim)."""

    def __init__(self, dim, mult=4):
        super().__init__()
        inner = dim * mult
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x):
        for module in self.net:
            x = module(x)
        return x


class BasicTransformerBlock(nn.Module):
    """Pre-LN self-attention, cross-attention and GEGLU feed-forward, each with a residual add."""

    def __init__(self, dim, heads, dim_head, cross_attention_dim, upcast_attention, norm_eps=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn1 = Attention(dim, None, heads, dim_head, bias=False, upcast_attention=upcast_attention)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn2 = Attention(dim, cross_attention_dim, heads, dim_head, bias=False, upcast_attention=upcast_attention)
        self.norm3 = nn.LayerNorm(dim, eps=norm_eps)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        x = self.ff(self.norm3(x)) + x
        return x


class Transformer2DModel(nn.Module):
    """GroupNorm -> proj_in -> transformer blocks over H*W tokens -> proj_out -> + input."""

    def __init__(self, channels, spec, cfg):
        super().__init__()
        heads = spec.heads
        dim_head = channels // heads
        inner = heads * dim_head
        self.use_linear_projection = cfg["use_linear_projection"]
        self.norm = nn.GroupNorm(cfg["norm_num_groups"], channels, eps=1e-6, affine=True)
        if self.use_linear_projection:
            self.proj_in = nn.Linear(channels, inner)
        else:
            self.proj_in = nn.Conv2d(channels, inner, kernel_size=1)
        self.transformer_blocks = nn.ModuleList(
            [
                BasicTransformerBlock(inner, heads, dim_head, spec.cross_attention_dim, cfg["upcast_attention"])
                for _ in range(spec.layers)
            ]
        )
        if self.use_linear_projection:
            self.proj_out = nn.Linear(inner, channels)
        else:
            self.proj_out = nn.Conv2d(inner, channels, kernel_size=1)

    def forward(self, x, context):
        batch, _, height, width = x.shape
        residual = x
        h = self.norm(x)
        if not self.use_linear_projection:
            h = self.proj_in(h)
            inner = h.shape[1]
            h = h.permute(0, 2, 3, 1).reshape(batch, height * width, inner)
        else:
            inner = h.shape[1]
            h = self.proj_in(h.permute(0, 2, 3, 1).reshape(batch, height * width, inner))
            inner = h.shape[-1]
        for block in self.transformer_blocks:
            h = block(h, context)
        if not self.use_linear_projection:
            h = self.proj_out(h.reshape(batch, height, width, inner).permute(0, 3, 1, 2))
        else:
            h = self.proj_out(h).reshape(batch, height, width, -1).permute(0, 3, 1, 2)
        return h + residual


class AttentionSpec:
    """What a cross-attention level needs: head count, context width, transformer layers."""

    def __init__(self, heads, cross_attention_dim, layers):
        self.heads = heads
        self.cross_attention_dim = cross_attention_dim
        self.layers = layers


def resnet(cfg, in_channels, out_channels, temb_channels, output_scale_factor=1.0):
    return ResnetBlock2D(
        in_channels, out_channels, temb_channels, cfg["norm_num_groups"], cfg["norm_eps"], cfg["act_fn"], output_scale_factor
    )


class DownBlock(nn.Module):
    """CrossAttnDownBlock2D (spec given) or DownBlock2D (spec None): resnets [+ attentions], then an
    optional downsampler. Every resnet(+attention) output and the downsampler output are skips."""

    def __init__(self, cfg, in_channels, out_channels, temb_channels, num_layers, add_downsample, spec):
        super().__init__()
        self.resnets = nn.ModuleList(
            [resnet(cfg, in_channels if i == 0 else out_channels, out_channels, temb_channels) for i in range(num_layers)]
        )
        self.attentions = None
        if spec is not None:
            self.attentions = nn.ModuleList([Transformer2DModel(out_channels, spec, cfg) for _ in range(num_layers)])
        self.downsamplers = None
        if add_downsample:
            self.downsamplers = nn.ModuleList([Downsample2D(out_channels, out_channels, cfg["downsample_padding"])])

    def forward(self, x, temb, context, capture=None, prefix=""):
        skips = []
        for j, block in enumerate(self.resnets):
            x = block(x, temb)
            if capture is not None:
                capture[f"{prefix}.resnets.{j}"] = x
            if self.attentions is not None:
                x = self.attentions[j](x, context)
                if capture is not None:
                    capture[f"{prefix}.attentions.{j}"] = x
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class MidBlock(nn.Module):
    """UNetMidBlock2DCrossAttn: resnet, then (attention, resnet) once."""

    def __init__(self, cfg, channels, temb_channels, spec):
        super().__init__()
        scale = cfg["mid_block_scale_factor"]
        self.resnets = nn.ModuleList([resnet(cfg, channels, channels, temb_channels, scale) for _ in range(2)])
        self.attentions = nn.ModuleList([Transformer2DModel(channels, spec, cfg)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


class UpBlock(nn.Module):
    """CrossAttnUpBlock2D (spec given) or UpBlock2D (spec None). Each resnet takes the running map
    concatenated on channels (running map first) with the last remaining skip; an optional upsampler
    ends the block."""

    def __init__(self, cfg, in_channels, prev_output_channels, out_channels, temb_channels, num_layers, add_upsample, spec):
        super().__init__()
        resnets = []
        for i in range(num_layers):
            skip_channels = in_channels if i == num_layers - 1 else out_channels
            resnet_in = prev_output_channels if i == 0 else out_channels
            resnets.append(resnet(cfg, resnet_in + skip_channels, out_channels, temb_channels))
        self.resnets = nn.ModuleList(resnets)
        self.attentions = None
        if spec is not None:
            self.attentions = nn.ModuleList([Transformer2DModel(out_channels, spec, cfg) for _ in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels, out_channels)]) if add_upsample else None

    def forward(self, x, skips, temb, context, upsample_size=None):
        for j, block in enumerate(self.resnets):
            x = torch.cat([x, skips.pop()], dim=1)
            x = block(x, temb)
            if self.attentions is not None:
                x = self.attentions[j](x, context)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, upsample_size)
        return x


class UNet2DConditionModel(nn.Module):
    """The SD 1.x/2.x UNet. forward(sample, timestep, encoder_hidden_states) -> noise/v prediction."""

    def __init__(self, config):
        super().__init__()
        cfg = resolve_config(config)
        self.config = cfg
        channels = list(cfg["block_out_channels"])
        down_types, up_types = list(cfg["down_block_types"]), list(cfg["up_block_types"])
        n = len(down_types)
        if len(up_types) != n or len(channels) != n:
            raise ValueError("UNet config: down/up block types and block_out_channels must have equal length")
        heads = head_counts(cfg)
        layers = per_block(cfg["layers_per_block"], n, "layers_per_block")
        cross_dims = per_block(cfg["cross_attention_dim"], n, "cross_attention_dim")
        transformer_layers = per_block(cfg["transformer_layers_per_block"], n, "transformer_layers_per_block")

        pad = (cfg["conv_in_kernel"] - 1) // 2
        self.conv_in = nn.Conv2d(cfg["in_channels"], channels[0], kernel_size=cfg["conv_in_kernel"], padding=pad)
        time_embed_dim = cfg["time_embedding_dim"] or channels[0] * 4
        self.time_proj_dim = channels[0]
        self.time_embedding = TimestepEmbedding(channels[0], time_embed_dim, cfg["act_fn"])

        # Level i of the down path uses heads[i]; the mid block the last entry; up block i the reversed lists.
        specs = [AttentionSpec(heads[i], cross_dims[i], transformer_layers[i]) for i in range(n)]
        self.down_blocks = nn.ModuleList()
        out_ch = channels[0]
        for i, kind in enumerate(down_types):
            if kind not in ("CrossAttnDownBlock2D", "DownBlock2D"):
                raise ValueError(f"UNet config: down block type {kind!r} is not supported")
            in_ch, out_ch = out_ch, channels[i]
            spec = specs[i] if kind == "CrossAttnDownBlock2D" else None
            self.down_blocks.append(DownBlock(cfg, in_ch, out_ch, time_embed_dim, layers[i], i != n - 1, spec))

        self.mid_block = MidBlock(cfg, channels[-1], time_embed_dim, specs[-1])

        rev_channels, rev_specs, rev_layers = channels[::-1], specs[::-1], layers[::-1]
        self.up_blocks = nn.ModuleList()
        out_ch = rev_channels[0]
        for i, kind in enumerate(up_types):
            if kind not in ("CrossAttnUpBlock2D", "UpBlock2D"):
                raise ValueError(f"UNet config: up block type {kind!r} is not supported")
            prev_ch, out_ch = out_ch, rev_channels[i]
            in_ch = rev_channels[min(i + 1, n - 1)]
            spec = rev_specs[i] if kind == "CrossAttnUpBlock2D" else None
            self.up_blocks.append(UpBlock(cfg, in_ch, prev_ch, out_ch, time_embed_dim, rev_layers[i] + 1, i != n - 1, spec))
        self.num_upsamplers = n - 1

        self.conv_norm_out = nn.GroupNorm(cfg["norm_num_groups"], channels[0], eps=cfg["norm_eps"])
        self.conv_act = activation(cfg["act_fn"])
        pad = (cfg["conv_out_kernel"] - 1) // 2
        self.conv_out = nn.Conv2d(channels[0], cfg["out_channels"], kernel_size=cfg["conv_out_kernel"], padding=pad)

    def forward(self, sample, timestep, encoder_hidden_states, capture=None):
        """`timestep`: a number, a 0-d tensor or a 1-element / per-batch 1-D tensor.

        `capture`, if a dict, receives intermediate tensors by name: time_proj, time_embedding,
        conv_in, down_blocks.i (block output, after its downsampler), down_blocks.i.resnets.j,
        down_blocks.i.attentions.j, mid_block, up_blocks.i.
        """
        dtype = sample.dtype
        t = timestep if torch.is_tensor(timestep) else torch.tensor([timestep], dtype=torch.float64)
        t = t.reshape(-1).to(torch.float64 if dtype == torch.float64 else torch.float32)
        t = t.expand(sample.shape[0])
        cfg = self.config
        t_emb = timestep_embedding(t, self.time_proj_dim, cfg["flip_sin_to_cos"], cfg["freq_shift"]).to(dtype)
        emb = self.time_embedding(t_emb)
        if capture is not None:
            capture["time_proj"] = t_emb
            capture["time_embedding"] = emb

        # Forward an explicit size to the upsamplers when the input is not a multiple of 2^num_upsamplers.
        factor = 2**self.num_upsamplers
        forward_upsample_size = any(d % factor != 0 for d in sample.shape[-2:])

        x = self.conv_in(sample)
        if capture is not None:
            capture["conv_in"] = x
        skips = [x]
        for i, block in enumerate(self.down_blocks):
            x, block_skips = block(x, emb, encoder_hidden_states, capture, f"down_blocks.{i}")
            skips.extend(block_skips)
            if capture is not None:
                capture[f"down_blocks.{i}"] = x

        x = self.mid_block(x, emb, encoder_hidden_states)
        if capture is not None:
            capture["mid_block"] = x

        for i, block in enumerate(self.up_blocks):
            count = len(block.resnets)
            block_skips, skips = skips[-count:], skips[:-count]
            last = i == len(self.up_blocks) - 1
            upsample_size = skips[-1].shape[2:] if (forward_upsample_size and not last) else None
            x = block(x, block_skips, emb, encoder_hidden_states, upsample_size)
            if capture is not None:
                capture[f"up_blocks.{i}"] = x

        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        return x
