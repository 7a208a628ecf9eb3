#!/usr/bin/env python3
"""PyTorch baseline for bench/: reads one JSON job from stdin, prints JSON timings to stdout.

Run by the harness (bench/torch.ts) with Debian's python3-torch, in the same run as our own
measurements, on the same shapes and seeds, so ratios compare like with like.
Jobs (all with "warmup", "repeats", "threads", "seed"):
  {"op": "convert", "cases": [{"n", "from", "to"}]}
  {"op": "attention", "cases": [{"B", "H", "N", "T", "d", "variant": "plain" | "sdpa" | "afm", "grid": [h, w],
                                 "gainLow", "gainHigh", "cutoff", "width", "device", "dtype"}]}
      plain: softmax(q k^T * scale) v, the materialised matmul-softmax-matmul;
      sdpa: F.scaled_dot_product_attention (PyTorch's fused kernels; the GPU baseline);
      afm: the unfused logit-domain AFM edit (reference/afm.md §4) with torch.fft before the softmax
      (its FFT in float32 whatever the dtype: cuFFT's half precision takes powers of two only).
      device "cpu" (default) or "cuda", dtype "float32" (default), "float16" or "bfloat16"; on "cuda"
      every timed call is followed by torch.cuda.synchronize().
  {"op": "ceilings"}: measured float32 matmul GFLOP/s and copy GB/s of this machine.
  {"op": "ops", "cases": [{"kind": "linear", "M", "K", "N"} | {"kind": "conv2d", "N", "C", "H", "O", "k", "stride"}
                          | {"kind": "group_norm", "shape", "groups"} | {"kind": "layer_norm", "rows", "D"}
                          | {"kind": "geglu", "rows", "h"}]}
      the model ops of bench/suites/ops.ts: F.linear with bias, F.conv2d with bias (padding k // 2),
      F.silu(F.group_norm(...)) with affine, F.layer_norm with affine, value * F.gelu(gate).
  {"op": "fft", "cases": [{"B", "H", "h", "w", "d", "cutoff", "width"}]}
      the low band of q [B, H, h*w, d] over the h x w grid: ifft2(fft2(q) * M_low).real over the grid dims.
  {"op": "unet", "cases": [{"model": "sd1-tiny" | "sd2-tiny" | "sd15" | "folder", "folder", "batch", "size", "tokens", "device", "dtype"}]}
      the repository's plain PyTorch reference UNet2DConditionModel (tools/sd_reference, not in the npm
      package), in float32 on the CPU unless "device" / "dtype" say otherwise (the CUDA rows: float16 on
      the GPU, synchronised after each call, as the attention rows). "folder": the weights and config of an existing diffusers folder (the
      embedded model); otherwise random weights (make_fixtures.init_weights, seeded), written once to
      <folder> as a diffusers folder (model_index.json, unet/config.json, unet/*.safetensors) for our
      engine to load the same weights. Then its forward at timestep 500 on seeded inputs
      [batch, in, size, size] and context [batch, tokens, cross_attention_dim].
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def timing(samples):
    s = sorted(samples)
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
    return {"median": statistics.median(s), "q1": q[0], "q3": q[2], "min": s[0], "max": s[-1], "runs": len(s)}


def measure(fn, warmup, repeats, device="cpu"):
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for i in range(warmup):
        fn(i)
    sync()
    samples = []
    for i in range(repeats):
        t0 = time.perf_counter_ns()
        fn(warmup + i)
        sync()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return timing(samples)


def convert(job):
    out = []
    gen = torch.Generator().manual_seed(job.get("seed", 0))
    for case in job["cases"]:
        inputs = [torch.randn(case["n"], generator=gen).to(DTYPES[case["from"]]) for _ in range(4)]
        target = DTYPES[case["to"]]
        out.append(measure(lambda i: inputs[i % 4].to(target), job["warmup"], job["repeats"]))
    return out


def low_mask(h, w, cutoff, width):
    fy = torch.fft.fftfreq(h, dtype=torch.float64).view(h, 1)
    fx = torch.fft.fftfreq(w, dtype=torch.float64).view(1, w)
    r = torch.sqrt(fx * fx + fy * fy) / (0.5 ** 0.5)
    if width == 0:
        return (r <= cutoff).to(torch.float32)
    edge = 0.5 * (1 + torch.cos(torch.pi * (r - cutoff + width / 2) / width))
    m = torch.where(r <= cutoff - width / 2, torch.ones_like(r), torch.where(r >= cutoff + width / 2, torch.zeros_like(r), edge))
    return m.to(torch.float32)


def attention(job):
    out = []
    gen = torch.Generator().manual_seed(job.get("seed", 0))
    for c in job["cases"]:
        B, H, N, T, d = c["B"], c["H"], c["N"], c["T"], c["d"]
        device, dtype = c.get("device", "cpu"), DTYPES[c.get("dtype", "float32")]
        if device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("CUDA rows asked for, but torch.cuda.is_available() is False")
        sets = [tuple(torch.randn(B, H, n, d, generator=gen).to(device=device, dtype=dtype) for n in (N, T, T)) for _ in range(2)]
        scale = d ** -0.5
        if c["variant"] == "plain":
            def fn(i):
                q, k, v = sets[i % 2]
                return torch.softmax(q @ k.transpose(-1, -2) * scale, dim=-1) @ v
        elif c["variant"] == "sdpa":
            if not hasattr(F, "scaled_dot_product_attention"):
                raise SystemExit(f"the sdpa baseline needs PyTorch 2.0 or newer, not {torch.__version__}")

            def fn(i):
                return F.scaled_dot_product_attention(*sets[i % 2])
        else:
            h, w = c["grid"]
            m = low_mask(h, w, c.get("cutoff", 0.25), c.get("width", 0.05))
            g = c["gainLow"] * m + c["gainHigh"] * (1 - m)
            g[0, 0] = 1.0  # preserve DC
            g = g.view(1, 1, 1, h, w).to(device)

            def fn(i):
                q, k, v = sets[i % 2]
                logits = (q @ k.transpose(-1, -2) * scale).float().transpose(-1, -2).reshape(B, H, T, h, w)
                edited = torch.fft.ifft2(torch.fft.fft2(logits) * g).real
                edited = edited.reshape(B, H, T, N).transpose(-1, -2)
                return torch.softmax(edited, dim=-1).to(dtype) @ v
        with torch.no_grad():
            out.append(measure(fn, job["warmup"], job["repeats"], device))
    return out


def ceilings(job):
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    mm = measure(lambda i: a @ b, 2, 5)
    x = torch.randn(64 * 1024 * 1024 // 4)
    y = torch.empty_like(x)
    cp = measure(lambda i: y.copy_(x), 2, 5)
    return [{"matmulGflops": 2 * n ** 3 / (mm["median"] / 1e3) / 1e9, "copyGBs": 2 * x.numel() * 4 / (cp["median"] / 1e3) / 1e9}]


def model_ops(job):
    out = []
    gen = torch.Generator().manual_seed(job.get("seed", 0))

    def rand(*shape):
        return torch.rand(*shape, generator=gen) * 2 - 1

    for c in job["cases"]:
        kind = c["kind"]
        if kind == "linear":
            sets = [(rand(c["M"], c["K"]), rand(c["N"], c["K"]), rand(c["N"])) for _ in range(2)]
            fn = lambda i: F.linear(*sets[i % 2])
        elif kind == "conv2d":
            sets = [(rand(c["N"], c["C"], c["H"], c["H"]), rand(c["O"], c["C"], c["k"], c["k"]), rand(c["O"])) for _ in range(2)]
            fn = lambda i: F.conv2d(*sets[i % 2], stride=c["stride"], padding=c["k"] // 2)
        elif kind == "group_norm":
            C = c["shape"][1]
            sets = [(rand(*c["shape"]), rand(C), rand(C)) for _ in range(2)]
            fn = lambda i: F.silu(F.group_norm(sets[i % 2][0], c["groups"], sets[i % 2][1], sets[i % 2][2], 1e-5))
        elif kind == "layer_norm":
            sets = [(rand(c["rows"], c["D"]), rand(c["D"]), rand(c["D"])) for _ in range(2)]
            fn = lambda i: F.layer_norm(sets[i % 2][0], (c["D"],), sets[i % 2][1], sets[i % 2][2], 1e-5)
        else:
            sets = [rand(c["rows"], 2 * c["h"]) for _ in range(2)]

            def fn(i):
                value, gate = sets[i % 2].chunk(2, dim=-1)
                return value * F.gelu(gate)
        with torch.no_grad():
            out.append(measure(fn, job["warmup"], job["repeats"]))
    return out


def fft_band(job):
    out = []
    gen = torch.Generator().manual_seed(job.get("seed", 0))
    for c in job["cases"]:
        B, H, h, w, d = c["B"], c["H"], c["h"], c["w"], c["d"]
        m = low_mask(h, w, c["cutoff"], c["width"]).view(1, 1, h, w, 1)
        sets = [torch.randn(B, H, h * w, d, generator=gen) for _ in range(2)]

        def fn(i):
            q = sets[i % 2].view(B, H, h, w, d)
            return torch.fft.ifft2(torch.fft.fft2(q, dim=(2, 3)) * m, dim=(2, 3)).real.reshape(B, H, h * w, d)
        with torch.no_grad():
            out.append(measure(fn, job["warmup"], job["repeats"]))
    return out


def unet(job):
    # The reference model ships with the repository, not with the npm package.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        from tools.sd_reference import configs, published_configs
        from tools.sd_reference.make_fixtures import init_weights
        from tools.sd_reference.safetensors_io import load_file, save_file
        from tools.sd_reference.unet import UNet2DConditionModel
    except ImportError as err:
        raise SystemExit(f"the UNet baseline needs the repository's tools/sd_reference ({err})")
    out = []
    for c in job["cases"]:
        if c["model"] == "folder":
            with open(os.path.join(c["folder"], "unet", "config.json"), encoding="utf-8") as f:
                config = json.load(f)
        else:
            config = published_configs.SD15["unet"] if c["model"] == "sd15" else configs.MODELS[c["model"]]["unet"]
        model = UNet2DConditionModel(config)
        weights = os.path.join(c["folder"], "unet", "diffusion_pytorch_model.safetensors")
        if os.path.exists(weights):
            state, _ = load_file(weights)
            model.load_state_dict(state, strict=True)
        else:
            init_weights(model, job.get("seed", 0))
            os.makedirs(os.path.dirname(weights), exist_ok=True)
            with open(os.path.join(c["folder"], "unet", "config.json"), "w", encoding="utf-8") as f:
                json.dump(config, f)
            with open(os.path.join(c["folder"], "model_index.json"), "w", encoding="utf-8") as f:
                json.dump({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
                           "scheduler": ["diffusers", "DDIMScheduler"]}, f)
            state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
            save_file(state, weights + ".partial", {"format": "pt"})
            os.replace(weights + ".partial", weights)
        device, dtype = c.get("device", "cpu"), DTYPES[c.get("dtype", "float32")]
        if device == "cuda" and not torch.cuda.is_available():
            raise SystemExit("CUDA rows asked for, but torch.cuda.is_available() is False")
        model = model.to(device=device, dtype=dtype).eval()
        gen = torch.Generator().manual_seed(job.get("seed", 0))
        B, s, T = c["batch"], c["size"], c["tokens"]
        sets = [tuple(x.to(device=device, dtype=dtype) for x in (torch.randn(B, config["in_channels"], s, s, generator=gen),
                                                                 torch.randn(B, T, config["cross_attention_dim"], generator=gen)))
                for _ in range(2)]
        with torch.no_grad():
            out.append(measure(lambda i: model(sets[i % 2][0], 500.0, sets[i % 2][1]), job["warmup"], job["repeats"], device))
    return out


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(job.get("threads", torch.get_num_threads()))
    ops = {"convert": convert, "attention": attention, "ceilings": ceilings, "ops": model_ops, "fft": fft_band, "unet": unet}
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "timings": ops[job["op"]](job)}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
