#!/usr/bin/env python3
"""Convert torchvision VGG19 ImageNet weights to the safetensors file `tcvc-train --vgg19` reads.

tcvc-train's content and style losses (the paper's perceptual terms) run a frozen VGG19 whose
weights are looked up under torchvision's names ``features.N.weight`` / ``features.N.bias``
(N = 0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34). This script writes exactly
those 32 tensors as float32 (plus ``classifier.*`` with ``--keep-classifier``) with a small
``__metadata__`` block naming the source.

Input, one of:
  * a torchvision checkpoint file, e.g. ``vgg19-dcbb9e9d.pth`` as torchvision downloads it to
    ``~/.cache/torch/hub/checkpoints/`` (a plain state_dict; a dict holding it under
    ``state_dict`` or ``model`` also works);
  * ``--torchvision``: build ``torchvision.models.vgg19(weights="IMAGENET1K_V1")`` (needs the
    torchvision package and, the first time, network access to download the weights).

Usage:
    convert_torchvision_vgg19.py vgg19-dcbb9e9d.pth vgg19.safetensors
    convert_torchvision_vgg19.py --torchvision vgg19.safetensors

Only torch and numpy are needed (`safetensors_io.py` writes the container, no extra package).
The file is checked (every conv present with torchvision's shape) before it is written.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (the tools' one safetensors reader and writer)

CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
CHANNELS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
            (256, 256), (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512),
            (512, 512), (512, 512)]


def expected_shapes():
    shapes = {}
    for idx, (cin, cout) in zip(CONV_INDICES, CHANNELS):
        shapes[f"features.{idx}.weight"] = [cout, cin, 3, 3]
        shapes[f"features.{idx}.bias"] = [cout]
    return shapes


def load_state_dict(path):
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
    if not isinstance(obj, dict):
        sys.exit(f"error: {path} does not hold a state_dict (found {type(obj).__name__})")
    # Strip a `module.` (DataParallel) or `vgg.` prefix if present.
    for prefix in ("module.", "vgg."):
        if all(k.startswith(prefix) for k in obj):
            obj = {k[len(prefix):]: v for k, v in obj.items()}
    return obj


def write_safetensors(path, tensors, metadata):
    """Writes the torch tensors `tensors` as F32 with `metadata`, atomically
    (`safetensors_io.write`); exits with the error on failure."""
    arrays = {k: v.detach().to(torch.float32).cpu().numpy() for k, v in tensors.items()}
    safetensors_io.or_exit(safetensors_io.write, path, arrays, metadata)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", nargs="?", help="torchvision VGG19 checkpoint (.pth)")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--torchvision", action="store_true",
                    help="take the weights from torchvision.models.vgg19(IMAGENET1K_V1)")
    ap.add_argument("--keep-classifier", action="store_true",
                    help="also store classifier.* (tcvc-train ignores them)")
    a = ap.parse_args()
    if a.torchvision == (a.input is not None):
        ap.error("give either a checkpoint file or --torchvision")
    if a.torchvision:
        try:
            import torchvision
        except ImportError:
            sys.exit("error: --torchvision needs the torchvision package (pip install torchvision)")
        sd = torchvision.models.vgg19(weights="IMAGENET1K_V1").state_dict()
        source = "torchvision.models.vgg19(weights=IMAGENET1K_V1)"
    else:
        if not os.path.isfile(a.input):
            sys.exit(f"error: {a.input} does not exist")
        sd = load_state_dict(a.input)
        source = os.path.basename(a.input)

    out = {}
    for name, shape in expected_shapes().items():
        if name not in sd:
            sys.exit(f"error: {source} has no tensor `{name}`; is it a torchvision VGG19 "
                     f"(not VGG16 or a VGG with batch norm)?")
        if list(sd[name].shape) != shape:
            sys.exit(f"error: `{name}` in {source} has shape {list(sd[name].shape)}, "
                     f"torchvision VGG19 has {shape}")
        out[name] = sd[name]
    if a.keep_classifier:
        out.update({k: v for k, v in sd.items() if k.startswith("classifier.")})
    write_safetensors(a.output, out, {"source": source, "format": "torchvision-vgg19"})
    print(f"wrote {a.output}: {len(out)} tensors from {source}")


if __name__ == "__main__":
    main()
