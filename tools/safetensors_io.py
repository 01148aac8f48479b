# SPDX-License-Identifier: MIT
"""The safetensors container, read and written with numpy alone: the one reader and writer of
the Python tools (`convert_reference.py`, `convert_torchvision_vgg19.py`,
`convert_efficientnet_lite0.py`, `aoti_package.py`, `experiments/mix-weights.py`), so that no
tool needs the `safetensors` package.

The format: an 8-byte little-endian header length, a JSON header (padded here with spaces to a
multiple of 8) mapping each tensor's name to its dtype, shape and byte offsets, and
`__metadata__` to a dict of strings; then the raw little-endian tensor data.

Tensors keep their storage type: F16, F32 and F64 as the numpy dtypes of the same width; BF16,
which numpy lacks, as raw `uint16` words ([`bf16_to_f32`] widens them exactly). `read` names
each tensor's type in its third value, so a tool that rewrites a file can keep it.
"""

import json
import os
import sys

import numpy as np

NUMPY = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
         "BF16": np.dtype("<u2")}
NAMES = {np.dtype("<f2"): "F16", np.dtype("<f4"): "F32", np.dtype("<f8"): "F64"}


class SafetensorsError(ValueError):
    """A file that is not a safetensors file this module reads, or one it cannot write."""


def read(path):
    """`(tensors, metadata, dtypes)` of the safetensors file `path`: name → read-only numpy
    array in its storage type (BF16 as raw `uint16`, see [`bf16_to_f32`]), the `__metadata__`
    dict (empty when absent) and name → safetensors dtype (`"F16"`, ...). Raises
    `SafetensorsError` naming the file and the problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SafetensorsError(f"cannot read {path}: {e.strerror}") from e
    if len(raw) < 8:
        raise SafetensorsError(f"{path} is not a safetensors file (only {len(raw)} bytes)")
    n = int.from_bytes(raw[:8], "little")
    if 8 + n > len(raw):
        raise SafetensorsError(
            f"{path} is not a safetensors file (its header length {n} exceeds the file)")
    try:
        header = json.loads(raw[8:8 + n])
        if not isinstance(header, dict):
            raise TypeError("the header is not a JSON object")
        body = memoryview(raw)[8 + n:]
        meta = header.pop("__metadata__", None) or {}
        tensors, dtypes = {}, {}
        for name, h in header.items():
            dtype = h["dtype"]
            if dtype not in NUMPY:
                raise SafetensorsError(
                    f"{path}: tensor {name} is {dtype}; only {', '.join(sorted(NUMPY))} are read")
            a, b = h["data_offsets"]
            shape = [int(d) for d in h["shape"]]
            if not 0 <= a <= b <= len(body) or b - a != NUMPY[dtype].itemsize * int(np.prod(shape)):
                raise SafetensorsError(
                    f"{path}: tensor {name}'s offsets {a}..{b} do not fit its shape {shape} "
                    f"and the file")
            tensors[name] = np.frombuffer(body[a:b], NUMPY[dtype]).reshape(shape)
            dtypes[name] = dtype
    except SafetensorsError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise SafetensorsError(f"{path} is not a valid safetensors file ({e})") from e
    return tensors, meta, dtypes


def or_exit(call, *args, who="error"):
    """`call(*args)` ([`read`] or [`write`]); a `SafetensorsError` ends the program with the
    one line `WHO: MESSAGE` (exit status 1), as a command-line tool reports a bad file."""
    try:
        return call(*args)
    except SafetensorsError as e:
        sys.exit(f"{who}: {e}")


def bf16_to_f32(words):
    """BF16 tensor data (raw `uint16` words, as [`read`] gives them) widened to float32
    exactly."""
    return (np.asarray(words, dtype="<u2").astype(np.uint32) << 16).view(np.float32)


def write(path, tensors, metadata):
    """Writes `tensors` (a dict, written in sorted name order, or `(name, array)` pairs, written
    in their order; arrays of float16, float32 or float64, stored as F16 / F32 / F64) with the
    `__metadata__` `metadata` (a dict of strings) to `path`, atomically: a temporary file beside
    it, flushed to disk, then renamed over it, so that `path` is the old file or the whole new
    one. Raises `SafetensorsError` on an unsupported array type or an I/O error, with nothing
    left behind."""
    items = sorted(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header = {"__metadata__": dict(metadata)}
    offset, blobs = 0, []
    for name, arr in items:
        arr = np.asarray(arr)
        dtype = NAMES.get(arr.dtype.newbyteorder("<"))
        if dtype is None:
            raise SafetensorsError(f"tensor {name}: cannot store numpy {arr.dtype} "
                                   "(float16, float32 or float64 expected)")
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise SafetensorsError(f"cannot write {path}: {e.strerror or e}") from e
