#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer computation of tcvc-eval's trivial baselines with NumPy and scikit-image.

Usage: baselines_peer.py REF_DIR LINEART_DIR

REF_DIR holds the reference frames (PNG, sorted by name), LINEART_DIR the line art of each frame
(grey PNG, black lines on white, the same names). For each baseline -- ``white`` (every pixel 255),
``grey`` (128), ``lineart`` (the line art as R = G = B) and ``mean-colour`` (the clip's mean RGB
over all its frames, rounded) -- prints per frame FFmpeg's ``psnr_avg`` (the PSNR of the mean of
the R, G, B mean squared errors; ``null`` when infinite) and the Gaussian SSIM (scikit-image,
sigma 1.5, population covariance, data range 255, the mean of R, G, B) as one JSON document.
"""
import json
import math
import pathlib
import sys

import cv2
import numpy as np
from skimage.metrics import structural_similarity


def frames(folder, flags):
    files = sorted(pathlib.Path(folder).glob("*.png"))
    return [cv2.imread(str(f), flags) for f in files]


def psnr_avg(x, r):
    mse = np.mean([np.mean((x[..., c].astype(np.float64) - r[..., c]) ** 2) for c in range(3)])
    return None if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim(x, r):
    return float(
        np.mean(
            [
                structural_similarity(
                    x[..., c],
                    r[..., c],
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                    data_range=255,
                )
                for c in range(3)
            ]
        )
    )


def main():
    refs = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames(sys.argv[1], cv2.IMREAD_COLOR)]
    lines = frames(sys.argv[2], cv2.IMREAD_GRAYSCALE)
    mean = np.round(np.mean(np.stack(refs).reshape(-1, 3).astype(np.float64), axis=0))
    outputs = {
        "white": lambda i, r: np.full_like(r, 255),
        "grey": lambda i, r: np.full_like(r, 128),
        "lineart": lambda i, r: np.repeat(lines[i][..., None], 3, axis=2),
        "mean-colour": lambda i, r: np.broadcast_to(mean.astype(np.uint8), r.shape).copy(),
    }
    out = {}
    for name, make in outputs.items():
        xs = [make(i, r) for i, r in enumerate(refs)]
        out[name] = {
            "psnr": [psnr_avg(x, r) for x, r in zip(xs, refs)],
            "ssim": [ssim(x, r) for x, r in zip(xs, refs)],
        }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
