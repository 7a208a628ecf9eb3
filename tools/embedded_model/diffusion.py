"""Noise schedule, training targets and a DDIM sampler with classifier-free guidance.

The schedule is SD's (scaled_linear betas 0.00085..0.012 over 1000 steps, alpha_bar = cumprod(1 - beta),
computed by tools/sd_reference/make_fixtures.alphas_cumprod). The sampler follows diffusers'
DDIMScheduler with eta 0, as the package's TypeScript DDIM does (ts/schedulers/ddim.ts): the previous
timestep is t - 1000 // steps;
set_alpha_to_one decides alpha_bar_prev below 0; clip_sample clamps the predicted x0 without recomputing
eps; v-prediction output is split into x0 and eps as diffusers does. It reads the same scheduler config the
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

    def target(self, x0, noise, timesteps):
        """What the model learns to output: the noise (epsilon) or v = sqrt(alpha_bar) noise -
        sqrt(1 - alpha_bar) x0 (v_prediction), per the config's prediction_type."""
        if self.config["prediction_type"] == "epsilon":
            return noise
        a = self.alpha_bar[timesteps].to(x0.dtype)[:, None, None, None]
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def split(self, output, x, a):
        """(x0, eps) from the model output at a noisy x with alpha_bar a (a float)."""
        if self.config["prediction_type"] == "epsilon":
            return (x - math.sqrt(1 - a) * output) / math.sqrt(a), output
        return math.sqrt(a) * x - math.sqrt(1 - a) * output, math.sqrt(a) * output + math.sqrt(1 - a) * x

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
        both = model.unet(torch.cat([x, x]), torch.tensor([float(t)]), context)
        cond, uncond = both[:batch], both[batch:]
        a = alpha_bar[t].item()
        prev = t - stride
        a_prev = 1.0 if prev < 0 and config.get("set_alpha_to_one", False) else alpha_bar[max(prev, 0)].item()
        x0, eps = schedule.split(uncond + guidance * (cond - uncond), x, a)
        if config.get("clip_sample", False):
            limit = config.get("clip_sample_range", 1.0)
            x0 = x0.clamp(-limit, limit)
        x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
    return x.clamp(-1, 1)
