"""Peer check of tcvclineart against scikit-image.

Usage: python canny_peer.py DIR
DIR holds pairs NAME.grey.pgm (the grey input, 8-bit) and NAME.lines.pgm (the element's line
art: 0 = line, 255 = background). For each pair this prints one line
    NAME F1 LINES_ELEMENT LINES_SKIMAGE
where F1 compares the element's lines with skimage.feature.canny(grey / 255, sigma=1) (default
thresholds) at 1 px tolerance: a line pixel counts as matched when the other map has a line
within its 3x3 neighbourhood. Two empty maps give F1 = 1.
"""
import pathlib
import sys

import numpy as np
from scipy import ndimage
from skimage import feature


def read_pgm(path):
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P5", path
    w, h, maxval = int(parts[1]), int(parts[2]), int(parts[3])
    assert maxval == 255, path
    return np.frombuffer(parts[4], dtype=np.uint8, count=w * h).reshape(h, w)


def f1(a, b):
    if a.sum() == 0 and b.sum() == 0:
        return 1.0
    k = np.ones((3, 3), bool)
    a_d = ndimage.binary_dilation(a, k)
    b_d = ndimage.binary_dilation(b, k)
    precision = (a & b_d).sum() / max(a.sum(), 1)
    recall = (b & a_d).sum() / max(b.sum(), 1)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def main():
    d = pathlib.Path(sys.argv[1])
    for g in sorted(d.glob("*.grey.pgm")):
        name = g.name[: -len(".grey.pgm")]
        grey = read_pgm(g)
        ours = read_pgm(d / f"{name}.lines.pgm") == 0
        ref = feature.canny(grey / 255.0, sigma=1)
        print(f"{name} {f1(ours, ref):.6f} {int(ours.sum())} {int(ref.sum())}")


if __name__ == "__main__":
    main()
