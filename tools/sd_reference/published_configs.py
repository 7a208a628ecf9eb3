"""The published diffusers configs of the reference SD models, for make_sd_shapes.py.

Values as in the model repositories' JSON files (model-defining fields; version stamps, `_name_or_path`
and transformers' unused token ids / initializer settings left out):
- runwayml/stable-diffusion-v1-5 (now stable-diffusion-v1-5/stable-diffusion-v1-5): unet/config.json,
  vae/config.json, text_encoder/config.json, scheduler/scheduler_config.json;
- stabilityai/stable-diffusion-2-1 (768-v, v_prediction) and stabilityai/stable-diffusion-2-1-base
  (512, epsilon): the same files. Their text_encoder/config.json has 23 layers: the diffusers folder keeps
  23 of OpenCLIP ViT-H/14's 24 text layers (SD 2.x conditions on the penultimate one), while the original
  single-file checkpoints hold all 24.
The same values are in the reference notes (shared/reference/sd-layout.md sections 3, 4, 5 and 9).
"""

DOWN = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"]
UP = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]

_UNET_COMMON = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "down_block_types": DOWN,
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "up_block_types": UP,
}


def _vae(sample_size):
    return {
        "_class_name": "AutoencoderKL",
        "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "out_channels": 3,
        "sample_size": sample_size,
        "scaling_factor": 0.18215,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    }


def _text(hidden_act, hidden, intermediate, heads, layers):
    return {
        "architectures": ["CLIPTextModel"],
        "hidden_act": hidden_act,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": 77,
        "model_type": "clip_text_model",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "vocab_size": 49408,
    }


_BETAS = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

SD15 = {
    "unet": dict(
        _UNET_COMMON,
        attention_head_dim=8,
        cross_attention_dim=768,
        sample_size=64,
        upcast_attention=False,
        use_linear_projection=False,
    ),
    "vae": _vae(512),
    "text_encoder": _text("quick_gelu", 768, 3072, 12, 12),
    "scheduler": dict(_BETAS, _class_name="PNDMScheduler", prediction_type="epsilon"),
}

SD21 = {
    "unet": dict(
        _UNET_COMMON,
        attention_head_dim=[5, 10, 20, 20],
        cross_attention_dim=1024,
        sample_size=96,
        upcast_attention=True,
        use_linear_projection=True,
    ),
    "vae": _vae(768),
    "text_encoder": _text("gelu", 1024, 4096, 16, 23),
    "scheduler": dict(_BETAS, _class_name="DDIMScheduler", prediction_type="v_prediction"),
}

SD21_BASE = {
    "unet": dict(
        _UNET_COMMON,
        attention_head_dim=[5, 10, 20, 20],
        cross_attention_dim=1024,
        sample_size=64,
        upcast_attention=False,
        use_linear_projection=True,
    ),
    "vae": _vae(768),
    "text_encoder": _text("gelu", 1024, 4096, 16, 23),
    "scheduler": dict(_BETAS, _class_name="PNDMScheduler", prediction_type="epsilon"),
}
