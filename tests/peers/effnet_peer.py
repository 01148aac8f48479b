#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer of `gsttcvc::model::EfficientNetLite0::features`: the five stage outputs of the
converter's file, with torch.nn.functional (`run_folded` of tools/convert_efficientnet_lite0.py).

Usage: effnet_peer.py FILE INPUT.raw N H W OUTPUT.raw
INPUT.raw: float32 N x 3 x H x W in [0, 1]; it is ImageNet-normalised here as the Rust side does.
OUTPUT.raw: the five stage outputs, float32, one after the other.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from convert_efficientnet_lite0 import read_safetensors, run_folded  # noqa: E402

path, inp, n, h, w, out = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]), sys.argv[6]
tensors, meta = read_safetensors(path)
layers = json.loads(meta["layers"])
keep = [s["layer"] for s in json.loads(meta["stages"])]
x = torch.from_numpy(np.fromfile(inp, "<f4").reshape(n, 3, h, w))
mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
with torch.no_grad():
    feats = run_folded((x - mean) / std, tensors, layers, set(keep))
with open(out, "wb") as f:
    for i in keep:
        f.write(feats[i].numpy().astype("<f4").tobytes())
