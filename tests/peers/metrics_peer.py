#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer computation of the metrics of ``src/metrics`` with scikit-image and NumPy.

Reads two raw video files of the same format and size -- the chain under test and the
reference -- and prints one JSON document on stdout with, per frame:

* ``ssim_gaussian``: ``skimage.metrics.structural_similarity(test, ref, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255)`` per plane, and ``all``, the plane values
  weighted by plane area (the Rust ``SsimWindow::Gaussian`` definition);
* ``psnr`` (NumPy, FFmpeg's definitions): per plane ``mse`` and ``psnr``, ``mse_avg`` (plane MSEs
  weighted by plane area) and ``psnr_avg``;
* ``temporal`` (NumPy, from frame 1 on, ``null`` for frame 0): ``temporal_error`` = mean
  |(X_t - X_t-1) - (R_t - R_t-1)|, ``flicker`` = mean |X_t - X_t-1|, ``reference_flicker`` = mean
  |R_t - R_t-1|, ``static_flicker`` = mean |X_t - X_t-1| over the samples with
  |R_t - R_t-1| <= threshold (``null`` if there is none), ``samples``, ``static_samples``; pooled
  over every sample of every plane.

JSON has no infinity: an infinite PSNR is written ``null``.

Usage::

    metrics_peer.py --format FMT --size WxH TEST.raw REF.raw
                    [--frames N] [--skip K] [--static-threshold T] [--no-ssim] [--indent N]

``FMT`` is one of ``gray``, ``yuv420p``, ``yuv422p``, ``yuv444p`` (planes Y, U, V; chroma of
``ceil(W/2)`` x ``ceil(H/2)`` / ``ceil(W/2)`` x ``H``), ``nv12`` (Y, then U and V interleaved at
``ceil(W/2)`` x ``ceil(H/2)``), ``gbrp`` (planes G, B, R as FFmpeg stores
them, reported as R, G, B), ``rgb24``, ``bgr24``, ``rgba``, ``bgra`` (components reported as R, G,
B[, A]), ``rgbx``, ``bgrx`` (the padding byte is ignored). Rows are packed (no padding). ``--skip``
frames are skipped at the start of both files and at most ``--frames`` frames are compared (default:
all frames of the shorter file). Output::

    {"format": "yuv420p", "width": 480, "height": 270, "planes": ["Y", "U", "V"],
     "plane_sizes": [[480, 270], [240, 135], [240, 135]], "static_threshold": 2,
     "frames": [{"index": 0, "ssim_gaussian": {"planes": [...], "all": ...},
                 "psnr": {"planes": [{"mse": ..., "psnr": ...}, ...], "mse_avg": ...,
                          "psnr_avg": ...},
                 "temporal": null}, ...]}

``index`` counts from the start of the files (``--skip`` included). ``ssim_gaussian`` is absent
with ``--no-ssim``.
"""

import argparse
import json
import math
import sys

import numpy as np

# format: (plane names, kind, layout)
#   kind "planar": layout = list of (width divisor, height divisor) per stored plane,
#                  order = permutation from stored plane order to reported order.
#   kind "packed": layout = (bytes per pixel, offsets of the reported components).
FORMATS = {
    "gray": (["Y"], "planar", [(1, 1)], [0]),
    "yuv420p": (["Y", "U", "V"], "planar", [(1, 1), (2, 2), (2, 2)], [0, 1, 2]),
    "yuv422p": (["Y", "U", "V"], "planar", [(1, 1), (2, 1), (2, 1)], [0, 1, 2]),
    "yuv444p": (["Y", "U", "V"], "planar", [(1, 1), (1, 1), (1, 1)], [0, 1, 2]),
    "nv12": (["Y", "U", "V"], "nv12", None, [0, 1, 2]),
    # 10 bits per sample, little-endian 16-bit words; p010le keeps them in the high bits and is
    # compared as 16-bit samples, as FFmpeg compares it.
    "yuv420p10le": (["Y", "U", "V"], "planar16", [(1, 1), (2, 2), (2, 2)], [0, 1, 2]),
    "yuv422p10le": (["Y", "U", "V"], "planar16", [(1, 1), (2, 1), (2, 1)], [0, 1, 2]),
    "p010le": (["Y", "U", "V"], "p010", None, [0, 1, 2]),
    "gbrp": (["R", "G", "B"], "planar", [(1, 1), (1, 1), (1, 1)], [2, 0, 1]),
    "rgb24": (["R", "G", "B"], "packed", 3, [0, 1, 2]),
    "bgr24": (["R", "G", "B"], "packed", 3, [2, 1, 0]),
    "rgba": (["R", "G", "B", "A"], "packed", 4, [0, 1, 2, 3]),
    "bgra": (["R", "G", "B", "A"], "packed", 4, [2, 1, 0, 3]),
    "rgbx": (["R", "G", "B"], "packed", 4, [0, 1, 2]),
    "bgrx": (["R", "G", "B"], "packed", 4, [2, 1, 0]),
}


def ceil_div(a, b):
    return -(-a // b)


def frame_layout(fmt, width, height):
    """Returns (frame size in bytes, function bytes -> list of 2-D uint8 planes, plane sizes)."""
    names, kind, layout, order = FORMATS[fmt]
    if kind == "planar16":
        sizes = [(ceil_div(width, dw), ceil_div(height, dh)) for dw, dh in layout]
        frame_bytes = 2 * sum(w * h for w, h in sizes)

        def split16(buf):
            words = np.frombuffer(buf, "<u2", frame_bytes // 2)
            planes, pos = [], 0
            for w, h in sizes:
                planes.append(words[pos:pos + w * h].reshape(h, w))
                pos += w * h
            return planes

        return frame_bytes, split16, sizes
    if kind == "p010":
        cw, ch = ceil_div(width, 2), ceil_div(height, 2)
        sizes = [(width, height), (cw, ch), (cw, ch)]
        frame_bytes = 2 * (width * height + 2 * cw * ch)

        def split_p010(buf):
            # As FFmpeg reads p010le (converted to yuv420p16le): 16-bit, padding bits cleared.
            words = np.frombuffer(buf, "<u2", frame_bytes // 2) & 0xFFC0
            y = words[: width * height].reshape(height, width)
            uv = words[width * height:].reshape(ch, cw, 2)
            return [y, np.ascontiguousarray(uv[:, :, 0]), np.ascontiguousarray(uv[:, :, 1])]

        return frame_bytes, split_p010, sizes
    if kind == "nv12":
        cw, ch = ceil_div(width, 2), ceil_div(height, 2)
        sizes = [(width, height), (cw, ch), (cw, ch)]
        frame_bytes = width * height + 2 * cw * ch

        def split_nv12(buf):
            y = np.frombuffer(buf, np.uint8, width * height).reshape(height, width)
            uv = np.frombuffer(buf, np.uint8, 2 * cw * ch, width * height).reshape(ch, cw, 2)
            return [y, np.ascontiguousarray(uv[:, :, 0]), np.ascontiguousarray(uv[:, :, 1])]

        return frame_bytes, split_nv12, sizes
    if kind == "planar":
        sizes = [(ceil_div(width, dw), ceil_div(height, dh)) for dw, dh in layout]
        frame_bytes = sum(w * h for w, h in sizes)

        def split(buf):
            planes, pos = [], 0
            for w, h in sizes:
                planes.append(np.frombuffer(buf, np.uint8, w * h, pos).reshape(h, w))
                pos += w * h
            return [planes[i] for i in order]

        return frame_bytes, split, [sizes[i] for i in order]
    bpp = layout
    frame_bytes = width * height * bpp

    def split_packed(buf):
        pixels = np.frombuffer(buf, np.uint8, frame_bytes).reshape(height, width, bpp)
        return [np.ascontiguousarray(pixels[:, :, o]) for o in order]

    return frame_bytes, split_packed, [(width, height)] * len(names)


def read_frames(path, frame_bytes, split, skip, count):
    with open(path, "rb") as f:
        f.seek(skip * frame_bytes)
        n = 0
        while count is None or n < count:
            buf = f.read(frame_bytes)
            if len(buf) < frame_bytes:
                break
            yield split(buf)
            n += 1


def area_weighted(values, sizes):
    total = sum(w * h for w, h in sizes)
    return float(sum(v * (w * h) for v, (w, h) in zip(values, sizes)) / total)


def finite_or_none(v):
    return v if math.isfinite(v) else None


def peak(fmt):
    """The largest sample value: 1023 for the planar 10-bit formats, 65535 for p010le (read as
    16-bit, as FFmpeg's filters read it), else 255."""
    return {"planar16": 1023, "p010": 65535}.get(FORMATS[fmt][1], 255)


PEAK = 255


def psnr_of(mse):
    return math.inf if mse == 0 else 10.0 * math.log10(float(PEAK) * PEAK / mse)


def psnr_figures(test, ref, sizes):
    mses = []
    for a, b in zip(test, ref):
        d = a.astype(np.int64) - b.astype(np.int64)
        mses.append(float((d * d).sum()) / d.size)
    mse_avg = area_weighted(mses, sizes)
    return {
        "planes": [{"mse": m, "psnr": finite_or_none(psnr_of(m))} for m in mses],
        "mse_avg": mse_avg,
        "psnr_avg": finite_or_none(psnr_of(mse_avg)),
    }


def ssim_figures(test, ref, sizes):
    from skimage.metrics import structural_similarity

    values = [
        float(
            structural_similarity(
                a,
                b,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=PEAK,
            )
        )
        for a, b in zip(test, ref)
    ]
    return {"planes": values, "all": area_weighted(values, sizes)}


def temporal_figures(x_prev, x_cur, r_prev, r_cur, threshold):
    sums = np.zeros(4, np.int64)
    samples = static = 0
    if PEAK != 255:
        # Deep samples: differences in 8-bit units (x 255 / peak), summed in float.
        sums = np.zeros(4, np.float64)
        scale = 255.0 / PEAK
    for xp, xc, rp, rc in zip(x_prev, x_cur, r_prev, r_cur):
        if PEAK != 255:
            dx = (xc.astype(np.float64) - xp.astype(np.float64)) * scale
            dr = (rc.astype(np.float64) - rp.astype(np.float64)) * scale
            adx = np.abs(dx)
            mask = np.abs(dr) <= threshold
            sums += [np.abs(dx - dr).sum(), adx.sum(), np.abs(dr).sum(), adx[mask].sum()]
            samples += dx.size
            static += int(mask.sum())
            continue
        dx = xc.astype(np.int16) - xp.astype(np.int16)
        dr = rc.astype(np.int16) - rp.astype(np.int16)
        adx = np.abs(dx).astype(np.int64)
        mask = np.abs(dr) <= threshold
        sums += [
            np.abs(dx - dr).astype(np.int64).sum(),
            adx.sum(),
            np.abs(dr).astype(np.int64).sum(),
            adx[mask].sum(),
        ]
        samples += dx.size
        static += int(mask.sum())
    return {
        "temporal_error": float(sums[0]) / samples,
        "flicker": float(sums[1]) / samples,
        "reference_flicker": float(sums[2]) / samples,
        "static_flicker": float(sums[3]) / static if static else None,
        "samples": samples,
        "static_samples": static,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--format", required=True, choices=sorted(FORMATS))
    p.add_argument("--size", required=True, help="WIDTHxHEIGHT")
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--skip", type=int, default=0)
    p.add_argument("--static-threshold", type=int, default=2)
    p.add_argument("--no-ssim", action="store_true")
    p.add_argument("--indent", type=int, default=None)
    p.add_argument("test")
    p.add_argument("ref")
    args = p.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        p.error(f"bad --size {args.size!r}, expected WIDTHxHEIGHT")

    global PEAK
    PEAK = peak(args.format)
    frame_bytes, split, sizes = frame_layout(args.format, width, height)
    tests = read_frames(args.test, frame_bytes, split, args.skip, args.frames)
    refs = read_frames(args.ref, frame_bytes, split, args.skip, args.frames)
    for path in (args.test, args.ref):
        try:
            open(path, "rb").close()
        except OSError as e:
            p.error(f"cannot read {path}: {e.strerror}")
    frames, prev = [], None
    for i, (x, r) in enumerate(zip(tests, refs)):
        out = {"index": args.skip + i}
        if not args.no_ssim:
            out["ssim_gaussian"] = ssim_figures(x, r, sizes)
        out["psnr"] = psnr_figures(x, r, sizes)
        out["temporal"] = (
            temporal_figures(prev[0], x, prev[1], r, args.static_threshold) if prev else None
        )
        frames.append(out)
        prev = (x, r)

    json.dump(
        {
            "format": args.format,
            "width": width,
            "height": height,
            "planes": FORMATS[args.format][0],
            "plane_sizes": [list(s) for s in sizes],
            "static_threshold": args.static_threshold,
            "frames": frames,
        },
        sys.stdout,
        indent=args.indent,
        allow_nan=False,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
