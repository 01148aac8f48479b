#!/usr/bin/env python3
"""Convert a reference TCVC generator checkpoint (.pth) to a gst-tcvc model file.

Input: a ``torch.save`` file holding ``{'generator': state_dict}`` (what the
reference ``train.py`` writes) or a bare generator ``state_dict``;
``module.`` prefixes (DataParallel) are stripped.

Output: one safetensors file with the generator weights under the reference
names and ``__metadata__``: ``format=tcvc-generator``, ``format_version=1``,
``channels``, ``res_blocks`` (inferred from the weight shapes),
``input_mode``, ``train_size``, ``provenance``. The safetensors container is
written by ``safetensors_io.py`` (numpy alone), so no extra Python package is
needed.

Every key and shape is validated against the architecture; any problem is
reported with a message saying what is wrong, and the exit status is 1.

Usage:
    convert_reference.py IN.pth OUT.safetensors --input-mode lineart
        [--train-size 256x256] [--provenance TEXT] [--fp16] [--trust-pickle]
"""

import argparse
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402  (the tools' one safetensors reader and writer)

FORMAT_NAME = "tcvc-generator"
FORMAT_VERSION = "1"
FP16_MAX = 65504.0


class ConversionError(Exception):
    """A problem with the input checkpoint, reported to the user."""


def expected_specs(c, r):
    """(name, shape) of every generator parameter, in state_dict order."""
    specs = []

    def push(name, w, b):
        specs.append((name + ".weight", tuple(w)))
        specs.append((name + ".bias", (b,)))

    push("encoder.1", (c, 4, 7, 7), c)
    push("encoder.4", (2 * c, c, 4, 4), 2 * c)
    push("encoder.7", (4 * c, 2 * c, 4, 4), 4 * c)
    for i in range(r):
        push(f"middle.{i}.conv_block.1", (4 * c, 4 * c, 3, 3), 4 * c)
        push(f"middle.{i}.conv_block.5", (4 * c, 4 * c, 3, 3), 4 * c)
    push("decoder.0", (4 * c, 2 * c, 4, 4), 2 * c)
    push("decoder.3", (2 * c, c, 4, 4), c)
    push("decoder.7", (3, c, 7, 7), 3)
    return specs


def load_state_dict(path, trust_pickle):
    if not os.path.exists(path):
        raise ConversionError(f"input checkpoint `{path}` does not exist; check the path")
    if os.path.getsize(path) == 0:
        raise ConversionError(f"input checkpoint `{path}` is empty (0 bytes)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as e:  # torch raises many types for bad files
        hint = ("" if trust_pickle else
                " If the file is a trusted checkpoint holding extra Python objects, "
                "retry with --trust-pickle.")
        raise ConversionError(
            f"cannot read `{path}` as a PyTorch checkpoint: {e}.{hint}") from e
    if isinstance(obj, dict) and "discriminator" in obj and "generator" not in obj:
        raise ConversionError(
            f"`{path}` is a discriminator checkpoint ({{'discriminator': ...}}, the reference "
            "netD_weights_epoch_N.pth); convert the generator checkpoint netG_weights_epoch_N.pth")
    if isinstance(obj, dict) and "generator" in obj:
        obj = obj["generator"]
    elif isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if not isinstance(obj, dict):
        raise ConversionError(
            f"`{path}` holds a {type(obj).__name__}, expected {{'generator': state_dict}} "
            "or a generator state_dict")
    sd = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise ConversionError(f"state_dict key {k!r} is not a string")
        name = k
        while name.startswith("module."):
            name = name[len("module."):]
        if not torch.is_tensor(v):
            raise ConversionError(
                f"state_dict entry `{k}` is a {type(v).__name__}, not a tensor; "
                "is this a generator checkpoint?")
        if name in sd:
            raise ConversionError(f"duplicate key `{name}` after stripping `module.` prefixes")
        sd[name] = v
    if not sd:
        raise ConversionError(f"`{path}` contains an empty state_dict")
    return sd


def infer_config(sd):
    w = sd.get("encoder.1.weight")
    if w is None:
        disc = [k for k in sd if re.match(r"conv\d\.0\.weight", k)]
        hint = (" It looks like a discriminator checkpoint." if disc else "")
        raise ConversionError(
            "missing tensor `encoder.1.weight`, cannot infer the architecture; "
            f"this is not a TCVC generator state_dict.{hint}")
    if w.dim() != 4 or tuple(w.shape[1:]) != (4, 7, 7):
        raise ConversionError(
            f"tensor `encoder.1.weight` has shape {list(w.shape)}, expected [C, 4, 7, 7]; "
            "this is not a TCVC generator (4-channel input)")
    c = int(w.shape[0])
    idx = set()
    for k in sd:
        m = re.match(r"middle\.(\d+)\.", k)
        if m:
            idx.add(int(m.group(1)))
    r = len(idx)
    if idx != set(range(r)):
        missing = sorted(set(range(max(idx) + 1)) - idx)
        raise ConversionError(
            f"residual blocks are not numbered 0..N-1: missing middle.{missing[0]}.*")
    return c, r


def validate(sd, c, r):
    specs = expected_specs(c, r)
    names = {n for n, _ in specs}
    for name, shape in specs:
        t = sd.get(name)
        if t is None:
            raise ConversionError(
                f"missing tensor `{name}` (channels={c}, res_blocks={r} inferred from "
                "encoder.1.weight and the middle.* keys); the checkpoint is incomplete")
        if tuple(t.shape) != shape:
            raise ConversionError(
                f"tensor `{name}` has shape {list(t.shape)}, expected {list(shape)} for "
                f"channels={c}, res_blocks={r}")
        if not t.is_floating_point():
            raise ConversionError(f"tensor `{name}` has dtype {t.dtype}, expected float")
        if not torch.isfinite(t).all():
            raise ConversionError(f"tensor `{name}` contains NaN or Inf; the run diverged")
    extra = sorted(set(sd) - names)
    if extra:
        raise ConversionError(
            f"unexpected tensor `{extra[0]}` ({len(extra)} unexpected in total); "
            "the checkpoint is not the reference generator architecture")
    return specs


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, np.ndarray little-endian) in file order; written atomically."""
    try:
        safetensors_io.write(path, tensors, metadata)
    except safetensors_io.SafetensorsError as e:
        raise ConversionError(str(e)) from e


def parse_train_size(s):
    m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", s)
    if not m or int(m.group(1)) == 0 or int(m.group(2)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid train size `{s}`, expected WIDTHxHEIGHT such as 256x256")
    return f"{int(m.group(1))}x{int(m.group(2))}"


def convert(args):
    sd = load_state_dict(args.input, args.trust_pickle)
    c, r = infer_config(sd)
    specs = validate(sd, c, r)
    out = []
    for name, _ in specs:
        t = sd[name].detach().to(torch.float32).contiguous()
        if args.fp16:
            amax = float(t.abs().max()) if t.numel() else 0.0
            if amax > FP16_MAX:
                raise ConversionError(
                    f"tensor `{name}` has |value| up to {amax}, beyond the F16 range; "
                    "convert without --fp16")
            arr = t.to(torch.float16).numpy().astype("<f2", copy=False)
        else:
            arr = t.numpy().astype("<f4", copy=False)
        out.append((name, arr))
    provenance = args.provenance
    if provenance is None:
        provenance = f"converted from reference checkpoint {os.path.basename(args.input)}"
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "channels": str(c),
        "res_blocks": str(r),
        "input_mode": args.input_mode,
        "train_size": args.train_size,
        "provenance": provenance,
    }
    write_safetensors(args.output, out, metadata)
    return c, r


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Convert a reference TCVC generator checkpoint to a gst-tcvc model file.")
    p.add_argument("input", help="reference checkpoint (.pth)")
    p.add_argument("output", help="model file to write (.safetensors)")
    p.add_argument("--input-mode", choices=["lineart", "greyscale"], required=True,
                   help="what the first input channel holds during training")
    p.add_argument("--train-size", type=parse_train_size, default="256x256",
                   help="training crop size WIDTHxHEIGHT (default 256x256)")
    p.add_argument("--provenance", default=None, help="free text stored in the file")
    p.add_argument("--fp16", action="store_true", help="store weights as float16")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow arbitrary pickled objects (only for trusted files)")
    args = p.parse_args(argv)
    try:
        c, r = convert(args)
    except ConversionError as e:
        print(f"convert_reference: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: channels={c} res_blocks={r} "
          f"input_mode={args.input_mode} train_size={args.train_size} "
          f"storage={'F16' if args.fp16 else 'F32'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
