#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer of ``tcvclineart`` with OpenCV's Python binding (opencv-python-headless).

Reads raw input frames (``--format``, ``--size``, rows packed) and the element's GRAY8 outputs
(same size, rows packed) and computes, independently of the element's code, the line art its
documentation defines: grey = the Y plane (GRAY8 and YUV formats) or
``(2125 R + 7154 G + 721 B + 5000) // 10000`` (RGB formats, alpha and padding ignored) or
``min((Y10 + 2) >> 2, 255)`` (10-bit formats, P010's samples shifted down first); a
Gaussian blur (σ 1, 9×9, reflect-101 borders); Canny with thresholds 25.5 / 51 on the L2
gradient (3×3 Sobel); lines black (0) on white (255). Prints one JSON document:
``{"frames": [{"differing": N, "pixels": P, "lines_peer": L}, ...]}``.

Usage: lineart_cv_peer.py --format FMT --size WxH INPUT.raw OUTPUT.raw
"""
import argparse
import json

import cv2
import numpy as np

# packed RGB formats: bytes per pixel and offsets of R, G, B
PACKED = {
    "RGB": (3, (0, 1, 2)), "BGR": (3, (2, 1, 0)),
    "RGBx": (4, (0, 1, 2)), "BGRx": (4, (2, 1, 0)), "xRGB": (4, (1, 2, 3)), "xBGR": (4, (3, 2, 1)),
    "RGBA": (4, (0, 1, 2)), "BGRA": (4, (2, 1, 0)), "ARGB": (4, (1, 2, 3)), "ABGR": (4, (3, 2, 1)),
}


def ceil_div(a, b):
    return -(-a // b)


# 10-bit formats: chroma divisors and how far up the 10 bits sit in each 16-bit word
DEEP = {"I420_10LE": ((2, 2), 0), "I422_10LE": ((2, 1), 0), "P010_10LE": ((2, 2), 6)}


def frame_bytes(fmt, w, h):
    if fmt in DEEP:
        (cw, ch), _ = DEEP[fmt]
        return 2 * (w * h + 2 * ceil_div(w, cw) * ceil_div(h, ch))
    if fmt in PACKED:
        return w * h * PACKED[fmt][0]
    if fmt == "GRAY8":
        return w * h
    cw, ch = {"I420": (2, 2), "YV12": (2, 2), "NV12": (2, 2), "NV21": (2, 2), "Y42B": (2, 1),
              "Y444": (1, 1)}[fmt]
    return w * h + 2 * ceil_div(w, cw) * ceil_div(h, ch)


def grey(fmt, buf, w, h):
    if fmt in DEEP:
        shift = DEEP[fmt][1]
        v = np.frombuffer(buf, "<u2", w * h).reshape(h, w).astype(np.uint32) >> shift
        return np.minimum((v + 2) >> 2, 255).astype(np.uint8)
    if fmt in PACKED:
        bpp, (r, g, b) = PACKED[fmt]
        px = np.frombuffer(buf, np.uint8, w * h * bpp).reshape(h, w, bpp).astype(np.uint32)
        return ((2125 * px[:, :, r] + 7154 * px[:, :, g] + 721 * px[:, :, b] + 5000) // 10000).astype(np.uint8)
    return np.frombuffer(buf, np.uint8, w * h).reshape(h, w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--format", required=True)
    p.add_argument("--size", required=True)
    p.add_argument("input")
    p.add_argument("output")
    a = p.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    fb = frame_bytes(a.format, w, h)
    inp = open(a.input, "rb").read()
    out = open(a.output, "rb").read()
    n = len(out) // (w * h)
    assert len(inp) == n * fb, (len(inp), n, fb)
    frames = []
    for k in range(n):
        g = grey(a.format, inp[k * fb:(k + 1) * fb], w, h)
        blur = cv2.GaussianBlur(g, (9, 9), 1.0, sigmaY=1.0, borderType=cv2.BORDER_REFLECT_101)
        edges = cv2.Canny(blur, 25.5, 51.0, apertureSize=3, L2gradient=True)
        want = np.where(edges > 0, 0, 255).astype(np.uint8)
        ours = np.frombuffer(out, np.uint8, w * h, k * w * h).reshape(h, w)
        frames.append({"differing": int((want != ours).sum()), "pixels": w * h,
                       "lines_peer": int((want == 0).sum())})
    print(json.dumps({"frames": frames}))


if __name__ == "__main__":
    main()
