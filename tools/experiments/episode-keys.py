#!/usr/bin/env python3
"""Artist keyframes through `tcvc-episode colorize`, measured as `tcvc-eval --keyframes` measures
the element: the mean PSNR of the written frames against the originals, keyframes left out, a
frame equal to its original counted as 60 dB (docs/model-card.md, stage 17).

    .venv/bin/python tools/experiments/episode-keys.py CLIP_DIR... [--every 24] [--work DIR]
                     [--name NAME] [--element]
                     [-- tcvc-episode colorize options, e.g. --keyframe-backward]

With `--element` the frames go through `tcvclineart ! tcvccolorize` in `gst-launch-1.0` instead,
and the options after `--` are `tcvccolorize` properties (e.g. `keyframe-lookahead=24`).

Each clip (a corpus clip folder of PNG frames) is encoded losslessly once (FFV1, 24 frames/s,
`WORK/CLIP/clip.mkv`), every N-th original frame is copied to `WORK/CLIP/keys/%05d.png`, and
`target/release/tcvc-episode colorize --batch 1 --keyframe-location …` writes its frames to
`WORK/CLIP/NAME/%05d.png`. Prints the mean over all measured frames and each clip's mean.

Measured (first session of 2026-12-07, `--element`): `keyframe-lookahead=24` gives the figures
of `tcvc-episode --keyframe-backward` (model card, stage 18).

Measured (eighth session of 2026-12-06, keys every 24, `--name` carry / back / backflow): the
carry alone gives `tcvc-eval`'s figures for the element to the hundredth (seed 0's validation +
100-frame clips 22.51 dB); `--keyframe-backward --no-keyframe-flow` 23.36, `--keyframe-backward`
23.61 (seed 7's: 23.66 / 24.64 / 24.86; seed 0's test clips 22.82 / 24.40 / 24.66).
"""
import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('clips', nargs='+')
    ap.add_argument('--every', type=int, default=24)
    ap.add_argument('--work', default=os.path.join(ROOT, 'runs', 'episode-keys'))
    ap.add_argument('--name', default='out')
    ap.add_argument('--element', action='store_true',
                    help='run tcvclineart ! tcvccolorize PROPS... in gst-launch-1.0')
    a = ap.parse_args(argv)
    env = dict(os.environ, OMP_WAIT_POLICY='passive',
               GST_PLUGIN_PATH=os.path.join(ROOT, 'target', 'release'))
    every_frame, rows = [], []
    for clip in a.clips:
        clip = clip.rstrip('/')
        name = os.path.basename(clip)
        # The seed's corpus folder keeps clips of two renderings apart.
        tag = hashlib.sha1(os.path.abspath(clip).encode()).hexdigest()[:8]
        work = os.path.join(a.work, f'{tag}-{name}')
        keys = os.path.join(work, 'keys')
        frames = sorted(glob.glob(os.path.join(clip, '*.png')))
        mkv = os.path.join(work, 'clip.mkv')
        if not os.path.exists(mkv):
            os.makedirs(keys, exist_ok=True)
            for i in range(0, len(frames), a.every):
                shutil.copy(frames[i], os.path.join(keys, f'{i:05d}.png'))
            subprocess.run(['ffmpeg', '-loglevel', 'error', '-y', '-framerate', '24', '-i',
                            os.path.join(clip, '%05d.png'), '-c:v', 'ffv1', '-pix_fmt', 'bgr0',
                            mkv + '.part.mkv'], check=True)
            os.replace(mkv + '.part.mkv', mkv)
        out = os.path.join(work, a.name)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        pattern = os.path.join(keys, '%05d.png')
        if a.element:
            cmd = (['gst-launch-1.0', '-q', 'filesrc', f'location={mkv}', '!', 'matroskademux',
                    '!', 'avdec_ffv1', '!', 'videoconvert', '!', 'tcvclineart', '!', 'tcvccolorize',
                    f'keyframe-location={pattern}'] + extra
                   + ['!', 'videoconvert', '!', 'pngenc', 'compression-level=1', '!',
                      'multifilesink', f'location={os.path.join(out, "%05d.png")}'])
        else:
            cmd = ([os.path.join(ROOT, 'target', 'release', 'tcvc-episode'), 'colorize', mkv,
                    '--batch', '1', '--keyframe-location', pattern,
                    '-o', os.path.join(out, '%05d.png')] + extra)
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        psnr = []
        for i, f in enumerate(frames):
            if i % a.every == 0:
                continue
            want = cv2.imread(f).astype(np.float64)
            got = cv2.imread(os.path.join(out, f'{i:05d}.png')).astype(np.float64)
            mse = ((want - got) ** 2).mean()
            psnr.append(60.0 if mse == 0 else min(60.0, 10 * np.log10(255 ** 2 / mse)))
        rows.append((name, float(np.mean(psnr))))
        every_frame += psnr
    print(f'{a.name}: {np.mean(every_frame):.2f} dB over {len(every_frame)} frames')
    for name, p in rows:
        print(f'  {name}: {p:.2f}')


if __name__ == '__main__':
    main()
