#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Deterministic renderer of a 2D cel-animation training corpus for tcvc-train.

    tools/corpus.py build --out DIR [--seed 0] [--size small|full] [--height H] [--cache DIR]

Clips are composed from open material reachable through package registries:
  * Debian `openclipart-svg` (public domain): cartoon characters (people, animals) and props
    (trees, houses, vehicles, plants) and a few full scenes, rendered with `rsvg-convert`
    (Debian `librsvg2-bin`);
  * the Kenney animated characters (CC0) inside the PyPI `arcade==3.3.3` wheel (walk cycles);
  * backgrounds drawn here with cv2 (flat sky / ground / hills / rooms with dark outlines).
Splits are made by ASSET: validation and test clips use characters, props and scenes that no
training clip uses. See docs/corpus.md.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

TOOL_VERSION = "2"
SELECT_VERSION = "3"
with open(os.path.abspath(__file__), "rb") as _f:  # a clip is re-rendered when this file changes
    CODE_HASH = hashlib.sha256(_f.read()).hexdigest()  # bump when the asset checks change
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

OPENCLIPART_DIR = "/usr/share/openclipart/svg"
OPENCLIPART_PKG = "openclipart-svg"
OPENCLIPART_LICENCE = "Public domain (Creative Commons Public Domain Dedication; /usr/share/doc/openclipart-svg/copyright)"
ARCADE_VERSION = "3.3.3"
ARCADE_WHEEL = f"arcade-{ARCADE_VERSION}-py3-none-any.whl"
ARCADE_SHA256 = "25f4e0e5b8bcbe7a7d087c0a23b19e9f423b0c70ec00945c8712c9a3e541ebd2"
ARCADE_PREFIX = "arcade/resources/assets/images/animated_characters/"
ARCADE_LICENCE = "CC0-1.0 (Kenney, www.kenney.nl; arcade/resources/assets/images/License.txt)"
KENNEY_SPLIT = {  # whole characters held out
    "female_adventurer": "train", "male_adventurer": "train", "male_person": "train",
    "robot": "train", "female_person": "val", "zombie": "test",
}
PROC_LICENCE = "MIT (drawn by tools/corpus.py, gst-tcvc)"
# Never used anywhere (kept for an outside check).
EXCLUDED_RE = re.compile(r"prologue_kid|tupi", re.I)

PNG_PARAMS = [1, 6]  # cv2.IMWRITE_PNG_COMPRESSION, 6 (set below with the real constant)


class Fail(Exception):
    """A one-line error for the user; exit 2."""


def die(msg):
    print(f"corpus.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import numpy as np
    import cv2
except ImportError as e:  # pragma: no cover
    die(f"{e}: run `make setup` (the venv needs numpy and opencv-python-headless) and use .venv/bin/python")

PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 6]
cv2.setNumThreads(1)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def stable_hash(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def pkg_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def imwrite(path, img):
    ok, buf = cv2.imencode(".png", img, PNG_PARAMS)
    if not ok:
        raise Fail(f"could not encode {path}")
    with open(path, "wb") as f:
        f.write(buf.tobytes())


def atomic_write(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------
# Sources
# ------------------------------------------------------------------------------------------

CHAR_DIRS = ("animals/", "people/")
CHAR_EXCLUDE_DIRS = ("people/bodypart", "people/clothing", "people/smilies", "people/stickmen")
PROP_DIRS = ("plants/", "buildings/homes/", "buildings/", "transportation/vehicles/")
PROP_EXCLUDE_DIRS = ("buildings/furniture",)
NAME_REJECT = re.compile(
    r"icon|symbol|logo|sign|map|text|button|silhouette|outline|flag|clipart_|frame|border|"
    r"pattern|gradient|bw|b_w|black_and_white|sketch|shadow|head|face|eye|hand|skull|bone|"
    r"footprint|paw|card|smil|tux|banner|label|letter|alphabet|font|word|buddy|camper|car_ride|"
    r"feet|inservice|ppl\d|profile|utenti|self_portrait|manager_mimooh|paesaggio|hallway|"
    r"crossroads|cycle_route|rocket|paper_plane|potato|gumnut", re.I)
SCENE_RE = re.compile(
    r"landscape|scene|scenery|hill|mountain|forest|beach|city|village|field|sunset|garden|"
    r"street|park|island|countryside|background|horizon|castle|farm|desert|meadow|valley|room|"
    r"town|sky|paesaggio", re.I)
# Full-frame openclipart scenes: only ~2 of the 8,000 drawings pass the checks (a park, a river
# landscape), too few to split by asset, so backgrounds are drawn by draw_background() instead and
# openclipart drawings appear as characters and props.
USE_OC_SCENES = False
SCENE_DIRS_REJECT = ("signs_and_symbols/", "computer/", "shapes/", "transportation/aiga",
                     "transportation/roadsigns", "recreation/holiday/valentines")
SCENE_REJECT = re.compile(r"flag|parking|aiga|waiting_room|islands_01|_bw|seal|dulcimer|gradient|bedroom_icon", re.I)


def openclipart_candidates():
    if not os.path.isdir(OPENCLIPART_DIR):
        raise Fail(f"{OPENCLIPART_DIR} is missing: apt-get install -y openclipart-svg (or run `make setup`)")
    if shutil.which("rsvg-convert") is None:
        raise Fail("rsvg-convert is missing: apt-get install -y librsvg2-bin (or run `make setup`)")
    files = []
    for dirpath, dirnames, filenames in os.walk(OPENCLIPART_DIR):
        dirnames.sort()
        for fn in sorted(filenames):
            if fn.endswith(".svg"):
                files.append(os.path.relpath(os.path.join(dirpath, fn), OPENCLIPART_DIR))
    files.sort()
    seen_content, seen_name, out = set(), set(), []
    for rel in files:
        if EXCLUDED_RE.search(rel):
            continue
        base = os.path.basename(rel)
        kind = None
        if (USE_OC_SCENES and SCENE_RE.search(base) and not SCENE_REJECT.search(rel)
                and not rel.startswith(SCENE_DIRS_REJECT)):
            kind = "scene"
        elif rel.startswith(CHAR_DIRS) and not rel.startswith(CHAR_EXCLUDE_DIRS) and not NAME_REJECT.search(base):
            kind = "char"
        elif rel.startswith(PROP_DIRS) and not rel.startswith(PROP_EXCLUDE_DIRS) and not NAME_REJECT.search(base):
            kind = "prop"
        if kind is None:
            continue
        digest = sha256_file(os.path.join(OPENCLIPART_DIR, rel))
        # The same drawing is often filed in several folders: keep one copy (by content and by
        # name), so that a split can never share a drawing through a second path.
        if digest in seen_content or base in seen_name:
            continue
        seen_content.add(digest)
        seen_name.add(base)
        out.append({"kind": kind, "path": rel, "sha256": digest})
    return out


def render_svg(rel, digest, box, cache):
    d = os.path.join(cache, "svg")
    os.makedirs(d, exist_ok=True)
    png = os.path.join(d, f"{digest[:20]}_{box}.png")
    if not os.path.exists(png):
        tmp = f"{png}.tmp{os.getpid()}_{threading_id()}"
        try:
            subprocess.run(["rsvg-convert", "-w", str(box), "-h", str(box), "-a", "-f", "png",
                            "-o", tmp, os.path.join(OPENCLIPART_DIR, rel)],
                           check=True, capture_output=True, timeout=60)
            os.replace(tmp, png)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            open(png + ".bad", "w").close()
            return None
    img = cv2.imread(png, cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    return img


def threading_id():
    import threading
    return threading.get_ident()


def cel_stats(bgra):
    """Cheap checks of a render: cut-out coverage, dark outline share, flatness, colours."""
    a = bgra[:, :, 3]
    ys, xs = np.nonzero(a > 8)
    if len(ys) < 400:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = bgra[y0:y1, x0:x1]
    m = crop[:, :, 3] > 128
    n = int(m.sum())
    if n < 400:
        return None
    grey = cv2.cvtColor(crop[:, :, :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8
    g = np.sqrt(gx * gx + gy * gy)[m]
    q = (crop[:, :, :3][m] // 32).astype(np.int32)
    keys = q[:, 0] * 64 + q[:, 1] * 8 + q[:, 2]
    counts = np.sort(np.bincount(keys, minlength=512))[::-1]
    return {
        "w": int(x1 - x0), "h": int(y1 - y0),
        "coverage": n / float(m.size),
        "full_coverage": float((a > 128).mean()),
        "dark": float((grey[m] < 70).mean()),
        "flat": float((g < 1.0).mean()),
        "soft": float(((g >= 1.0) & (g < 6.0)).mean()),  # gentle slopes: gradients / photos
        "top8": float(counts[:8].sum() / n),
        "semi": float(((crop[:, :, 3] > 8) & (crop[:, :, 3] < 200)).sum() / max(1, (crop[:, :, 3] > 8).sum())),
    }, (y0, y1, x0, x1)


def accept(kind, s):
    if s is None:
        return False
    if kind in ("char", "prop"):
        return (min(s["w"], s["h"]) >= 60 and 0.2 <= s["coverage"] <= 0.92 and
                0.03 <= s["dark"] <= 0.45 and s["flat"] >= 0.6 and s["soft"] <= 0.12 and
                s["top8"] >= 0.75 and 0.3 <= s["w"] / s["h"] <= 2.5 and s["semi"] <= 0.1)
    # scene: covers its box, landscape-ish, flat fills with some dark lines
    return (s["full_coverage"] >= 0.85 and 0.9 <= s["w"] / s["h"] <= 2.6 and s["dark"] >= 0.01 and
            s["flat"] >= 0.5 and s["soft"] <= 0.2 and s["top8"] >= 0.6)


def split_of(digest, index, n):
    """Deterministic asset split by rank of a content hash: ~10% test, ~10% val, rest train."""
    del digest
    k_test = max(1, round(n * 0.1))
    k_val = max(1, round(n * 0.1))
    if index < k_test:
        return "test"
    if index < k_test + k_val:
        return "val"
    return "train"


def select_openclipart(cache, log):
    cands = openclipart_candidates()
    box = {"char": 320, "prop": 320, "scene": 768}
    sel_path = os.path.join(cache, f"selection_v{TOOL_VERSION}.json")
    key = stable_hash([SELECT_VERSION] + [c["sha256"] + c["kind"] for c in cands])
    if os.path.exists(sel_path):
        with open(sel_path) as f:
            sel = json.load(f)
        if sel.get("key") == key:
            return sel["assets"]
    log(f"rendering {len(cands)} openclipart candidates with rsvg-convert (cached in {cache}/svg)")

    def one(c):
        img = render_svg(c["path"], c["sha256"], box[c["kind"]], cache)
        if img is None:
            return None
        r = cel_stats(img)
        if r is None:
            return None
        s, _ = r
        return s if accept(c["kind"], s) else None

    with ThreadPoolExecutor(max_workers=2) as ex:
        stats = list(ex.map(one, cands))
    assets = []
    for c, s in zip(cands, stats):
        if s is not None:
            assets.append(dict(c, box=box[c["kind"]], stats={k: round(v, 4) for k, v in s.items()}))
    # split per kind, by the rank of a hash of the content (independent of --seed)
    out = []
    for kind in ("char", "prop", "scene"):
        group = sorted([a for a in assets if a["kind"] == kind],
                       key=lambda a: hashlib.sha256(("split:" + a["sha256"]).encode()).hexdigest())
        for i, a in enumerate(group):
            a["split"] = split_of(a["sha256"], i, len(group))
            out.append(a)
    out.sort(key=lambda a: a["path"])
    atomic_write(sel_path, json.dumps({"key": key, "assets": out}, indent=1, sort_keys=True).encode())
    return out


def fetch_kenney(sources):
    """Downloads the arcade wheel (pip download), checks its sha256, extracts the characters."""
    wheel = os.path.join(sources, ARCADE_WHEEL)
    outdir = os.path.join(sources, "kenney_animated_characters")
    stamp = os.path.join(outdir, ".ok")
    if not os.path.exists(stamp):
        os.makedirs(sources, exist_ok=True)
        if not os.path.exists(wheel):
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"arcade=={ARCADE_VERSION}",
                   "-d", sources]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0 or not os.path.exists(wheel):
                raise Fail(f"could not fetch the arcade wheel: run `{' '.join(cmd[1:] if False else cmd)}` "
                           f"(needs PyPI) or put {ARCADE_WHEEL} into {sources}")
        got = sha256_file(wheel)
        if got != ARCADE_SHA256:
            raise Fail(f"{wheel} has sha256 {got}, expected {ARCADE_SHA256}: delete it and rerun")
        tmp = outdir + f".tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(wheel) as z:
            for name in sorted(z.namelist()):
                if name.startswith(ARCADE_PREFIX) and name.endswith(".png"):
                    dst = os.path.join(tmp, name[len(ARCADE_PREFIX):])
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    with z.open(name) as src, open(dst, "wb") as f:
                        f.write(src.read())
        open(os.path.join(tmp, ".ok"), "w").close()
        shutil.rmtree(outdir, ignore_errors=True)
        os.replace(tmp, outdir)
    chars = []
    for name in sorted(os.listdir(outdir)):
        d = os.path.join(outdir, name)
        if not os.path.isdir(d):
            continue
        files = sorted(os.listdir(d))
        walk = [f for f in files if re.search(r"_walk\d+\.png$", f)]
        idle = [f for f in files if f.endswith("_idle.png")]
        if not walk:
            continue
        chars.append({"kind": "kenney", "name": name, "dir": d, "walk": walk, "idle": idle,
                      "split": KENNEY_SPLIT.get(name, "train")})
    if not chars:
        raise Fail(f"no Kenney characters under {outdir}: delete {sources} and rerun")
    return chars


# ------------------------------------------------------------------------------------------
# Drawing
# ------------------------------------------------------------------------------------------

INK = (28, 22, 20)


# The "show style" of the drawn backgrounds (BGR): like the episodes of one show, skies are blue
# (now and then dusk), hills green, roofs red or brown, walls cream or pastel. A studio's model
# learns its show's palette; with random colours no model could know a background's colour from
# its line art. Each pick is jittered by a few levels.
STYLE = {
    "sky": [(235, 200, 140), (250, 215, 170), (240, 220, 185), (230, 190, 120), (170, 210, 250)],
    "hill": [(70, 170, 90), (60, 140, 60), (90, 190, 120), (50, 160, 110), (80, 180, 150)],
    "road": [(150, 160, 170), (120, 170, 200), (140, 150, 160)],
    "trunk": [(40, 80, 130), (50, 90, 120)],
    "foliage": [(50, 150, 60), (40, 120, 50), (70, 170, 90)],
    "house": [(210, 235, 245), (190, 220, 240), (230, 230, 230), (180, 210, 230)],
    "roof": [(50, 60, 180), (40, 80, 150), (60, 50, 140)],
    "door": [(40, 80, 130), (60, 100, 150)],
    "wall": [(200, 230, 245), (215, 225, 235), (230, 215, 200), (190, 220, 230)],
    "floor": [(60, 110, 160), (80, 130, 170), (70, 100, 130)],
    "window": [(240, 215, 170), (235, 205, 150)],
}


def style(rng, kind, jitter=10):
    base = STYLE[kind][int(rng.integers(len(STYLE[kind])))]
    return tuple(int(np.clip(v + rng.integers(-jitter, jitter + 1), 0, 255)) for v in base)


def outline_poly(img, pts, fill, thick):
    pts = np.round(pts).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(img, [pts], fill, cv2.LINE_AA)
    cv2.polylines(img, [pts], True, INK, thick, cv2.LINE_AA)


def draw_background(rng, W, H, thick):
    """A flat cel background: sky, hills / ground, clouds, sun, houses, trees; or a room."""
    img = np.zeros((H, W, 3), np.uint8)
    ground_y = []
    if rng.random() < 0.25:  # interior
        wall = style(rng, "wall")
        img[:] = wall
        floor_y = int(H * rng.uniform(0.62, 0.78))
        outline_poly(img, [(-5, floor_y), (W + 5, floor_y), (W + 5, H + 5), (-5, H + 5)],
                     style(rng, "floor"), thick)
        for _ in range(int(rng.integers(1, 4))):  # windows / frames / doors
            w, h = rng.uniform(0.08, 0.22) * W, rng.uniform(0.15, 0.4) * H
            x, y = rng.uniform(0, W - w), rng.uniform(0.08 * H, floor_y - h - 4)
            outline_poly(img, [(x, y), (x + w, y), (x + w, y + h), (x, y + h)], style(rng, "window"), thick)
            if rng.random() < 0.6:
                cv2.line(img, (int(x + w / 2), int(y)), (int(x + w / 2), int(y + h)), INK, thick, cv2.LINE_AA)
                cv2.line(img, (int(x), int(y + h / 2)), (int(x + w), int(y + h / 2)), INK, thick, cv2.LINE_AA)
        return img, np.full(W, floor_y, np.int32)
    img[:] = style(rng, "sky")
    if rng.random() < 0.6:  # sun / moon
        c = (int(rng.uniform(0.1, 0.9) * W), int(rng.uniform(0.08, 0.3) * H))
        r = int(rng.uniform(0.04, 0.08) * min(W, H) + 4)
        cv2.circle(img, c, r, (80, 220, 250), -1, cv2.LINE_AA)
        cv2.circle(img, c, r, INK, thick, cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 5))):  # clouds: a few overlapping outlined ellipses
        cx, cy = rng.uniform(0, W), rng.uniform(0.05, 0.35) * H
        s = rng.uniform(0.03, 0.07) * W
        blobs = [(cx + dx * s, cy + rng.uniform(-0.3, 0.3) * s, s * rng.uniform(0.6, 1.0)) for dx in (-1, 0, 1)]
        for bx, by, br in blobs:
            cv2.ellipse(img, (int(bx), int(by)), (int(br), int(br * 0.7)), 0, 0, 360, INK, thick * 2 + 1, cv2.LINE_AA)
        for bx, by, br in blobs:
            cv2.ellipse(img, (int(bx), int(by)), (int(br), int(br * 0.7)), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
    xs = np.arange(W, dtype=np.float64)
    base = rng.uniform(0.55, 0.75) * H
    layers = int(rng.integers(1, 3))
    for li in range(layers):
        y = base - (layers - li) * 0.08 * H
        for _ in range(3):
            y = y + rng.uniform(0.02, 0.08) * H * np.sin(xs / W * rng.uniform(2, 9) + rng.uniform(0, 6.3))
        pts = np.concatenate([np.stack([xs, y], 1), [[W + 5, H + 5], [-5, H + 5]]])
        outline_poly(img, pts, style(rng, "hill"), thick)
        ground_y = y
    if rng.random() < 0.5:  # a road / path band
        y0 = rng.uniform(0.8, 0.9) * H
        outline_poly(img, [(-5, y0), (W + 5, y0 + rng.uniform(-8, 8)), (W + 5, H + 5), (-5, H + 5)],
                     style(rng, "road"), thick)
    for _ in range(int(rng.integers(0, 4))):  # simple trees
        x = rng.uniform(0, W)
        gy = float(ground_y[int(np.clip(x, 0, W - 1))]) + 6
        th, tw = rng.uniform(0.08, 0.18) * H, rng.uniform(0.01, 0.02) * W + 2
        outline_poly(img, [(x - tw, gy), (x + tw, gy), (x + tw, gy - th), (x - tw, gy - th)], style(rng, "trunk"), thick)
        r = int(rng.uniform(0.05, 0.1) * H)
        cv2.circle(img, (int(x), int(gy - th - r * 0.6)), r, INK, thick * 2 + 1, cv2.LINE_AA)
        cv2.circle(img, (int(x), int(gy - th - r * 0.6)), r, style(rng, "foliage"), -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 3))):  # simple houses
        x = rng.uniform(0, W * 0.85)
        w, h = rng.uniform(0.08, 0.16) * W, rng.uniform(0.1, 0.2) * H
        gy = float(ground_y[int(np.clip(x + w / 2, 0, W - 1))]) + 4
        outline_poly(img, [(x, gy), (x + w, gy), (x + w, gy - h), (x, gy - h)], style(rng, "house"), thick)
        outline_poly(img, [(x - 4, gy - h), (x + w + 4, gy - h), (x + w / 2, gy - h - 0.6 * w)],
                     style(rng, "roof"), thick)
        dw = w * 0.25
        outline_poly(img, [(x + w * 0.4, gy), (x + w * 0.4 + dw, gy), (x + w * 0.4 + dw, gy - h * 0.5),
                           (x + w * 0.4, gy - h * 0.5)], style(rng, "door"), thick)
    return img, np.asarray(ground_y, np.int32)


def over(dst, src_bgra, x, y):
    """Alpha-composites src (BGRA) onto dst (BGR float32) at integer x, y (clipped)."""
    h, w = src_bgra.shape[:2]
    H, W = dst.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x0 >= x1 or y0 >= y1:
        return
    s = src_bgra[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    a = s[:, :, 3:4] / 255.0
    dst[y0:y1, x0:x1] = dst[y0:y1, x0:x1] * (1 - a) + s[:, :, :3] * a


def place(dst, sprite, cx, by, height, angle=0.0, flip=False, sx=1.0, sy=1.0):
    """Draws sprite (BGRA, tight box) with its bottom centre at (cx, by), `height` px tall."""
    h, w = sprite.shape[:2]
    k = height / h
    tw, th = max(2, int(round(w * k * sx))), max(2, int(round(h * k * sy)))
    img = cv2.resize(sprite, (tw, th), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    if flip:
        img = img[:, ::-1]
    # premultiply so that resampling at the edges does not bleed the transparent colour
    if abs(angle) > 0.05:
        pad = int(0.3 * max(tw, th)) + 2
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
        M = cv2.getRotationMatrix2D((pad + tw / 2, pad + th), angle, 1.0)
        pm = img.astype(np.float32)
        pm[:, :, :3] *= pm[:, :, 3:4] / 255.0
        pm = cv2.warpAffine(pm, M, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        a = np.maximum(pm[:, :, 3:4], 1e-3)
        pm[:, :, :3] = np.where(pm[:, :, 3:4] > 0.5, pm[:, :, :3] * 255.0 / a, 0)
        img = np.clip(pm, 0, 255).astype(np.uint8)
        over(dst, img, int(round(cx - pad - tw / 2)), int(round(by - pad - th)))
    else:
        over(dst, img, int(round(cx - tw / 2)), int(round(by - th)))


def tight(bgra):
    a = bgra[:, :, 3]
    ys, xs = np.nonzero(a > 8)
    if len(ys) == 0:
        return bgra
    return bgra[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


# ------------------------------------------------------------------------------------------
# Clips
# ------------------------------------------------------------------------------------------

ASPECTS = {"16:9": (16, 9), "4:3": (4, 3), "1:1": (1, 1), "9:16": (9, 16), "3:4": (3, 4)}


def frame_size(aspect, short):
    a, b = ASPECTS[aspect]
    if a >= b:
        h = short
        w = short * a / b
    else:
        w = short
        h = short * b / a
    return int(round(w / 8)) * 8, int(round(h / 8)) * 8


SIZES = {
    # split: (clips, shots range, frames per shot range)
    "full": {"train": (48, (2, 3), (16, 36)), "val": (5, (2, 3), (16, 32)), "test": (7, (2, 3), (16, 32)),
             "chain": (2, (1, 1), (100, 100)), "height": 216},
    "small": {"train": (3, (2, 2), (4, 4)), "val": (1, (2, 2), (4, 4)), "test": (1, (2, 2), (4, 4)),
              "chain": (1, (1, 1), (8, 8)), "height": 64},
    # training clips of one long shot each (the length of the chain clips), for walkers that follow
    # the model's own chain as far as the element does on a long shot; no held-out splits
    "long": {"train": (16, (1, 1), (90, 120)), "val": (0, (1, 1), (1, 1)), "test": (0, (1, 1), (1, 1)),
             "chain": (0, (1, 1), (1, 1)), "height": 216},
    # training clips of close-ups: the characters drawn 2.5x as tall (0.9-1.75 frame heights, their
    # upper body in frame), so that large fills are bodies, clothes and skin rather than sky and
    # hills; no held-out splits
    "closeup": {"train": (24, (2, 3), (16, 36)), "val": (0, (1, 1), (1, 1)), "test": (0, (1, 1), (1, 1)),
                "chain": (0, (1, 1), (1, 1)), "height": 216, "actor_scale": 2.5},
    # training clips of characters on a plain page (white, or a flat light colour) with no props
    # or scenes, as model sheets and many cartoons show them; no held-out splits
    "plain": {"train": (24, (2, 3), (16, 36)), "val": (0, (1, 1), (1, 1)), "test": (0, (1, 1), (1, 1)),
              "chain": (0, (1, 1), (1, 1)), "height": 216, "background": "plain"},
}
TEST_ASPECTS = ["16:9", "4:3", "9:16", "1:1", "16:9", "4:3", "9:16", "1:1"]
# "chain": single shots of 100 frames made from the test split's assets, for measuring how the
# previous-frame chain drifts along a long shot (tcvc-eval --plot); never trained on.
CHAIN_ASPECTS = ["16:9", "4:3"]
VAL_ASPECTS = ["16:9", "4:3", "1:1", "9:16", "16:9", "4:3"]
TRAIN_ASPECTS = (["16:9"] * 9 + ["4:3"] * 7 + ["1:1"] * 2 + ["9:16"] * 1 + ["3:4"] * 1)


class Assets:
    def __init__(self, oc, kenney, cache):
        self.oc, self.kenney, self.cache = oc, kenney, cache
        self._img = {}

    def pool(self, kind, split):
        split = "test" if split == "chain" else split
        if kind == "kenney":
            return [k for k in self.kenney if k["split"] == split]
        return [a for a in self.oc if a["kind"] == kind and a["split"] == split]

    def oc_image(self, a):
        key = a["path"]
        if key not in self._img:
            img = render_svg(a["path"], a["sha256"], a["box"], self.cache)
            self._img[key] = tight(img) if a["kind"] != "scene" else img
        return self._img[key]

    def kenney_frames(self, k, which):
        key = (k["name"], which)
        if key not in self._img:
            files = k["walk"] if which == "walk" else (k["idle"] or k["walk"][:1])
            self._img[key] = [tight(cv2.imread(os.path.join(k["dir"], f), cv2.IMREAD_UNCHANGED)) for f in files]
            for i, im in enumerate(self._img[key]):
                if im.ndim == 2 or im.shape[2] != 4:
                    self._img[key][i] = cv2.cvtColor(im, cv2.COLOR_BGR2BGRA)
        return self._img[key]


def source_of(asset, versions):
    if asset["kind"] == "kenney":
        return {"package": f"arcade {ARCADE_VERSION}", "registry": "PyPI (https://pypi.org/project/arcade/)",
                "path": ARCADE_PREFIX + asset["name"] + "/", "licence": ARCADE_LICENCE,
                "sha256": ARCADE_SHA256, "asset": "kenney:" + asset["name"]}
    return {"package": f"{OPENCLIPART_PKG} {versions['openclipart']}",
            "registry": "Debian bookworm (https://packages.debian.org/bookworm/openclipart-svg)",
            "path": "/usr/share/openclipart/svg/" + asset["path"], "licence": OPENCLIPART_LICENCE,
            "sha256": asset["sha256"], "asset": "openclipart:" + asset["sha256"][:16]}


def plan_clip(rng, assets, split, spec, W, H):
    """Chooses the assets and shots of one clip (all randomness from rng)."""
    n_shots = int(rng.integers(spec[1][0], spec[1][1] + 1))
    chars = assets.pool("char", split)
    kenney = assets.pool("kenney", split)
    props = assets.pool("prop", split)
    scenes = assets.pool("scene", split)
    # the cast of the clip: 1-3 characters, kept across its shots
    cast = []
    for _ in range(int(rng.integers(1, 4))):
        if kenney and rng.random() < 0.35:
            cast.append(kenney[int(rng.integers(len(kenney)))])
        elif chars:
            cast.append(chars[int(rng.integers(len(chars)))])
    if not cast:
        cast.append(kenney[int(rng.integers(len(kenney)))])
    shots = []
    for si in range(n_shots):
        n = int(rng.integers(spec[2][0], spec[2][1] + 1))
        bg = None
        if scenes and rng.random() < 0.2:
            bg = scenes[int(rng.integers(len(scenes)))]
        shot_props = []
        if props and bg is None:
            for _ in range(int(rng.integers(0, 3))):
                shot_props.append(props[int(rng.integers(len(props)))])
        k = int(rng.integers(1, min(3, len(cast)) + 1))
        idx = rng.permutation(len(cast))[:k]
        shots.append({"frames": n, "bg": bg, "props": shot_props, "cast": [cast[int(i)] for i in sorted(idx)],
                      "bg_seed": int(rng.integers(1 << 31)), "move_seed": int(rng.integers(1 << 31))})
    return shots


def render_shot(assets, shot, W, H, rng):
    """Frames of one shot (list of BGR uint8)."""
    n = shot["frames"]
    thick = max(1, int(round(min(W, H) / 110)))
    # world canvas larger than the frame, for pans and zooms
    over_k = rng.uniform(1.15, 1.5)
    WW, WH = int(W * over_k), int(H * over_k)
    brng = np.random.default_rng(shot["bg_seed"])
    if shot.get("background") == "plain":
        # a white page, or a flat light colour, with the ground line where characters stand
        world = np.full((WH, WW, 3), 255, np.uint8)
        if brng.random() >= 0.6:
            world[:] = [int(v) for v in brng.integers(190, 256, 3)]
        ground = np.full(WW, int(WH * 0.88), np.int32)
    elif shot["bg"] is not None:
        img = assets.oc_image(shot["bg"])
        sh, sw = img.shape[:2]
        k = max(WW / sw, WH / sh)
        img = cv2.resize(img, (int(np.ceil(sw * k)), int(np.ceil(sh * k))), interpolation=cv2.INTER_AREA)
        y0, x0 = (img.shape[0] - WH) // 2, (img.shape[1] - WW) // 2
        img = img[y0:y0 + WH, x0:x0 + WW]
        world = np.zeros((WH, WW, 3), np.float32)
        world[:] = (235, 200, 140)
        over(world, img, 0, 0)
        world = np.clip(world, 0, 255).astype(np.uint8)
        ground = np.full(WW, int(WH * 0.88), np.int32)
    else:
        world, ground = draw_background(brng, WW, WH, thick)
        for p in shot["props"]:  # openclipart props standing on the ground
            sprite = assets.oc_image(p)
            x = brng.uniform(0.05, 0.95) * WW
            gy = int(ground[int(np.clip(x, 0, WW - 1))]) + 4
            hgt = brng.uniform(0.15, 0.4) * WH
            f = world.astype(np.float32)
            place(f, sprite, x, gy, hgt, flip=bool(brng.random() < 0.5))
            world = np.clip(f + 0.5, 0, 255).astype(np.uint8)
    # actors
    actors = []
    for c in shot["cast"]:
        mode = rng.choice(["cross", "stand", "walk_in_place"], p=[0.5, 0.3, 0.2])
        x0 = rng.uniform(0.15, 0.85) * WW
        direction = 1 if rng.random() < 0.5 else -1
        speed = rng.uniform(0.003, 0.012) * WW  # px per frame
        if mode == "cross":
            x0 = rng.uniform(0.1, 0.5) * WW if direction > 0 else rng.uniform(0.5, 0.9) * WW
        if mode != "cross":
            speed = 0.0 if mode == "stand" else speed * 0.2
        scale = shot.get("actor_scale", 1.0)
        hgt = rng.uniform(0.35, 0.7) * H * scale
        foot = rng.uniform(0.8, 0.97)
        # a close-up's character stands low enough for its upper body to fill the frame
        foot = foot * WH if scale == 1.0 else WH / 2 + hgt * (foot - 0.45)
        actors.append({"a": c, "mode": mode, "x0": x0, "dir": direction, "speed": speed, "h": hgt,
                       "foot": foot, "phase": rng.uniform(0, 6.3), "cycle_on": int(rng.integers(2, 4)),
                       "wobble": rng.uniform(1, 5), "bob": rng.uniform(0.0, 0.03)})
    actors.sort(key=lambda a: a["foot"])
    # camera: centre, zoom and angle interpolated over the shot
    cam = rng.choice(["pan", "zoom", "static", "pan"], p=[0.4, 0.2, 0.2, 0.2])
    z0 = 1.0
    z1 = 1.0 if cam != "zoom" else rng.uniform(1.05, 1.2) ** (1 if rng.random() < 0.5 else -1)
    max_off_x, max_off_y = (WW - W) / 2, (WH - H) / 2
    c0 = np.array([WW / 2 + rng.uniform(-0.5, 0.5) * max_off_x, WH / 2 + rng.uniform(-0.5, 0.5) * max_off_y])
    c1 = c0.copy()
    if cam == "pan":
        c1 = np.array([WW / 2 + rng.uniform(-0.9, 0.9) * max_off_x, WH / 2 + rng.uniform(-0.5, 0.5) * max_off_y])
    ang0 = rng.uniform(-2, 2) if rng.random() < 0.3 else 0.0
    ang1 = ang0 + (rng.uniform(-2, 2) if rng.random() < 0.3 else 0.0)
    hold = int(rng.choice([1, 2, 2, 3]))  # animation on ones / twos / threes
    frames = []
    last_t, last = None, None
    for t in range(n):
        tq = (t // hold) * hold
        if tq == last_t:
            frames.append(last)
            continue
        u = tq / max(1, n - 1)
        ease = u * u * (3 - 2 * u)
        f = world.astype(np.float32)
        for ac in actors:
            a = ac["a"]
            x = ac["x0"] + ac["dir"] * ac["speed"] * tq
            flip_base = ac["dir"] < 0
            if a["kind"] == "kenney":
                walking = ac["mode"] != "stand"
                seq = assets.kenney_frames(a, "walk" if walking else "idle")
                spr = seq[(tq // ac["cycle_on"]) % len(seq)]
                place(f, spr, x, ac["foot"], ac["h"], flip=flip_base)
            else:
                spr = assets.oc_image(a)
                moving = ac["mode"] != "stand"
                ang = ac["wobble"] * np.sin(tq * (0.6 if moving else 0.25) + ac["phase"])
                bob = 1.0 + ac["bob"] * np.sin(tq * 0.9 + ac["phase"])
                place(f, spr, x, ac["foot"] - (ac["h"] * 0.03 * abs(np.sin(tq * 0.6)) if moving else 0),
                      ac["h"], angle=ang, flip=flip_base, sy=bob, sx=2 - bob)
        zoom = z0 + (z1 - z0) * ease
        c = c0 + (c1 - c0) * ease
        ang = ang0 + (ang1 - ang0) * ease
        # rotate+scale about the camera centre, then move it to the frame centre; the minimum
        # zoom covers the frame even when rotated (no empty borders)
        rad = np.deg2rad(abs(ang))
        need = max((W * np.cos(rad) + H * np.sin(rad)) / WW, (W * np.sin(rad) + H * np.cos(rad)) / WH)
        zz = max(zoom, need * 1.02)
        # keep the view inside the world
        half_w, half_h = W / (2 * zz), H / (2 * zz)
        ext_w = half_w * np.cos(rad) + half_h * np.sin(rad)
        ext_h = half_w * np.sin(rad) + half_h * np.cos(rad)
        cx = float(np.clip(c[0], ext_w, WW - ext_w))
        cy = float(np.clip(c[1], ext_h, WH - ext_h))
        M = cv2.getRotationMatrix2D((cx, cy), ang, zz)
        M[0, 2] += W / 2 - cx
        M[1, 2] += H / 2 - cy
        world8 = np.clip(f + 0.5, 0, 255).astype(np.uint8)
        out = cv2.warpAffine(world8, M, (W, H), flags=cv2.INTER_LINEAR if zz >= 1 else cv2.INTER_AREA,
                             borderMode=cv2.BORDER_REPLICATE)
        frames.append(out)
        last_t, last = tq, out
    return frames


def clip_sources(shots, versions):
    seen, out = set(), []
    for s in shots:
        items = list(s["cast"]) + list(s["props"]) + ([s["bg"]] if s["bg"] is not None else [])
        for a in items:
            src = source_of(a, versions)
            if src["asset"] not in seen:
                seen.add(src["asset"])
                out.append(src)
    if any(s["bg"] is None and s.get("background") != "plain" for s in shots):
        out.append({"package": "gst-tcvc tools/corpus.py", "registry": "this repository",
                    "path": "tools/corpus.py (draw_background)", "licence": PROC_LICENCE,
                    "asset": "procedural:background"})
    return sorted(out, key=lambda s: s["asset"])


def build(args):
    out = os.path.abspath(args.out)
    cache = os.path.abspath(args.cache or os.path.join(out, ".cache"))
    sources = os.path.abspath(args.sources or os.path.join(ROOT, "data", "sources"))
    os.makedirs(cache, exist_ok=True)
    log = (lambda m: None) if args.quiet else (lambda m: print(f"corpus.py: {m}", file=sys.stderr, flush=True))
    size = SIZES[args.size]
    short = args.height or size["height"]
    kenney = fetch_kenney(sources)
    oc = select_openclipart(cache, log)
    versions = {"openclipart": pkg_version(OPENCLIPART_PKG)}
    counts = {}
    for a in oc:
        counts.setdefault(f"{a['kind']}/{a['split']}", 0)
        counts[f"{a['kind']}/{a['split']}"] += 1
    log("selected openclipart assets: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    assets = Assets(oc, kenney, cache)
    manifest = {"tool": "tools/corpus.py", "version": TOOL_VERSION, "seed": args.seed, "size": args.size,
                "short_side": short, "fps": 24, "actor_scale": size.get("actor_scale", 1.0),
                "background": size.get("background", "drawn"), "clips": [],
                "asset_counts": dict(sorted(counts.items())),
                "kenney_split": {k["name"]: k["split"] for k in kenney}}
    split_ids = {"train": 0, "val": 1, "test": 2, "chain": 3}
    made = rendered = 0
    for split in ("train", "val", "test", "chain"):
        nclips, shots_r, frames_r = size[split]
        aspects = {"train": TRAIN_ASPECTS, "val": VAL_ASPECTS, "test": TEST_ASPECTS,
                   "chain": CHAIN_ASPECTS}[split]
        os.makedirs(os.path.join(out, split), exist_ok=True)
        for ci in range(nclips):
            rng = np.random.default_rng([args.seed, split_ids[split], ci])
            if split == "train":
                aspect = aspects[int(rng.integers(len(aspects)))]
            else:
                aspect = aspects[ci % len(aspects)]
            W, H = frame_size(aspect, short)
            shots = plan_clip(rng, assets, split, (nclips, shots_r, frames_r), W, H)
            if "actor_scale" in size:
                for s in shots:
                    s["actor_scale"] = size["actor_scale"]
            if size.get("background") == "plain":
                for s in shots:
                    s.update(background="plain", bg=None, props=[])
            name = f"{split}_{ci:03d}_{aspect.replace(':', 'x')}"
            srcs = clip_sources(shots, versions)
            bounds, total = [], 0
            for s in shots:
                bounds.append(total)
                total += s["frames"]
            entry = {"name": name, "split": split, "path": f"{split}/{name}", "width": W, "height": H,
                     "aspect": aspect, "fps": 24, "frames": total, "shots": bounds, "sources": srcs}
            params = {"version": TOOL_VERSION, "code": CODE_HASH, "seed": args.seed, "split": split, "index": ci, "entry": entry,
                      "plan": [{"frames": s["frames"], "bg": s["bg"]["sha256"] if s["bg"] else None,
                                "props": [p["sha256"] for p in s["props"]],
                                "cast": [c.get("sha256", c.get("name")) for c in s["cast"]],
                                "bg_seed": s["bg_seed"], "move_seed": s["move_seed"],
                                **({"actor_scale": s["actor_scale"]} if "actor_scale" in s else {}),
                                **({"background": s["background"]} if "background" in s else {})}
                               for s in shots]}
            h = stable_hash(params)
            dst = os.path.join(out, split, name)
            stamp = os.path.join(dst, ".params.sha256")
            manifest["clips"].append(entry)
            made += 1
            if os.path.exists(stamp) and open(stamp).read().strip() == h:
                continue
            tmp = os.path.join(out, split, f".tmp-{name}-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            k = 0
            for s in shots:
                for fr in render_shot(assets, s, W, H, np.random.default_rng(s["move_seed"])):
                    imwrite(os.path.join(tmp, f"{k:05d}.png"), fr)
                    k += 1
            with open(os.path.join(tmp, ".params.sha256"), "w") as f:
                f.write(h + "\n")
            shutil.rmtree(dst, ignore_errors=True)
            os.replace(tmp, dst)
            rendered += 1
            log(f"{split}/{name}: {W}x{H}, {total} frames, shots at {bounds}")
    # drop clip folders of an earlier build that this one does not have
    names = {c["path"] for c in manifest["clips"]}
    for split in ("train", "val", "test", "chain"):
        for d in sorted(os.listdir(os.path.join(out, split))):
            if f"{split}/{d}" not in names and not d.startswith("."):
                shutil.rmtree(os.path.join(out, split, d), ignore_errors=True)
    per = {}
    for c in manifest["clips"]:
        p = per.setdefault(c["split"], {"clips": 0, "frames": 0})
        p["clips"] += 1
        p["frames"] += c["frames"]
    manifest["totals"] = per
    atomic_write(os.path.join(out, "manifest.json"), (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    atomic_write(os.path.join(out, "LICENSES.md"), licenses_md(manifest, versions).encode())
    log(f"done: {made} clips ({rendered} rendered), " +
        ", ".join(f"{k}: {v['clips']} clips / {v['frames']} frames" for k, v in per.items()) + f" in {out}")
    if args.contact:
        contact_sheet(out, manifest, os.path.join(out, "contact.png"))


def licenses_md(manifest, versions):
    used = {}
    for c in manifest["clips"]:
        for s in c["sources"]:
            used.setdefault((s["package"], s["licence"], s["registry"]), set()).add(s["path"])
    lines = ["# Licences of the corpus sources", "",
             f"Generated by tools/corpus.py version {manifest['version']} (seed {manifest['seed']}, "
             f"size {manifest['size']}). Every clip lists its own sources in manifest.json.", ""]
    for (pkg, lic, reg), paths in sorted(used.items()):
        lines += [f"## {pkg}", "", f"- Licence: {lic}", f"- From: {reg}", f"- Files used: {len(paths)}", ""]
    lines += ["The compositions (camera moves, timing, drawn backgrounds) are generated by tools/corpus.py "
              "(gst-tcvc, MIT).", ""]
    return "\n".join(lines)


def contact_sheet(out, manifest, path, nclips=16, nframes=5, cell_h=96):
    clips = manifest["clips"]
    pick = [clips[int(i)] for i in np.linspace(0, len(clips) - 1, min(nclips, len(clips)))]
    rows = []
    for c in pick:
        d = os.path.join(out, c["path"])
        idx = np.linspace(0, c["frames"] - 1, nframes).astype(int)
        cells = []
        for i in idx:
            im = cv2.imread(os.path.join(d, f"{i:05d}.png"))
            w = int(round(im.shape[1] * cell_h / im.shape[0]))
            im = cv2.resize(im, (w, cell_h), interpolation=cv2.INTER_AREA)
            cells.append(im)
            cells.append(np.full((cell_h, 3, 3), 255, np.uint8))
        row = np.concatenate(cells, 1)
        rows.append(row)
    W = max(r.shape[1] for r in rows)
    rows = [np.concatenate([r, np.full((cell_h, W - r.shape[1], 3), 255, np.uint8)], 1) for r in rows]
    sheet = np.concatenate(sum([[r, np.full((3, W, 3), 255, np.uint8)] for r in rows], []), 0)
    imwrite(path, sheet)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="render the corpus")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--size", choices=sorted(SIZES), default="full")
    b.add_argument("--height", type=int, default=0, help="short side in px (default: 216, 64 small)")
    b.add_argument("--cache", default=None, help="render cache (default: OUT/.cache)")
    b.add_argument("--sources", default=None, help="downloaded sources (default: data/sources)")
    b.add_argument("--contact", action="store_true", help="also write OUT/contact.png")
    b.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    if args.height and not 32 <= args.height <= 2160:
        die("--height must be between 32 and 2160")
    try:
        build(args)
    except Fail as e:
        die(str(e))


if __name__ == "__main__":
    main()
