"""The two tiny model definitions the fixtures are generated from (sd1-tiny, sd2-tiny).

Structure follows SD 1.5 / SD 2.1 (two levels instead of four, one layer per level): the same block
types, the same head-count semantics, conv vs linear transformer projections, upcast attention,
quick_gelu vs gelu text encoders, penultimate-layer conditioning and v-prediction for SD 2.x.
Widths are small so every weight file stays well under 1 MB:

- UNet block_out_channels [12, 24] (time embedding 48 wide), norm_num_groups 4 (groups of 3, 6, 9 and
  12 channels over the 12/24/36/48-channel tensors the UNet normalises).
  sd1-tiny: attention_head_dim 2 = 2 heads everywhere -> head width 6 in down_blocks.0 / up_blocks.1
  and 12 in the mid block (head width varies per level, as SD 1.5's 40/80/160).
  sd2-tiny: attention_head_dim [2, 4] = 2 heads at level 0, 4 at level 1 (the mid block uses the last
  entry, up block i the reversed list) -> head width 6 everywhere (as SD 2.x is 64 everywhere).
- VAE block_out_channels [8, 16], norm_num_groups 4, latent scale factor 2 (16x16 image <-> 8x8 latent).
- Text encoders: vocab 64, 16 positions, 2 heads. sd1-tiny: hidden 32, 2 layers, quick_gelu,
  conditioning = last layer. sd2-tiny: hidden 48, 3 layers in the full (single-file, OpenCLIP) model,
  gelu, conditioning = penultimate layer; its diffusers folder holds only the first 2 layers, as real
  SD 2.x folders hold 23 of OpenCLIP's 24.
"""

DIFFUSERS_VERSION = "0.30.0"
TRANSFORMERS_VERSION = "4.44.0"

SCALED_LINEAR = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "trained_betas": None,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
}


def model_index(scheduler_class, vae=True):
    """model_index.json of a StableDiffusionPipeline folder (vae False: a pixel-space model without one)."""
    return {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": DIFFUSERS_VERSION,
        "feature_extractor": [None, None],
        "image_encoder": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", scheduler_class],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"] if vae else [None, None],
    }


def _unet(cross_attention_dim, attention_head_dim, use_linear_projection, upcast_attention):
    return {
        "_class_name": "UNet2DConditionModel",
        "_diffusers_version": DIFFUSERS_VERSION,
        "act_fn": "silu",
        "attention_head_dim": attention_head_dim,
        "block_out_channels": [12, 24],
        "center_input_sample": False,
        "cross_attention_dim": cross_attention_dim,
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1,
        "dual_cross_attention": False,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 4,
        "layers_per_block": 1,
        "mid_block_scale_factor": 1,
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "norm_eps": 1e-05,
        "norm_num_groups": 4,
        "num_attention_heads": None,
        "num_class_embeds": None,
        "only_cross_attention": False,
        "out_channels": 4,
        "resnet_time_scale_shift": "default",
        "sample_size": 8,
        "transformer_layers_per_block": 1,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
        "upcast_attention": upcast_attention,
        "use_linear_projection": use_linear_projection,
    }


def _vae():
    return {
        "_class_name": "AutoencoderKL",
        "_diffusers_version": DIFFUSERS_VERSION,
        "act_fn": "silu",
        "block_out_channels": [8, 16],
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
        "force_upcast": True,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 1,
        "norm_num_groups": 4,
        "out_channels": 3,
        "sample_size": 16,
        "scaling_factor": 0.18215,
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    }


def _text_encoder(hidden, layers, intermediate, hidden_act):
    return {
        "architectures": ["CLIPTextModel"],
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "dropout": 0.0,
        "eos_token_id": 1,
        "hidden_act": hidden_act,
        "hidden_size": hidden,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "intermediate_size": intermediate,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 16,
        "model_type": "clip_text_model",
        "num_attention_heads": 2,
        "num_hidden_layers": layers,
        "pad_token_id": 1,
        "projection_dim": hidden,
        "torch_dtype": "float32",
        "transformers_version": TRANSFORMERS_VERSION,
        "vocab_size": 64,
    }


MODELS = {
    "sd1-tiny": {
        "seed": 1001,
        "unet": _unet(32, 2, False, False),
        "vae": _vae(),
        # The full text encoder; `folder_layers` of its layers go into the diffusers folder.
        "text_encoder": _text_encoder(32, 2, 64, "quick_gelu"),
        "folder_layers": 2,
        "clip_skip": 1,
        "text_encoder_layout": "clip",  # single file: cond_stage_model.transformer.*
        "scheduler": dict({"_class_name": "PNDMScheduler", "_diffusers_version": DIFFUSERS_VERSION}, **SCALED_LINEAR),
        "shard_unet": True,
    },
    "sd2-tiny": {
        "seed": 2002,
        "unet": _unet(48, [2, 4], True, True),
        "vae": _vae(),
        "text_encoder": _text_encoder(48, 3, 96, "gelu"),
        "folder_layers": 2,
        "clip_skip": 2,
        "text_encoder_layout": "open_clip",  # single file: cond_stage_model.model.*
        "scheduler": dict(
            {"_class_name": "DDIMScheduler", "_diffusers_version": DIFFUSERS_VERSION},
            **SCALED_LINEAR,
            prediction_type="v_prediction",
        ),
        "shard_unet": False,
    },
}

# Prompts tokenized into the fixtures (a conditional / unconditional pair, as classifier-free guidance
# batches them).
PROMPTS = ["A red circle on the left, blue background.", ""]
