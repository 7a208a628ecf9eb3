#!/usr/bin/env python3
"""PyTorch baseline for bench/: reads one JSON job from stdin, prints JSON timings to stdout.

Run by the harness (bench/torch.ts) with Debian's python3-torch, in the same run as our own
measurements, on the same shapes and seeds, so ratios compare like with like.
Job: {"op": "convert", "cases": [{"n": int, "from": dtype, "to": dtype}], "warmup": int, "repeats": int}
"""
import json
import statistics
import sys
import time

import torch

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def timing(samples):
    s = sorted(samples)
    q = statistics.quantiles(s, n=4, method="inclusive") if len(s) > 1 else [s[0]] * 3
    return {"median": statistics.median(s), "q1": q[0], "q3": q[2], "min": s[0], "max": s[-1], "runs": len(s)}


def measure(fn, warmup, repeats):
    for i in range(warmup):
        fn(i)
    samples = []
    for i in range(repeats):
        t0 = time.perf_counter_ns()
        fn(warmup + i)
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


def main():
    job = json.load(sys.stdin)
    torch.set_num_threads(job.get("threads", torch.get_num_threads()))
    ops = {"convert": convert}
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "timings": ops[job["op"]](job)}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
