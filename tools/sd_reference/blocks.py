"""Building blocks shared by the UNet and the VAE, with diffusers' parameter names.

Semantics follow diffusers:
- ResnetBlock2D: models/resnet.py (`ResnetBlock2D`, time_embedding_norm "default", pre-norm).
- Attention: models/attention_processor.py (`Attention` with the plain `AttnProcessor`): optional
  group_norm on the input, to_q/to_k/to_v, heads split, softmax(q k^T * dim_head^-0.5) v, to_out.0,
  optional residual and rescale. `upcast_attention` / `upcast_softmax` compute the scores and the
  softmax in at least float32 (diffusers casts to float32 exactly; here float64 inputs stay float64 so
  the reference never loses precision).
- Downsample2D: models/downsampling.py (3x3 conv, stride 2; padding 0 means an explicit asymmetric
  zero pad of (left 0, right 1, top 0, bottom 1) first, as the VAE encoder uses).
- Upsample2D: models/upsampling.py (nearest-neighbour x2, or to an explicit size, then 3x3 conv).
"""

import torch
import torch.nn.functional as F
from torch import nn


def activation(name):
    """The activation module diffusers' get_activation returns for `name`."""
    if name in ("silu", "swish"):
        return nn.SiLU()
    if name == "gelu":
        return nn.GELU()
    if name == "mish":
        return nn.Mish()
    if name == "relu":
        return nn.ReLU()
    raise ValueError(f"unsupported activation {name!r}")


class ResnetBlock2D(nn.Module):
    """GroupNorm -> act -> conv3x3 (+ time_emb_proj(act(temb))) -> GroupNorm -> act -> conv3x3, + shortcut."""

    def __init__(self, in_channels, out_channels, temb_channels, groups, eps, act_fn="silu", output_scale_factor=1.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels is not None else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=eps, affine=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.nonlinearity = activation(act_fn)
        # A 1x1 conv shortcut exactly when the channel count changes (diffusers' use_in_shortcut default).
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1) if in_channels != out_channels else None
        self.output_scale_factor = output_scale_factor

    def forward(self, x, temb=None):
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        if self.time_emb_proj is not None and temb is not None:
            h = h + self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        h = self.conv2(self.nonlinearity(self.norm2(h)))
        shortcut = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        return (shortcut + h) / self.output_scale_factor


class Attention(nn.Module):
    """Multi-head attention over a token sequence (or a [B, C, H, W] map, flattened to H*W tokens)."""

    def __init__(
        self,
        query_dim,
        cross_attention_dim=None,
        heads=1,
        dim_head=64,
        bias=False,
        upcast_attention=False,
        upcast_softmax=False,
        norm_num_groups=None,
        eps=1e-5,
        residual_connection=False,
        rescale_output_factor=1.0,
    ):
        super().__init__()
        inner_dim = heads * dim_head
        context_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.heads = heads
        self.dim_head = dim_head
        self.scale = dim_head**-0.5
        self.upcast = upcast_attention or upcast_softmax
        self.residual_connection = residual_connection
        self.rescale_output_factor = rescale_output_factor
        self.group_norm = (
            nn.GroupNorm(norm_num_groups, query_dim, eps=eps, affine=True) if norm_num_groups is not None else None
        )
        self.to_q = nn.Linear(query_dim, inner_dim, bias=bias)
        self.to_k = nn.Linear(context_dim, inner_dim, bias=bias)
        self.to_v = nn.Linear(context_dim, inner_dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner_dim, query_dim, bias=True), nn.Dropout(0.0)])

    def _split_heads(self, x):
        batch, tokens, _ = x.shape
        return x.reshape(batch, tokens, self.heads, self.dim_head).permute(0, 2, 1, 3)

    def forward(self, hidden_states, encoder_hidden_states=None):
        residual = hidden_states
        spatial = hidden_states.ndim == 4
        if spatial:
            batch, channels, height, width = hidden_states.shape
            hidden_states = hidden_states.reshape(batch, channels, height * width).transpose(1, 2)
        if self.group_norm is not None:
            hidden_states = self.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states

        q = self._split_heads(self.to_q(hidden_states))
        k = self._split_heads(self.to_k(context))
        v = self._split_heads(self.to_v(context))
        dtype = q.dtype
        if self.upcast and dtype in (torch.float16, torch.bfloat16):
            q, k = q.float(), k.float()
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        probs = scores.softmax(dim=-1).to(dtype)
        out = torch.matmul(probs, v)  # [B, heads, N, dim_head]
        out = out.permute(0, 2, 1, 3).reshape(out.shape[0], out.shape[2], self.heads * self.dim_head)
        out = self.to_out[1](self.to_out[0](out))

        if spatial:
            out = out.transpose(1, 2).reshape(batch, channels, height, width)
        if self.residual_connection:
            out = out + residual
        return out / self.rescale_output_factor


class Downsample2D(nn.Module):
    """3x3 conv with stride 2 (`padding` 1: symmetric; 0: pad right/bottom by one first)."""

    def __init__(self, channels, out_channels=None, padding=1):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, out_channels or channels, kernel_size=3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1), mode="constant", value=0)
        return self.conv(x)


class Upsample2D(nn.Module):
    """Nearest-neighbour upsampling (x2, or to `output_size`), then a 3x3 conv."""

    def __init__(self, channels, out_channels=None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, kernel_size=3, padding=1)

    def forward(self, x, output_size=None):
        if output_size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=output_size, mode="nearest")
        return self.conv(x)
