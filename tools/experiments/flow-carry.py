#!/usr/bin/env python3
"""The prototype of the keyframe carry's fourth step (built since: tcvc-core/src/model/flow.rs).

    .venv/bin/python tools/experiments/flow-carry.py CLIP_DIR... [--every 24] [--fb 3]
                     [--preset ultrafast|fast|medium] [--work DIR (runs/flow-carry)]

Each clip (a corpus clip folder: PNG frames, its cuts in the corpus's manifest.json) goes through
`tcvclineart ! tcvccolorize output-mode=fill keyframe-location=…` with every N-th original frame
as an artist keyframe (the built plugin of target/release, `threads=1`), and the line art and the
output are kept. Then, inside each shot from its first keyframe on, every frame's output is
replaced by the previous frame's (replaced) output moved along OpenCV's DIS optical flow
(`--preset`, MEDIUM by default) between the two frames' line art (softened, σ 1.5), except on
the `fill` band (the lines dilated by one pixel) and where the flow there and back misses by
`--fb` pixels or more, which keep the element's output. Prints the mean PSNR of the frames that
are not keyframes, per clip: the element's, the flow's with every pixel moved (`warp`) and with
the check (`warp_fb`).

Measured (sixth session of 2026-12-06, keys every 24): the corpus's seed 0 validation + chain
clips 23.78 → 24.13 dB (every clip higher, +0.16 to +0.69); seed 7's (`tools/corpus.py build
--seed 7`) 24.75 → 25.48 (every clip higher, +0.22 to +1.85); with `--preset fast` seed 0's gain
is +0.15. Moving characters keep the keyframe's colours longer; the flow smears at occlusions.
One flow, one thread: MEDIUM 13.8 ms at 384×216, 45 at 640×360, 176 at 1280×720; FAST 3.0 /
8.7 / 38 (two flows a frame). Built in (seventh session, docs/model-card.md stage 16) with the
moved output fed back to the network and two more rules (nothing from outside the frame, nothing
read from the lines): +0.47 / +0.89 dB on the same clips.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

import cv2
import numpy as np
from scipy import ndimage as nd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SQ1 = np.ones((3, 3), bool)
DIS = None


def dump(clip, out, every):
    """The clip's frames, line art and element output (keys: every `every`-th original)."""
    keys = os.path.join(out, 'key')
    os.makedirs(keys, exist_ok=True)
    frames = sorted(glob.glob(os.path.join(clip, '*.png')))
    for i in range(0, len(frames), every):
        subprocess.run(['cp', frames[i], os.path.join(keys, f'{i:05d}.png')], check=True)
    h, w = cv2.imread(frames[0]).shape[:2]
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, 'target', 'release'),
               OMP_WAIT_POLICY='passive')
    src = (f'multifilesrc location={clip}/%05d.png index=0 caps=image/png,framerate=24/1 ! pngdec '
           '! videoconvert ! video/x-raw,format=RGB ! tee name=t ')
    pipe = (src + f't. ! queue ! filesink location={out}/orig.raw '
            't. ! queue ! tcvclineart ! tee name=l '
            f'l. ! queue ! videoconvert ! video/x-raw,format=GRAY8 ! filesink location={out}/line.raw '
            f'l. ! queue ! tcvccolorize threads=1 output-mode=fill keyframe-location={keys}/%05d.png '
            f'! videoconvert ! video/x-raw,format=RGB ! filesink location={out}/fill.raw')
    subprocess.run(['gst-launch-1.0', '-q'] + pipe.split(), check=True, env=env)

    def read(name, c):
        stride = (w * c + 3) // 4 * 4
        a = np.fromfile(os.path.join(out, name + '.raw'), np.uint8)
        n = a.size // (stride * h)
        return a[:n * stride * h].reshape(n, h, stride)[:, :, :w * c].reshape(n, h, w, c)

    return read('orig', 3), read('line', 1)[..., 0], read('fill', 3)


def flow(a, b):
    """For each pixel of line image `a`, the offset to its match in `b` (DIS, `--preset`)."""
    soft = lambda x: cv2.GaussianBlur(x, (0, 0), 1.5)
    return DIS.calc(soft(a), soft(b), None)


def remap(img, f):
    h, w = f.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img.astype(np.float32), gx + f[..., 0], gy + f[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('clips', nargs='+')
    ap.add_argument('--every', type=int, default=24)
    ap.add_argument('--fb', type=float, default=3.0)
    ap.add_argument('--preset', choices=('ultrafast', 'fast', 'medium'), default='medium')
    ap.add_argument('--work', default=os.path.join(ROOT, 'runs', 'flow-carry'))
    args = ap.parse_args()
    global DIS
    DIS = cv2.DISOpticalFlow_create(getattr(cv2, f'DISOPTICAL_FLOW_PRESET_{args.preset.upper()}'))
    table = {}
    for clip in args.clips:
        clip = os.path.abspath(clip)
        name = os.path.basename(clip)
        manifest = json.load(open(os.path.join(os.path.dirname(os.path.dirname(clip)),
                                               'manifest.json')))
        cuts = next((set(c['shots']) for c in manifest['clips'] if c['name'] == name), {0})
        o, l, f = dump(clip, os.path.join(args.work, name), args.every)
        keys = set(range(0, len(o), args.every))
        scores = {'element': [], 'warp': [], 'warp_fb': []}
        prev = {k: None for k in scores}
        keyed = False
        for t in range(len(o)):
            keyed = (keyed and t not in cuts) or t in keys
            band = nd.binary_dilation(l[t] <= 127, SQ1)
            if keyed and t not in keys:
                fw = flow(l[t], l[t - 1])
                back = remap(np.dstack([flow(l[t - 1], l[t]), np.zeros(l[t].shape, np.float32)]),
                             fw)[..., :2]
                miss = np.hypot(*(fw + back).transpose(2, 0, 1)) >= args.fb
            for k in scores:
                if t in keys:
                    prev[k] = o[t].astype(np.float64)
                    continue
                if k == 'element' or not keyed:
                    prev[k] = f[t].astype(np.float64)
                else:
                    keep = band | miss if k == 'warp_fb' else band
                    prev[k] = np.where(keep[..., None], f[t], remap(prev[k], fw))
                scores[k].append(psnr(prev[k], o[t]))
        table[name] = {k: float(np.mean(v)) for k, v in scores.items()}
        print(name, ' '.join(f'{k} {v:.2f}' for k, v in table[name].items()), flush=True)
    print('mean', ' '.join(f'{k} {np.mean([r[k] for r in table.values()]):.3f}'
                           for k in ('element', 'warp', 'warp_fb')))


if __name__ == '__main__':
    sys.exit(main())
