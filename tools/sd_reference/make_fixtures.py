"""Generate the tiny-model fixtures under test/fixtures/ and check them.

Run from the repository root:

    /usr/bin/python3 -m tools.sd_reference.make_fixtures

For each model in configs.MODELS (sd1-tiny, sd2-tiny) this writes, from fixed seeds:
- test/fixtures/<name>/: a diffusers folder (model_index.json, unet/, text_encoder/, vae/,
  scheduler/, tokenizer/); sd1-tiny's UNet is sharded into two files with an index;
- test/fixtures/<name>.safetensors: the same weights in the original single-file (LDM) layout;
- test/fixtures/<name>-io.safetensors: module inputs, outputs and intermediates, computed in float64
  and stored as float32 (token ids as I64);
and test/fixtures/sd1-tiny-vae-fp16.safetensors, sd1-tiny's VAE weights in float16.

Then it asserts: every written safetensors file reads back identically; the single-file checkpoint
converts back to exactly the diffusers tensors; models rebuilt from the files on disk (folder and single
file) reproduce the stored outputs; the UNet output depends on the context and on the timestep; the
fp16 VAE decodes within fp16 tolerance of the fp32 one. Any failure raises.
"""

import json
import math
import os
import shutil

import torch

from . import checkpoint, configs, tokenizer
from .clip import CLIPTextModel
from .safetensors_io import load_file, save_file
from .unet import UNet2DConditionModel
from .vae import AutoencoderKL

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures")
FORMAT_PT = {"format": "pt"}  # the metadata diffusers / transformers write into their safetensors files
TIMESTEP = 500.0


# ---------------------------------------------------------------------------------------------- weights


def init_weights(model, seed):
    """Deterministic random weights at scales that keep activations O(1).

    Norm scales 1 + N(0, 0.1^2); all biases N(0, 0.1^2); embeddings N(0, 1); every other matrix or
    conv kernel N(0, 1/fan_in), so each layer roughly preserves the variance of its input and no output
    collapses towards zero (a constant std such as 0.2 would blow up the 3x3 convs, fan_in up to 432).
    Values are drawn parameter by parameter in named_parameters order from one generator.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=torch.float64)
            if name.endswith("bias"):
                value = 0.1 * noise
            elif param.ndim == 1:
                value = 1.0 + 0.1 * noise
            elif "embedding" in name and "time_embedding" not in name:
                value = noise
            else:
                fan_in = math.prod(param.shape[1:])
                value = noise / math.sqrt(fan_in)
            param.copy_(value.to(param.dtype))


def float_state(model):
    return {k: v.detach().to(torch.float32).contiguous().clone() for k, v in model.state_dict().items()}


def load_model(cls, config, state):
    """A float64 model with exactly `state` (strict: every parameter present, nothing extra)."""
    model = cls(config)
    model.load_state_dict({k: v.to(torch.float64) for k, v in state.items()}, strict=True)
    return model.double().eval()


# ---------------------------------------------------------------------------------------------- files

WRITTEN = []


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
    WRITTEN.append(path)


def write_tensors(path, tensors, metadata=None):
    """Write a safetensors file and check that it reads back identically."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(tensors, path, metadata)
    back, back_meta = load_file(path)
    assert back_meta == metadata, f"{path}: metadata changed on read-back"
    assert_same_tensors(back, tensors, path)
    WRITTEN.append(path)


def assert_same_tensors(actual, expected, what):
    assert set(actual) == set(expected), f"{what}: keys differ: {sorted(set(actual) ^ set(expected))[:8]}"
    for key, value in expected.items():
        got = actual[key]
        assert got.dtype == value.dtype, f"{what}: {key} dtype {got.dtype} != {value.dtype}"
        assert tuple(got.shape) == tuple(value.shape), f"{what}: {key} shape {tuple(got.shape)} != {tuple(value.shape)}"
        assert torch.equal(got, value), f"{what}: {key} values differ"


def write_sharded(folder, base, tensors, shards):
    """Split `tensors` (in name order) into `shards` files of about equal size, with an index."""
    names = sorted(tensors)
    sizes = [tensors[n].numel() * tensors[n].element_size() for n in names]
    total = sum(sizes)
    files = [f"{base}-{i + 1:05d}-of-{shards:05d}.safetensors" for i in range(shards)]
    weight_map = {}
    groups = [dict() for _ in range(shards)]
    running = 0
    for name, size in zip(names, sizes):
        index = min(shards - 1, running * shards // total)
        groups[index][name] = tensors[name]
        weight_map[name] = files[index]
        running += size
    for file, group in zip(files, groups):
        assert group, "empty shard"
        write_tensors(os.path.join(folder, file), group, FORMAT_PT)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    write_json(os.path.join(folder, f"{base}.safetensors.index.json"), index)


def read_sharded(folder, base):
    with open(os.path.join(folder, f"{base}.safetensors.index.json"), encoding="utf-8") as handle:
        index = json.load(handle)
    out = {}
    for file in sorted(set(index["weight_map"].values())):
        tensors, _ = load_file(os.path.join(folder, file))
        out.update(tensors)
    assert set(out) == set(index["weight_map"]), "index and shards disagree"
    return out


def alphas_cumprod(scheduler):
    """scaled_linear: beta_i = linspace(sqrt(beta_start), sqrt(beta_end), N)_i^2; cumprod(1 - beta).

    With rescale_betas_zero_snr (diffusers' config key; Lin et al. 2024, "Common Diffusion Noise
    Schedules and Sample Steps are Flawed", Algorithm 1) sqrt(alpha_bar) is shifted and scaled so the
    last timestep is pure noise (alpha_bar = 0) while the first keeps its value.
    """
    start, end = math.sqrt(scheduler["beta_start"]), math.sqrt(scheduler["beta_end"])
    betas = torch.linspace(start, end, scheduler["num_train_timesteps"], dtype=torch.float64) ** 2
    alpha_bar = torch.cumprod(1.0 - betas, dim=0)
    if not scheduler.get("rescale_betas_zero_snr", False):
        return alpha_bar
    root = alpha_bar.sqrt()
    first, last = root[0].item(), root[-1].item()
    return ((root - last) * (first / (first - last))) ** 2


# ---------------------------------------------------------------------------------------------- models


def build(name, spec):
    """Random-weight models and their float32 state dicts for one tiny model."""
    seed = spec["seed"]
    unet = UNet2DConditionModel(spec["unet"])
    init_weights(unet, seed)
    text = CLIPTextModel(spec["text_encoder"])
    init_weights(text, seed + 1)
    vae = AutoencoderKL(spec["vae"])
    init_weights(vae, seed + 2)
    states = {"unet": float_state(unet), "text_full": float_state(text), "vae": float_state(vae)}
    text_folder = dict(states["text_full"])
    for _ in range(spec["text_encoder"]["num_hidden_layers"] - spec["folder_layers"]):
        text_folder = checkpoint.drop_last_layer(text_folder)
    states["text_folder"] = text_folder
    return states


def text_to_ldm(spec, state):
    if spec["text_encoder_layout"] == "clip":
        return checkpoint.clip_to_ldm(state)
    return checkpoint.open_clip_to_ldm(state)


def text_from_ldm(spec, single):
    if spec["text_encoder_layout"] == "clip":
        return checkpoint.clip_from_ldm(single)
    return checkpoint.open_clip_from_ldm(single)


def conditioning_key(spec):
    """The io key holding the text conditioning the pipeline uses."""
    return "text_encoder.last_hidden_state" if spec["clip_skip"] == 1 else "text_encoder.penultimate_hidden_state"


def folder_text_config(spec):
    return dict(spec["text_encoder"], num_hidden_layers=spec["folder_layers"])


def reference_io(spec, states):
    """Inputs and float64 outputs (and intermediates) of every module; values as float64 tensors."""
    gen = torch.Generator().manual_seed(spec["seed"] + 100)
    cross = spec["unet"]["cross_attention_dim"]
    io = {}
    with torch.no_grad():
        unet = load_model(UNet2DConditionModel, spec["unet"], states["unet"])
        io["unet.sample"] = torch.randn(2, 4, 8, 8, generator=gen, dtype=torch.float64)
        io["unet.timestep"] = torch.tensor([TIMESTEP], dtype=torch.float64)
        io["unet.encoder_hidden_states"] = torch.randn(2, 7, cross, generator=gen, dtype=torch.float64)
        capture = {}
        io["unet.out"] = unet(io["unet.sample"], io["unet.timestep"], io["unet.encoder_hidden_states"], capture)
        for key, value in capture.items():
            io[f"unet.{key}.out"] = value

        text = load_model(CLIPTextModel, spec["text_encoder"], states["text_full"])
        ids = [tokenizer.encode("a red circle on blue", 7), tokenizer.encode("two small cats", 7)]
        io["text_encoder.input_ids"] = torch.tensor(ids, dtype=torch.int64)
        io["text_encoder.last_hidden_state"] = text.encode(io["text_encoder.input_ids"], 1)
        io["text_encoder.penultimate_hidden_state"] = text.encode(io["text_encoder.input_ids"], 2)
        max_length = spec["text_encoder"]["max_position_embeddings"]
        io["prompt.input_ids"] = torch.tensor([tokenizer.encode(p, max_length) for p in configs.PROMPTS], dtype=torch.int64)
        io["prompt.embeddings"] = text.encode(io["prompt.input_ids"], spec["clip_skip"])

        vae = load_model(AutoencoderKL, spec["vae"], states["vae"])
        io["vae.latents"] = torch.randn(1, 4, 8, 8, generator=gen, dtype=torch.float64)
        io["vae.decoded"] = vae.decode(io["vae.latents"])
        io["vae.image"] = torch.rand(1, 3, 16, 16, generator=gen, dtype=torch.float64) * 2 - 1
        io["vae.mean"], io["vae.logvar"] = vae.encode(io["vae.image"])
    return io


def to_stored(io):
    """float64 -> float32 for storage; ids stay int64."""
    return {k: (v.to(torch.float32) if v.is_floating_point() else v).contiguous() for k, v in io.items()}


def float32_deviation(spec, states, io):
    """Max |float32 torch - float64 reference| per stored output: what an fp32 engine can expect."""
    out = {}
    with torch.no_grad():
        unet = load_model(UNet2DConditionModel, spec["unet"], states["unet"]).float()
        got = unet(io["unet.sample"].float(), io["unet.timestep"].float(), io["unet.encoder_hidden_states"].float())
        out["unet.out"] = (got.double() - io["unet.out"]).abs().max().item()
        text = load_model(CLIPTextModel, spec["text_encoder"], states["text_full"]).float()
        for key, skip in (("text_encoder.last_hidden_state", 1), ("text_encoder.penultimate_hidden_state", 2)):
            out[key] = (text.encode(io["text_encoder.input_ids"], skip).double() - io[key]).abs().max().item()
        vae = load_model(AutoencoderKL, spec["vae"], states["vae"]).float()
        out["vae.decoded"] = (vae.decode(io["vae.latents"].float()).double() - io["vae.decoded"]).abs().max().item()
        mean, logvar = vae.encode(io["vae.image"].float())
        out["vae.mean"] = (mean.double() - io["vae.mean"]).abs().max().item()
        out["vae.logvar"] = (logvar.double() - io["vae.logvar"]).abs().max().item()
    return {k: f"{v:.3e}" for k, v in out.items()}


# ---------------------------------------------------------------------------------------------- writing


def write_folder(name, spec, states):
    folder = os.path.join(FIXTURES, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    write_json(os.path.join(folder, "model_index.json"), configs.model_index(spec["scheduler"]["_class_name"]))
    write_json(os.path.join(folder, "unet", "config.json"), spec["unet"])
    if spec["shard_unet"]:
        write_sharded(os.path.join(folder, "unet"), "diffusion_pytorch_model", states["unet"], 2)
    else:
        write_tensors(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"), states["unet"], FORMAT_PT)
    write_json(os.path.join(folder, "text_encoder", "config.json"), folder_text_config(spec))
    write_tensors(os.path.join(folder, "text_encoder", "model.safetensors"), states["text_folder"], FORMAT_PT)
    write_json(os.path.join(folder, "vae", "config.json"), spec["vae"])
    write_tensors(os.path.join(folder, "vae", "diffusion_pytorch_model.safetensors"), states["vae"], FORMAT_PT)
    write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), spec["scheduler"])
    max_length = spec["text_encoder"]["max_position_embeddings"]
    write_json(os.path.join(folder, "tokenizer", "tokenizer.json"), tokenizer.tokenizer_json(max_length))
    write_json(os.path.join(folder, "tokenizer", "tokenizer_config.json"), tokenizer.tokenizer_config_json(max_length))
    write_json(os.path.join(folder, "tokenizer", "special_tokens_map.json"), tokenizer.special_tokens_map_json())
    write_tokenizer_readme(os.path.join(folder, "tokenizer", "README.md"), max_length)


def single_file_state(spec, states):
    """The original-layout checkpoint: converted weights plus the extra entries real files carry."""
    out = {}
    out.update(checkpoint.unet_to_ldm(states["unet"], spec["unet"]))
    out.update(checkpoint.vae_to_ldm(states["vae"], spec["vae"]))
    hidden = spec["text_encoder"]["hidden_size"]
    out.update(text_to_ldm(spec, states["text_full"]))
    if spec["text_encoder_layout"] == "clip":
        # SD 1.x checkpoints carry transformers' position_ids buffer (int64); loaders must ignore it.
        positions = spec["text_encoder"]["max_position_embeddings"]
        out[checkpoint.CLIP_PREFIX + "text_model.embeddings.position_ids"] = torch.arange(positions, dtype=torch.int64)[None]
    else:
        # SD 2.x checkpoints carry OpenCLIP's text_projection and logit_scale (unused by SD).
        gen = torch.Generator().manual_seed(spec["seed"] + 3)
        projection = torch.randn(hidden, hidden, generator=gen) / math.sqrt(hidden)
        out[checkpoint.OPEN_CLIP_PREFIX + "text_projection"] = projection.to(torch.float32)
        out[checkpoint.OPEN_CLIP_PREFIX + "logit_scale"] = torch.tensor(math.log(1 / 0.07), dtype=torch.float32)
    # DDPM buffer present in original checkpoints (the others are left out to keep the file small).
    out["alphas_cumprod"] = alphas_cumprod(spec["scheduler"]).to(torch.float32)
    return {k: v.contiguous() for k, v in out.items()}


def write_tokenizer_readme(path, max_length):
    # Pipes inside table cells are escaped (GitHub tables split on them even inside code spans).
    specials = [(index, token.replace("|", "\\|")) for token, index in tokenizer.VOCAB.items() if index < 3]
    rows = "\n".join(f"| {index} | `{token}` |" for index, token in specials)
    words = " ".join(f"`{w}`" for w in tokenizer.WORDS)
    examples = "\n".join(
        f"| `{json.dumps(p)}` | {tokenizer.encode(p, max_length)} |" for p in configs.PROMPTS + ["Two cats, big sun."]
    )
    text = f"""# Tiny word-level tokenizer (fixture stand-in for CLIP's BPE)

Generated by `tools/sd_reference/make_fixtures.py` (definition in `tools/sd_reference/tokenizer.py`);
do not edit. The real CLIP tokenizer files (`vocab.json` 49408 entries + `merges.txt`) are too large for
fixtures, so this folder holds a `tokenizers`-format `tokenizer.json` with a `WordLevel` model instead,
plus `tokenizer_config.json` / `special_tokens_map.json` so transformers' `PreTrainedTokenizerFast`
loads it (hence `model_index.json` names `PreTrainedTokenizerFast`, not `CLIPTokenizer`).

Pipeline, in order:

1. normalizer `Lowercase`;
2. pre-tokenizer `Whitespace`: split into runs matching `\\w+|[^\\w\\s]+` (words, and runs of
   punctuation), whitespace dropped;
3. model `WordLevel`: each piece is looked up in `vocab`; a piece not in it becomes `<|unk|>` (id 2);
4. truncation `Right` to `max_length` {max_length} including the two special tokens (so at most
   {max_length - 2} words are kept), then post-processor `TemplateProcessing`: `<|startoftext|> $A <|endoftext|>`;
5. padding `Fixed` {max_length}, on the right, with `<|endoftext|>` (id 1), as SD 1.x pads with its EOS
   (real SD 2.x tokenizers pad with `!`, id 0; both tiny models pad with EOS). Padding tokens change the
   hidden states at their own positions, which the UNet attends to, so a loader must take the pad token
   from this file.

The result always has {max_length} ids (= the text encoder's `max_position_embeddings`), like CLIP's 77.

Special tokens:

| id | token |
| --- | --- |
{rows}

Words (ids 3 to 63 in this order): {words}

Examples:

| text | ids |
| --- | --- |
{examples}
"""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    WRITTEN.append(path)


# ---------------------------------------------------------------------------------------------- checks


def check_single_file(name, spec, states):
    """Converting the single file on disk back to diffusers keys gives exactly the folder tensors."""
    single, _ = load_file(os.path.join(FIXTURES, f"{name}.safetensors"))
    assert_same_tensors(checkpoint.unet_from_ldm(single, spec["unet"]), states["unet"], f"{name}: single-file UNet")
    assert_same_tensors(checkpoint.vae_from_ldm(single, spec["vae"]), states["vae"], f"{name}: single-file VAE")
    text = text_from_ldm(spec, single)
    assert_same_tensors(text, states["text_full"], f"{name}: single-file text encoder")
    dropped = text
    for _ in range(spec["text_encoder"]["num_hidden_layers"] - spec["folder_layers"]):
        dropped = checkpoint.drop_last_layer(dropped)
    assert_same_tensors(dropped, states["text_folder"], f"{name}: single-file text encoder, folder layers")
    # Every single-file key is either converted or one of the known extras.
    used = set(checkpoint.unet_to_ldm(states["unet"], spec["unet"])) | set(checkpoint.vae_to_ldm(states["vae"], spec["vae"]))
    used |= set(text_to_ldm(spec, states["text_full"]))
    extras = set(single) - used
    assert extras <= {
        "alphas_cumprod",
        checkpoint.CLIP_PREFIX + "text_model.embeddings.position_ids",
        checkpoint.OPEN_CLIP_PREFIX + "text_projection",
        checkpoint.OPEN_CLIP_PREFIX + "logit_scale",
    }, extras
    return single


def check_rebuilt(name, spec, io, stored):
    """Models rebuilt from the files on disk reproduce the stored outputs (after the float32 cast)."""
    folder = os.path.join(FIXTURES, name)
    if spec["shard_unet"]:
        unet_state = read_sharded(os.path.join(folder, "unet"), "diffusion_pytorch_model")
    else:
        unet_state, _ = load_file(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(folder, "unet", "config.json"), encoding="utf-8") as handle:
        unet_config = json.load(handle)
    text_state, _ = load_file(os.path.join(folder, "text_encoder", "model.safetensors"))
    with open(os.path.join(folder, "text_encoder", "config.json"), encoding="utf-8") as handle:
        text_config = json.load(handle)
    vae_state, _ = load_file(os.path.join(folder, "vae", "diffusion_pytorch_model.safetensors"))
    single, _ = load_file(os.path.join(FIXTURES, f"{name}.safetensors"))
    single_text = text_from_ldm(spec, single)

    def same(key, value):
        assert torch.equal(value.to(torch.float32), stored[key]), f"{name}: rebuilt {key} differs from the fixture"

    with torch.no_grad():
        for unet_weights in (unet_state, checkpoint.unet_from_ldm(single, spec["unet"])):
            unet = load_model(UNet2DConditionModel, unet_config, unet_weights)
            same("unet.out", unet(io["unet.sample"], io["unet.timestep"], io["unet.encoder_hidden_states"]))
        for vae_weights in (vae_state, checkpoint.vae_from_ldm(single, spec["vae"])):
            vae = load_model(AutoencoderKL, spec["vae"], vae_weights)
            same("vae.decoded", vae.decode(io["vae.latents"]))
            mean, logvar = vae.encode(io["vae.image"])
            same("vae.mean", mean)
            same("vae.logvar", logvar)
        # The folder's text encoder returns the conditioning SD uses (last layer of the folder model).
        folder_text = load_model(CLIPTextModel, text_config, text_state)
        same("prompt.embeddings", folder_text(io["prompt.input_ids"]))
        same(conditioning_key(spec), folder_text(io["text_encoder.input_ids"]))
        full_text = load_model(CLIPTextModel, spec["text_encoder"], single_text)
        same("text_encoder.last_hidden_state", full_text.encode(io["text_encoder.input_ids"], 1))
        same("text_encoder.penultimate_hidden_state", full_text.encode(io["text_encoder.input_ids"], 2))


def relative_change(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def check_sensitivity(name, spec, states, io):
    """Cross-attention and the timestep are wired: changing either changes the UNet output."""
    with torch.no_grad():
        unet = load_model(UNet2DConditionModel, spec["unet"], states["unet"])
        # A different context (reordering the tokens would not do: attention is permutation-invariant over keys).
        other_context = torch.roll(io["unet.encoder_hidden_states"], shifts=1, dims=0)
        changed = relative_change(unet(io["unet.sample"], io["unet.timestep"], other_context), io["unet.out"])
        assert changed > 1e-2, f"{name}: UNet output barely depends on the context ({changed:.2e})"
        other_timestep = torch.tensor([100.0], dtype=torch.float64)
        changed_t = relative_change(unet(io["unet.sample"], other_timestep, io["unet.encoder_hidden_states"]), io["unet.out"])
        assert changed_t > 1e-2, f"{name}: UNet output barely depends on the timestep ({changed_t:.2e})"
        last, penultimate = io["text_encoder.last_hidden_state"], io["text_encoder.penultimate_hidden_state"]
        assert relative_change(last, penultimate) > 1e-2, f"{name}: last and penultimate text states coincide"
    return changed, changed_t


def check_scales(name, io):
    """No output hides behind near-zero values."""
    for key, value in io.items():
        if value.is_floating_point() and key != "unet.timestep":
            std = value.std().item()
            assert 0.05 < std < 50, f"{name}: {key} has std {std:.3g}"


def check_fp16_vae(spec, states, io, path):
    """The float16 copy of the VAE decodes within float16 tolerance of the float32 weights."""
    half, _ = load_file(path)
    for key, value in half.items():
        assert value.dtype == torch.float16
        assert torch.equal(value, states["vae"][key].half()), key
    with torch.no_grad():
        vae = load_model(AutoencoderKL, spec["vae"], half)
        decoded = vae.decode(io["vae.latents"])
    error = relative_change(decoded, io["vae.decoded"])
    # Weights rounded to 11 significant bits (relative 2^-11 ~ 4.9e-4) move the output by about as much.
    assert error < 1e-2, f"fp16 VAE decode error {error:.2e} exceeds fp16 tolerance"
    return decoded, error


# ---------------------------------------------------------------------------------------------- main


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    os.makedirs(FIXTURES, exist_ok=True)
    report = []
    for name, spec in configs.MODELS.items():
        states = build(name, spec)
        io = reference_io(spec, states)

        write_folder(name, spec, states)
        write_tensors(os.path.join(FIXTURES, f"{name}.safetensors"), single_file_state(spec, states), FORMAT_PT)

        extra = {}
        if name == "sd1-tiny":
            fp16_path = os.path.join(FIXTURES, "sd1-tiny-vae-fp16.safetensors")
            write_tensors(fp16_path, {k: v.half() for k, v in states["vae"].items()}, FORMAT_PT)
            decoded, fp16_error = check_fp16_vae(spec, states, io, fp16_path)
            extra["vae.decoded_from_fp16_weights"] = decoded
            report.append(f"{name}: fp16 VAE decode, max |diff| / max |ref| = {fp16_error:.2e}")

        stored = to_stored(dict(io, **extra))
        metadata = {
            "reference": "tools/sd_reference, float64 compute, stored as float32 (ids as I64)",
            "timestep": repr(TIMESTEP),
            "prompts": json.dumps(configs.PROMPTS),
            "conditioning": conditioning_key(spec),
            "clip_skip": str(spec["clip_skip"]),
            "torch_float32_max_abs_diff": json.dumps(float32_deviation(spec, states, io), sort_keys=True),
        }
        write_tensors(os.path.join(FIXTURES, f"{name}-io.safetensors"), stored, metadata)

        check_single_file(name, spec, states)
        check_rebuilt(name, spec, io, stored)
        context_change, time_change = check_sensitivity(name, spec, states, io)
        check_scales(name, io)
        report.append(
            f"{name}: relative change of unet.out: {context_change:.2f} for another context, {time_change:.2f} for another timestep"
        )
        report.append(f"{name}: float32 torch vs float64 reference: {metadata['torch_float32_max_abs_diff']}")

    total = 0
    for path in sorted(set(WRITTEN)):
        size = os.path.getsize(path)
        total += size
        print(f"{size:>9}  {os.path.relpath(path, ROOT)}")
    print(f"{total:>9}  total")
    for line in report:
        print(line)
    assert total < 4 * 1024 * 1024, "fixtures exceed the 4 MB budget"
    print("all self-checks passed")


if __name__ == "__main__":
    main()
