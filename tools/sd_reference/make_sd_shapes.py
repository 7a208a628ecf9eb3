"""Write the tensor names, dtypes and shapes of full-size SD 1.5 and SD 2.1 original single-file (LDM)
checkpoints to test/fixtures/sd-shapes/{sd15,sd21}.json, with the published diffusers configs they
correspond to. Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 -m tools.sd_reference.make_sd_shapes

No weights: the reference modules (unet.py, vae.py, clip.py) are built from the published configs
(published_configs.py) with parameter initialisation switched off, so their untouched storage is never
committed, and only the state-dict shapes are kept. They are renamed to the LDM layout with
checkpoint.py, as make_fixtures.py does for the tiny models (the SD 2.x text encoder with all 24 OpenCLIP
layers, fused q/k/v), and the extra entries real checkpoints carry are added (DDPM schedule buffers,
SD 1.x's int64 `position_ids`, SD 2.x's `text_projection` and 0-d `logit_scale`). Tests turn a manifest
into a sparse safetensors file (a header and a hole) to check single-file detection on real sizes.
"""

import contextlib
import json
import os

import torch

from . import checkpoint, published_configs
from .clip import CLIPTextModel
from .unet import UNet2DConditionModel
from .vae import AutoencoderKL

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "sd-shapes")
DDPM_BUFFERS = [
    "betas",
    "alphas_cumprod",
    "alphas_cumprod_prev",
    "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod",
    "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod",
    "posterior_variance",
    "posterior_log_variance_clipped",
    "posterior_mean_coef1",
    "posterior_mean_coef2",
]


@contextlib.contextmanager
def no_init():
    """Parameter initialisers as no-ops (shapes are all that is needed)."""
    names = ["kaiming_uniform_", "uniform_", "normal_", "ones_", "zeros_", "constant_", "xavier_uniform_", "trunc_normal_"]
    saved = {n: getattr(torch.nn.init, n) for n in names}
    for n in names:
        setattr(torch.nn.init, n, lambda tensor, *args, **kwargs: tensor)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def shapes(model):
    return {k: torch.empty(tuple(v.shape), device="meta") for k, v in model.state_dict().items()}


def manifest(name, published, text_layers, open_clip):
    with no_init():
        unet = shapes(UNet2DConditionModel(published["unet"]))
        vae = shapes(AutoencoderKL(published["vae"]))
        text = shapes(CLIPTextModel(dict(published["text_encoder"], num_hidden_layers=text_layers)))
    tensors = {}
    for key, value in checkpoint.unet_to_ldm(unet, published["unet"]).items():
        tensors[key] = ["F16", list(value.shape)]
    for key, value in checkpoint.vae_to_ldm(vae, published["vae"]).items():
        tensors[key] = ["F16", list(value.shape)]
    hidden = published["text_encoder"]["hidden_size"]
    if open_clip:
        for key, value in checkpoint.open_clip_to_ldm(text).items():
            tensors[key] = ["F16", list(value.shape)]
        tensors[checkpoint.OPEN_CLIP_PREFIX + "text_projection"] = ["F16", [hidden, hidden]]
        tensors[checkpoint.OPEN_CLIP_PREFIX + "logit_scale"] = ["F16", []]
    else:
        for key, value in checkpoint.clip_to_ldm(text).items():
            tensors[key] = ["F16", list(value.shape)]
        positions = published["text_encoder"]["max_position_embeddings"]
        tensors[checkpoint.CLIP_PREFIX + "text_model.embeddings.position_ids"] = ["I64", [1, positions]]
    for key in DDPM_BUFFERS:
        tensors[key] = ["F32", [1000]]
    return {
        "generator": "tools/sd_reference/make_sd_shapes.py",
        "model": name,
        "text_layers_in_file": text_layers,
        "published": published,
        "tensors": dict(sorted(tensors.items())),
    }


def write(path, data):
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data["tensors"].items()]
    head = {k: v for k, v in data.items() if k != "tensors"}
    text = json.dumps(head, indent=1)[:-2] + ',\n "tensors": {\n' + ",\n".join(lines) + "\n }\n}\n"
    assert json.loads(text) == json.loads(json.dumps(data))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"{os.path.getsize(path):>8}  {os.path.relpath(path, ROOT)}  ({len(data['tensors'])} tensors)")


def main():
    os.makedirs(OUT, exist_ok=True)
    sd15 = manifest("runwayml/stable-diffusion-v1-5 (v1-5-pruned-emaonly layout)", published_configs.SD15, 12, False)
    write(os.path.join(OUT, "sd15.json"), sd15)
    sd21 = manifest("stabilityai/stable-diffusion-2-1 (v2-1_768-ema-pruned layout)", published_configs.SD21, 24, True)
    sd21["published_base"] = published_configs.SD21_BASE
    write(os.path.join(OUT, "sd21.json"), sd21)
    # Spot checks against the layout notes (shared/reference/sd-layout.md sections 3, 4 and 7).
    t15, t21 = sd15["tensors"], sd21["tensors"]
    assert t15["model.diffusion_model.input_blocks.0.0.weight"] == ["F16", [320, 4, 3, 3]]
    assert t15["model.diffusion_model.input_blocks.1.1.proj_in.weight"] == ["F16", [320, 320, 1, 1]]
    assert t21["model.diffusion_model.input_blocks.1.1.proj_in.weight"] == ["F16", [320, 320]]
    assert t21["model.diffusion_model.input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight"] == ["F16", [320, 1024]]
    assert t21["cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight"] == ["F16", [3072, 1024]]
    assert "model.diffusion_model.output_blocks.11.0.skip_connection.weight" in t15
    assert t15["first_stage_model.decoder.up.0.block.0.nin_shortcut.weight"] == ["F16", [128, 256, 1, 1]]
    assert t15["first_stage_model.encoder.mid.attn_1.q.weight"] == ["F16", [512, 512, 1, 1]]


if __name__ == "__main__":
    main()
