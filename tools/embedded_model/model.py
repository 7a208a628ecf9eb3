"""Configs of the embedded model and construction of its modules (float32, tools/sd_reference classes).

UNet (pixel space, 32x32 RGB in and out, v-prediction as SD 2.x), three levels:

    level   grid    channels  blocks (down / up)                          heads x width
    0       32x32   32        DownBlock2D / UpBlock2D                     (no attention)
    1       16x16   48        CrossAttnDownBlock2D / CrossAttnUpBlock2D   2 x 24
    2       8x8     96        CrossAttnDownBlock2D / CrossAttnUpBlock2D   3 x 32, mid block too

Why this shape: binding colour to shape and placing two objects needs cross-attention on a grid fine
enough to address each object (at 16x16 an object is 3-7 cells wide); attention at 32x32 would cost
16x the 16x16 one. On two CPU cores the transformer blocks' linear layers dominate a step, so the
widths are the smallest that still leave the 8x8 level and the mid block (which decide what goes
where) a few heads: measured at batch 32, [32, 48, 96] took ~1.3 s per step against ~1.7 s for
[32, 64, 96] and ~2.1 s for [32, 64, 128], and the step budget matters more than width here (a
smaller model trained 1,351 steps got one-object prompts right but not two-object ones).

Text encoder: CLIPTextModel, 3 layers, width 96, 3 heads, quick_gelu, 20 positions (the longest
caption is 12 tokens), vocabulary = the grammar's 25 words + 3 specials. Its last hidden state is
the UNet's context (cross_attention_dim 96), as in SD 1.x.

`attention_head_dim` is diffusers' name for the NUMBER of heads (see tools/sd_reference/unet.py).

Prediction type: v (Salimans & Ho 2022, "Progressive distillation", as SD 2.x's 768-v models use it with
the same scaled-linear betas), not epsilon. Measured on the epsilon model of the first training run
(2,658 steps): swapping the position word of a caption ("left" <-> "right", ...) left its noise loss
unchanged to five decimals at every timestep and moved its output by 5% of what dropping the caption
did, so it placed objects at random. The epsilon loss weighs x0 errors by the SNR, which is 0.005 to
0.1 over t = 600..999 where a layout is decided, and at 32x32 the object still shows through the noise
there (sqrt(alpha_bar_999) = 0.068 over ~100 pixels): the model read positions from the noise instead
of the caption. The v loss weighs x0 errors by 1 + SNR, about 200x more at t = 999, so the caption
has to carry the layout.
"""

import torch

from tools.sd_reference import configs as reference
from tools.sd_reference.clip import CLIPTextModel
from tools.sd_reference.unet import UNet2DConditionModel

from .tokenizer import VOCAB

MAX_TOKENS = 20
TEXT_WIDTH = 96

UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel",
    "_diffusers_version": reference.DIFFUSERS_VERSION,
    "act_fn": "silu",
    "attention_head_dim": [1, 2, 3],
    "block_out_channels": [32, 48, 96],
    "center_input_sample": False,
    "cross_attention_dim": TEXT_WIDTH,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 3,
    "layers_per_block": 1,
    "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-05,
    "norm_num_groups": 8,
    "num_attention_heads": None,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 3,
    "resnet_time_scale_shift": "default",
    "sample_size": 32,
    "transformer_layers_per_block": 1,
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "upcast_attention": False,
    "use_linear_projection": True,
}

TEXT_CONFIG = {
    "architectures": ["CLIPTextModel"],
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 1,
    "hidden_act": "quick_gelu",
    "hidden_size": TEXT_WIDTH,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 4 * TEXT_WIDTH,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": MAX_TOKENS,
    "model_type": "clip_text_model",
    "num_attention_heads": 3,
    "num_hidden_layers": 3,
    "pad_token_id": 1,
    "projection_dim": TEXT_WIDTH,
    "torch_dtype": "float32",
    "transformers_version": reference.TRANSFORMERS_VERSION,
    "vocab_size": len(VOCAB),
}

# DDIM with SD's noise schedule. "trailing" spacing starts sampling at t = 999, the noisiest training
# timestep; set_alpha_to_one ends the last DDIM step at alpha_bar = 1, the clean picture, where SD's
# false would leave noise of std sqrt(1 - alpha_bar_0) = 0.029 in the pixels. clip_sample stays off
# although a pixel-space x0 is the picture itself: DDIM clamps the predicted x0 but keeps the
# unclamped eps (diffusers' step() without use_clipped_model_output), and under guidance the guided
# x0 overshoots [-1, 1] while eps carries the mirror image of the overshoot, so the next sample got
# the negative of the object (a red circle turned cyan by step 8 of 25 at guidance 3). Measured on
# 48 prompts at guidance 3: fully correct 2% with clip_sample, 52% without.
SCHEDULER_CONFIG = {
    "_class_name": "DDIMScheduler",
    "_diffusers_version": reference.DIFFUSERS_VERSION,
    **{k: v for k, v in reference.SCALED_LINEAR.items() if k != "skip_prk_steps"},  # SD's betas, steps_offset 1
    "clip_sample": False,
    "set_alpha_to_one": True,
    "prediction_type": "v_prediction",
    "timestep_spacing": "trailing",
}


def scheduler_config(zero_terminal_snr):
    """SCHEDULER_CONFIG, with diffusers' rescale_betas_zero_snr when `zero_terminal_snr` (train.py's
    --zero-terminal-snr): Lin et al. 2024 rescale SD's betas so that t = 999 is pure noise. Under SD's
    own betas sqrt(alpha_bar_999) = 0.068 of the picture survives, which over 32x32 pixels is enough for
    the model to read an object's place and colour from the starting noise instead of the caption; the
    guided difference then paints a negative of that guess (measured: guidance 3 left 6% of colours
    right). v-prediction, which the rescaled schedule needs at alpha_bar = 0, is already the target.
    """
    return dict(SCHEDULER_CONFIG, rescale_betas_zero_snr=True) if zero_terminal_snr else dict(SCHEDULER_CONFIG)


class TextToImage(torch.nn.Module):
    """The two trained modules under one parent, so one optimizer, one EMA and one state dict cover
    both (keys "unet.*" and "text_encoder.*")."""

    def __init__(self, unet_config=UNET_CONFIG, text_config=TEXT_CONFIG):
        super().__init__()
        self.unet = UNet2DConditionModel(unet_config)
        self.text_encoder = CLIPTextModel(text_config)
        # transformers initialises CLIP embeddings with N(0, 0.02^2); nn.Embedding's N(0, 1) would
        # swamp the pre-LN layers at the start of training.
        for embedding in (self.text_encoder.text_model.embeddings.token_embedding, self.text_encoder.text_model.embeddings.position_embedding):
            torch.nn.init.normal_(embedding.weight, std=0.02)

    def forward(self, noisy, timesteps, input_ids):
        return self.unet(noisy, timesteps, self.text_encoder(input_ids))


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())
