"""Independent PyTorch reference for the SD 1.x/2.x model engine, and the fixtures it produces.

Dev tooling only (never shipped): plain torch re-implementations of diffusers' UNet2DConditionModel
and AutoencoderKL and transformers' CLIPTextModel, the original single-file key layout, a
safetensors reader/writer, and a generator for two tiny random-weight models with input/output
fixtures computed in float64.

Regenerate everything under test/fixtures/ from the repository root with Debian's python3-torch:

    /usr/bin/python3 -m tools.sd_reference.make_fixtures

Modules: safetensors_io (file format), blocks (resnet / attention / up- and downsampling), unet, clip,
vae, checkpoint (diffusers <-> original single-file keys), tokenizer (the tiny word-level tokenizer),
configs (the two tiny models), make_fixtures (generation and self-checks).
"""

import sys

# Keep the source tree free of __pycache__ folders when the generator runs.
sys.dont_write_bytecode = True
