"""Training tooling for the package's small embedded text-to-image model (dev tooling, not shipped).

A pixel-space UNet2DConditionModel (32x32 RGB, no VAE) and a small CLIPTextModel trained jointly from
scratch on procedural pictures of coloured shapes, exported as a diffusers folder the native engine
loads. Built on the plain PyTorch reference modules in tools/sd_reference (same parameter names and
semantics as diffusers / transformers).

Modules: dataset (grammar, renderer, held-out pairs), tokenizer (word-level vocabulary and files),
model (configs and model construction), diffusion (noise schedule, DDIM sampler with guidance),
train (training loop, checkpoints, resume), export (diffusers folder), detect (reads colour, shape
and position back from a picture), quick_eval (sampling + detection rates), card (README.md).

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 -m tools.embedded_model.dataset          # data self-check
    /usr/bin/python3 -m tools.embedded_model.train --help
"""

import sys

# Keep the source tree free of __pycache__ folders.
sys.dont_write_bytecode = True
