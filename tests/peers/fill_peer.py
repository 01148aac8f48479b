"""Peer check of the `fill` output against SciPy.

Usage: python fill_peer.py DIR
DIR holds, per case NAME: NAME.lines.pgm (the line mask: 255 on a line, 0 elsewhere),
NAME.up.f32 (the upsampled prediction, 3 x H x W little-endian float32), NAME.out.f32 (gst-tcvc's
fill output, same layout) and NAME.labels.u32 (gst-tcvc's region labels, H x W, 0 = band).
For each case this prints one line
    NAME W H REGIONS LABELS_EQUAL MAX_ABS_DIFF
computed independently: the band is the line mask dilated by a 3x3 square
(scipy.ndimage.binary_dilation, nothing outside the frame), the regions are
scipy.ndimage.label's 4-connected components of the rest, each painted with the float64 mean of
the prediction over it; the band keeps the prediction; then everything clipped to [0, 1]. Labels are compared as partitions
(both renumbered in order of first appearance).
"""
import pathlib
import sys

import numpy as np
from scipy import ndimage


def read_pgm(path):
    data = path.read_bytes()
    parts = data.split(maxsplit=4)
    assert parts[0] == b"P5", path
    w, h = int(parts[1]), int(parts[2])
    return np.frombuffer(parts[4], dtype=np.uint8, count=w * h).reshape(h, w)


def first_appearance(labels):
    """Renumbers labels > 0 in row-major order of first appearance; 0 stays 0."""
    flat = labels.ravel()
    values, first = np.unique(flat, return_index=True)
    order = values[np.argsort(first)]
    order = order[order != 0]
    lut = np.zeros(int(flat.max()) + 1, np.int64)
    lut[order] = np.arange(1, len(order) + 1)
    return lut[labels]


def main():
    d = pathlib.Path(sys.argv[1])
    for lines_path in sorted(d.glob("*.lines.pgm")):
        name = lines_path.name[: -len(".lines.pgm")]
        lines = read_pgm(lines_path) > 0
        h, w = lines.shape
        up = np.fromfile(d / f"{name}.up.f32", "<f4").reshape(3, h, w).astype(np.float64)
        ours = np.fromfile(d / f"{name}.out.f32", "<f4").reshape(3, h, w)
        our_labels = np.fromfile(d / f"{name}.labels.u32", "<u4").reshape(h, w).astype(np.int64)
        band = ndimage.binary_dilation(lines, np.ones((3, 3), bool))
        labels, n = ndimage.label(~band)
        want = up.copy()
        if n:
            index = np.arange(1, n + 1)
            for c in range(3):
                means = np.concatenate([[0.0], ndimage.mean(up[c], labels, index)])
                want[c][labels > 0] = means[labels][labels > 0]
        want = np.clip(want, 0.0, 1.0)
        equal = bool(np.array_equal(first_appearance(labels), first_appearance(our_labels)))
        diff = float(np.abs(want - ours).max()) if want.size else 0.0
        print(name, w, h, n, int(equal), f"{diff:.3e}")


if __name__ == "__main__":
    main()
