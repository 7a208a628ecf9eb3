"""AutoencoderKL (the SD VAE) with diffusers' semantics and parameter names.

Follows diffusers models/autoencoders/autoencoder_kl.py (`AutoencoderKL`: encoder -> quant_conv ->
DiagonalGaussianDistribution; post_quant_conv -> decoder) and models/autoencoders/vae.py (`Encoder`,
`Decoder`, `DiagonalGaussianDistribution`), with the blocks of models/unets/unet_2d_blocks.py
(`DownEncoderBlock2D`, `UpDecoderBlock2D`, `UNetMidBlock2D`):
- Encoder: conv_in; per level `layers_per_block` resnets and, except on the last level, a
  Downsample2D with padding 0 (explicit (0, 1, 0, 1) zero pad, then 3x3 stride-2 conv); mid block
  (resnet, single-head attention with group_norm and residual, resnet); conv_norm_out, SiLU, conv_out
  to 2 * latent_channels. All norms eps 1e-6, no time embedding.
- Decoder: conv_in from latent_channels; mid block; per level (reversed channels)
  `layers_per_block + 1` resnets and, except on the last level, Upsample2D; conv_norm_out, SiLU, conv_out.
- encode(x) returns (mean, logvar) = chunk(quant_conv(encoder(x)), 2, dim=1) with logvar clamped to
  [-30, 20]; decode(z) returns decoder(post_quant_conv(z)). Neither applies `scaling_factor`: the
  pipeline multiplies latents by it after encoding and divides before decoding.
"""

import torch
from torch import nn

from .blocks import Attention, Downsample2D, ResnetBlock2D, Upsample2D, activation

DEFAULTS = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D"],
    "block_out_channels": [64],
    "layers_per_block": 1,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 32,
    "scaling_factor": 0.18215,
    "use_quant_conv": True,
    "use_post_quant_conv": True,
    "mid_block_add_attention": True,
}

EPS = 1e-6  # every VAE norm


def resnet(in_channels, out_channels, groups, act_fn):
    """A ResnetBlock2D without time embedding."""
    return ResnetBlock2D(in_channels, out_channels, None, groups, EPS, act_fn)


class VAEMidBlock(nn.Module):
    """UNetMidBlock2D as the VAE uses it: resnet, attention (one head as wide as the channels), resnet."""

    def __init__(self, channels, groups, act_fn, add_attention=True):
        super().__init__()
        self.resnets = nn.ModuleList([resnet(channels, channels, groups, act_fn) for _ in range(2)])
        attention = Attention(
            channels,
            heads=1,
            dim_head=channels,
            bias=True,
            upcast_softmax=True,
            norm_num_groups=groups,
            eps=EPS,
            residual_connection=True,
        )
        self.attentions = nn.ModuleList([attention] if add_attention else [])

    def forward(self, x):
        x = self.resnets[0](x)
        if len(self.attentions):
            x = self.attentions[0](x)
        return self.resnets[1](x)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, num_layers, add_downsample, groups, act_fn):
        super().__init__()
        self.resnets = nn.ModuleList(
            [resnet(in_channels if i == 0 else out_channels, out_channels, groups, act_fn) for i in range(num_layers)]
        )
        self.downsamplers = nn.ModuleList([Downsample2D(out_channels, out_channels, padding=0)]) if add_downsample else None

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
        return x


class UpDecoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, num_layers, add_upsample, groups, act_fn):
        super().__init__()
        self.resnets = nn.ModuleList(
            [resnet(in_channels if i == 0 else out_channels, out_channels, groups, act_fn) for i in range(num_layers)]
        )
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels, out_channels)]) if add_upsample else None

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels, groups, act = cfg["block_out_channels"], cfg["norm_num_groups"], cfg["act_fn"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], channels[0], kernel_size=3, padding=1)
        self.down_blocks = nn.ModuleList()
        out_ch = channels[0]
        for i in range(len(channels)):
            in_ch, out_ch = out_ch, channels[i]
            last = i == len(channels) - 1
            self.down_blocks.append(DownEncoderBlock2D(in_ch, out_ch, cfg["layers_per_block"], not last, groups, act))
        self.mid_block = VAEMidBlock(channels[-1], groups, act, cfg["mid_block_add_attention"])
        self.conv_norm_out = nn.GroupNorm(groups, channels[-1], eps=EPS)
        self.conv_act = activation(act)
        self.conv_out = nn.Conv2d(channels[-1], 2 * cfg["latent_channels"], kernel_size=3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        x = self.mid_block(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        channels, groups, act = cfg["block_out_channels"], cfg["norm_num_groups"], cfg["act_fn"]
        self.conv_in = nn.Conv2d(cfg["latent_channels"], channels[-1], kernel_size=3, padding=1)
        self.mid_block = VAEMidBlock(channels[-1], groups, act, cfg["mid_block_add_attention"])
        self.up_blocks = nn.ModuleList()
        rev = channels[::-1]
        out_ch = rev[0]
        for i in range(len(rev)):
            prev_ch, out_ch = out_ch, rev[i]
            last = i == len(rev) - 1
            self.up_blocks.append(UpDecoderBlock2D(prev_ch, out_ch, cfg["layers_per_block"] + 1, not last, groups, act))
        self.conv_norm_out = nn.GroupNorm(groups, channels[0], eps=EPS)
        self.conv_act = activation(act)
        self.conv_out = nn.Conv2d(channels[0], cfg["out_channels"], kernel_size=3, padding=1)

    def forward(self, z):
        x = self.conv_in(z)
        x = self.mid_block(x)
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, config):
        super().__init__()
        cfg = dict(DEFAULTS)
        cfg.update({k: v for k, v in config.items() if not k.startswith("_")})
        n = len(cfg["block_out_channels"])
        down_ok = list(cfg["down_block_types"]) == ["DownEncoderBlock2D"] * n
        up_ok = list(cfg["up_block_types"]) == ["UpDecoderBlock2D"] * n
        if not (down_ok and up_ok):
            raise ValueError("VAE config: only DownEncoderBlock2D / UpDecoderBlock2D, one per block_out_channels entry")
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        latent = cfg["latent_channels"]
        self.quant_conv = nn.Conv2d(2 * latent, 2 * latent, kernel_size=1) if cfg["use_quant_conv"] else None
        self.post_quant_conv = nn.Conv2d(latent, latent, kernel_size=1) if cfg["use_post_quant_conv"] else None

    def encode(self, x):
        """Image [B, 3, H, W] in [-1, 1] -> (mean, logvar), each [B, latent, H/f, W/f]."""
        moments = self.encoder(x)
        if self.quant_conv is not None:
            moments = self.quant_conv(moments)
        mean, logvar = torch.chunk(moments, 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z):
        """Latent [B, latent, h, w] (already divided by scaling_factor) -> image [B, 3, h*f, w*f]."""
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)
