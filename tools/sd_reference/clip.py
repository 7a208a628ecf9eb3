"""CLIPTextModel (the SD text encoder) with transformers' semantics and parameter names.

Follows transformers' models/clip/modeling_clip.py (`CLIPTextEmbeddings`, `CLIPAttention`, `CLIPMLP`,
`CLIPEncoderLayer`, `CLIPTextTransformer`):
- embeddings = token_embedding(input_ids) + position_embedding(0..L-1);
- each encoder layer is pre-LN: x + self_attn(layer_norm1(x)) with a causal mask and biased
  q/k/v/out projections (scale head_dim^-0.5), then x + mlp(layer_norm2(x)) with fc1 -> act -> fc2,
  act = quick_gelu (x * sigmoid(1.702 x), OpenAI CLIP, SD 1.x) or gelu (exact erf, OpenCLIP, SD 2.x);
- last_hidden_state = final_layer_norm(output of the last layer).

`encode(input_ids, clip_skip)` gives the conditioning SD uses, with clip_skip counted as LDM / A1111 /
stable-diffusion.cpp count it: 1 = the last layer, 2 = the penultimate layer, ...; the chosen layer's
hidden state goes through final_layer_norm (diffusers' pipelines do the same; their own `clip_skip`
argument is offset by one: diffusers clip_skip=1 is clip_skip 2 here).

Keys: text_model.embeddings.{token,position}_embedding.weight, text_model.encoder.layers.N.
{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}.{weight,bias},
text_model.final_layer_norm.{weight,bias}. (transformers' non-persistent `position_ids` buffer is not
a parameter here.)
"""

import torch
import torch.nn.functional as F
from torch import nn

DEFAULTS = {
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
}


def act_fn(name):
    if name == "quick_gelu":
        return lambda x: x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu
    raise ValueError(f"CLIP config: hidden_act {name!r} is not supported")


class CLIPAttention(nn.Module):
    def __init__(self, hidden, heads):
        super().__init__()
        if hidden % heads != 0:
            raise ValueError("CLIP config: hidden_size must be divisible by num_attention_heads")
        self.heads = heads
        self.head_dim = hidden // heads
        self.scale = self.head_dim**-0.5
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, x, mask):
        batch, tokens, hidden = x.shape

        def split(t):
            return t.reshape(batch, tokens, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale + mask
        probs = scores.softmax(dim=-1)
        out = torch.matmul(probs, v).transpose(1, 2).reshape(batch, tokens, hidden)
        return self.out_proj(out)


class CLIPMLP(nn.Module):
    def __init__(self, hidden, intermediate, hidden_act):
        super().__init__()
        self.act = act_fn(hidden_act)
        self.fc1 = nn.Linear(hidden, intermediate)
        self.fc2 = nn.Linear(intermediate, hidden)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden = cfg["hidden_size"]
        self.self_attn = CLIPAttention(hidden, cfg["num_attention_heads"])
        self.layer_norm1 = nn.LayerNorm(hidden, eps=cfg["layer_norm_eps"])
        self.mlp = CLIPMLP(hidden, cfg["intermediate_size"], cfg["hidden_act"])
        self.layer_norm2 = nn.LayerNorm(hidden, eps=cfg["layer_norm_eps"])

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.token_embedding = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])

    def forward(self, input_ids):
        length = input_ids.shape[-1]
        if length > self.position_embedding.num_embeddings:
            raise ValueError(f"sequence of {length} tokens exceeds max_position_embeddings")
        positions = torch.arange(length, device=input_ids.device)
        return self.token_embedding(input_ids) + self.position_embedding(positions)[None]


class CLIPEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])


class CLIPTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(cfg)
        self.encoder = CLIPEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class CLIPTextModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        cfg = dict(DEFAULTS)
        cfg.update({k: v for k, v in config.items() if not k.startswith("_")})
        self.config = cfg
        self.text_model = CLIPTextTransformer(cfg)

    def hidden_states(self, input_ids):
        """[embeddings, after layer 1, ..., after layer N] (no final norm), as transformers'
        output_hidden_states returns them."""
        tm = self.text_model
        x = tm.embeddings(input_ids)
        length = x.shape[1]
        # Causal mask: token i attends to tokens 0..i. (transformers fills with the dtype's minimum;
        # -inf gives the same softmax since no row is fully masked.)
        mask = torch.full((length, length), float("-inf"), dtype=x.dtype).triu(1)[None, None]
        states = [x]
        for layer in tm.encoder.layers:
            x = layer(x, mask)
            states.append(x)
        return states

    def forward(self, input_ids):
        """last_hidden_state: final_layer_norm(output of the last layer)."""
        return self.text_model.final_layer_norm(self.hidden_states(input_ids)[-1])

    def encode(self, input_ids, clip_skip=1):
        """final_layer_norm(hidden state after layer N + 1 - clip_skip); clip_skip 1 = last layer."""
        if not 1 <= clip_skip <= self.config["num_hidden_layers"]:
            raise ValueError(f"clip_skip {clip_skip} outside 1..num_hidden_layers")
        return self.text_model.final_layer_norm(self.hidden_states(input_ids)[-clip_skip])
