#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Builds an AOTInductor package (`torch.export` + `torch._inductor.aoti_compile_and_package`) of a
gst-tcvc model file for one device, dtype and working size, and checks it against eager PyTorch
on a fed-back chain (max difference, ms/frame of both).

This is the first step of the compiled path of issue 13 (docs/gpu.md): the package is what a
C++ shim beside tch's (`torch::inductor::AOTIModelPackageLoader`) would load. The element does not
load packages yet.

    tools/aoti_package.py --model models/tcvc-default.safetensors --device cpu \
        --dtype fp32 --size 160x96 -o runs/tcvc-default-cpu-160x96.pt2 --check

Measured on the 2-core development machine (2026-11-30, torch 2.11.0 CPU, the default model at
160x96, fp32): export 3.6 s, compile 66 s, the package loads and runs from Python (no crash on
the CPU), max |package - eager| = 4.3e-6; speed not separable from the load of that machine
(82 vs 83 ms/frame in one run, 112 vs 69 in the next).
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402
from reference_generator import InpaintGenerator  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def load_model(path):
    """The tensors (torch, float32) and metadata of a gst-tcvc safetensors model file."""
    arrays, meta, dtypes = safetensors_io.or_exit(safetensors_io.read, path)
    tensors = {}
    for k, v in arrays.items():
        wide = safetensors_io.bf16_to_f32(v) if dtypes[k] == "BF16" else v.astype(np.float32)
        tensors[k] = torch.from_numpy(wide)
    return tensors, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--dtype", default="fp32", choices=sorted(DTYPES))
    ap.add_argument("--size", default=None, help="WxH (default: the model's train_size)")
    ap.add_argument("-o", "--output", required=True, help="the .pt2 package")
    ap.add_argument("--check", action="store_true", help="compare with eager, time both")
    a = ap.parse_args()
    tensors, meta = load_model(a.model)
    if meta.get("format") != "tcvc-generator":
        sys.exit(f"{a.model}: format {meta.get('format')!r}; only TCVC generators are packaged")
    g = InpaintGenerator(int(meta["channels"]), int(meta["res_blocks"]))
    g.load_state_dict(tensors, strict=True)
    size = a.size or meta.get("train_size", "256x256")
    w, h = (int(v) for v in size.lower().split("x"))
    dev, dt = torch.device(a.device), DTYPES[a.dtype]
    g = g.eval().to(dev, dt)
    x = torch.rand(1, 4, h, w, device=dev, dtype=dt)
    t = time.time()
    ep = torch.export.export(g, (x,))
    print(f"export {time.time() - t:.1f} s")
    t = time.time()
    path = torch._inductor.aoti_compile_and_package(ep, package_path=a.output)
    print(f"compile {time.time() - t:.1f} s -> {path}")
    if not a.check:
        return
    m = torch._inductor.aoti_load_package(path)
    with torch.no_grad():
        diff = (m(x).float() - g(x).float()).abs().max().item()
    print(f"max |package - eager| = {diff:.3g}")

    def chain(f, n=50):
        prev = torch.zeros(1, 3, h, w, device=dev, dtype=dt)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.time()
        with torch.no_grad():
            for _ in range(n):
                prev = f(torch.cat([x[:, :1], prev], 1))
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return (time.time() - t) / n * 1000

    for _ in range(2):
        print(f"eager {chain(g):.2f} ms/frame, package {chain(m):.2f} ms/frame")


if __name__ == "__main__":
    main()
