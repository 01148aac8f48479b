#!/usr/bin/env python3
"""PSNR by frame index along the long shots of several renderings (model card, stage 22).

    tools/experiments/drift-renderings.py OUT.png NAME=DIR [NAME=DIR ...]

Each DIR is the --out folder of `tools/release-check.py MODEL --corpus A --corpus B ...` (one
sub-folder of tcvc-eval JSON files per rendering). For each model the picture draws the mean
over every long shot of the PSNR at each frame index, chained (chain.json) and frame by frame
(chain-blank.json); the table printed gives the means over frames 0-9, 45-54, 90-99 and all.
A chain that drifts falls away from its frame-by-frame line as the shots go on.
"""
import glob
import json
import sys

from PIL import Image, ImageDraw

COLOURS = [((200, 30, 30), (240, 150, 150)), ((30, 60, 200), (150, 170, 240)),
           ((20, 140, 60), (140, 210, 160)), ((120, 60, 160), (200, 160, 220))]


def curve(root, name):
    """Mean PSNR at each frame index over the shots in ROOT/*/NAME, and the number of shots."""
    acc = []
    for path in sorted(glob.glob(f'{root}/*/{name}')):
        with open(path) as f:
            report = json.load(f)
        for video in report['models'][0]['videos']:
            for fr in video['per_frame']:
                while len(acc) <= fr['frame']:
                    acc.append([])
                acc[fr['frame']].append(fr['psnr'])
    if not acc:
        sys.exit(f'drift-renderings: no {root}/*/{name}: give release-check --out folders')
    return [sum(a) / len(a) for a in acc], len(acc[0])


def main():
    if len(sys.argv) < 3 or any('=' not in a for a in sys.argv[2:]):
        sys.exit(__doc__)
    out, pairs = sys.argv[1], [a.split('=', 1) for a in sys.argv[2:]]
    series = []
    for k, (label, root) in enumerate(pairs):
        for what, name, colour in (('chain', 'chain.json', COLOURS[k % 4][0]),
                                   ('frame by frame', 'chain-blank.json', COLOURS[k % 4][1])):
            c, shots = curve(root, name)
            series.append((f'{label}, {what}', c, colour))
            seg = lambda a, b: sum(c[a:b]) / len(c[a:b])
            print(f'{label}, {what}: {shots} shots; frames 0-9 {seg(0, 10):.2f}, 45-54 '
                  f'{seg(45, 55):.2f}, 90-99 {seg(90, 100):.2f}, all {seg(0, len(c)):.2f} dB')
    n = max(len(c) for _, c, _ in series)
    lo = min(min(c) for _, c, _ in series)
    hi = max(max(c) for _, c, _ in series)
    lo, hi = int(lo * 2) / 2, int(hi * 2 + 1) / 2
    w, h, left, right, top, bottom = 900, 460, 60, 20, 40, 50
    im = Image.new('RGB', (w, h), 'white')
    d = ImageDraw.Draw(im)
    x = lambda i: left + (w - left - right) * i / max(n - 1, 1)
    y = lambda v: top + (h - top - bottom) * (hi - v) / (hi - lo)
    d.rectangle([left, top, w - right, h - bottom], outline='black')
    v = lo
    while v <= hi + 1e-9:
        d.line([left, y(v), w - right, y(v)], fill=(225, 225, 225))
        d.text((left - 34, y(v) - 6), f'{v:.1f}', fill='black')
        v += 0.5
    for i in range(0, n, 10):
        d.text((x(i) - 6, h - bottom + 6), str(i), fill='black')
    d.text((w // 2 - 60, h - 22), 'frame index in the shot', fill='black')
    d.text((left, 10), 'PSNR dB by frame index, mean over the long shots of every rendering',
           fill='black')
    for k, (label, c, colour) in enumerate(series):
        d.line([(x(i), y(v)) for i, v in enumerate(c)], fill=colour, width=2)
        d.line([left + 12, top + 12 + 14 * k, left + 40, top + 12 + 14 * k], fill=colour, width=3)
        d.text((left + 46, top + 6 + 14 * k), label, fill='black')
    im.save(out, optimize=True)


if __name__ == '__main__':
    main()
