"""Noise schedule, training targets and a DDIM sampler with classifier-free guidance.

The schedule is SD's (scaled_linear betas 0.00085..0.012 over 1000 steps, alpha_bar = cumprod(1 - beta),
computed by tools/sd_reference/make_fixtures.alphas_cumprod). The sampler follows diffusers'
DDIMScheduler with eta 0, as the package's TypeScript DDIM does (ts/schedulers/ddim.ts): the previous
timestep is t - 1000 // steps; below 0 alpha_bar_prev is alpha_bar_0 (set_alpha_to_one false);
clip_sample clamps the predicted x0 without recomputing eps. It reads the same scheduler config the
model folder ships, so the training script's quick check samples the way the engine will.
"""

import math

import torch

from tools.sd_reference.make_fixtures import alphas_cumprod

from .model import SCHEDULER_CONFIG
from .tokenizer import encode


class NoiseSchedule:
    def __init__(self, config=SCHEDULER_CONFIG):
        self.config = config
        self.train_steps = config["num_train_timesteps"]
        self.alpha_bar = alphas_cumprod(config)  # float64 [1000]

    def add_noise(self, x0, noise, timesteps):
        """x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise, per-sample integer timesteps."""
        a = self.alpha_bar[timesteps].to(x0.dtype)[:, None, None, None]
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def timesteps(self, steps):
        """Sampling timesteps, noisiest first, per the config's timestep_spacing and steps_offset."""
        n, offset = self.train_steps, self.config["steps_offset"]
        spacing = self.config["timestep_spacing"]
        if spacing == "trailing":
            # round(N - k N / steps) - 1 for k = 0 .. steps-1 (diffusers: np.round(np.arange(N, 0, -N/steps)) - 1).
            return [int(round(n - k * n / steps)) - 1 for k in range(steps)]
        if spacing == "leading":
            return [k * (n // steps) + offset for k in reversed(range(steps))]
        raise ValueError(f"timestep_spacing {spacing!r} is not implemented here")


@torch.no_grad()
def sample(model, prompts, steps=25, guidance=7.5, seed=0, schedule=None):
    """DDIM (eta 0) with classifier-free guidance; returns images [B, 3, 32, 32] clamped to [-1, 1].

    `model` is a model.TextToImage; the unconditional branch uses the empty prompt, which training
    showed in place of 10% of the captions.
    """
    schedule = schedule or NoiseSchedule()
    config = schedule.config
    max_tokens = model.text_encoder.config["max_position_embeddings"]
    batch = len(prompts)
    ids = torch.tensor([encode(p, max_tokens) for p in prompts] + [encode("", max_tokens)] * batch)
    context = model.text_encoder(ids)
    size = model.unet.config["sample_size"]
    channels = model.unet.config["in_channels"]
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=generator)
    stride = schedule.train_steps // steps
    alpha_bar = schedule.alpha_bar
    for t in schedule.timesteps(steps):
        eps_both = model.unet(torch.cat([x, x]), torch.tensor([float(t)]), context)
        cond, uncond = eps_both[:batch], eps_both[batch:]
        eps = uncond + guidance * (cond - uncond)
        a = alpha_bar[t].item()
        prev = t - stride
        a_prev = alpha_bar[prev].item() if prev >= 0 else alpha_bar[0].item()
        x0 = (x - math.sqrt(1 - a) * eps) / math.sqrt(a)
        if config.get("clip_sample", False):
            limit = config.get("clip_sample_range", 1.0)
            x0 = x0.clamp(-limit, limit)
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    return x.clamp(-1, 1)
